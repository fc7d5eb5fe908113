// Recent candles for the coin scanner. Each scan backtests the last N days of every symbol in
// its universe; downloading N days for 100 symbols every 4 hours would be thousands of requests,
// so the exchange source keeps each symbol's window in memory and fetches only what is new.
import type { CandleSeries } from './candles.ts';
import type { CandleDownloader } from './exchange-candles.ts';
import { timeframeToMs } from './market-data-service.ts';

export type RecentCandles = { readonly ok: true; readonly series: CandleSeries } | { readonly ok: false; readonly problem: string };

export interface ScannerCandleSource {
  /** Closed candles of `symbol` whose open time lies in [now - lookbackMs, now), aligned to the timeframe. */
  recent(symbol: string, timeframe: string, lookbackMs: number, now: number): Promise<RecentCandles>;
}

/** The window [from, to) of closed candles at `now`: the candle still forming is left out. */
export function scanWindow(timeframeMs: number, lookbackMs: number, now: number): { from: number; to: number } {
  const to = Math.floor(now / timeframeMs) * timeframeMs;
  return { from: to - Math.ceil(lookbackMs / timeframeMs) * timeframeMs, to };
}

/** First index whose open time is >= t (time is ascending). */
function lowerBound(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Candles [from, to) of a series, as views (no copy). */
function sliceSeries(series: CandleSeries, from: number, to: number): CandleSeries {
  const view = (column: Float64Array) => column.subarray(from, to);
  return {
    symbol: series.symbol,
    timeframeMs: series.timeframeMs,
    length: Math.max(0, to - from),
    time: view(series.time),
    open: view(series.open),
    high: view(series.high),
    low: view(series.low),
    close: view(series.close),
    volume: view(series.volume),
  };
}

function concatSeries(a: CandleSeries, b: CandleSeries): CandleSeries {
  const join = (x: Float64Array, y: Float64Array) => {
    const out = new Float64Array(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    symbol: a.symbol,
    timeframeMs: a.timeframeMs,
    length: a.length + b.length,
    time: join(a.time, b.time),
    open: join(a.open, b.open),
    high: join(a.high, b.high),
    low: join(a.low, b.low),
    close: join(a.close, b.close),
    volume: join(a.volume, b.volume),
  };
}

/** Candles from an exchange, kept per symbol between scans so each scan downloads only new ones. */
export class RollingExchangeCandles implements ScannerCandleSource {
  readonly #download: CandleDownloader;
  readonly #held = new Map<string, CandleSeries>();

  constructor(download: CandleDownloader) {
    this.#download = download;
  }

  async recent(symbol: string, timeframe: string, lookbackMs: number, now: number): Promise<RecentCandles> {
    const timeframeMs = timeframeToMs(timeframe);
    const { from, to } = scanWindow(timeframeMs, lookbackMs, now);
    const key = `${symbol}:${timeframe}`;
    const held = this.#held.get(key);
    const lastHeld = held && held.length > 0 ? held.time[held.length - 1]! : -Infinity;
    // Held candles still inside the window are kept; older ones (or none) mean a full download.
    const keep = held && lastHeld >= from ? sliceSeries(held, lowerBound(held.time, from), held.length) : null;
    const fetchFrom = keep ? lastHeld + timeframeMs : from;
    let series = keep;
    if (fetchFrom < to) {
      const fetched = await this.#download(symbol, timeframe, fetchFrom, to);
      if (!fetched.ok) {
        // "No candles after the header" only means nothing closed since the last scan.
        if (!(keep && /no candles/.test(fetched.error.message))) return { ok: false, problem: fetched.error.message };
      } else {
        series = keep ? concatSeries(keep, fetched.series) : fetched.series;
      }
    }
    if (!series || series.length === 0) return { ok: false, problem: `no ${timeframe} candles for ${symbol} in the last ${Math.round(lookbackMs / 86_400_000)} days` };
    this.#held.set(key, series);
    return { ok: true, series };
  }
}

/**
 * Replayed candles (MARKET_DATA=replay): the last `lookback` of each loaded file, whatever the
 * clock says, since replay data is historical. Demos and offline machines get a real ranking.
 */
export class ReplayScannerCandles implements ScannerCandleSource {
  readonly #series: ReadonlyMap<string, CandleSeries>;

  constructor(series: ReadonlyMap<string, CandleSeries>) {
    this.#series = series;
  }

  symbols(): string[] {
    return [...this.#series.keys()];
  }

  async recent(symbol: string, _timeframe: string, lookbackMs: number): Promise<RecentCandles> {
    const series = this.#series.get(symbol);
    if (!series || series.length === 0) return { ok: false, problem: `no replay candles for ${symbol}` };
    const end = series.time[series.length - 1]! + series.timeframeMs;
    return { ok: true, series: sliceSeries(series, lowerBound(series.time, end - lookbackMs), series.length) };
  }
}
