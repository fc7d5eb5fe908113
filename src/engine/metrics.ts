// Summary numbers for one backtest, computed from the per-candle tracks the runner records.
// Pure and unrounded: presentation rounds. Undefined ratios (no candles, no cycles, zero
// variance, non-positive equity) come out as 0 or -100 %, never NaN or Infinity, because these
// numbers end up in JSON reports and rankings where NaN would poison sorting and comparisons.
import { Regime } from './regime-codes.ts';

export interface FillRecord {
  time: number;
  side: 'buy' | 'sell';
  price: number;
  qty: number;
  fee: number;
}

/** A closed round trip; pnl is net of fees. */
export interface CycleRecord {
  openedAt: number;
  closedAt: number;
  pnl: number;
}

export interface MetricsInput {
  /** Quote currency. */
  startEquity: number;
  /** Candle open times (ms), same length as equity. */
  time: Float64Array;
  /** Mark-to-market equity at each candle close. */
  equity: Float64Array;
  /** 1 when a position was open at that candle. */
  inMarket: Uint8Array;
  /** RegimeCode per candle. */
  regimes: Uint8Array;
  /** Regime codes friendly to the strategy. */
  friendlyRegimes: readonly number[];
  fills: readonly FillRecord[];
  cycles: readonly CycleRecord[];
  timeframeMs: number;
}

export interface RegimeBreakdown {
  WARMUP: number;
  RANGING: number;
  TRENDING_BULL: number;
  TRENDING_BEAR: number;
  EXTREME: number;
}

/** n = candles, S = startEquity, E = finalEquity. Percentages are 0–100. */
export interface BacktestMetrics {
  /** (time[n-1] - time[0] + timeframeMs) / 1 day: the span covered, last candle included; 0 if n = 0. */
  days: number;
  /** (E / S - 1) × 100; 0 if S <= 0. */
  totalRoiPct: number;
  /**
   * ((E / S)^(1 / days) - 1) × 100, compounded. Runs shorter than a day are not extrapolated
   * (days is taken as 1, so this equals totalRoiPct); E <= 0 gives -100; S <= 0 gives 0.
   */
  dailyRoiPct: number;
  /** cycles / days; 0 if days = 0. */
  cyclesPerDay: number;
  cycles: number;
  /** 100 × (cycles with pnl > 0) / cycles; 0 without cycles. A break-even cycle is not a win. */
  winRatePct: number;
  /**
   * max over t of (peak_t - equity_t) / peak_t × 100, where peak_t = max(S, equity_0..t): the
   * starting balance counts as the first peak. A positive number; 0 for a curve that never falls.
   */
  maxDrawdownPct: number;
  /** mean(r) / std(r) × √365 over dailyReturns (sample std, n-1); 0 with fewer than 2 returns or std ≈ 0. */
  sharpe: number;
  /** Σ fill.fee. */
  feesPaid: number;
  fills: number;
  /** 100 × (candles with inMarket = 1) / n. */
  timeInMarketPct: number;
  /** 100 × (candles with that regime) / n, per regime. */
  regimeBreakdown: RegimeBreakdown;
  /** 100 × (non-WARMUP candles in a friendly regime) / (non-WARMUP candles); 0 if all are WARMUP. */
  friendlyRegimePct: number;
  /** equity[n-1], or S when there are no candles. */
  finalEquity: number;
}

const DAY_MS = 86_400_000;
/** Below this a daily-return standard deviation is float noise around a constant series. */
const MIN_STD = 1e-12;

