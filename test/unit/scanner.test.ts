import { describe, expect, it } from 'vitest';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { DEFAULT_STRATEGY_PARAMS, withOverrides } from '../../src/engine/params.ts';
import { runSpec, sliceSeries } from '../../src/engine/run-spec.ts';
import {
  compositeScore,
  isScanFailure,
  minScanCandles,
  quoteVolume24h,
  rankScans,
  regimeWarmupCandles,
  scanSymbol,
  scanUniverse,
  SCORE_CYCLES_CAP,
  SCORE_ROI_CAP_PCT,
  SCORE_WEIGHT_CYCLES,
  SCORE_WEIGHT_FRIENDLY,
  SCORE_WEIGHT_ROI,
  type ScanFailure,
  type ScanResult,
  type SymbolScan,
} from '../../src/engine/scanner.ts';

const DAY_5M = 288;

async function load(file: string): Promise<CandleSeries> {
  const loaded = await loadCandlesCsv(projectPath('../shared/data/candles', file));
  if (!loaded.ok) throw new Error(`${file}: ${loaded.error.message}`);
  return loaded.series;
}

const sol = await load('SOL_USDT-5m.csv');
const btc = await load('BTC_USDT-5m.csv');
/** 30 days of SOL from 2024-01-31: a profitable window for the default DCA parameters. */
const sol30 = sliceSeries(sol, 30 * DAY_5M, 60 * DAY_5M);
/** 30 days of BTC from 2024-01-01: a losing window. */
const btc30 = sliceSeries(btc, 0, 30 * DAY_5M);

const scan = (over: Partial<SymbolScan> & { symbol: string }): SymbolScan => ({
  composite_score: 50,
  daily_roi_pct: 0.2,
  cycles_per_day: 2,
  friendly_regime_pct: 80,
  max_drawdown_pct: 5,
  candles: 8640,
  days: 30,
  quote_volume_24h: 1e6,
  ...over,
});

function expectScan(result: ScanResult): SymbolScan {
  if (isScanFailure(result)) throw new Error(`expected a scan, got the failure: ${result.problem}`);
  return result;
}

function expectFailure(result: ScanResult): ScanFailure {
  if (!isScanFailure(result)) throw new Error(`expected a failure, got a scan of ${result.symbol}`);
  return result;
}

describe('compositeScore', () => {
  it('weights sum to 1, so a coin at every cap scores exactly 100', () => {
    expect(SCORE_WEIGHT_ROI + SCORE_WEIGHT_CYCLES + SCORE_WEIGHT_FRIENDLY).toBe(1);
    expect(compositeScore({ dailyRoiPct: SCORE_ROI_CAP_PCT, cyclesPerDay: SCORE_CYCLES_CAP, friendlyRegimePct: 100 })).toBe(100);
  });

  it('is 0 for a coin that does not make money, whatever its cycles and regimes', () => {
    for (const dailyRoiPct of [0, -0.001, -5, -100, NaN, Infinity, -Infinity]) {
      expect(compositeScore({ dailyRoiPct, cyclesPerDay: 10, friendlyRegimePct: 100 })).toBe(0);
    }
  });

  it('adds the three weighted parts below their caps', () => {
    // 100 × (0.5 × 0.25/0.5 + 0.25 × 2/4 + 0.25 × 50/100) = 25 + 12.5 + 12.5
    expect(compositeScore({ dailyRoiPct: 0.25, cyclesPerDay: 2, friendlyRegimePct: 50 })).toBeCloseTo(50, 12);
    // The seed's HYPE example: 100 × (0.5 × 0.696 + 0.25 × 0.675 + 0.25 × 0.62) = 67.175
    expect(compositeScore({ dailyRoiPct: 0.348, cyclesPerDay: 2.7, friendlyRegimePct: 62 })).toBeCloseTo(67.175, 10);
  });

  it('saturates ROI and cycles at their caps and clamps out-of-range inputs', () => {
    const atCap = compositeScore({ dailyRoiPct: 0.5, cyclesPerDay: 4, friendlyRegimePct: 40 });
    expect(compositeScore({ dailyRoiPct: 3, cyclesPerDay: 40, friendlyRegimePct: 40 })).toBe(atCap);
    expect(compositeScore({ dailyRoiPct: 0.1, cyclesPerDay: -3, friendlyRegimePct: 150 })).toBeCloseTo(10 + 0 + 25, 12);
    expect(compositeScore({ dailyRoiPct: 0.1, cyclesPerDay: NaN, friendlyRegimePct: NaN })).toBeCloseTo(10, 12);
  });

  it('gives any profitable coin a positive score, however small', () => {
    expect(compositeScore({ dailyRoiPct: 1e-9, cyclesPerDay: 0, friendlyRegimePct: 0 })).toBeGreaterThan(0);
  });
});

