// Candles as columns of typed arrays: the backtest hot loop reads numbers by index and never
// allocates an object per candle.

export interface CandleSeries {
  readonly symbol: string;
  /** Candle length in milliseconds (300_000 for 5m). */
  readonly timeframeMs: number;
  readonly length: number;
  /** Open time, epoch milliseconds, strictly ascending. */
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

/** One candle as the runner hands it to strategies: a single object, overwritten every step. */
export interface CandleView {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export const emptyCandle = (): CandleView => ({ time: 0, open: 0, high: 0, low: 0, close: 0, volume: 0 });

/** Copies candle `i` of a series into a reusable view. */
export function readCandle(series: CandleSeries, i: number, into: CandleView): CandleView {
  into.time = series.time[i]!;
  into.open = series.open[i]!;
  into.high = series.high[i]!;
  into.low = series.low[i]!;
  into.close = series.close[i]!;
  into.volume = series.volume[i]!;
  return into;
}
