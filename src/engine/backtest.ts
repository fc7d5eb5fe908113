// A backtest is the runner driven by a historical feed over the simulated venue: the same loop
// that paper and live trading use. This module only feeds candles and records the curve.
import { emptyCandle, readCandle, type CandleSeries } from '../market-data/candles.ts';
import { SimVenue, type SimVenueConfig } from '../exchange/sim/sim-venue.ts';
import { Runner, type RiskGate } from './runner.ts';
import type { ClosedCycle, Fill, Strategy } from './types.ts';

export interface BacktestRun {
  readonly series: CandleSeries;
  readonly strategy: Strategy;
  readonly venue: SimVenueConfig;
  readonly gate?: RiskGate;
  /** Called every `progressEvery` candles with the share done (0..1). */
  readonly onProgress?: (done: number) => void;
  readonly progressEvery?: number;
}

export interface BacktestTrace {
  readonly startEquity: number;
  readonly time: Float64Array;
  readonly equity: Float64Array;
  readonly inMarket: Uint8Array;
  readonly regimes: Uint8Array;
  readonly fills: readonly Fill[];
  readonly cycles: readonly ClosedCycle[];
  readonly rejections: number;
  /** Set when the strategy threw: the trace ends where it stopped. */
  readonly error: string | null;
  readonly steps: number;
}

export function runBacktest(run: BacktestRun): BacktestTrace {
  const { series, strategy } = run;
  const venue = new SimVenue(run.venue);
  const runner = new Runner(strategy, venue, series.timeframeMs, run.gate);
  const n = series.length;
  const equity = new Float64Array(n);
  const inMarket = new Uint8Array(n);
  const regimes = new Uint8Array(n);
  const candle = emptyCandle();
  const every = run.progressEvery ?? 1 << 16;
  let steps = 0;
  for (let i = 0; i < n; i++) {
    readCandle(series, i, candle);
    runner.step(candle);
    if (runner.failure) break;
    equity[i] = venue.equity(candle.close);
    inMarket[i] = strategy.inMarket ? 1 : 0;
    regimes[i] = strategy.regime;
    steps++;
    if (run.onProgress && steps % every === 0) run.onProgress(steps / n);
  }
  run.onProgress?.(1);
  return {
    startEquity: run.venue.startQuote + (run.venue.startBase ?? 0) * (n > 0 ? series.open[0]! : 0),
    time: series.time.subarray(0, steps),
    equity: equity.subarray(0, steps),
    inMarket: inMarket.subarray(0, steps),
    regimes: regimes.subarray(0, steps),
    fills: venue.fills,
    cycles: strategy.cycles,
    rejections: runner.rejections,
    error: runner.failure?.message ?? null,
    steps,
  };
}
