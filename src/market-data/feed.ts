// The market-data port. A run subscribes to (exchange, symbol, timeframe) and receives each
// candle once it has closed. Implementations: the shared polling service over ccxt (live data),
// and the replay feed over CSV candles (demos and tests).
import type { CandleView } from './candles.ts';

export interface MarketKey {
  /** ccxt exchange id, or "replay". */
  readonly exchange: string;
  /** Unified symbol, e.g. BTC/USDT. */
  readonly symbol: string;
  /** ccxt timeframe: 1m, 5m, 1h … */
  readonly timeframe: string;
}

export const marketKeyString = (key: MarketKey): string => `${key.exchange}:${key.symbol}:${key.timeframe}`;

/** A closed candle (time = open time, ms). Listeners must not keep the object: copy what they need. */
export type CandleListener = (candle: Readonly<CandleView>, key: MarketKey) => void | Promise<void>;

export interface SubscribeOptions {
  /** Deliver up to this many most recent closed candles first (indicator warm-up). Default 0. */
  readonly history?: number;
}

export interface MarketFeed {
  /**
   * Starts (or joins) the one subscription for this key; returns the unsubscribe function. The
   * last subscriber leaving stops the polling. Listeners of one key are called in order and a
   * candle is delivered to a listener only after its previous delivery settled.
   */
  subscribe(key: MarketKey, listener: CandleListener, options?: SubscribeOptions): () => void;
  /** Clock time (ms) the latest candle for this key was received, or null before the first. */
  lastReceivedAt(key: MarketKey): number | null;
  /** Whether the feed currently reaches its source (false while backing off after errors). */
  healthy(key: MarketKey): boolean;
  close(): Promise<void>;
}

/** Public candles from one exchange (ccxt `fetchOHLCV`, or a simulator in tests). */
export interface CandleSource {
  readonly exchange: string;
  /** Candles with open time >= since, oldest first; the last one may still be forming. */
  fetchCandles(symbol: string, timeframe: string, since: number | undefined, limit: number): Promise<CandleView[]>;
  /** How often polling makes sense (ms); replay sources running faster than real time say so here. */
  readonly pollHintMs?: number;
  close(): Promise<void>;
}
