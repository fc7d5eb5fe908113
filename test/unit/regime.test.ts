// Regime detection on real BTC candles (Dec 2020 uptrend, May 2021 crash, Jun–Jul 2021 range)
// and on small synthetic series, one per branch.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_PARAMS, withOverrides, type StrategyParamSet } from '../../src/engine/params.ts';
import { Regime, type RegimeCode } from '../../src/engine/regime-codes.ts';
import { allocationFor, RegimeDetector } from '../../src/engine/regime.ts';
import { projectPath } from '../../src/kernel/paths.ts';

/** [open time ms, high, low, close] rows. */
type Row = readonly [number, number, number, number];

function loadRows(file: string): Row[] {
  const lines = readFileSync(projectPath('..', 'shared', 'data', 'candles', file), 'utf8').trim().split('\n');
  expect(lines[0]).toBe('timestamp_ms,open,high,low,close,volume');
  return lines.slice(1).map((line) => {
    const f = line.split(',').map(Number);
    return [f[0]!, f[2]!, f[3]!, f[4]!] as const;
  });
}

/** Candles of `ms` length, aligned to UTC, from shorter ones (gaps just make a bucket shorter). */
function aggregate(rows: Row[], ms: number): Row[] {
  const out: [number, number, number, number][] = [];
  for (const [t, h, l, c] of rows) {
    const start = t - (t % ms);
    const last = out[out.length - 1];
    if (last && last[0] === start) {
      last[1] = Math.max(last[1], h);
      last[2] = Math.min(last[2], l);
      last[3] = c;
    } else out.push([start, h, l, c]);
  }
  return out;
}

const withParams = (overrides: Record<string, string>): StrategyParamSet => {
  const result = withOverrides(DEFAULT_STRATEGY_PARAMS, overrides);
  if (!result.ok) throw new Error(result.problem);
  return result.value;
};

const classify = (rows: readonly Row[], params = DEFAULT_STRATEGY_PARAMS): RegimeCode[] => {
  const detector = RegimeDetector.fromParams(params);
  return rows.map(([, h, l, c]) => detector.update(h, l, c));
};

interface Tally {
  total: number; // classified candles (WARMUP excluded)
  share: (code: RegimeCode) => number;
  count: (code: RegimeCode) => number;
}

function tally(rows: readonly Row[], codes: readonly RegimeCode[], from: string, to: string): Tally {
  const [a, b] = [Date.parse(from), Date.parse(to)];
  const counts = [0, 0, 0, 0, 0];
  rows.forEach(([t], i) => {
    if (t >= a && t < b) counts[codes[i]!]!++;
  });
  const total = counts[1]! + counts[2]! + counts[3]! + counts[4]!;
  return { total, count: (code) => counts[code]!, share: (code) => counts[code]! / total };
}

