import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_PARAMS, parseStrategyParamSet, strategyParamSetSchema, withOverrides, type ParamsResult } from '../../src/engine/params.ts';

const problem = (result: ParamsResult): string => {
  if (result.ok) throw new Error('expected a problem');
  return result.problem;
};
const value = (result: ParamsResult) => {
  if (!result.ok) throw new Error(result.problem);
  return result.value;
};
const override = (overrides: Record<string, string>): ParamsResult => withOverrides(DEFAULT_STRATEGY_PARAMS, overrides);

describe('strategy parameter set', () => {
  it("carries the seed's /strategy/params and /strategy/regimes payloads verbatim", () => {
    // central-server-api-spec.md, GET /strategy/params and GET /strategy/regimes
    expect({ version: DEFAULT_STRATEGY_PARAMS.version, params: DEFAULT_STRATEGY_PARAMS.params }).toEqual({
      version: '2.4.1',
      params: {
        base_order_pct: 4.0, max_safety_orders: 8, so_volume_mult: 2.0,
        timeframe: '5m', tp_range: [0.6, 2.5], deviation_range: [1.2, 4.0],
        atr_period: 14, atr_baseline_pct: 0.8,
        regime_multipliers: {
          RANGING: { tp: 0.85, dev: 0.80 },
          TRENDING: { tp: 1.20, dev: 1.30 },
          EXTREME: { tp: 0.70, dev: 1.50 },
        },
        capital_reserve_pct: 10,
      },
    });
    expect(DEFAULT_STRATEGY_PARAMS.regimes).toMatchObject({
      allocation_rules: { TRENDING: { bullish: [75, 25], bearish: [25, 75] }, RANGING: [50, 50], EXTREME: [0, 0] },
      sma_period: 50,
    });
    // The detection thresholds this engine adds (regime.ts).
    expect(DEFAULT_STRATEGY_PARAMS.regimes).toMatchObject({ extreme_atr_mult: 2.5, trend_threshold_pct: 1.0, trend_slope_lookback: 50 });
  });

  it('is deeply frozen', () => {
    const d = DEFAULT_STRATEGY_PARAMS;
    for (const part of [d, d.params, d.params.tp_range, d.params.regime_multipliers.RANGING, d.regimes.allocation_rules.TRENDING.bullish]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (d.params as { atr_period: number }).atr_period = 7;
    }).toThrow(TypeError);
  });

  it('round-trips through JSON (a central-server payload) and rejects unknown fields', () => {
    expect(value(parseStrategyParamSet(JSON.parse(JSON.stringify(DEFAULT_STRATEGY_PARAMS))))).toEqual(DEFAULT_STRATEGY_PARAMS);
    expect(strategyParamSetSchema.safeParse({ ...DEFAULT_STRATEGY_PARAMS, extra: 1 }).success).toBe(false);
    expect(problem(parseStrategyParamSet({ ...DEFAULT_STRATEGY_PARAMS, params: { ...DEFAULT_STRATEGY_PARAMS.params, atr_perod: 14 } }))).toMatch(
      /atr_perod/,
    );
    expect(problem(parseStrategyParamSet({ ...DEFAULT_STRATEGY_PARAMS, params: { ...DEFAULT_STRATEGY_PARAMS.params, tp_range: ['1', 2] } }))).toBe(
      'tp_range.0 must be a number',
    );
  });
});

