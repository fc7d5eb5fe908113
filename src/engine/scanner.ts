/**
 * The coin scanner's pure core: backtest the adaptive DCA strategy over each symbol's recent
 * candles and rank the symbols by a composite score (the seed's `GET /scanner/recommendation`).
 * No I/O and no clock: the caller fetches the candles and stamps the scan.
 *
 * Composite score, 0..100, from the unrounded backtest metrics:
 *
 *   score = 0                                                 when daily ROI <= 0
 *   score = 100 × ( 0.50 × min(dailyRoiPct / 0.5, 1)
 *                 + 0.25 × min(cyclesPerDay / 4, 1)
 *                 + 0.25 × friendlyRegimePct / 100 )          otherwise
 *
 * Daily ROI carries half the weight and saturates at 0.5 %/day, above the seed's 0.35 % target,
 * so that an outlier window cannot buy the whole score. A losing coin scores 0 whatever its
 * cycles or regimes: the scanner must never recommend it. Cycles per day (saturating at 4) and
 * the share of candles in a regime the strategy trades (RANGING or TRENDING_BULL) reward coins
 * whose profit comes from many small round trips in conditions that are likely to last, rather
 * than from one lucky position. Drawdown is reported but not scored: the strategy's reserve
 * and regime allocation already bound it, and a second penalty would double-count.
 */
import type { CandleSeries } from '../market-data/candles.ts';
import type { BacktestMetrics } from './metrics.ts';
import { DEFAULT_STRATEGY_PARAMS, withOverrides, type StrategyParamSet } from './params.ts';
import { runSpec } from './run-spec.ts';

/** Daily ROI (%) at which the ROI part of the score is full. */
export const SCORE_ROI_CAP_PCT = 0.5;
/** Closed cycles per day at which the cycles part of the score is full. */
export const SCORE_CYCLES_CAP = 4;
export const SCORE_WEIGHT_ROI = 0.5;
export const SCORE_WEIGHT_CYCLES = 0.25;
export const SCORE_WEIGHT_FRIENDLY = 0.25;
/** A symbol needs this many days of candles after the regime warm-up to be scanned. */
export const MIN_SCAN_DAYS = 1;

const DAY_MS = 86_400_000;

/** One ranked coin; field names follow the seed's `/scanner/recommendation` ranking items. */
export interface SymbolScan {
  readonly symbol: string;
  /** 0..100, 2 decimals; see the module comment. */
  readonly composite_score: number;
  /** Compounded daily ROI of the backtest, %, 3 decimals. */
  readonly daily_roi_pct: number;
  readonly cycles_per_day: number;
  /** % of classified (non-warm-up) candles in a regime the strategy trades. */
  readonly friendly_regime_pct: number;
  readonly max_drawdown_pct: number;
  /** Candles backtested. */
  readonly candles: number;
  /** Span of the candles in days, last candle included. */
  readonly days: number;
  /**
   * Σ volume × close over the candles that open in the last 24 h of the series, in the quote
   * currency: the footprint monitor compares the capital we put on a coin with it.
   */
  readonly quote_volume_24h: number;
}

/** Stable identifiers for why a symbol was left out of the rankings. */
export type ScanProblemCode = 'too_few_candles' | 'run_failed';

/** A symbol that could not be scanned; it is reported, never ranked. */
export interface ScanFailure {
  readonly symbol: string;
  readonly code: ScanProblemCode;
  readonly problem: string;
}

export type ScanResult = SymbolScan | ScanFailure;

export interface ScanOptions {
  /** `key=value` overrides of the strategy parameter set, as `runSpec` takes them. */
  readonly overrides?: Readonly<Record<string, string>>;
  /** Starting balance in the quote currency; defaults by quote as in `runSpec` (10,000 USD-like). */
  readonly capital?: number;
}

export interface UniverseScan {
  readonly rankings: SymbolScan[];
  readonly failures: ScanFailure[];
  /** Candles backtested over all ranked symbols. */
  readonly candles: number;
}

export const isScanFailure = (result: ScanResult): result is ScanFailure => 'problem' in result;

/** The metrics the score is computed from, unrounded. */
export type ScoreInput = Pick<BacktestMetrics, 'dailyRoiPct' | 'cyclesPerDay' | 'friendlyRegimePct'>;

/** Unrounded 0..100; non-finite inputs count as 0 so a broken metric can never rank a coin first. */
export function compositeScore({ dailyRoiPct, cyclesPerDay, friendlyRegimePct }: ScoreInput): number {
  if (!(dailyRoiPct > 0) || !Number.isFinite(dailyRoiPct)) return 0;
  const roiPart = Math.min(dailyRoiPct / SCORE_ROI_CAP_PCT, 1);
  const cyclesPart = Number.isFinite(cyclesPerDay) ? clamp(cyclesPerDay / SCORE_CYCLES_CAP, 0, 1) : 0;
  const friendlyPart = Number.isFinite(friendlyRegimePct) ? clamp(friendlyRegimePct / 100, 0, 1) : 0;
  return 100 * (SCORE_WEIGHT_ROI * roiPart + SCORE_WEIGHT_CYCLES * cyclesPart + SCORE_WEIGHT_FRIENDLY * friendlyPart);
}

/**
 * Candles the regime detector classifies as WARMUP before its first opinion: the SMA needs
 * sma_period closes and then trend_slope_lookback more to measure its slope; the ATR needs
 * atr_period candles (see regime.ts).
 */
export function regimeWarmupCandles(set: StrategyParamSet): number {
  const smaWarmup = set.regimes.sma_period - 1 + set.regimes.trend_slope_lookback;
  return Math.max(smaWarmup, set.params.atr_period - 1);
}