describe('rankScans', () => {
  it('orders by score, then daily ROI, both descending, then symbol ascending; failures apart', () => {
    const failure: ScanFailure = { symbol: 'NEW/USDT', code: 'too_few_candles', problem: 'too short' };
    const { rankings, failures } = rankScans([
      scan({ symbol: 'B/USDT', composite_score: 60, daily_roi_pct: 0.2 }),
      scan({ symbol: 'A/USDT', composite_score: 60, daily_roi_pct: 0.2 }),
      failure,
      scan({ symbol: 'C/USDT', composite_score: 60, daily_roi_pct: 0.3 }),
      scan({ symbol: 'D/USDT', composite_score: 0, daily_roi_pct: -0.1 }),
      scan({ symbol: 'E/USDT', composite_score: 75.5, daily_roi_pct: 0.1 }),
    ]);
    expect(rankings.map((r) => r.symbol)).toEqual(['E/USDT', 'C/USDT', 'A/USDT', 'B/USDT', 'D/USDT']);
    expect(failures).toEqual([failure]);
  });

  it('handles nothing to rank', () => {
    expect(rankScans([])).toEqual({ rankings: [], failures: [] });
  });
});

describe('scanSymbol on real candles', () => {
  it('reports the same numbers as runSpec for the same window, rounded for presentation', () => {
    const result = expectScan(scanSymbol(sol30));
    const outcome = runSpec(sol30, { strategy: 'dca', overrides: {} });
    if (!outcome.ok) throw new Error(outcome.problem);
    const m = outcome.value.metrics;
    expect(result.symbol).toBe('SOL/USDT');
    expect(result.candles).toBe(30 * DAY_5M);
    expect(result.days).toBe(30);
    expect(result.daily_roi_pct).toBeCloseTo(m.dailyRoiPct, 3);
    expect(result.cycles_per_day).toBeCloseTo(m.cyclesPerDay, 2);
    expect(result.friendly_regime_pct).toBeCloseTo(m.friendlyRegimePct, 2);
    expect(result.max_drawdown_pct).toBeCloseTo(m.maxDrawdownPct, 2);
    // The score is computed from unrounded metrics, then rounded.
    expect(result.composite_score).toBe(Math.round(compositeScore(m) * 100) / 100);
    for (const value of Object.values(result)) if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true);
    // This window makes money, so it scores above 0.
    expect(m.dailyRoiPct).toBeGreaterThan(0);
    expect(result.composite_score).toBeGreaterThan(0);
    expect(result.composite_score).toBeLessThanOrEqual(100);
  });

  it('scores a losing window 0 but still reports its metrics', () => {
    const result = expectScan(scanSymbol(btc30));
    expect(result.daily_roi_pct).toBeLessThan(0);
    expect(result.composite_score).toBe(0);
    expect(result.max_drawdown_pct).toBeGreaterThan(0);
  });

  it('sums volume × close over the last 24 hours of candles for quote_volume_24h', () => {
    let expected = 0;
    for (let i = sol30.length - DAY_5M; i < sol30.length; i++) expected += sol30.volume[i]! * sol30.close[i]!;
    expect(quoteVolume24h(sol30)).toBeCloseTo(expected, 6);
    expect(expectScan(scanSymbol(sol30)).quote_volume_24h).toBeCloseTo(expected, 2);
    // One candle more would be 24 h + 5 min: the sum must not include it.
    const before = sol30.volume[sol30.length - DAY_5M - 1]! * sol30.close[sol30.length - DAY_5M - 1]!;
    expect(quoteVolume24h(sol30)).not.toBeCloseTo(expected + before, 0);
    expect(quoteVolume24h(sliceSeries(sol30, 0, 0))).toBe(0);
  });

  it('passes overrides and capital through to the backtest', () => {
    const overrides = { tp_range: '1,3' };
    const result = expectScan(scanSymbol(sol30, { overrides, capital: 50_000 }));
    const outcome = runSpec(sol30, { strategy: 'dca', overrides, capital: 50_000 });
    if (!outcome.ok) throw new Error(outcome.problem);
    expect(result.daily_roi_pct).toBeCloseTo(outcome.value.metrics.dailyRoiPct, 3);
    expect(result.cycles_per_day).toBeCloseTo(outcome.value.metrics.cyclesPerDay, 2);
    expect(result.cycles_per_day).not.toBe(expectScan(scanSymbol(sol30)).cycles_per_day);
  });
});

