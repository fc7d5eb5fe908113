// The shared market-data service for paper and live runs. Exchanges rate-limit per IP, so there is
// exactly one poll loop per (exchange, symbol, timeframe), however many runs subscribe to it; the
// loop starts with the first subscriber and stops when the last one leaves. Each exchange's
// CandleSource is created once and closed when no key uses it any more.
//
// A candle is delivered once it has closed: every candle a fetch returns except the last (the
// exchange's forming candle), and the last one too once the clock has passed its end. After an
// outage the loop pages forward from the last delivered candle, so every missed candle arrives,
// in order, exactly once. Scheduling uses real (unref'd) timers; every timestamp comes from the
// injected Clock.
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import { isVenueError } from '../exchange/venue.ts';
import type { CandleView } from './candles.ts';
import {
  marketKeyString,
  type CandleListener,
  type CandleSource,
  type MarketFeed,
  type MarketKey,
  type SubscribeOptions,
} from './feed.ts';

export interface MarketDataServiceOptions {
  /** Creates the candle source of one exchange; called once per exchange while any key of it is subscribed. */
  readonly sources: (exchange: string) => CandleSource;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Poll interval per timeframe; default: the source's `pollHintMs`, else min(timeframe / 6, 10 s), at least 250 ms. */
  readonly pollMs?: (timeframeMs: number) => number;
  /** Retry delays after failed fetches; default 1 s doubling up to 60 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Closed candles kept per key for subscribers' warm-up; default 500. Also the page size of fetches (+1 for the forming candle). */
  readonly historyLimit?: number;
}

export const DEFAULT_HISTORY_LIMIT = 500;
export const DEFAULT_BACKOFF = Object.freeze({ initialMs: 1000, maxMs: 60_000 });

/** min(timeframe / 6, 10 s), at least 250 ms: a 1m candle is seen within 10 s of closing, a 1s one within 250 ms. */
export const defaultPollMs = (timeframeMs: number): number => Math.max(250, Math.min(timeframeMs / 6, 10_000));

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * `5m` → 300000. Only fixed-length candles: a month (`1M`) has no fixed length, so whether its
 * candle has closed cannot be told from its open time alone.
 */
