// A market feed its owner drives: `publish` hands one closed candle to every subscriber of its
// key and resolves once each run has finished its step on it (writes included). For tests that
// need to control exactly which candle every run sees, and for the service benchmark. Like the
// real feed it keeps the last candles of each key and hands a new subscriber the `history` it
// asks for (a restarted run catches up from them).
import type { Clock } from '../../src/kernel/clock.ts';
import type { CandleView } from '../../src/market-data/candles.ts';
import { marketKeyString, type CandleListener, type MarketFeed, type MarketKey, type SubscribeOptions } from '../../src/market-data/feed.ts';

const KEPT = 500;

export class ManualFeed implements MarketFeed {
  readonly #listeners = new Map<string, CandleListener[]>();
  readonly #lastAt = new Map<string, number>();
  readonly #history = new Map<string, CandleView[]>();

  constructor(private readonly clock: Clock) {}

  subscribe(key: MarketKey, listener: CandleListener, options: SubscribeOptions = {}): () => void {
    const id = marketKeyString(key);
    const list = this.#listeners.get(id) ?? [];
    list.push(listener);
    this.#listeners.set(id, list);
    const history = options.history ?? 0;
    if (history > 0) for (const candle of (this.#history.get(id) ?? []).slice(-Math.min(history, KEPT))) void listener(candle, key);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Candles published before this feed existed (an earlier process's), kept as history. */
  remember(key: MarketKey, candles: readonly CandleView[]): void {
    this.#keep(marketKeyString(key), candles);
  }

  publish(key: MarketKey, candle: CandleView): Promise<unknown> {
    const id = marketKeyString(key);
    this.#lastAt.set(id, this.clock.now().getTime());
    this.#keep(id, [candle]);
    return Promise.all((this.#listeners.get(id) ?? []).map((listener) => listener(candle, key)));
  }

  #keep(id: string, candles: readonly CandleView[]): void {
    const kept = this.#history.get(id) ?? [];
    kept.push(...candles);
    if (kept.length > 2 * KEPT) kept.splice(0, kept.length - KEPT);
    this.#history.set(id, kept);
  }

  /** Listeners across all keys (one per subscribed run). */
  subscribers(): number {
    let n = 0;
    for (const list of this.#listeners.values()) n += list.length;
    return n;
  }

  lastReceivedAt(key: MarketKey): number | null {
    return this.#lastAt.get(marketKeyString(key)) ?? null;
  }

  healthy(): boolean {
    return true;
  }

  feedHealth() {
    return [];
  }

  async close(): Promise<void> {}
}
