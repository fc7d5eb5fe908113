// A backtest described as data — strategy name, `key=value` overrides, capital, venue — so the
// CLI, the parameter sweep's worker threads and walk-forward all build runs the same way.
import { DEFAULT_SIM_VENUE, type SimVenueConfig } from '../exchange/sim/sim-venue.ts';
import type { CandleSeries } from '../market-data/candles.ts';
import { runBacktest, type BacktestTrace } from './backtest.ts';
import { computeMetrics, type BacktestMetrics } from './metrics.ts';
import { DEFAULT_STRATEGY_PARAMS, withOverrides, type StrategyParamSet } from './params.ts';
import { RegimeDetector, regimeOptions } from './regime.ts';
import { DcaStrategy } from './strategies/dca.ts';
import { DEFAULT_GRID_PARAMS, GridStrategy, type GridParams } from './strategies/grid.ts';
import type { Strategy } from './types.ts';

export const STRATEGIES = ['dca', 'grid'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface RunSpec {
  readonly strategy: StrategyName;
  /** `key=value` overrides: parameter-set keys (tp_range, sma_period, …) and, for grid, grid keys. */
  readonly overrides: Readonly<Record<string, string>>;
  /** Starting balance in the quote currency; defaults by quote (10,000 USD-like, 1 BTC-like). */
  readonly capital?: number;
  readonly venue?: Partial<Omit<SimVenueConfig, 'startQuote'>>;
}

export interface BuiltRun {
  readonly strategy: Strategy;
  readonly paramSet: StrategyParamSet;
  readonly grid: GridParams | null;
  readonly venue: SimVenueConfig;
}

export type Built<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

const GRID_KEYS = new Set(['lower', 'upper', ...Object.keys(DEFAULT_GRID_PARAMS)]);
const USD_LIKE = new Set(['USDT', 'USD', 'USDC', 'BUSD', 'FDUSD', 'TUSD', 'DAI']);

/** Exchange-like defaults for the pair: tick and lot from the price level, notional from the quote. */
export function venueDefaultsFor(series: CandleSeries): Omit<SimVenueConfig, 'startQuote'> & { capital: number } {
  const quote = series.symbol.split('/')[1] ?? 'USDT';
  const usd = USD_LIKE.has(quote);
  const price = series.length ? series.close[Math.floor(series.length / 2)]! : 1;
  const magnitude = Math.floor(Math.log10(price));
  const minNotional = usd ? 5 : 0.0001;
  return {
    ...DEFAULT_SIM_VENUE,
    tickSize: 10 ** Math.min(-2, magnitude - 5),
    lotSize: 10 ** Math.min(0, Math.floor(Math.log10(minNotional / price)) - 2),
    minNotional,
    capital: usd ? 10_000 : 1,
  };
}

/**
 * Grid defaults for a run: ±10% around the first close, and the run's capital as the bankroll
 * (the seed's BANKROLL_USD of $200 × 2% = $4 per level is below every exchange's minimum order).
 */
function parseGrid(overrides: Readonly<Record<string, string>>, series: CandleSeries, capital: number): Built<GridParams> {
  const first = series.length ? series.close[0]! : 0;
  const draft: Record<string, unknown> = { ...DEFAULT_GRID_PARAMS, bankroll_usd: capital, lower: first * 0.9, upper: first * 1.1 };
  for (const [key, text] of Object.entries(overrides)) {
    if (!GRID_KEYS.has(key)) continue;
    if (key === 'spacing') {
      if (text !== 'arithmetic' && text !== 'geometric') return { ok: false, problem: 'spacing must be arithmetic or geometric' };
      draft[key] = text;
    } else if (key === 'per_trade_usd' && (text === 'null' || text === '')) {
      draft[key] = null;
    } else {
      const n = Number(text);
      if (!Number.isFinite(n) || n < 0) return { ok: false, problem: `${key} must be a non-negative number, got '${text}'` };
      draft[key] = key === 'count' || key === 'replace_max_retries' ? Math.round(n) : n;
    }
  }
  const grid = draft as unknown as GridParams;
  if (!(grid.lower > 0 && grid.upper > grid.lower)) return { ok: false, problem: 'grid needs 0 < lower < upper' };
  if (!(grid.count >= 1)) return { ok: false, problem: 'count must be at least 1' };
  return { ok: true, value: grid };
}

export function buildRun(spec: RunSpec, series: CandleSeries): Built<BuiltRun> {
  if (!(STRATEGIES as readonly string[]).includes(spec.strategy)) {
    return { ok: false, problem: `unknown strategy '${spec.strategy}' (choose ${STRATEGIES.join(' or ')})` };
  }
  const setOverrides = Object.fromEntries(Object.entries(spec.overrides).filter(([k]) => spec.strategy !== 'grid' || !GRID_KEYS.has(k)));
  const set = withOverrides(DEFAULT_STRATEGY_PARAMS, setOverrides);
  if (!set.ok) return set;
  const defaults = venueDefaultsFor(series);
  const { capital: defaultCapital, ...venueDefaults } = defaults;
  const venue: SimVenueConfig = { ...venueDefaults, ...spec.venue, startQuote: spec.capital ?? defaultCapital };
  const detector = new RegimeDetector(regimeOptions(set.value));
  if (spec.strategy === 'dca') {
    // The detector's ATR uses params.atr_period (regimeOptions), so the strategy shares it.
    const strategy = new DcaStrategy(set.value.params, set.value.regimes.allocation_rules, detector);
    return { ok: true, value: { strategy, paramSet: set.value, grid: null, venue } };
  }
  const grid = parseGrid(spec.overrides, series, venue.startQuote);
  if (!grid.ok) return grid;
  return { ok: true, value: { strategy: new GridStrategy(grid.value, detector), paramSet: set.value, grid: grid.value, venue } };
}

export interface RunOutcome {
  readonly built: BuiltRun;
  readonly trace: BacktestTrace;
  readonly metrics: BacktestMetrics;
}

export function runSpec(series: CandleSeries, spec: RunSpec, onProgress?: (done: number) => void): Built<RunOutcome> {
  const built = buildRun(spec, series);
  if (!built.ok) return built;
  const trace = runBacktest({ series, strategy: built.value.strategy, venue: built.value.venue, ...(onProgress ? { onProgress } : {}) });
  if (trace.error) return { ok: false, problem: trace.error };
  const metrics = computeMetrics({
    startEquity: trace.startEquity,
    time: trace.time,
    equity: trace.equity,
    inMarket: trace.inMarket,
    regimes: trace.regimes,
    friendlyRegimes: built.value.strategy.friendlyRegimes,
    fills: trace.fills,
    cycles: trace.cycles,
    timeframeMs: series.timeframeMs,
  });
  return { ok: true, value: { built: built.value, trace, metrics } };
}

/** A window of a series without copying (typed-array views). */
export function sliceSeries(series: CandleSeries, from: number, to: number): CandleSeries {
  return {
    symbol: series.symbol,
    timeframeMs: series.timeframeMs,
    length: Math.max(0, to - from),
    time: series.time.subarray(from, to),
    open: series.open.subarray(from, to),
    high: series.high.subarray(from, to),
    low: series.low.subarray(from, to),
    close: series.close.subarray(from, to),
    volume: series.volume.subarray(from, to),
  };
}
