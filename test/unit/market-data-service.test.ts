import { afterEach, describe, expect, it } from 'vitest';
import { VenueError } from '../../src/exchange/venue.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { createLogger, type Logger } from '../../src/kernel/logger.ts';
import type { CandleSeries, CandleView } from '../../src/market-data/candles.ts';
import type { CandleSource, MarketKey } from '../../src/market-data/feed.ts';
import { MarketDataService, defaultPollMs, timeframeToMs, type MarketDataServiceOptions } from '../../src/market-data/market-data-service.ts';

const MIN = 60_000;
const START = Date.parse('2026-01-01T00:00:00Z');
const KEY: MarketKey = { exchange: 'test', symbol: 'BTC/USDT', timeframe: '1m' };

function makeSeries(length: number, symbol = 'BTC/USDT', timeframeMs = MIN): CandleSeries {
  const col = (f: (i: number) => number): Float64Array => Float64Array.from({ length }, (_, i) => f(i));
  return {
    symbol,
    timeframeMs,
    length,
    time: col((i) => START + i * timeframeMs),
    open: col((i) => 100 + i),
    high: col((i) => 102 + i),
    low: col((i) => 99 + i),
    close: col((i) => 101 + i),
    volume: col((i) => 10 + (i % 7)),
  };
}

interface Call {
  readonly symbol: string;
  readonly since: number | undefined;
  readonly limit: number;
  readonly at: number;
}

/**
 * Our own CandleSource port over in-memory series, behaving like Binance klines: candles up to
 * `visible` exist, the newest one still forming. `script` injects one outcome per call (an error
 * to throw, or null for a normal answer); `failWith` fails every call while set; `holding` makes
 * calls wait until the test releases them.
 */
class SeriesSource implements CandleSource {
  readonly calls: Call[] = [];
  readonly script: (Error | null)[] = [];
  failWith: Error | null = null;
  visible: number;
  holding = false;
  closed = 0;
  inFlight = 0;
  maxInFlight = 0;
  readonly #held: (() => void)[] = [];
  readonly #series: Map<string, CandleSeries>;

  constructor(
    series: CandleSeries | CandleSeries[],
    visible: number,
    readonly exchange = 'test',
  ) {
    this.#series = new Map((Array.isArray(series) ? series : [series]).map((s) => [s.symbol, s]));
    this.visible = visible;
  }

  get held(): number {
    return this.#held.length;
  }

  releaseOne(): void {
    this.#held.shift()?.();
  }

