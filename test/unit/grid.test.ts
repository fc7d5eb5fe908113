import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/engine/backtest.ts';
import { Regime } from '../../src/engine/regime-codes.ts';
import { DEFAULT_GRID_PARAMS, GridStrategy, gridLevels, type GridParams } from '../../src/engine/strategies/grid.ts';
import { DEFAULT_SIM_VENUE, SimVenue } from '../../src/exchange/sim/sim-venue.ts';
import { Runner } from '../../src/engine/runner.ts';
import { emptyCandle, readCandle } from '../../src/market-data/candles.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';

const ranging = { update: () => Regime.RANGING };
const venue = { ...DEFAULT_SIM_VENUE, startQuote: 1_000, makerFeePct: 0.1, takerFeePct: 0.1, slippagePct: 0 };

function candles(rows: [number, number, number, number][], timeframeMs = 60_000): CandleSeries {
  const n = rows.length;
  const s = { symbol: 'T/USDT', timeframeMs, length: n, time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) };
  rows.forEach(([o, h, l, c], i) => {
    s.time[i] = i * timeframeMs;
    s.open[i] = o;
    s.high[i] = h;
    s.low[i] = l;
    s.close[i] = c;
    s.volume[i] = 1_000;
  });
  return s;
}

describe('grid levels', () => {
  it('spaces levels arithmetically or geometrically between lower and upper', () => {
    expect([...gridLevels({ lower: 100, upper: 200, count: 4, spacing: 'arithmetic' })]).toEqual([100, 125, 150, 175, 200]);
    const geo = gridLevels({ lower: 100, upper: 400, count: 2, spacing: 'geometric' });
    expect(geo[0]).toBe(100);
    expect(geo[1]).toBeCloseTo(200, 10);
    expect(geo[2]).toBeCloseTo(400, 10);
  });
});

describe('grid strategy', () => {
  const params: GridParams = { ...DEFAULT_GRID_PARAMS, lower: 90, upper: 110, count: 4, spacing: 'arithmetic', per_trade_usd: 50 };

  it('places buys below the price, sells each fill one step up, and re-arms the level', () => {
    const trace = runBacktest({
      strategy: new GridStrategy(params, ranging),
      venue,
      series: candles([
        [101, 101, 101, 101], // start: levels 90, 95, 100, 105, 110 -> buys at 90, 95, 100
        [101, 101, 99.5, 100], // b2 at 100 fills
        [100, 105.2, 100, 105], // t2 sells at 105
        [105, 105, 99, 100], // b2 fills again
      ]),
    });
    expect(trace.fills.map((f) => `${f.tag}@${f.price}`)).toEqual(['b2@100', 't2@105', 'b2@100']);
    expect(trace.cycles).toHaveLength(1);
    // 0.5 units bought at 100 and sold at 105, less 0.1% fees on both sides.
    expect(trace.cycles[0]!.pnl).toBeCloseTo(0.5 * 5 - 0.05 - 0.0525, 9); // 0.5 bought at 100, sold at 105, 0.1% fees
    expect(trace.inMarket.at(-1)).toBe(1);
  });

  it('sizes by bankroll × max_per_trade_pct when no per-trade amount is given', () => {
    const strategy = new GridStrategy({ ...params, per_trade_usd: null, bankroll_usd: 5_000, max_per_trade_pct: 0.02 }, ranging);
    const trace = runBacktest({ strategy, venue, series: candles([[101, 101, 101, 101], [101, 101, 99, 100]]) });
    expect(trace.fills[0]!.qty * trace.fills[0]!.price).toBeCloseTo(100, 6);
  });

  it('chases only the nearest stale buy leg after the timeout when the market drifted away, at most replace_max_retries times', () => {
    const strategy = new GridStrategy({ ...params, count: 2, lower: 80, upper: 120, replace_timeout_ms: 120_000, replace_max_retries: 2 }, ranging);
    const sim = new SimVenue(venue);
    const runner = new Runner(strategy, sim, 60_000);
    // Starts at 101 (one buy leg at 80... and at 100), then the market climbs 1 per minute.
    const rows: [number, number, number, number][] = [[101, 101, 101, 101], ...Array.from({ length: 12 }, (_, i): [number, number, number, number] => [102 + i, 103 + i, 102 + i, 103 + i])];
    const series = candles(rows);
    const view = emptyCandle();
    const seen: { attempt: number; price: number }[] = [];
    for (let i = 0; i < series.length; i++) {
      runner.step(readCandle(series, i, view));
      const leg = sim.openOrders.find((o) => o.tag === 'b1')!;
      if (seen.at(-1)?.attempt !== leg.attempt) seen.push({ attempt: leg.attempt, price: leg.price });
    }
    // Placed at the level (100), chased twice (after 2 minutes each), then left alone.
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(seen[0]!.price).toBe(100);
    expect(seen[1]!.price).toBeCloseTo(104 * (1 - 0.003), 1);
    expect(seen[2]!.price).toBeGreaterThan(seen[1]!.price);
    // The lower leg (80) keeps its level: chasing it too would dissolve the grid.
    expect(sim.openOrders.find((o) => o.tag === 'b0')).toMatchObject({ attempt: 1, price: 80 });
  });

  it('refuses an impossible range', () => {
    expect(() => new GridStrategy({ ...params, lower: 110, upper: 90 }, ranging)).toThrow(/lower < upper/);
  });
});