describe('scanSymbol failures are values', () => {
  it('needs the regime warm-up plus one day of candles', () => {
    expect(regimeWarmupCandles(DEFAULT_STRATEGY_PARAMS)).toBe(99);
    const needed = minScanCandles(DEFAULT_STRATEGY_PARAMS, 300_000);
    expect(needed).toBe(99 + DAY_5M);
    const short = expectFailure(scanSymbol(sliceSeries(sol, 0, needed - 1)));
    expect(short).toMatchObject({ symbol: 'SOL/USDT', code: 'too_few_candles' });
    expect(short.problem).toContain(`${needed - 1} candles`);
    expect(short.problem).toContain(`at least ${needed}`);
    expect(expectScan(scanSymbol(sliceSeries(sol, 0, needed))).candles).toBe(needed);
    expect(expectFailure(scanSymbol(sliceSeries(sol, 0, 0))).code).toBe('too_few_candles');
  });

  it('raises the minimum with a longer regime warm-up', () => {
    const set = withOverrides(DEFAULT_STRATEGY_PARAMS, { sma_period: '200' });
    if (!set.ok) throw new Error(set.problem);
    expect(minScanCandles(set.value, 300_000)).toBe(199 + 50 + DAY_5M);
    const result = expectFailure(scanSymbol(sliceSeries(sol, 0, 400), { overrides: { sma_period: '200' } }));
    expect(result.code).toBe('too_few_candles');
  });

  it('reports bad strategy parameters instead of throwing', () => {
    const result = expectFailure(scanSymbol(sol30, { overrides: { tp_range: '3,1' } }));
    expect(result.code).toBe('run_failed');
    expect(result.problem).toMatch(/tp_range/);
  });

  it('reports a run that cannot complete (a non-finite price) instead of throwing', () => {
    const close = Float64Array.from(sol30.close);
    close[5000] = NaN;
    const broken: CandleSeries = { ...sol30, close };
    const result = expectFailure(scanSymbol(broken));
    expect(result).toMatchObject({ symbol: 'SOL/USDT', code: 'run_failed' });
    expect(result.problem.length).toBeGreaterThan(0);
  });
});

describe('scanUniverse', () => {
  const labelled = (series: CandleSeries, symbol: string): CandleSeries => ({ ...series, symbol });

  it('ranks what scans, keeps failures apart and counts the candles scanned', async () => {
    const list = [btc30, labelled(sliceSeries(sol, 0, 100), 'NEW/USDT'), sol30];
    const result = await scanUniverse(list);
    expect(result.rankings.map((r) => r.symbol)).toEqual(['SOL/USDT', 'BTC/USDT']);
    expect(result.rankings).toEqual([scanSymbol(sol30), scanSymbol(btc30)]);
    expect(result.failures).toEqual([expect.objectContaining({ symbol: 'NEW/USDT', code: 'too_few_candles' })]);
    expect(result.candles).toBe(2 * 30 * DAY_5M);
  });

  it('fails every symbol with the same problem when the parameters are bad', async () => {
    const result = await scanUniverse([sol30, btc30], { overrides: { nonsense: '1' } });
    expect(result.rankings).toEqual([]);
    expect(result.failures.map((f) => [f.symbol, f.code])).toEqual([
      ['SOL/USDT', 'run_failed'],
      ['BTC/USDT', 'run_failed'],
    ]);
    expect(result.candles).toBe(0);
  });

  it('yields to the event loop between symbols, as often as asked', async () => {
    const list = [0, 1, 2, 3].map((k) => labelled(sliceSeries(sol, k * 2 * DAY_5M, (k + 1) * 2 * DAY_5M), `S${k}/USDT`));
    const countTurns = async (yieldEvery: number): Promise<number> => {
      let turns = 0;
      let done = false;
      const tick = () => {
        if (done) return;
        turns++;
        setImmediate(tick);
      };
      setImmediate(tick);
      await scanUniverse(list, {}, { yieldEvery });
      done = true;
      return turns;
    };
    // 4 symbols: a yield after the 1st, 2nd and 3rd, none after the last.
    expect(await countTurns(1)).toBe(3);
    expect(await countTurns(2)).toBe(1);
    expect(await countTurns(4)).toBe(0);
    await expect(scanUniverse(list, {}, { yieldEvery: 0 })).rejects.toThrow(RangeError);
  });
});
