// Per-account run risk defaults: the `risk` section of a user's `limits` JSON, e.g.
// `{ "risk": { "capital_reserve_pct": 20, "max_safety_orders": 4 } }`. They are run params (the
// same names and the same validation as `key=value` in /paper and /live), limited to the ones
// that size risk, and they apply to runs started afterwards, under the user's own `key=value`.
//
// Decisions:
// - Only params that exist and size risk: the reserve kept out of the tier's capital (both
//   strategies), DCA's base order, safety-order count and their volume multiplier, and grid's
//   per-level size (a fixed amount, or a cap as a fraction of the bankroll). There is no leverage.
// - Values are JSON numbers; each is checked by building a run with it, for each strategy it
//   applies to, so a value /paper would refuse is refused here with the same words.
// - A key that does not apply to a run's strategy is not passed to it (grid runs get no
//   max_safety_orders), so one section serves both strategies.
import { appError } from '../../kernel/errors.ts';
import { err, ok, type Result } from '../../kernel/result.ts';
import type { CandleSeries } from '../../market-data/candles.ts';
import { buildRun, type StrategyName } from '../run-spec.ts';

export const RISK_PARAM_STRATEGIES = Object.freeze({
  capital_reserve_pct: ['dca', 'grid'],
  base_order_pct: ['dca'],
  max_safety_orders: ['dca'],
  so_volume_mult: ['dca'],
  per_trade_usd: ['grid'],
  max_per_trade_pct: ['grid'],
} as const satisfies Record<string, readonly StrategyName[]>);

export type RiskParamKey = keyof typeof RISK_PARAM_STRATEGIES;
export type RiskOverrides = Readonly<Partial<Record<RiskParamKey, number>>>;

export const RISK_PARAM_KEYS = Object.freeze(Object.keys(RISK_PARAM_STRATEGIES) as RiskParamKey[]);

const PREFIX = 'limits.risk';
const validKeys = RISK_PARAM_KEYS.join(', ');

/** A one-candle series at price 100: enough for the run builder to validate settings. */
export function probeSeries(symbol = 'BTC/USDT'): CandleSeries {
  const one = (v: number) => Float64Array.of(v);
  return { symbol, timeframeMs: 300_000, length: 1, time: one(0), open: one(100), high: one(100), low: one(100), close: one(100), volume: one(1) };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads `limitsJson.risk` (a user's `limits` column) into run risk defaults. */
export function parseRiskOverrides(limitsJson: unknown): Result<RiskOverrides> {
  if (!isPlainObject(limitsJson)) return ok({});
  const risk = limitsJson.risk;
  if (risk === null || risk === undefined) return ok({});
  if (!isPlainObject(risk)) {
    return err(appError('invalid_input', { field: PREFIX }, `${PREFIX} must be a JSON object with any of these run settings: ${validKeys}`));
  }
  const unknown = Object.keys(risk).filter((k) => !Object.hasOwn(RISK_PARAM_STRATEGIES, k));
  if (unknown.length) {
    const message =
      unknown.length === 1
        ? `${PREFIX} has no setting "${unknown[0]}"; valid settings are ${validKeys}`
        : `${PREFIX} has no settings ${unknown.map((k) => `"${k}"`).join(', ')}; valid settings are ${validKeys}`;
    return err(appError('invalid_input', { field: `${PREFIX}.${unknown[0]}`, unknownKeys: unknown, validKeys: [...RISK_PARAM_KEYS] }, message));
  }
  const overrides: Partial<Record<RiskParamKey, number>> = {};
  for (const key of RISK_PARAM_KEYS) {
    const value = risk[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return err(appError('invalid_input', { field: `${PREFIX}.${key}` }, `${PREFIX}.${key} must be a number`));
    }
    for (const strategy of RISK_PARAM_STRATEGIES[key]) {
      const built = buildRun({ strategy, overrides: { [key]: String(value) }, capital: 1000 }, probeSeries());
      if (!built.ok) return err(appError('invalid_input', { field: `${PREFIX}.${key}` }, `${PREFIX}: ${built.problem}`));
    }
    overrides[key] = value;
  }
  return ok(Object.freeze(overrides));
}

/**
 * A new run's params: the account's risk defaults that apply to its strategy, then the run's own
 * `key=value` settings on top.
 */
export function withRiskDefaults(strategy: string, risk: RiskOverrides, params: Readonly<Record<string, string>>): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const key of RISK_PARAM_KEYS) {
    const value = risk[key];
    if (value !== undefined && (RISK_PARAM_STRATEGIES[key] as readonly string[]).includes(strategy)) defaults[key] = String(value);
  }
  return { ...defaults, ...params };
}
