/**
 * Streaming market-regime detector, one candle at a time, allocation-free: two indicators and
 * one Float64Array allocated in the constructor, plain number arithmetic per update.
 *
 * Classification of each candle (first matching rule wins):
 *   1. WARMUP        until SMA(sma_period) of closes and Wilder ATR(atr_period) are both ready and,
 *                    when trend_slope_lookback = L > 0, L more SMA values exist to measure its slope
 *                    (default: the first 50 + 50 - 1 = 99 candles).
 *   2. EXTREME       ATR% = ATR / close * 100 >= extreme_atr_mult * atr_baseline_pct
 *                    (defaults 2.5 * 0.8 % = 2 %).
 *   3. TRENDING_BULL close > SMA * (1 + trend_threshold_pct / 100) and (L = 0 or SMA > SMA L candles ago).
 *      TRENDING_BEAR close < SMA * (1 - trend_threshold_pct / 100) and (L = 0 or SMA < SMA L candles ago).
 *   4. RANGING       everything else, including a close stretched against the SMA's slope: a pullback
 *                    inside a trend is treated as mean reversion, not as a new trend.
 * The slope check is there because on 5m candles SMA(50) spans ~4 hours, and without it every
 * intraday spike against the trend counts as a trend of its own; on BTC 2020-21 it raised the
 * RANGING share in the Jun–Jul range and the bear:bull ratio in the May crash (regime.test.ts).
 *
 * Horizon: the detector sees trends at the scale of its candles times sma_period. Fed 5m candles
 * it classifies hours, not months; feed it higher-timeframe candles (with an atr_baseline_pct
 * suited to that timeframe) for a multi-week regime.
 */
import { Atr } from './indicators/atr.ts';
import { Sma } from './indicators/sma.ts';
import type { AllocationRules, StrategyParamSet } from './params.ts';
import { Regime, type RegimeCode } from './regime-codes.ts';
import { encodeNumbers, StateReader, type JsonObject } from './snapshot.ts';
import type { JsonValue } from './types.ts';

// Module constants: the hot path then reads no imported object's properties, which some module
// loaders (tsx's CJS interop, test runners) turn into getter calls costing more than the update.
const { WARMUP, RANGING, TRENDING_BULL, TRENDING_BEAR, EXTREME } = Regime;

export interface RegimeOptions {
  readonly smaPeriod: number;
  readonly atrPeriod: number;
  readonly atrBaselinePct: number;
  readonly extremeAtrMult: number;
  readonly trendThresholdPct: number;
  /** 0 disables the slope check. */
  readonly trendSlopeLookback: number;
}

export const regimeOptions = (set: StrategyParamSet): RegimeOptions => ({
  smaPeriod: set.regimes.sma_period,
  atrPeriod: set.params.atr_period,
  atrBaselinePct: set.params.atr_baseline_pct,
  extremeAtrMult: set.regimes.extreme_atr_mult,
  trendThresholdPct: set.regimes.trend_threshold_pct,
  trendSlopeLookback: set.regimes.trend_slope_lookback,
});

export class RegimeDetector {
  private readonly sma: Sma;
  private readonly atr: Atr;
  // Thresholds pre-multiplied so update() compares without dividing.
  private readonly extremeAtrPct: number;
  private readonly upperFactor: number;
  private readonly lowerFactor: number;
  private readonly lookback: number;
  private readonly smaHistory: Float64Array; // ring of the last `lookback` SMA values
  private historyHead = 0;
  private historyCount = 0;
  private code: RegimeCode = WARMUP;

  constructor(options: RegimeOptions) {
    const lookback = options.trendSlopeLookback;
    if (!Number.isInteger(lookback) || lookback < 0) throw new RangeError(`trendSlopeLookback must be an integer >= 0, got ${lookback}`);
    this.sma = new Sma(options.smaPeriod);
    this.atr = new Atr(options.atrPeriod);
    this.extremeAtrPct = options.extremeAtrMult * options.atrBaselinePct;
    this.upperFactor = 1 + options.trendThresholdPct / 100;
    this.lowerFactor = 1 - options.trendThresholdPct / 100;
    this.lookback = lookback;
    this.smaHistory = new Float64Array(lookback > 0 ? lookback : 1);
  }

  static fromParams(set: StrategyParamSet): RegimeDetector {
    return new RegimeDetector(regimeOptions(set));
  }

