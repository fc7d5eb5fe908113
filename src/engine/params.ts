// The one versioned strategy parameter set. `params` is the seed's `GET /strategy/params`
// payload and `regimes` its `GET /strategy/regimes` payload plus the regime-detection
// thresholds this engine introduces (see regime.ts). Parsing yields a deep-frozen value.
import { z } from 'zod';

// Messages start with "must": the problem text is prefixed with the field's key.
const num = () => z.number('must be a number');
const positive = () => num().positive('must be > 0');
const percent = () => num().min(0, 'must be a percentage in [0, 100]').max(100, 'must be a percentage in [0, 100]');
const integer = (min: number) => num().int('must be a whole number').min(min, `must be >= ${min}`);

/** [min, max] of positive numbers; equal ends mean a fixed value. */
const range = () =>
  z
    .tuple([positive(), positive()], 'must be a pair [min, max]')
    .refine(([min, max]) => min <= max, 'must be [min, max] with min <= max')
    .readonly();

const multipliers = () => z.strictObject({ tp: positive(), dev: positive() }).readonly();

/** [long %, reserve %] of capital; together at most 100. */
const allocation = () =>
  z
    .tuple([percent(), percent()], 'must be a pair [long %, reserve %]')
    .refine(([long, reserve]) => long + reserve <= 100, 'must have long % + reserve % <= 100')
    .readonly();

export const strategyParamSetSchema = z
  .strictObject({
    version: z.string('must be a string').regex(/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/, 'must look like 2.4.1'),
    params: z
      .strictObject({
        base_order_pct: positive().max(100, 'must be <= 100'),
        max_safety_orders: integer(0),
        so_volume_mult: positive(),
        timeframe: z.string('must be a string').regex(/^[1-9]\d*[mhdw]$/, 'must be a candle length like 1m, 5m, 1h or 1d'),
        tp_range: range(),
        deviation_range: range(),
        atr_period: integer(1),
        atr_baseline_pct: positive(),
        regime_multipliers: z.strictObject({ RANGING: multipliers(), TRENDING: multipliers(), EXTREME: multipliers() }).readonly(),
        capital_reserve_pct: percent().max(99.99, 'must be below 100'),
      })
      .readonly(),
    regimes: z
      .strictObject({
        allocation_rules: z
          .strictObject({
            TRENDING: z.strictObject({ bullish: allocation(), bearish: allocation() }).readonly(),
            RANGING: allocation(),
            EXTREME: allocation(),
          })
          .readonly(),
        sma_period: integer(2),
        /** EXTREME when ATR% >= extreme_atr_mult * params.atr_baseline_pct. */
        extreme_atr_mult: positive(),
        /** TRENDING when the close is more than this % above/below the SMA. */
        trend_threshold_pct: num().min(0, 'must be >= 0'),
        /** The SMA must also have risen/fallen over this many candles; 0 turns the check off. */
        trend_slope_lookback: integer(0),
      })
      .readonly(),
  })
  .readonly();

export type StrategyParamSet = z.output<typeof strategyParamSetSchema>;
export type AllocationRules = StrategyParamSet['regimes']['allocation_rules'];
export type ParamsResult = { readonly ok: true; readonly value: StrategyParamSet } | { readonly ok: false; readonly problem: string };