describe('withOverrides', () => {
  it('applies numbers, pairs, dotted and section-prefixed keys, and leaves the base alone', () => {
    const next = value(
      override({
        tp_range: '0.5,2',
        'regime_multipliers.RANGING.tp': '0.9',
        'allocation_rules.TRENDING.bullish': '80,20',
        'regimes.sma_period': '100',
        'params.atr_period': '21',
        'deviation_range.1': '5',
        timeframe: '15m',
        version: '2.4.1-local',
      }),
    );
    expect(next.params.tp_range).toEqual([0.5, 2]);
    expect(next.params.regime_multipliers.RANGING).toEqual({ tp: 0.9, dev: 0.8 });
    expect(next.regimes.allocation_rules.TRENDING.bullish).toEqual([80, 20]);
    expect(next.regimes.sma_period).toBe(100);
    expect(next.params.atr_period).toBe(21);
    expect(next.params.deviation_range).toEqual([1.2, 5]);
    expect(next.params.timeframe).toBe('15m');
    expect(next.version).toBe('2.4.1-local');
    expect(Object.isFrozen(next.params.tp_range)).toBe(true);
    expect(DEFAULT_STRATEGY_PARAMS.params.tp_range).toEqual([0.6, 2.5]);
    expect(value(override({}))).toEqual(DEFAULT_STRATEGY_PARAMS);
  });

  it.each([
    [{ tp_range: '2.5,0.6' }, 'tp_range must be [min, max] with min <= max'],
    [{ tp_range: '1,2,3' }, 'tp_range must be a pair [min, max]'],
    [{ tp_range: '0,2' }, 'tp_range.0 must be > 0'],
    [{ tp_range: 'a,b' }, "tp_range must be comma-separated numbers like 0.5,2, got 'a,b'"],
    [{ deviation_range: '4,1.2' }, 'deviation_range must be [min, max] with min <= max'],
    [{ 'regime_multipliers.EXTREME.dev': '-1' }, 'regime_multipliers.EXTREME.dev must be > 0'],
    [{ 'regime_multipliers.RANGNG.tp': '1' }, "unknown parameter 'regime_multipliers.RANGNG.tp' (expected one of RANGING, TRENDING, EXTREME)"],
    [{ regime_multipliers: '1' }, 'regime_multipliers is a group; set one of its fields (RANGING, TRENDING, EXTREME), e.g. regime_multipliers.RANGING.tp'],
    [{ max_safety_orders: '8.5' }, 'max_safety_orders must be a whole number'],
    [{ max_safety_orders: '' }, "max_safety_orders must be a number, got ''"],
    [{ atr_period: '0x10' }, "atr_period must be a number, got '0x10'"],
    [{ atr_period: '0' }, 'atr_period must be >= 1'],
    [{ base_order_pct: '0' }, 'base_order_pct must be > 0'],
    [{ capital_reserve_pct: '100' }, 'capital_reserve_pct must be below 100'],
    [{ timeframe: '5x' }, 'timeframe must be a candle length like 1m, 5m, 1h or 1d'],
    [{ 'allocation_rules.TRENDING.bullish': '80,30' }, 'allocation_rules.TRENDING.bullish must have long % + reserve % <= 100'],
    [{ 'allocation_rules.RANGING': '-5,50' }, 'allocation_rules.RANGING.0 must be a percentage in [0, 100]'],
    [{ sma_period: '1' }, 'sma_period must be >= 2'],
    [{ trend_slope_lookback: '-1' }, 'trend_slope_lookback must be >= 0'],
    [{ extreme_atr_mult: '0' }, 'extreme_atr_mult must be > 0'],
    [{ version: 'latest' }, 'version must look like 2.4.1'],
    [{ foo: '1' }, "unknown parameter 'foo'"],
    [{ 'params.sma_period': '20' }, "unknown parameter 'params.sma_period' (expected one of base_order_pct, max_safety_orders, so_volume_mult, timeframe, tp_range, deviation_range, atr_period, atr_baseline_pct, regime_multipliers, capital_reserve_pct)"],
  ])('%o -> %s', (overrides, expected) => {
    expect(problem(override(overrides))).toBe(expected);
  });

  it('does not follow prototype keys', () => {
    expect(problem(override(Object.fromEntries([['__proto__', '1']])))).toBe("unknown parameter '__proto__'");
    expect(problem(override({ 'tp_range.constructor': '1' }))).toMatch(/^unknown parameter 'tp_range.constructor'/);
  });
});
