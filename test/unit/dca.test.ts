import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/engine/backtest.ts';
import { Regime, type RegimeCode } from '../../src/engine/regime-codes.ts';
import { adaptiveLevels, DcaStrategy, longShare, type AllocationRules, type DcaParams } from '../../src/engine/strategies/dca.ts';
import { DEFAULT_SIM_VENUE } from '../../src/exchange/sim/sim-venue.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';

const params: DcaParams = {
  base_order_pct: 4,
  max_safety_orders: 8,
  so_volume_mult: 2,
  tp_range: [0.6, 2.5],
  deviation_range: [1.2, 4.0],
  atr_period: 3,
  atr_baseline_pct: 0.8,
  regime_multipliers: { RANGING: { tp: 0.85, dev: 0.8 }, TRENDING: { tp: 1.2, dev: 1.3 }, EXTREME: { tp: 0.7, dev: 1.5 } },
  capital_reserve_pct: 10,
};
const rules: AllocationRules = { TRENDING: { bullish: [75, 25], bearish: [25, 75] }, RANGING: [50, 50], EXTREME: [0, 0] };
const fixedRegime = (code: RegimeCode) => ({ update: () => code });

/** Candles from a list of closes; each candle spans ±0.1% around its open/close. */
function series(closes: number[], spread = 0.001): CandleSeries {
  const n = closes.length;
  const s = { symbol: 'TEST/USDT', timeframeMs: 300_000, length: n, time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const open = i === 0 ? closes[0]! : closes[i - 1]!;
    const close = closes[i]!;
    s.time[i] = i * 300_000;
    s.open[i] = open;
    s.close[i] = close;
    s.high[i] = Math.max(open, close) * (1 + spread);
    s.low[i] = Math.min(open, close) * (1 - spread);
    s.volume[i] = 1_000;
  }
  return s;
}

describe('DCA adaptive levels (the documented formulas)', () => {
  it('scales TP and deviation with ATR% over the baseline, then the regime multiplier, then clamps', () => {
    // At 2× baseline volatility in a range: tp = 0.6 × 2 × 0.85 = 1.02, dev = 1.2 × 2 × 0.8 = 1.92.
    const ranging = adaptiveLevels(params, 1.6, Regime.RANGING);
    expect(ranging.tpPct).toBeCloseTo(1.02, 12);
    expect(ranging.devPct).toBeCloseTo(1.92, 12);
    // Trending at 1.5×: tp = 0.6 × 1.5 × 1.2 = 1.08, dev = 1.2 × 1.5 × 1.3 = 2.34 (bull and bear alike).
    for (const r of [Regime.TRENDING_BULL, Regime.TRENDING_BEAR]) {
      const t = adaptiveLevels(params, 1.2, r);
      expect(t.tpPct).toBeCloseTo(1.08, 12);
      expect(t.devPct).toBeCloseTo(2.34, 12);
    }
    // Clamped at both ends.
    expect(adaptiveLevels(params, 0.4, Regime.RANGING)).toEqual({ tpPct: 0.6, devPct: 1.2 });
    expect(adaptiveLevels(params, 8, Regime.EXTREME)).toEqual({ tpPct: 2.5, devPct: 4.0 });
  });

  it('sizes by the allocation rules: bullish 75, bearish 25, ranging 50, extreme 0, warm-up 0', () => {
    expect([Regime.TRENDING_BULL, Regime.TRENDING_BEAR, Regime.RANGING, Regime.EXTREME, Regime.WARMUP].map((r) => longShare(rules, r))).toEqual([
      75, 25, 50, 0, 0,
    ]);
  });
});

describe('DCA cycle through the runner and the simulated venue', () => {
  const venue = { ...DEFAULT_SIM_VENUE, startQuote: 10_000, makerFeePct: 0.1, takerFeePct: 0.1, slippagePct: 0 };

  it('opens with a base order, buys the dip with a safety order, and closes at the re-priced take-profit', () => {
    // Flat (ATR warms up, dev clamps to 1.2%), a 2% dip (SO1 at −1.2% fills, SO2 at −2.4% does not), then a rally through the TP.
    const closes = [100, 100, 100, 100, 100, 99, 98, 98.5, 99.5, 100.5, 101, 102];
    const strategy = new DcaStrategy(params, rules, fixedRegime(Regime.RANGING));
    const trace = runBacktest({ series: series(closes), strategy, venue });
    expect(trace.error).toBeNull();

    const [base, so1, tp] = trace.fills;
    expect(base).toMatchObject({ tag: 'base', side: 'buy', liquidity: 'taker' });
    // base = equity × 4% × 50/50 = $400 at the close of the first candle with an ATR (index 2).
    expect(base!.price * base!.qty).toBeCloseTo(400, 0);
    expect(so1).toMatchObject({ tag: 'so1', side: 'buy', liquidity: 'maker' });
    // SO1 = 2 × base in quote, at basePrice × (1 − dev%).
    expect(so1!.price * so1!.qty).toBeCloseTo(800, 0);
    expect(tp).toMatchObject({ tag: 'tp', side: 'sell', complete: true });
    const avgEntry = (base!.price * base!.qty + base!.fee + so1!.price * so1!.qty + so1!.fee) / (base!.qty + so1!.qty);
    expect(tp!.qty).toBeCloseTo(base!.qty + so1!.qty, 5);
    expect(tp!.price / avgEntry - 1).toBeGreaterThanOrEqual(0.006 - 1e-4); // at least tp_range.min

    const pnl = tp!.price * tp!.qty - tp!.fee - (base!.price * base!.qty + base!.fee + so1!.price * so1!.qty + so1!.fee);
    expect(trace.cycles[0]!.pnl).toBeCloseTo(pnl, 6);
    expect(pnl).toBeGreaterThan(0);
    // The rally then opens and closes another cycle; every closed cycle made money.
    expect(trace.cycles.every((c) => c.pnl > 0)).toBe(true);
    const realised = trace.cycles.reduce((sum, c) => sum + c.pnl, 0);
    if (trace.inMarket.at(-1) === 0) expect(trace.equity.at(-1)).toBeCloseTo(10_000 + realised, 4);
  });

  it('does not open cycles in an EXTREME regime or while warming up', () => {
    for (const regime of [Regime.EXTREME, Regime.WARMUP]) {
      const trace = runBacktest({ series: series([100, 101, 99, 100, 102, 98, 100]), strategy: new DcaStrategy(params, rules, fixedRegime(regime)), venue });
      expect(trace.fills).toHaveLength(0);
    }
  });

  it('keeps the capital reserve: the ladder stops before it would exceed 90% of equity', () => {
    // A straight fall: base 4%, SO1 8%, SO2 16%, SO3 32% (sum 60%); SO4 (64%) would exceed 90%.
    const closes = [100, 100, 100, 100, ...Array.from({ length: 60 }, (_, i) => 99 - i * 0.5)];
    const trace = runBacktest({ series: series(closes), strategy: new DcaStrategy(params, rules, fixedRegime(Regime.RANGING)), venue });
    expect(trace.fills.filter((f) => f.side === 'buy').map((f) => f.tag)).toEqual(['base', 'so1', 'so2', 'so3']);
  });

  it('wraps a strategy error and stops the run', () => {
    const broken = new DcaStrategy(params, rules, { update: () => { throw new Error('detector broke'); } });
    const trace = runBacktest({ series: series([100, 100, 100]), strategy: broken, venue });
    expect(trace.error).toMatch(/strategy dca failed at .*: detector broke/);
    expect(trace.steps).toBe(0);
  });
});