export function timeframeToMs(timeframe: string): number {
  const match = /^([1-9]\d*)([smhdw])$/.exec(timeframe);
  if (!match) throw new RangeError(`unsupported timeframe "${timeframe}": use a fixed candle length like 1m, 5m, 1h, 1d or 1w`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

type Candle = Readonly<CandleView>;

interface Subscription {
  readonly listener: CandleListener;
  readonly history: number;
  /** Has received its history (or the key had none to give); live candles go only to primed subscriptions. */
  primed: boolean;
  active: boolean;
  readonly queue: Candle[];
  draining: boolean;
}

interface KeyState {
  readonly key: MarketKey;
  readonly id: string;
  readonly timeframeMs: number;
  readonly source: CandleSource;
  readonly pollMs: number;
  readonly subs: Set<Subscription>;
  /** The last `historyLimit` closed candles, oldest first. */
  readonly buffer: Candle[];
  active: boolean;
  /** The first fetch (history) has succeeded. */
  loaded: boolean;
  /** Open time of the newest candle delivered or buffered; nothing at or before it is delivered again. */
  lastTime: number;
  /** `since` of the next fetch: the open time of the first candle not yet delivered. */
  cursor: number | undefined;
  timer: NodeJS.Timeout | undefined;
  polling: Promise<void> | undefined;
  failures: number;
  failingSince: number | null;
  healthy: boolean;
  lastReceivedAt: number | null;
}

interface SourceEntry {
  readonly source: CandleSource;
  keys: number;
}

export class MarketDataService implements MarketFeed {
  readonly #sourceFactory: (exchange: string) => CandleSource;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #pollMs: ((timeframeMs: number) => number) | undefined;
  readonly #backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly #historyLimit: number;
  readonly #keys = new Map<string, KeyState>();
  readonly #sources = new Map<string, SourceEntry>();
  /** Listener deliveries in progress. */
  readonly #deliveries = new Set<Promise<void>>();
  /** Keys winding down: their last fetch settling, then their source released. */
  readonly #stopping = new Set<Promise<void>>();
  #closed: Promise<void> | undefined;

  constructor(options: MarketDataServiceOptions) {
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    if (!(backoff.initialMs > 0 && backoff.maxMs >= backoff.initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got ${backoff.initialMs} .. ${backoff.maxMs}`);
    }
    const historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    if (!(Number.isSafeInteger(historyLimit) && historyLimit >= 0)) {
      throw new RangeError(`historyLimit must be a whole number >= 0, got ${historyLimit}`);
    }
    this.#sourceFactory = options.sources;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#pollMs = options.pollMs;
    this.#backoff = { initialMs: backoff.initialMs, maxMs: backoff.maxMs };
    this.#historyLimit = historyLimit;
  }

  subscribe(key: MarketKey, listener: CandleListener, options: SubscribeOptions = {}): () => void {
    if (this.#closed) throw new Error('MarketDataService is closed');
    const history = options.history ?? 0;
    if (!(Number.isSafeInteger(history) && history >= 0)) throw new RangeError(`history must be a whole number >= 0, got ${history}`);
    const id = marketKeyString(key);
    const state = this.#keys.get(id) ?? this.#start(key, id);
    const sub: Subscription = { listener, history, primed: false, active: true, queue: [], draining: false };
    state.subs.add(sub);
    // A key that is already running hands out history from its buffer, without a fetch.
    if (state.loaded) this.#prime(state, sub);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      sub.queue.length = 0;
      state.subs.delete(sub);
      if (state.subs.size === 0 && state.active) this.#stop(state);
    };
  }

  lastReceivedAt(key: MarketKey): number | null {
    return this.#keys.get(marketKeyString(key))?.lastReceivedAt ?? null;
  }

  healthy(key: MarketKey): boolean {
    return this.#keys.get(marketKeyString(key))?.healthy ?? false;
  }

  /** Every active feed, for /health and /metrics. */
  feedHealth(): { key: string; healthy: boolean; lastReceivedAgeSeconds: number | null }[] {
    const now = this.#clock.now().getTime();
    return [...this.#keys.values()]
      .filter((s) => s.active)
      .map((s) => ({ key: s.id, healthy: s.healthy, lastReceivedAgeSeconds: s.lastReceivedAt === null ? null : (now - s.lastReceivedAt) / 1000 }));
  }

  /** Stops every loop, waits for deliveries in progress (queued ones are dropped), closes the sources. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const state of [...this.#keys.values()]) {
        for (const sub of state.subs) {
          sub.active = false;
          sub.queue.length = 0;
        }
        state.subs.clear();
        this.#stop(state);
      }
      await Promise.all([...this.#stopping]);
      await Promise.all([...this.#deliveries]);
    })();
    return this.#closed;
  }

  #start(key: MarketKey, id: string): KeyState {
    const timeframeMs = timeframeToMs(key.timeframe);
    const source = this.#acquireSource(key.exchange);
    const wanted = this.#pollMs?.(timeframeMs) ?? source.pollHintMs ?? defaultPollMs(timeframeMs);
    const state: KeyState = {
      key: Object.freeze({ exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe }),
      id,
      timeframeMs,
      source,
      pollMs: Number.isFinite(wanted) && wanted >= 1 ? wanted : defaultPollMs(timeframeMs),
      subs: new Set(),
      buffer: [],
      active: true,
      loaded: false,
      lastTime: -Infinity,
      cursor: undefined,
      timer: undefined,
      polling: undefined,
      failures: 0,
      failingSince: null,
      healthy: true,
      lastReceivedAt: null,
    };
    this.#keys.set(id, state);
    this.#schedule(state, 0);
    return state;
  }

  #stop(state: KeyState): void {
    state.active = false;
    clearTimeout(state.timer);
    state.timer = undefined;
    if (this.#keys.get(state.id) === state) this.#keys.delete(state.id);
    // A fetch in flight finishes (its result is dropped) before the source may be closed under it.
    const stopping: Promise<void> = (state.polling ?? Promise.resolve()).then(() => this.#releaseSource(state.key.exchange));
    this.#stopping.add(stopping);
    void stopping.then(() => this.#stopping.delete(stopping));
  }

  #acquireSource(exchange: string): CandleSource {
    let entry = this.#sources.get(exchange);
    if (!entry) {
      entry = { source: this.#sourceFactory(exchange), keys: 0 };
      this.#sources.set(exchange, entry);
    }
    entry.keys++;
    return entry.source;
  }

  async #releaseSource(exchange: string): Promise<void> {
    const entry = this.#sources.get(exchange);
    if (!entry || --entry.keys > 0) return;
    this.#sources.delete(exchange);
    try {
      await entry.source.close();
    } catch (error) {
      this.#logger.warn({ exchange, err: error }, 'closing a candle source failed');
    }
  }

  #schedule(state: KeyState, delayMs: number): void {
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (!state.active) return;
      const polling = this.#tick(state);
      state.polling = polling;
      void polling.then(() => {
        if (state.polling === polling) state.polling = undefined;
      });
    }, delayMs);
    state.timer.unref();
  }

  /** One poll: fetch (paging through any backlog), then schedule the next one. Never rejects. */
  async #tick(state: KeyState): Promise<void> {
    let delay: number;
    try {
      await this.#fetchNew(state);
      if (!state.active) return;
      this.#succeeded(state);
      delay = state.pollMs;
    } catch (error) {
      if (!state.active) return;
      delay = this.#failed(state, error);
    }
    this.#schedule(state, delay);
  }

  async #fetchNew(state: KeyState): Promise<void> {
    const { symbol, timeframe } = state.key;
    const limit = this.#historyLimit + 1; // + the forming candle
    if (!state.loaded) {
      // History: the newest closed candles go into the buffer, not to subscribers as "new".
      const candles = await state.source.fetchCandles(symbol, timeframe, undefined, limit);
      if (!state.active) return;
      const closed = this.#closedCandles(state, candles);
      for (const candle of closed) this.#remember(state, candle);
      const last = candles.at(-1);
      if (last === undefined) return; // no candles yet: load again next poll
      state.cursor = closed.length > 0 ? state.lastTime + state.timeframeMs : last.time;
      state.loaded = true;
      for (const sub of state.subs) if (!sub.primed) this.#prime(state, sub);
      return;
    }
    // Page forward from the first undelivered candle. A page that ends on a closed candle may have
    // been cut short by the exchange's page size, so ask again; a page ending on the forming
    // candle (or an empty one) is the present.
    for (;;) {
      const candles = await state.source.fetchCandles(symbol, timeframe, state.cursor, limit);
      if (!state.active) return;
      const closed = this.#closedCandles(state, candles);
      if (closed.length > 0) this.#emit(state, closed);
      const last = candles.at(-1);
      if (last === undefined || closed.length === 0 || closed.at(-1)!.time !== last.time) return;
    }
  }

  /** The candles of a fetch that have closed and were not delivered yet, as frozen copies, oldest first. */
  #closedCandles(state: KeyState, candles: readonly CandleView[]): Candle[] {
    const now = this.#clock.now().getTime();
    const closed: Candle[] = [];
    let after = state.lastTime;
    for (let i = 0; i < candles.length; i++) {
      const c = candles[i]!;
      if (!(c.time > after)) continue; // already delivered, or out of order
      if (i === candles.length - 1 && now < c.time + state.timeframeMs) break; // still forming
      closed.push(Object.freeze({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }));
      after = c.time;
    }
    return closed;
  }

  #remember(state: KeyState, candle: Candle): void {
    state.buffer.push(candle);
    if (state.buffer.length > this.#historyLimit) state.buffer.splice(0, state.buffer.length - this.#historyLimit);
    state.lastTime = candle.time;
    state.cursor = candle.time + state.timeframeMs;
  }

  #emit(state: KeyState, candles: readonly Candle[]): void {
    for (const candle of candles) this.#remember(state, candle);
    state.lastReceivedAt = this.#clock.now().getTime();
    for (const sub of state.subs) if (sub.primed) this.#enqueue(state, sub, candles);
  }

  #prime(state: KeyState, sub: Subscription): void {
    sub.primed = true;
    if (sub.history > 0 && state.buffer.length > 0) this.#enqueue(state, sub, state.buffer.slice(-sub.history));
  }

  #enqueue(state: KeyState, sub: Subscription, candles: readonly Candle[]): void {
    sub.queue.push(...candles);
    if (sub.draining) return;
    sub.draining = true;
    const delivery = this.#drain(state, sub);
    this.#deliveries.add(delivery);
    void delivery.then(() => this.#deliveries.delete(delivery));
  }

  /** Delivers a subscription's queue one candle at a time, each after the previous one settled. Never rejects. */
  async #drain(state: KeyState, sub: Subscription): Promise<void> {
    await undefined; // never call a listener from inside subscribe() or the poll's own stack
    try {
      while (sub.active) {
        const candle = sub.queue.shift();
        if (candle === undefined) break;
        try {
          await sub.listener(candle, state.key);
        } catch (error) {
          this.#logger.error({ market: state.id, candleTime: candle.time, err: error }, 'candle listener failed');
        }
      }
    } finally {
      sub.draining = false;
    }
  }

  #succeeded(state: KeyState): void {
    if (state.failures > 0) {
      const downMs = state.failingSince === null ? 0 : this.#clock.now().getTime() - state.failingSince;
      this.#logger.info({ market: state.id, failures: state.failures, downMs }, 'market data recovered');
    }
    state.failures = 0;
    state.failingSince = null;
    state.healthy = true;
  }

  /** Records a failed fetch, logs it once, and returns how long to wait before the next try. */
  #failed(state: KeyState, error: unknown): number {
    const step = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** state.failures);
    state.failures++;
    if (state.healthy) {
      state.healthy = false;
      state.failingSince = this.#clock.now().getTime();
    }
    const kind = isVenueError(error) ? error.kind : 'unexpected';
    // The exchange said how long to stay away: never come back sooner, nor sooner than the backoff.
    const retryInMs =
      isVenueError(error) && (kind === 'rate_limited' || kind === 'banned') ? Math.max(step, error.retryAfterMs ?? 0) : step;
    this.#logger.warn(
      { market: state.id, kind, failures: state.failures, retryInMs, err: error },
      'market data fetch failed; backing off',
    );
    return retryInMs;
  }
}
