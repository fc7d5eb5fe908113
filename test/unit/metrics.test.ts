import { describe, expect, it } from 'vitest';
import { computeMetrics, dailyReturns, maxDrawdownPct, sharpeRatio, type MetricsInput } from '../../src/engine/metrics.ts';
import { Regime } from '../../src/engine/regime-codes.ts';
import { equityCsv, fillsCsv, formatNumber, toJsonStable } from '../../src/engine/report.ts';

const HOUR = 3_600_000;
const H6 = 6 * HOUR;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 0, 1);

/** Candles of `timeframeMs` from 2024-01-01 00:00 UTC, flat RANGING, no trades, unless overridden. */
function input(equity: number[], overrides: Partial<MetricsInput> = {}): MetricsInput {
  const n = equity.length;
  const timeframeMs = overrides.timeframeMs ?? H6;
  return {
    startEquity: 1000,
    time: Float64Array.from({ length: n }, (_, i) => T0 + i * timeframeMs),
    equity: Float64Array.from(equity),
    inMarket: new Uint8Array(n),
    regimes: new Uint8Array(n).fill(Regime.RANGING),
    friendlyRegimes: [Regime.RANGING],
    fills: [],
    cycles: [],
    timeframeMs,
    ...overrides,
  };
}

/** JSON turns NaN and Infinity into null, so a finite result has no null anywhere. */
const expectAllFinite = (m: object): void => expect(JSON.stringify(m)).not.toContain('null');

describe('returns, drawdown and Sharpe on a three-day curve', () => {
  // Four 6h candles a day. Day closes: 1100 (+10 %), 990 (-10 %), 1089 (+10 %).
  const curve = [1000, 1050, 1020, 1100, 1210, 1150, 1000, 990, 1000, 1050, 1080, 1089];
  const m = computeMetrics(input(curve));

  it('measures the span and the returns', () => {
    expect(m.days).toBe(3);
    expect(m.finalEquity).toBe(1089);
    expect(m.totalRoiPct).toBeCloseTo(8.9, 12);
    // Compounded: 1.089^(1/3) = 1.0288276...
    expect(m.dailyRoiPct).toBeCloseTo(2.882765, 5);
    expect((1 + m.dailyRoiPct / 100) ** 3).toBeCloseTo(1.089, 12);
  });

  it('takes the drawdown from the intraday peak, not the day close', () => {
    // Peak 1210 (day 2, 00:00) to trough 990 (day 2, 18:00).
    expect(m.maxDrawdownPct).toBeCloseTo((220 / 1210) * 100, 12);
    expect(m.maxDrawdownPct).toBeCloseTo(18.181818, 5);
  });

  it('annualises the Sharpe ratio of UTC day-close returns', () => {
    const r = dailyReturns(1000, input(curve).time, input(curve).equity);
    expect(r.map((x) => Number(x.toFixed(12)))).toEqual([0.1, -0.1, 0.1]);
    // mean 1/30, sample std sqrt(1/75): Sharpe = sqrt(75)/30 * sqrt(365) = sqrt(27375)/30.
    expect(m.sharpe).toBeCloseTo(Math.sqrt(27375) / 30, 9);
    expect(m.sharpe).toBeCloseTo(5.515131, 5);
    expect(sharpeRatio([0.1, -0.1, 0.1])).toBeCloseTo(m.sharpe, 9);
    expect(sharpeRatio([0.02, 0.01, -0.01, 0.03])).toBeCloseTo(((0.0125 / Math.sqrt(0.000291666666666667)) * Math.sqrt(365)), 9);
  });
});

describe('compounded daily ROI', () => {
  it('is exactly the constant daily growth rate', () => {
    // 1h candles, day closes 1100, 1210, 1331: +10 % a day, +33.1 % in total.
    const equity = Array.from({ length: 72 }, (_, i) => 1000 * 1.1 ** Math.floor(i / 24 + 1));
    const m = computeMetrics(input(equity, { timeframeMs: HOUR }));
    expect(m.days).toBe(3);
    expect(m.totalRoiPct).toBeCloseTo(33.1, 10);
    expect(m.dailyRoiPct).toBeCloseTo(10, 10);
    // Identical daily returns have no variance; the ratio is undefined and reported as 0.
    expect(m.sharpe).toBe(0);
  });

  it('does not extrapolate runs shorter than a day', () => {
    const m = computeMetrics(input([1000, 1010, 1020], { timeframeMs: HOUR, cycles: [{ openedAt: T0, closedAt: T0 + HOUR, pnl: 20 }] }));
    expect(m.days).toBe(0.125);
    expect(m.totalRoiPct).toBeCloseTo(2, 12);
    expect(m.dailyRoiPct).toBe(m.totalRoiPct);
    expect(m.cyclesPerDay).toBe(8);
    expect(m.sharpe).toBe(0); // one daily return
  });

  it('counts a run that loses everything as -100 % a day', () => {
    const m = computeMetrics(input([800, 0, 0, 0, 0, 0, 0, 0]));
    expect(m.totalRoiPct).toBe(-100);
    expect(m.dailyRoiPct).toBe(-100);
    expect(m.maxDrawdownPct).toBe(100);
    expectAllFinite(m);
  });
});