export function computeMetrics(input: MetricsInput): BacktestMetrics {
  const { startEquity: start, time, equity, inMarket, regimes, timeframeMs } = input;
  const n = equity.length;
  if (time.length !== n || inMarket.length !== n || regimes.length !== n) {
    throw new RangeError(
      `metrics input tracks differ in length: time ${time.length}, equity ${n}, inMarket ${inMarket.length}, regimes ${regimes.length}`,
    );
  }
  if (!(timeframeMs > 0)) throw new RangeError(`timeframeMs must be positive, got ${timeframeMs}`);
  if (!Number.isFinite(start)) throw new RangeError(`startEquity must be finite, got ${start}`);

  const days = n === 0 ? 0 : (time[n - 1]! - time[0]! + timeframeMs) / DAY_MS;
  const finalEquity = n === 0 ? start : equity[n - 1]!;
  const ratio = start > 0 ? finalEquity / start : 1;
  const dailyRoiPct = ratio <= 0 ? -100 : (Math.pow(ratio, 1 / Math.max(days, 1)) - 1) * 100;

  let wins = 0;
  for (const cycle of input.cycles) if (cycle.pnl > 0) wins++;
  let feesPaid = 0;
  for (const fill of input.fills) feesPaid += fill.fee;
  let inMarketCount = 0;
  for (let i = 0; i < n; i++) if (inMarket[i] !== 0) inMarketCount++;

  const cycles = input.cycles.length;
  const { breakdown, friendlyPct } = regimeStats(regimes, input.friendlyRegimes);
  return {
    days,
    totalRoiPct: (ratio - 1) * 100,
    dailyRoiPct,
    cyclesPerDay: days > 0 ? cycles / days : 0,
    cycles,
    winRatePct: cycles > 0 ? (100 * wins) / cycles : 0,
    maxDrawdownPct: maxDrawdownPct(start, equity),
    sharpe: sharpeRatio(dailyReturns(start, time, equity)),
    feesPaid,
    fills: input.fills.length,
    timeInMarketPct: n > 0 ? (100 * inMarketCount) / n : 0,
    regimeBreakdown: breakdown,
    friendlyRegimePct: friendlyPct,
    finalEquity,
  };
}

/** Peak-to-trough decline in %, the starting balance counting as the first peak. */
export function maxDrawdownPct(startEquity: number, equity: Float64Array): number {
  let peak = startEquity;
  let worst = 0;
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i]!;
    if (!Number.isFinite(e)) throw new RangeError(`equity[${i}] is ${e}`);
    if (e > peak) peak = e;
    else if (peak > 0 && (peak - e) / peak > worst) worst = (peak - e) / peak;
  }
  return worst * 100;
}

/**
 * The equity curve sampled at UTC day closes (the last candle that opens in each UTC day),
 * as simple returns r_k = C_k / C_(k-1) - 1 with C_0 = startEquity. A day without candles adds
 * no sample; a return from a non-positive balance counts as 0.
 */
export function dailyReturns(startEquity: number, time: Float64Array, equity: Float64Array): number[] {
  const returns: number[] = [];
  let prev = startEquity;
  for (let i = 0; i < equity.length; i++) {
    const day = Math.floor(time[i]! / DAY_MS);
    if (i + 1 < equity.length && Math.floor(time[i + 1]! / DAY_MS) === day) continue;
    const close = equity[i]!;
    returns.push(prev > 0 ? close / prev - 1 : 0);
    prev = close;
  }
  return returns;
}

/** mean / sample std × √365 (crypto trades every day), risk-free rate 0. */
export function sharpeRatio(daily: readonly number[]): number {
  const k = daily.length;
  if (k < 2) return 0;
  let sum = 0;
  for (const r of daily) sum += r;
  const mean = sum / k;
  let squares = 0;
  for (const r of daily) squares += (r - mean) * (r - mean);
  const std = Math.sqrt(squares / (k - 1));
  return std > MIN_STD ? (mean / std) * Math.sqrt(365) : 0;
}

const REGIME_NAMES = Object.keys(Regime) as (keyof typeof Regime)[];

function regimeStats(regimes: Uint8Array, friendly: readonly number[]): { breakdown: RegimeBreakdown; friendlyPct: number } {
  const counts = new Float64Array(256);
  for (let i = 0; i < regimes.length; i++) counts[regimes[i]!]!++;
  const n = regimes.length;
  const breakdown = {} as RegimeBreakdown;
  let known = 0;
  for (const name of REGIME_NAMES) {
    const count = counts[Regime[name]]!;
    breakdown[name] = n > 0 ? (100 * count) / n : 0;
    known += count;
  }
  if (known !== n) throw new RangeError(`regimes holds ${n - known} candles with an unknown regime code`);

  const nonWarmup = n - counts[Regime.WARMUP]!;
  let friendlyCount = 0;
  for (const code of new Set(friendly)) if (code !== Regime.WARMUP && Number.isInteger(code) && code >= 0 && code < 256) friendlyCount += counts[code]!;
  return { breakdown, friendlyPct: nonWarmup > 0 ? (100 * friendlyCount) / nonWarmup : 0 };
}