  async fetchCandles(symbol: string, timeframe: string, since: number | undefined, limit: number): Promise<CandleView[]> {
    this.calls.push({ symbol, since, limit, at: performance.now() });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.holding) await new Promise<void>((resolve) => this.#held.push(resolve));
      const fault = this.script.shift() ?? this.failWith;
      if (fault) throw fault;
      const s = this.#series.get(symbol)!;
      expect(timeframeToMs(timeframe)).toBe(s.timeframeMs);
      const end = Math.min(this.visible, s.length);
      let from = since === undefined ? Math.max(0, end - limit) : 0;
      if (since !== undefined) while (from < end && s.time[from]! < since) from++;
      const out: CandleView[] = [];
      for (let i = from; i < Math.min(end, from + limit); i++) {
        out.push({ time: s.time[i]!, open: s.open[i]!, high: s.high[i]!, low: s.low[i]!, close: s.close[i]!, volume: s.volume[i]! });
      }
      return out;
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

const temporary = (): VenueError => new VenueError('temporary', 'connection reset', { exchangeId: 'test' });
const rateLimited = (retryAfterMs: number): VenueError =>
  new VenueError('rate_limited', 'too many requests', { exchangeId: 'test', retryAfterMs });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

interface LogLine {
  level: string;
  msg: string;
  market?: string;
  kind?: string;
  failures?: number;
  retryInMs?: number;
  candleTime?: number;
}

interface Harness {
  readonly service: MarketDataService;
  readonly clock: TestClock;
  readonly series: CandleSeries;
  readonly source: SeriesSource;
  readonly logs: LogLine[];
  readonly created: string[];
  /** Makes candles 0..n-1 exist, the last one forming (clock in its middle). */
  show(n: number): void;
}

const services: MarketDataService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

function harness(options: Partial<MarketDataServiceOptions> & { visible?: number; length?: number } = {}): Harness {
  const series = makeSeries(options.length ?? 400);
  const clock = new TestClock(new Date(START));
  const source = new SeriesSource(series, 0);
  const logs: LogLine[] = [];
  const logger: Logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
  const created: string[] = [];
  const show = (n: number): void => {
    source.visible = n;
    clock.set(new Date(series.time[n - 1]! + series.timeframeMs / 2));
  };
  show(options.visible ?? 21);
  const service = new MarketDataService({
    sources: (exchange) => {
      created.push(exchange);
      return source;
    },
    clock,
    logger,
    pollMs: () => 5,
    backoff: { initialMs: 5, maxMs: 20 },
    ...options,
  });
  services.push(service);
  return { service, clock, series, source, logs, created, show };
}

function collector(): { candles: CandleView[]; keys: MarketKey[]; listener: (c: Readonly<CandleView>, k: MarketKey) => void } {
  const candles: CandleView[] = [];
  const keys: MarketKey[] = [];
  return { candles, keys, listener: (c, k) => void (candles.push({ ...c }), keys.push(k)) };
}

const times = (candles: readonly CandleView[]): number[] => candles.map((c) => c.time);
const range = (series: CandleSeries, from: number, to: number): number[] => Array.from(series.time.subarray(from, to));

describe('MarketDataService', () => {
  it('polls once per key however many runs subscribe', async () => {
    const h = harness();
    h.source.holding = true;
    const a = collector();
    const b = collector();
    h.service.subscribe(KEY, a.listener);
    h.service.subscribe({ ...KEY }, b.listener);
    for (let poll = 1; poll <= 4; poll++) {
      await waitFor(() => h.source.held === 1, `poll ${poll}`);
      await sleep(25); // five poll intervals: a loop per subscriber would have asked again by now
      expect(h.source.calls.length).toBe(poll);
      if (poll === 3) h.show(23); // two candles close: 20 and 21
      h.source.releaseOne();
    }
    await waitFor(() => a.candles.length === 2 && b.candles.length === 2, 'both subscribers get the new candles');
    expect(times(a.candles)).toEqual(range(h.series, 20, 22));
    expect(times(b.candles)).toEqual(range(h.series, 20, 22));
    expect(a.keys[0]).toEqual(KEY);
    expect(h.created).toEqual(['test']);
    expect(h.source.maxInFlight).toBe(1);
  });

  it('stops polling when the last subscriber leaves and closes the source no key uses', async () => {
    const h = harness();
    const other: MarketKey = { ...KEY, symbol: 'ETH/USDT' };
    // One source per exchange serves both symbols.
    const both = new SeriesSource([h.series, makeSeries(400, 'ETH/USDT')], 21);
    const created: string[] = [];
    const service = new MarketDataService({
      sources: (exchange) => (created.push(exchange), both),
      clock: h.clock,
      logger: createLogger({ level: 'silent' }),
      pollMs: () => 5,
    });
    services.push(service);
    const stopA = service.subscribe(KEY, () => {});
    const stopB = service.subscribe(KEY, () => {});
    const stopEth = service.subscribe(other, () => {});
    await waitFor(() => both.calls.filter((c) => c.symbol === 'BTC/USDT').length >= 3, 'polling');
    expect(created).toEqual(['test']);

    stopA();
    stopA(); // idempotent
    const btcCalls = (): number => both.calls.filter((c) => c.symbol === 'BTC/USDT').length;
    const afterA = btcCalls();
    await waitFor(() => btcCalls() > afterA + 2, 'polling continues for the remaining subscriber');

    stopB();
    await sleep(10); // a fetch in flight may still finish
    const stopped = btcCalls();
    await sleep(50);
    expect(btcCalls()).toBe(stopped);
    expect(service.healthy(KEY)).toBe(false); // not subscribed any more
    expect(service.lastReceivedAt(KEY)).toBeNull();
    expect(both.closed).toBe(0); // ETH/USDT still uses it

    stopEth();
    await waitFor(() => both.closed === 1, 'the source is closed once no key uses it');
    const total = both.calls.length;
    await sleep(30);
    expect(both.calls.length).toBe(total);

    service.subscribe(KEY, () => {}); // a new subscription gets a fresh source
    await waitFor(() => both.calls.length > total, 'polling again');
    expect(created).toEqual(['test', 'test']);
  });

  it('delivers the forming candle only once the clock has passed its end', async () => {
    const h = harness({ visible: 21 }); // candles 0..19 closed, 20 forming
    const a = collector();
    h.service.subscribe(KEY, a.listener);
    await waitFor(() => h.source.calls.length >= 5, 'a few polls');
    expect(a.candles).toEqual([]);

    // The exchange still answers with candle 20 as its newest, but its minute is over.
    h.clock.set(new Date(h.series.time[20]! + MIN));
    await waitFor(() => a.candles.length === 1, 'candle 20 after its close');
    expect(times(a.candles)).toEqual(range(h.series, 20, 21));
    expect(h.service.lastReceivedAt(KEY)).toBe(h.series.time[20]! + MIN);

    h.show(22); // candle 21 forming: nothing new
    const polls = h.source.calls.length;
    await waitFor(() => h.source.calls.length >= polls + 5, 'more polls');
    expect(a.candles.length).toBe(1);

    h.show(23);
    await waitFor(() => a.candles.length === 2, 'candle 21');
    await sleep(30);
    expect(times(a.candles)).toEqual(range(h.series, 20, 22));
  });

  it('catches up after an outage with every missed candle, in order, once', async () => {
    const h = harness({ visible: 21, historyLimit: 10 }); // pages of 11 candles
    const a = collector();
    h.service.subscribe(KEY, a.listener);
    await waitFor(() => h.source.calls.length >= 2, 'history loaded');
    expect(h.service.healthy(KEY)).toBe(true);

    h.source.failWith = temporary();
    await waitFor(() => !h.service.healthy(KEY), 'the outage is noticed');
    h.show(52); // 31 candles close while the exchange is unreachable
    const failedCalls = h.source.calls.length;
    await waitFor(() => h.source.calls.length >= failedCalls + 3, 'retries');
    expect(a.candles).toEqual([]);

    const firstAfter = h.source.calls.length;
    h.source.failWith = null;
    await waitFor(() => a.candles.length === 31, 'catch-up');
    await sleep(30);
    expect(times(a.candles)).toEqual(range(h.series, 20, 51));
    expect(a.candles[0]).toEqual({ time: h.series.time[20], open: 120, high: 122, low: 119, close: 121, volume: 10 + (20 % 7) });
    expect(h.service.healthy(KEY)).toBe(true);
    // Paged forward from the last delivered candle: since = 20, 31, 42 (page size 11), then the present.
    const sinces = h.source.calls.slice(firstAfter, firstAfter + 4).map((c) => c.since);
    expect(sinces).toEqual([h.series.time[20], h.series.time[31], h.series.time[42], h.series.time[51]]);
  });

  it('backs off exponentially, honours retryAfterMs, and resets after a success', async () => {
    const h = harness({ backoff: { initialMs: 20, maxMs: 80 } });
    h.service.subscribe(KEY, () => {});
    await waitFor(() => h.source.calls.length >= 2, 'history loaded');
    // One outcome per call: 4 network failures, a rate limit asking for 150 ms, success, a rate
    // limit asking for less than the backoff, a network failure, success.
    h.source.script.push(temporary(), temporary(), temporary(), temporary(), rateLimited(150), null, rateLimited(5), temporary());
    const from = h.source.calls.length;
    await waitFor(() => !h.service.healthy(KEY), 'unhealthy after the first failure');
    await waitFor(() => h.source.script.length === 0 && h.service.healthy(KEY), 'recovered', 5000);

    const warnings = h.logs.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => w.kind)).toEqual(['temporary', 'temporary', 'temporary', 'temporary', 'rate_limited', 'rate_limited', 'temporary']);
    expect(warnings.map((w) => w.retryInMs)).toEqual([20, 40, 80, 80, 150, 20, 40]);
    expect(warnings.every((w) => w.market === 'test:BTC/USDT:1m')).toBe(true);
    expect(h.logs.filter((l) => l.msg === 'market data recovered').map((l) => l.failures)).toEqual([5, 2]);

    // The waits really happened: each retry came no sooner than the logged delay.
    const at = h.source.calls.slice(from).map((c) => c.at);
    const delays = [20, 40, 80, 80, 150, undefined, 20, 40];
    delays.forEach((delay, i) => {
      if (delay !== undefined) expect(at[i + 1]! - at[i]!).toBeGreaterThanOrEqual(delay - 2);
    });
  });

  it('gives each subscriber its own history, from the buffer once the key runs', async () => {
    const h = harness({ visible: 101, historyLimit: 50 }); // candles 0..99 closed
    const a = collector();
    h.service.subscribe(KEY, a.listener, { history: 5 });
    await waitFor(() => a.candles.length === 5, 'history for the first subscriber');
    expect(times(a.candles)).toEqual(range(h.series, 95, 100));

    const b = collector();
    const c = collector();
    h.service.subscribe(KEY, b.listener, { history: 3 });
    h.service.subscribe(KEY, c.listener, { history: 80 }); // more than the buffer keeps
    await waitFor(() => b.candles.length === 3 && c.candles.length === 50, 'history for the later subscribers');
    expect(times(b.candles)).toEqual(range(h.series, 97, 100));
    expect(times(c.candles)).toEqual(range(h.series, 50, 100));
    expect(h.source.calls.filter((call) => call.since === undefined)).toHaveLength(1); // no second history fetch
    expect(a.candles).toHaveLength(5); // others' history is theirs alone

    h.show(102);
    await waitFor(() => a.candles.length === 6 && b.candles.length === 4 && c.candles.length === 51, 'the next live candle');
    expect(a.candles.at(-1)!.time).toBe(h.series.time[100]);
    expect(b.candles.at(-1)!.time).toBe(h.series.time[100]);
    expect(h.service.lastReceivedAt(KEY)).toBe(h.clock.now().getTime());
  });

  it('a listener that throws or rejects is logged and breaks nothing', async () => {
    const h = harness();
    const good = collector();
    let syncCalls = 0;
    let asyncCalls = 0;
    h.service.subscribe(KEY, () => {
      syncCalls++;
      throw new Error('strategy bug');
    });
    h.service.subscribe(KEY, async () => {
      asyncCalls++;
      await sleep(1);
      throw new Error('async strategy bug');
    });
    h.service.subscribe(KEY, good.listener);
    await waitFor(() => h.source.calls.length >= 2, 'history loaded');
    h.show(25);
    await waitFor(() => good.candles.length === 4, 'the good listener gets the first candles');
    h.show(27);
    const errors = (): LogLine[] => h.logs.filter((l) => l.level === 'error');
    await waitFor(() => good.candles.length === 6 && errors().length === 12, 'the loop keeps going');
    expect(times(good.candles)).toEqual(range(h.series, 20, 26));
    expect(syncCalls).toBe(6);
    expect(asyncCalls).toBe(6);
    expect(errors().every((e) => e.msg === 'candle listener failed' && e.market === 'test:BTC/USDT:1m')).toBe(true);
    expect(h.service.healthy(KEY)).toBe(true);
  });

  it('waits for a slow listener between candles without holding up the others', async () => {
    const h = harness();
    const fast = collector();
    const slow: number[] = [];
    let active = 0;
    let maxActive = 0;
    h.service.subscribe(KEY, async (candle) => {
      active++;
      maxActive = Math.max(maxActive, active);
      const time = candle.time; // copy before awaiting: the object is not ours to keep
      await sleep(8);
      slow.push(time);
      active--;
    });
    h.service.subscribe(KEY, fast.listener);
    await waitFor(() => h.source.calls.length >= 2, 'history loaded');
    h.show(31); // ten candles close at once
    await waitFor(() => fast.candles.length === 10, 'fast listener');
    expect(slow.length).toBeLessThan(10);
    await waitFor(() => slow.length === 10, 'slow listener');
    expect(slow).toEqual(range(h.series, 20, 30));
    expect(times(fast.candles)).toEqual(range(h.series, 20, 30));
    expect(maxActive).toBe(1);
  });

  it('close() stops the loops, waits for the delivery in progress and closes the sources', async () => {
    const h = harness();
    let release!: () => void;
    const delivered: number[] = [];
    h.service.subscribe(KEY, async (candle) => {
      const time = candle.time;
      await new Promise<void>((resolve) => (release = resolve));
      delivered.push(time);
    });
    await waitFor(() => h.source.calls.length >= 2, 'history loaded');
    h.show(24); // three candles: the first delivery blocks, two wait in the queue
    await waitFor(() => release !== undefined, 'a delivery in progress');
    let closed = false;
    const closing = h.service.close().then(() => (closed = true));
    await sleep(20);
    expect(closed).toBe(false);
    release();
    await closing;
    expect(delivered).toEqual([h.series.time[20]]); // queued candles are dropped
    expect(h.source.closed).toBe(1);
    const calls = h.source.calls.length;
    await sleep(30);
    expect(h.source.calls.length).toBe(calls);
    expect(() => h.service.subscribe(KEY, () => {})).toThrow(/closed/);
  });

  it('rejects timeframes without a fixed length and bad options', () => {
    const h = harness();
    expect(() => h.service.subscribe({ ...KEY, timeframe: '1M' }, () => {})).toThrow(/unsupported timeframe "1M"/);
    expect(() => h.service.subscribe(KEY, () => {}, { history: -1 })).toThrow(/history/);
    expect(h.created).toEqual([]);
    expect(defaultPollMs(MIN)).toBe(10_000);
    expect(defaultPollMs(300 * MIN)).toBe(10_000);
    expect(defaultPollMs(1000)).toBe(250);
    expect(defaultPollMs(30_000)).toBe(5000);
  });
});