export const DEFAULT_STRATEGY_PARAMS: StrategyParamSet = strategyParamSetSchema.parse({
  version: '2.4.1',
  params: {
    base_order_pct: 4.0,
    max_safety_orders: 8,
    so_volume_mult: 2.0,
    timeframe: '5m',
    tp_range: [0.6, 2.5],
    deviation_range: [1.2, 4.0],
    atr_period: 14,
    atr_baseline_pct: 0.8,
    regime_multipliers: {
      RANGING: { tp: 0.85, dev: 0.8 },
      TRENDING: { tp: 1.2, dev: 1.3 },
      EXTREME: { tp: 0.7, dev: 1.5 },
    },
    capital_reserve_pct: 10,
  },
  regimes: {
    allocation_rules: { TRENDING: { bullish: [75, 25], bearish: [25, 75] }, RANGING: [50, 50], EXTREME: [0, 0] },
    sma_period: 50,
    // 2.5 x 0.8 % = 2 % ATR on 5m candles: above the 99th percentile of BTC in 2020-21 (1.4 %),
    // reached only in crash bursts such as 2021-05-19.
    extreme_atr_mult: 2.5,
    trend_threshold_pct: 1.0,
    trend_slope_lookback: 50,
  },
});

// Override keys are shown as the user writes them, without the section prefix.
const displayPath = (path: readonly PropertyKey[]): string =>
  (path[0] === 'params' || path[0] === 'regimes' ? path.slice(1) : path).map(String).join('.');

/** Validates any input (e.g. a central-server payload) into a frozen parameter set. */
export function parseStrategyParamSet(input: unknown): ParamsResult {
  const parsed = strategyParamSetSchema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  const where = displayPath(issue.path);
  const problem = !where ? issue.message : issue.message.startsWith('must') ? `${where} ${issue.message}` : `${where}: ${issue.message}`;
  return { ok: false, problem };
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const toNumber = (text: string): number => (NUMBER.test(text.trim()) ? Number(text) : NaN);

type Node = Record<string, unknown>;

/**
 * Applies `key=value` overrides and re-validates. Keys are field names of `params` or `regimes`
 * (`tp_range`, `sma_period`), dotted for nested fields (`regime_multipliers.RANGING.tp`,
 * `allocation_rules.TRENDING.bullish`) or prefixed with the section (`params.tp_range`).
 * Pairs are written `0.5,2`. Values are parsed by the type of the value they replace.
 */
export function withOverrides(base: StrategyParamSet, overrides: Readonly<Record<string, string>>): ParamsResult {
  const draft = structuredClone(base) as unknown as Node;
  for (const [key, text] of Object.entries(overrides)) {
    const parts = key.split('.');
    const head = parts[0]!;
    if (head !== 'params' && head !== 'regimes' && head !== 'version') {
      const section = Object.hasOwn(draft.params as Node, head) ? 'params' : Object.hasOwn(draft.regimes as Node, head) ? 'regimes' : null;
      if (!section) return { ok: false, problem: `unknown parameter '${key}'` };
      parts.unshift(section);
    }
    let node = draft;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node[parts[i]!];
      if (typeof next !== 'object' || next === null || !Object.hasOwn(next, parts[i + 1]!)) {
        const known = typeof next === 'object' && next !== null ? ` (expected one of ${Object.keys(next).join(', ')})` : '';
        return { ok: false, problem: `unknown parameter '${key}'${known}` };
      }
      node = next as Node;
    }
    const leaf = parts[parts.length - 1]!;
    const current = node[leaf];
    if (typeof current === 'number') {
      const n = toNumber(text);
      if (Number.isNaN(n)) return { ok: false, problem: `${key} must be a number, got '${text}'` };
      node[leaf] = n;
    } else if (typeof current === 'string') {
      node[leaf] = text.trim();
    } else if (Array.isArray(current)) {
      const items = text.split(',').map(toNumber);
      if (items.some(Number.isNaN)) return { ok: false, problem: `${key} must be comma-separated numbers like 0.5,2, got '${text}'` };
      node[leaf] = items;
    } else {
      let example = key;
      for (let n = current; typeof n === 'object' && n !== null && !Array.isArray(n); n = (n as Node)[Object.keys(n)[0]!]) {
        example += '.' + Object.keys(n)[0];
      }
      return { ok: false, problem: `${key} is a group; set one of its fields (${Object.keys(current as Node).join(', ')}), e.g. ${example}` };
    }
  }
  return parseStrategyParamSet(draft);
}