describe('RegimeDetector on BTC/USDT 2020-12 .. 2021-07', () => {
  const rows = loadRows('BTC_USDT-5m-2021.csv');

  describe('5m candles, default parameters (the strategy timeframe)', () => {
    // SMA(50) on 5m spans ~4 hours, so this is an intraday regime: even in the bull run most
    // candles sit within 1 % of it (RANGING ~80 %). The evidence of direction is the balance
    // of TRENDING_BULL vs TRENDING_BEAR, which is ~1.0 over the whole file.
    const codes = classify(rows);
    const { BULL, BEAR } = { BULL: Regime.TRENDING_BULL, BEAR: Regime.TRENDING_BEAR };

    it('warms up for sma_period + trend_slope_lookback - 1 = 99 candles', () => {
      expect(codes.slice(0, 99).every((c) => c === Regime.WARMUP)).toBe(true);
      expect(codes[99]).not.toBe(Regime.WARMUP);
      expect(codes.slice(99).includes(Regime.WARMUP)).toBe(false);
    });

    it('sees bullish trends more often than bearish ones in every month of the uptrend', () => {
      const whole = tally(rows, codes, '2020-01-01', '2030-01-01');
      expect(whole.count(BULL) / whole.count(BEAR)).toBeCloseTo(1, 0); // no bias across the file
      const up = tally(rows, codes, '2020-12-01', '2021-04-15');
      expect(up.count(BULL) / up.count(BEAR)).toBeGreaterThan(1.2); // observed 1.29
      for (const [from, to] of [['2020-12-01', '2021-01-01'], ['2021-01-01', '2021-02-01'], ['2021-02-01', '2021-03-01'], ['2021-03-01', '2021-04-01']] as const) {
        const month = tally(rows, codes, from, to);
        expect(month.count(BULL), from).toBeGreaterThan(month.count(BEAR) * 1.1); // observed 1.14 .. 1.73
      }
      // ...and the other way round in the crash: 12–23 May 2021 (observed 2.1x).
      const crash = tally(rows, codes, '2021-05-12', '2021-05-24');
      expect(crash.count(BEAR)).toBeGreaterThan(crash.count(BULL) * 1.5);
    });

    it('flags EXTREME in the 19 May 2021 crash, more than on any other day, and rarely otherwise', () => {
      const perDay = new Map<string, number>();
      rows.forEach(([t], i) => {
        if (codes[i] === Regime.EXTREME) perDay.set(new Date(t).toISOString().slice(0, 10), (perDay.get(new Date(t).toISOString().slice(0, 10)) ?? 0) + 1);
      });
      const [worstDay, worstCount] = [...perDay].reduce((a, b) => (b[1] > a[1] ? b : a));
      expect(worstDay).toBe('2021-05-19');
      expect(worstCount).toBeGreaterThanOrEqual(36); // >= 3 hours of 5m candles (observed 60)
      // A crash signal, not noise: ATR% >= 2 % on 5m candles is above BTC's 99th percentile.
      expect(tally(rows, codes, '2020-01-01', '2030-01-01').share(Regime.EXTREME)).toBeLessThan(0.005);
    });

    it('is mostly RANGING in the Jun–Jul 2021 range, with no EXTREME', () => {
      const range = tally(rows, codes, '2021-06-01', '2021-07-18');
      expect(range.share(Regime.RANGING)).toBeGreaterThan(0.75); // observed 0.82
      expect(range.count(Regime.EXTREME)).toBe(0);
      expect(range.count(BULL) / range.count(BEAR)).toBeGreaterThan(0.5); // no strong direction (observed 0.78)
      expect(range.count(BULL) / range.count(BEAR)).toBeLessThan(2);
    });

    it('the slope check makes trends rarer and sharpens direction in the crash', () => {
      const noSlope = classify(rows, withParams({ trend_slope_lookback: '0' }));
      expect(noSlope.slice(0, 49).every((c) => c === Regime.WARMUP)).toBe(true);
      expect(noSlope[49]).not.toBe(Regime.WARMUP);
      const [with_, without] = [tally(rows, codes, '2021-05-12', '2021-05-24'), tally(rows, noSlope, '2021-05-12', '2021-05-24')];
      expect(with_.count(BEAR) / with_.count(BULL)).toBeGreaterThan(without.count(BEAR) / without.count(BULL));
      const range = [tally(rows, codes, '2021-06-01', '2021-07-18'), tally(rows, noSlope, '2021-06-01', '2021-07-18')];
      expect(range[0]!.share(Regime.RANGING)).toBeGreaterThan(range[1]!.share(Regime.RANGING));
    });
  });

  describe('4h candles from the same file (SMA(50) then spans ~8 days)', () => {
    // ATR% scales with the candle length; 3 % is about the median 4h ATR% of BTC in this file
    // (2.8 %), playing the role 0.8 % plays for shorter candles.
    const h4 = aggregate(rows, 4 * 3_600_000);
    const codes = classify(h4, withParams({ atr_baseline_pct: '3' }));

    it('TRENDING_BULL dominates the Dec 2020 – mid-Apr 2021 uptrend', () => {
      const up = tally(h4, codes, '2020-12-01', '2021-04-15');
      expect(up.share(Regime.TRENDING_BULL)).toBeGreaterThan(0.45); // observed 0.51; the largest share
      expect(up.share(Regime.TRENDING_BULL)).toBeGreaterThan(up.share(Regime.RANGING));
      expect(up.count(Regime.TRENDING_BULL)).toBeGreaterThan(3 * up.count(Regime.TRENDING_BEAR)); // observed 5.1x
    });

    it('is TRENDING_BEAR or EXTREME through the crash, EXTREME only on 19–22 May', () => {
      const crash = tally(h4, codes, '2021-05-12', '2021-05-24');
      expect(crash.share(Regime.TRENDING_BEAR) + crash.share(Regime.EXTREME)).toBeGreaterThan(0.75); // observed 0.82
      const extremeDays = new Set(h4.filter((_, i) => codes[i] === Regime.EXTREME).map(([t]) => new Date(t).toISOString().slice(0, 10)));
      expect([...extremeDays].sort()).toEqual(['2021-05-19', '2021-05-20', '2021-05-21', '2021-05-22']);
    });

    it('is mostly RANGING in Jun–Jul 2021', () => {
      expect(tally(h4, codes, '2021-06-01', '2021-07-18').share(Regime.RANGING)).toBeGreaterThan(0.5); // observed 0.61
    });
  });

  it('reset() gives the same classification as a fresh detector', () => {
    const detector = RegimeDetector.fromParams(DEFAULT_STRATEGY_PARAMS);
    const slice = rows.slice(0, 2_000);
    const first = slice.map(([, h, l, c]) => detector.update(h, l, c));
    detector.reset();
    expect(detector.ready).toBe(false);
    expect(detector.value).toBe(Regime.WARMUP);
    expect(slice.map(([, h, l, c]) => detector.update(h, l, c))).toEqual(first);
  });
});