  /** Adds one candle and returns its regime. */
  update(high: number, low: number, close: number): RegimeCode {
    const sma = this.sma.update(close);
    const atr = this.atr.update(high, low, close);
    if (!this.sma.ready) return this.code; // still WARMUP

    // Slope: compare with the SMA `lookback` candles ago, then overwrite that slot.
    let smaAgo = sma;
    if (this.lookback > 0) {
      const i = this.historyHead;
      smaAgo = this.smaHistory[i]!;
      this.smaHistory[i] = sma;
      this.historyHead = i + 1 === this.lookback ? 0 : i + 1;
      if (this.historyCount < this.lookback) {
        this.historyCount++;
        return this.code; // still WARMUP
      }
    }
    if (!this.atr.ready) return this.code;

    if (atr * 100 >= this.extremeAtrPct * close) this.code = EXTREME;
    else if (close > sma * this.upperFactor && (this.lookback === 0 || sma > smaAgo)) this.code = TRENDING_BULL;
    else if (close < sma * this.lowerFactor && (this.lookback === 0 || sma < smaAgo)) this.code = TRENDING_BEAR;
    else this.code = RANGING;
    return this.code;
  }

  get value(): RegimeCode {
    return this.code;
  }

  /** The ATR the detector keeps (NaN while warming up), so strategies need not compute it again. */
  get atrValue(): number {
    return this.atr.value;
  }

  get ready(): boolean {
    return this.code !== WARMUP;
  }

  /** Both indicators, the slope ring and the current regime as JSON (crash-only recovery). */
  snapshot(): JsonObject {
    return {
      sma: this.sma.snapshot(),
      atr: this.atr.snapshot(),
      lookback: this.lookback,
      smaHistory: encodeNumbers(this.smaHistory),
      historyHead: this.historyHead,
      historyCount: this.historyCount,
      code: this.code,
    };
  }

  /** Loads a `snapshot()` of a detector built with the same options; throws (changing nothing) on anything else. */
  restore(state: JsonValue, path = 'regime detector'): void {
    const r = StateReader.open(state, path, ['sma', 'atr', 'lookback', 'smaHistory', 'historyHead', 'historyCount', 'code']);
    const lookback = r.int('lookback', 0, Number.MAX_SAFE_INTEGER);
    if (lookback !== this.lookback) r.fail('lookback', `snapshot has a slope lookback of ${lookback}, this detector ${this.lookback}`);
    const history = r.numbers('smaHistory', this.smaHistory.length, 'one per lookback candle');
    const historyHead = r.int('historyHead', 0, this.smaHistory.length - 1);
    const historyCount = r.int('historyCount', 0, lookback);
    const code = r.int('code', WARMUP, EXTREME) as RegimeCode;
    // Check both indicators on scratch copies first, so that a refused ATR leaves the SMA as it was.
    new Sma(this.sma.period).restore(r.raw('sma'), r.at('sma'));
    new Atr(this.atr.period).restore(r.raw('atr'), r.at('atr'));
    this.sma.restore(r.raw('sma'), r.at('sma'));
    this.atr.restore(r.raw('atr'), r.at('atr'));
    this.smaHistory.set(history);
    this.historyHead = historyHead;
    this.historyCount = historyCount;
    this.code = code;
  }

  reset(): void {
    this.sma.reset();
    this.atr.reset();
    this.smaHistory.fill(0);
    this.historyHead = 0;
    this.historyCount = 0;
    this.code = WARMUP;
  }
}

const NO_ALLOCATION: readonly [number, number] = Object.freeze([0, 0] as const);

/**
 * The seed's `[long %, reserve %]` for a regime. WARMUP gets [0, 0] like EXTREME: no new
 * exposure before the detector has an opinion (a runner that preloads history is past it
 * before trading starts). Returns the rules' own frozen tuples, so it allocates nothing.
 */
export function allocationFor(code: RegimeCode, rules: AllocationRules): readonly [number, number] {
  switch (code) {
    case TRENDING_BULL:
      return rules.TRENDING.bullish;
    case TRENDING_BEAR:
      return rules.TRENDING.bearish;
    case RANGING:
      return rules.RANGING;
    case EXTREME:
      return rules.EXTREME;
    default:
      return NO_ALLOCATION;
  }
}