/** Fewest candles a scan accepts: the regime warm-up plus MIN_SCAN_DAYS of classified candles. */
export function minScanCandles(set: StrategyParamSet, timeframeMs: number): number {
  return regimeWarmupCandles(set) + Math.ceil((MIN_SCAN_DAYS * DAY_MS) / timeframeMs);
}

/** Σ volume × close over the candles opening within 24 h of the end of the last candle. */
export function quoteVolume24h(series: CandleSeries): number {
  const n = series.length;
  if (n === 0) return 0;
  const since = series.time[n - 1]! + series.timeframeMs - DAY_MS;
  let sum = 0;
  for (let i = n - 1; i >= 0 && series.time[i]! >= since; i--) sum += series.volume[i]! * series.close[i]!;
  return sum;
}

/** Backtests adaptive DCA over the whole series; a symbol that cannot be scanned is a failure value. */
export function scanSymbol(series: CandleSeries, options: ScanOptions = {}): ScanResult {
  const symbol = series.symbol;
  const overrides = options.overrides ?? {};
  const set = withOverrides(DEFAULT_STRATEGY_PARAMS, overrides);
  if (!set.ok) return { symbol, code: 'run_failed', problem: `bad strategy parameters: ${set.problem}` };
  return scanWithParams(series, set.value, overrides, options.capital);
}

function scanWithParams(
  series: CandleSeries,
  set: StrategyParamSet,
  overrides: Readonly<Record<string, string>>,
  capital: number | undefined,
): ScanResult {
  const symbol = series.symbol;
  if (!(series.timeframeMs > 0)) return { symbol, code: 'run_failed', problem: `timeframe must be positive, got ${series.timeframeMs} ms` };
  const needed = minScanCandles(set, series.timeframeMs);
  if (series.length < needed) {
    return {
      symbol,
      code: 'too_few_candles',
      problem:
        `${series.length} candles; a scan needs at least ${needed}: ` +
        `${regimeWarmupCandles(set)} for the regime warm-up and ${MIN_SCAN_DAYS} day after it`,
    };
  }
  let outcome: ReturnType<typeof runSpec>;
  try {
    outcome = runSpec(series, { strategy: 'dca', overrides, ...(capital === undefined ? {} : { capital }) });
  } catch (cause) {
    // runSpec reports strategy errors as values; a throw here is bad input (e.g. non-finite prices).
    return { symbol, code: 'run_failed', problem: cause instanceof Error ? cause.message : String(cause) };
  }
  if (!outcome.ok) return { symbol, code: 'run_failed', problem: outcome.problem };
  const m = outcome.value.metrics;
  return {
    symbol,
    composite_score: round(compositeScore(m), 2),
    daily_roi_pct: round(m.dailyRoiPct, 3),
    cycles_per_day: round(m.cyclesPerDay, 2),
    friendly_regime_pct: round(m.friendlyRegimePct, 2),
    max_drawdown_pct: round(m.maxDrawdownPct, 2),
    candles: series.length,
    days: round(m.days, 2),
    quote_volume_24h: round(quoteVolume24h(series), 2),
  };
}

/**
 * Best first: composite score, then daily ROI, both descending, then symbol ascending. Compares
 * the presented (rounded) fields, so anyone reading the list can verify its order.
 */
export function compareScans(a: SymbolScan, b: SymbolScan): number {
  return b.composite_score - a.composite_score || b.daily_roi_pct - a.daily_roi_pct || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
}

export function rankScans(results: readonly ScanResult[]): { rankings: SymbolScan[]; failures: ScanFailure[] } {
  const rankings: SymbolScan[] = [];
  const failures: ScanFailure[] = [];
  for (const result of results) {
    if (isScanFailure(result)) failures.push(result);
    else rankings.push(result);
  }
  rankings.sort(compareScans);
  return { rankings, failures };
}

export interface ScanUniverseControl {
  /** Yield to the event loop after this many symbols (default 1): a 90-day DCA backtest takes a few ms. */
  readonly yieldEvery?: number;
}

/**
 * Scans every series on the calling thread, yielding to the event loop between symbols so a
 * service running the scheduled scan keeps answering chat and HTTP meanwhile.
 */
export async function scanUniverse(
  seriesList: readonly CandleSeries[],
  options: ScanOptions = {},
  control: ScanUniverseControl = {},
): Promise<UniverseScan> {
  const every = control.yieldEvery ?? 1;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`yieldEvery must be a whole number >= 1, got ${every}`);
  const overrides = options.overrides ?? {};
  // Parse the overrides once: a bad set fails every symbol with the same problem.
  const set = withOverrides(DEFAULT_STRATEGY_PARAMS, overrides);
  const results: ScanResult[] = [];
  for (let i = 0; i < seriesList.length; i++) {
    const series = seriesList[i]!;
    results.push(
      set.ok
        ? scanWithParams(series, set.value, overrides, options.capital)
        : { symbol: series.symbol, code: 'run_failed', problem: `bad strategy parameters: ${set.problem}` },
    );
    if ((i + 1) % every === 0 && i + 1 < seriesList.length) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const { rankings, failures } = rankScans(results);
  let candles = 0;
  for (const scan of rankings) candles += scan.candles;
  return { rankings, failures, candles };
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Rounded half away from zero; `+ 0` turns -0 into 0 so JSON and equality checks stay clean. */
function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return (Math.sign(x) * Math.round(Math.abs(x) * f)) / f + 0;
}