describe('RegimeDetector branches on synthetic candles', () => {
  // Small sma/lookback so the series stay short; ATR 14, baseline 0.8 %, EXTREME at ATR% >= 2 %.
  const params = withParams({ sma_period: '10', trend_slope_lookback: '10' });
  const warm = 10 + 10 - 1;

  /** Feeds closes with a fixed high/low spread (% of close); returns the last regime. */
  function feed(detector: RegimeDetector, closes: readonly number[], spreadPct = 0.1): RegimeCode {
    let code: RegimeCode = Regime.WARMUP;
    for (const c of closes) code = detector.update(c * (1 + spreadPct / 200), c * (1 - spreadPct / 200), c);
    return code;
  }
  const series = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

  it('WARMUP until exactly sma_period + lookback - 1 candles, then ready', () => {
    const d = RegimeDetector.fromParams(params);
    expect(feed(d, series(warm, () => 100))).toBe(Regime.WARMUP);
    expect(d.ready).toBe(false);
    expect(feed(d, [100])).toBe(Regime.RANGING);
    expect(d.ready).toBe(true);
  });

  it('RANGING: a flat, quiet market', () => {
    expect(feed(RegimeDetector.fromParams(params), series(200, (i) => 100 + 0.3 * Math.sin(i)))).toBe(Regime.RANGING);
  });

  it('TRENDING_BULL / TRENDING_BEAR: a steady 0.5 % per candle climb / slide', () => {
    // SMA(10) lags ~4.5 candles, i.e. ~2.3 % behind the close: beyond the 1 % threshold.
    expect(feed(RegimeDetector.fromParams(params), series(60, (i) => 100 * 1.005 ** i))).toBe(Regime.TRENDING_BULL);
    expect(feed(RegimeDetector.fromParams(params), series(60, (i) => 100 * 0.995 ** i))).toBe(Regime.TRENDING_BEAR);
  });

  it('a close just inside the threshold stays RANGING', () => {
    // SMA(10) of a flat 100 then one close at 100.9: SMA 100.09, close 0.81 % above it.
    expect(feed(RegimeDetector.fromParams(params), [...series(40, () => 100), 100.9])).toBe(Regime.RANGING);
    // ...and at 102 (1.8 % above SMA 100.2) it is a trend, since the SMA also rose.
    expect(feed(RegimeDetector.fromParams(params), [...series(40, () => 100), 102])).toBe(Regime.TRENDING_BULL);
  });

  it('EXTREME: wide candles win over a trend', () => {
    const d = RegimeDetector.fromParams(params);
    feed(d, series(60, (i) => 100 * 1.005 ** i)); // trending
    expect(d.value).toBe(Regime.TRENDING_BULL);
    // 14 candles with a 3 % range keep the trend but lift ATR% to ~2.8 %.
    expect(feed(d, series(14, (i) => 100 * 1.005 ** (60 + i)), 3)).toBe(Regime.EXTREME);
  });

  it('slope check: a spike above a falling SMA is RANGING, or TRENDING_BULL with lookback 0', () => {
    const closes = [...series(60, (i) => 100 * 0.995 ** i), 100 * 0.995 ** 59 * 1.04];
    expect(feed(RegimeDetector.fromParams(params), closes)).toBe(Regime.RANGING);
    expect(feed(RegimeDetector.fromParams(withParams({ sma_period: '10', trend_slope_lookback: '0' })), closes)).toBe(Regime.TRENDING_BULL);
  });

  it('rejects a negative or fractional slope lookback', () => {
    const options = { smaPeriod: 10, atrPeriod: 14, atrBaselinePct: 0.8, extremeAtrMult: 2.5, trendThresholdPct: 1 };
    expect(() => new RegimeDetector({ ...options, trendSlopeLookback: -1 })).toThrow(RangeError);
    expect(() => new RegimeDetector({ ...options, trendSlopeLookback: 1.5 })).toThrow(RangeError);
  });
});

describe('allocationFor', () => {
  const rules = DEFAULT_STRATEGY_PARAMS.regimes.allocation_rules;

  it("returns the seed's [long %, reserve %] per regime, [0, 0] while warming up", () => {
    expect(allocationFor(Regime.TRENDING_BULL, rules)).toEqual([75, 25]);
    expect(allocationFor(Regime.TRENDING_BEAR, rules)).toEqual([25, 75]);
    expect(allocationFor(Regime.RANGING, rules)).toEqual([50, 50]);
    expect(allocationFor(Regime.EXTREME, rules)).toEqual([0, 0]);
    expect(allocationFor(Regime.WARMUP, rules)).toEqual([0, 0]);
  });

  it('hands back the rules’ own frozen tuples (nothing allocated per call)', () => {
    expect(allocationFor(Regime.RANGING, rules)).toBe(rules.RANGING);
    expect(allocationFor(Regime.WARMUP, rules)).toBe(allocationFor(Regime.WARMUP, rules));
    expect(Object.isFrozen(allocationFor(Regime.WARMUP, rules))).toBe(true);
    const custom = withParams({ 'allocation_rules.RANGING': '40,60' }).regimes.allocation_rules;
    expect(allocationFor(Regime.RANGING, custom)).toEqual([40, 60]);
  });
});