describe('drawdown', () => {
  it('counts the starting balance as the first peak', () => {
    expect(maxDrawdownPct(1000, Float64Array.from([900, 950]))).toBeCloseTo(10, 12);
    expect(maxDrawdownPct(1000, Float64Array.from([900, 950, 1200, 600, 1300]))).toBeCloseTo(50, 12);
    expect(maxDrawdownPct(1000, Float64Array.from([1000, 1100, 1200]))).toBe(0);
  });

  it('rejects a non-finite equity value instead of hiding it', () => {
    expect(() => maxDrawdownPct(1000, Float64Array.from([1000, NaN]))).toThrow('equity[1] is NaN');
  });
});

describe('daily resampling', () => {
  it('uses the last candle of each UTC day and skips days without candles', () => {
    const time = Float64Array.from([T0, T0 + 23 * HOUR, T0 + 2 * DAY + HOUR, T0 + 2 * DAY + 5 * HOUR]);
    const equity = Float64Array.from([5000, 1100, 1200, 1320]);
    expect(dailyReturns(1000, time, equity).map((r) => Number(r.toFixed(12)))).toEqual([0.1, 0.2]);
  });

  it('treats each daily candle as its own day', () => {
    const m = computeMetrics(input([1100, 990, 1089], { timeframeMs: DAY }));
    expect(m.days).toBe(3);
    expect(m.sharpe).toBeCloseTo(Math.sqrt(27375) / 30, 9);
  });
});

describe('trades, exposure and regimes', () => {
  const regimes = Uint8Array.from([0, 0, 1, 1, 1, 2, 2, 3, 4, 1]);
  const m = computeMetrics(
    input([1000, 1000, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1010], {
      regimes,
      friendlyRegimes: [Regime.RANGING, Regime.TRENDING_BULL],
      inMarket: Uint8Array.from([1, 1, 0, 0, 1, 0, 0, 0, 0, 0]),
      fills: [
        { time: T0, side: 'buy', price: 100, qty: 1, fee: 0.1 },
        { time: T0 + H6, side: 'sell', price: 101, qty: 1, fee: 0.25 },
        { time: T0 + 2 * H6, side: 'buy', price: 100, qty: 0.5, fee: 0.05 },
      ],
      cycles: [
        { openedAt: T0, closedAt: T0 + H6, pnl: 5 },
        { openedAt: T0, closedAt: T0 + H6, pnl: -2 },
        { openedAt: T0, closedAt: T0 + H6, pnl: 0 },
        { openedAt: T0, closedAt: T0 + H6, pnl: 3 },
      ],
    }),
  );

  it('counts cycles, wins and fees', () => {
    expect(m.days).toBe(2.5);
    expect(m.cycles).toBe(4);
    expect(m.cyclesPerDay).toBe(1.6);
    expect(m.winRatePct).toBe(50); // break-even is not a win
    expect(m.fills).toBe(3);
    expect(m.feesPaid).toBeCloseTo(0.4, 12);
    expect(m.timeInMarketPct).toBe(30);
  });

  it('breaks candles down by regime and measures the friendly share after warm-up', () => {
    expect(m.regimeBreakdown).toEqual({ WARMUP: 20, RANGING: 40, TRENDING_BULL: 20, TRENDING_BEAR: 10, EXTREME: 10 });
    // 8 candles after warm-up, 4 RANGING + 2 TRENDING_BULL friendly.
    expect(m.friendlyRegimePct).toBe(75);
    // WARMUP listed as friendly changes nothing: warm-up candles are outside the ratio.
    expect(computeMetrics(input(Array(10).fill(1000), { regimes, friendlyRegimes: [0, 1, 1, 2] })).friendlyRegimePct).toBe(75);
    expect(computeMetrics(input(Array(10).fill(1000), { regimes, friendlyRegimes: [Regime.EXTREME] })).friendlyRegimePct).toBe(12.5);
    expect(computeMetrics(input(Array(10).fill(1000), { regimes, friendlyRegimes: [] })).friendlyRegimePct).toBe(0);
  });

  it('gives 0 % friendly when every candle is warm-up', () => {
    const warm = computeMetrics(input([1000, 1000], { regimes: new Uint8Array(2) }));
    expect(warm.regimeBreakdown.WARMUP).toBe(100);
    expect(warm.friendlyRegimePct).toBe(0);
  });
});

describe('edge cases', () => {
  it('returns zeros, not NaN, for an empty run', () => {
    const m = computeMetrics(input([]));
    expect(m).toEqual({
      days: 0,
      totalRoiPct: 0,
      dailyRoiPct: 0,
      cyclesPerDay: 0,
      cycles: 0,
      winRatePct: 0,
      maxDrawdownPct: 0,
      sharpe: 0,
      feesPaid: 0,
      fills: 0,
      timeInMarketPct: 0,
      regimeBreakdown: { WARMUP: 0, RANGING: 0, TRENDING_BULL: 0, TRENDING_BEAR: 0, EXTREME: 0 },
      friendlyRegimePct: 0,
      finalEquity: 1000,
    });
  });

  it('gives Sharpe 0 and no drawdown for a flat curve', () => {
    const m = computeMetrics(input(Array(40).fill(1000)));
    expect(m.days).toBe(10);
    expect(m.sharpe).toBe(0);
    expect(m.maxDrawdownPct).toBe(0);
    expect(m.totalRoiPct).toBe(0);
    expect(m.dailyRoiPct).toBe(0);
    expect(m.winRatePct).toBe(0);
  });

  it('stays finite with a zero starting balance', () => {
    expectAllFinite(computeMetrics(input([0, 0, 10], { startEquity: 0 })));
  });

  it('refuses tracks of different lengths and unknown regime codes', () => {
    expect(() => computeMetrics(input([1000, 1000], { inMarket: new Uint8Array(1) }))).toThrow(RangeError);
    expect(() => computeMetrics(input([1000], { regimes: Uint8Array.from([9]) }))).toThrow('unknown regime code');
    expect(() => computeMetrics(input([1000], { timeframeMs: 0 }))).toThrow(RangeError);
  });
});

describe('stable report output', () => {
  it('sorts keys at every depth and prints numbers deterministically', () => {
    const a = { b: 0.1 + 0.2, a: [3, { z: 1, y: NaN }], c: { t: 1747699260123, d: new Date(T0) } };
    const b = { c: { d: new Date(T0), t: 1747699260123 }, a: [3, { y: NaN, z: 1 }], b: 0.30000000000000004 };
    const expected = '{"a":[3,{"y":null,"z":1}],"b":0.3,"c":{"d":"2024-01-01T00:00:00.000Z","t":1747699260123}}';
    expect(toJsonStable(a, 0)).toBe(expected);
    expect(toJsonStable(b, 0)).toBe(expected);
    expect(toJsonStable(a)).toBe(JSON.stringify(JSON.parse(expected), null, 2));
  });

  it('handles typed arrays, undefined, integer-like keys and cycles', () => {
    expect(toJsonStable({ u: undefined, f: Float64Array.from([1.5, -0]), '10': 1, '9': 2, e: [], o: {} }, 0)).toBe(
      '{"10":1,"9":2,"e":[],"f":[1.5,0],"o":{}}',
    );
    expect(toJsonStable([undefined, 1n], 0)).toBe('[null,1]');
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => toJsonStable(loop)).toThrow('circular');
  });

  it('gives byte-identical metrics JSON for the same run', () => {
    const run = () => toJsonStable(computeMetrics(input([1000, 1020, 990, 1005, 1040, 1100, 1090, 1120])));
    expect(run()).toBe(run());
    expect(JSON.parse(run()).sharpe).toBe(Number(computeMetrics(input([1000, 1020, 990, 1005, 1040, 1100, 1090, 1120])).sharpe.toPrecision(12)));
  });

  it('formats numbers: exact integers, 12 significant digits otherwise', () => {
    expect(formatNumber(1747699260123)).toBe('1747699260123');
    expect(formatNumber(2 / 3)).toBe('0.666666666667');
    expect(formatNumber(0.0000529)).toBe('0.0000529');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(Infinity)).toBe('');
  });

  it('writes equity and fills CSV with ISO timestamps', () => {
    expect(equityCsv(Float64Array.from([T0, T0 + H6]), Float64Array.from([1000, 1000.1 + 0.2]))).toBe(
      'time,equity\n2024-01-01T00:00:00.000Z,1000\n2024-01-01T06:00:00.000Z,1000.3\n',
    );
    expect(
      fillsCsv([
        { time: T0, side: 'buy', price: 42283.58, qty: 0.001, fee: 0.04228358 },
        { time: T0 + 300_000, side: 'sell', price: 42409.96, qty: 0.001, fee: 0.04240996 },
      ]),
    ).toBe(
      'time,side,price,qty,fee\n' +
        '2024-01-01T00:00:00.000Z,buy,42283.58,0.001,0.04228358\n' +
        '2024-01-01T00:05:00.000Z,sell,42409.96,0.001,0.04240996\n',
    );
    expect(equityCsv([], [])).toBe('time,equity\n');
    expect(() => equityCsv([T0], [])).toThrow(RangeError);
  });
});
