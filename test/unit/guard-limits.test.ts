import { describe, expect, it } from 'vitest';
import { GUARD_LIMIT_KEYS, parseGuardOverrides, resolveGuardLimits, SEED_GUARD_LIMITS, type GuardLimits } from '../../src/engine/risk/limits.ts';

const VALID = 'maxRunLossUsd, maxGlobalDrawdownUsd, maxDailyLossUsd, maxApiErrorsPerMin, staleTickerMs, blackSwanMovePct';

const failure = (input: unknown) => {
  const result = parseGuardOverrides(input);
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.error;
};

describe('parseGuardOverrides', () => {
  it('reads the seed example, keeping only the keys given', () => {
    const result = parseGuardOverrides({
      risk: { bankrollUsd: 500 },
      guard: { maxGlobalDrawdownUsd: 250, maxRunLossUsd: 120, maxApiErrorsPerMin: 8, staleTickerMs: 180000 },
    });
    expect(result).toEqual({
      ok: true,
      value: { maxGlobalDrawdownUsd: 250, maxRunLossUsd: 120, maxApiErrorsPerMin: 8, staleTickerMs: 180000 },
    });
    expect(result.ok && Object.isFrozen(result.value)).toBe(true);
  });

  it('accepts decimals for dollars and percentages', () => {
    expect(parseGuardOverrides({ guard: { maxDailyLossUsd: 99.5, blackSwanMovePct: 12.5 } })).toEqual({
      ok: true,
      value: { maxDailyLossUsd: 99.5, blackSwanMovePct: 12.5 },
    });
  });

  it('treats missing limits or a missing guard as no overrides', () => {
    for (const input of [null, undefined, {}, { guard: null }, { risk: { bankrollUsd: 5 } }, { guard: {} }]) {
      expect(parseGuardOverrides(input)).toEqual({ ok: true, value: {} });
    }
  });

  it('names an unknown key and lists the valid ones', () => {
    const error = failure({ guard: { maxRunLoss: 100 } });
    expect(error.code).toBe('invalid_input');
    expect(error.details).toEqual({ field: 'limits.guard.maxRunLoss', unknownKeys: ['maxRunLoss'], validKeys: [...GUARD_LIMIT_KEYS] });
    expect(error.message).toBe(`limits.guard has no setting "maxRunLoss"; valid settings are ${VALID}`);
  });

  it('names several unknown keys at once', () => {
    expect(failure({ guard: { a: 1, b: 2 } }).message).toBe(`limits.guard has no settings "a", "b"; valid settings are ${VALID}`);
  });

  it('refuses negative and zero amounts with an actionable message', () => {
    const negative = failure({ guard: { maxRunLossUsd: -5 } });
    expect(negative).toEqual({
      code: 'invalid_input',
      details: { field: 'limits.guard.maxRunLossUsd' },
      message: 'limits.guard.maxRunLossUsd must be a positive number of US dollars (got -5)',
    });
    expect(failure({ guard: { blackSwanMovePct: 0 } }).message).toBe(
      'limits.guard.blackSwanMovePct must be a positive percentage (15 means a 15% move) (got 0)',
    );
  });

  it('refuses non-numbers, infinities and fractional counts', () => {
    expect(failure({ guard: { maxGlobalDrawdownUsd: '500' } }).message).toBe(
      'limits.guard.maxGlobalDrawdownUsd must be a positive number of US dollars (got "500")',
    );
    expect(failure({ guard: { maxDailyLossUsd: Number.POSITIVE_INFINITY } }).message).toBe(
      'limits.guard.maxDailyLossUsd must be a positive number of US dollars (got Infinity)',
    );
    expect(failure({ guard: { maxApiErrorsPerMin: 2.5 } }).message).toBe(
      'limits.guard.maxApiErrorsPerMin must be a positive whole number of errors per minute (got 2.5)',
    );
    const stale = failure({ guard: { staleTickerMs: null } });
    expect(stale.details).toEqual({ field: 'limits.guard.staleTickerMs' });
    expect(stale.message).toBe('limits.guard.staleTickerMs must be a positive whole number of milliseconds (300000 is 5 minutes) (got null)');
  });

  it('refuses limits or guard that are not objects', () => {
    expect(failure('{"guard":{}}')).toEqual({
      code: 'invalid_input',
      details: { field: 'limits' },
      message: 'limits must be a JSON object, e.g. {"guard": {"maxRunLossUsd": 150}}',
    });
    expect(failure({ guard: [1, 2] })).toEqual({
      code: 'invalid_input',
      details: { field: 'limits.guard' },
      message: `limits.guard must be a JSON object with any of these settings: ${VALID}`,
    });
  });
});

describe('resolveGuardLimits', () => {
  const defaults: GuardLimits = SEED_GUARD_LIMITS;

  it('starts from the seed values', () => {
    expect(SEED_GUARD_LIMITS).toEqual({
      maxRunLossUsd: 200,
      maxGlobalDrawdownUsd: 500,
      maxDailyLossUsd: 250,
      maxApiErrorsPerMin: 10,
      staleTickerMs: 300_000,
      blackSwanMovePct: 10,
    });
  });

  it('user overrides beat tier overrides, which beat the defaults', () => {
    const resolved = resolveGuardLimits(
      defaults,
      { maxRunLossUsd: 150, maxGlobalDrawdownUsd: 400, staleTickerMs: 120_000 },
      { maxRunLossUsd: 100, blackSwanMovePct: 20 },
    );
    expect(resolved).toEqual({
      maxRunLossUsd: 100,
      maxGlobalDrawdownUsd: 400,
      maxDailyLossUsd: 250,
      maxApiErrorsPerMin: 10,
      staleTickerMs: 120_000,
      blackSwanMovePct: 20,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('an undefined override does not erase a lower layer', () => {
    const resolved = resolveGuardLimits(defaults, { maxRunLossUsd: 150 }, { maxRunLossUsd: undefined });
    expect(resolved.maxRunLossUsd).toBe(150);
  });

  it('composes with parsing', () => {
    const tier = parseGuardOverrides({ guard: { maxApiErrorsPerMin: 5 } });
    const user = parseGuardOverrides({ guard: { maxApiErrorsPerMin: 8, maxDailyLossUsd: 75 } });
    if (!tier.ok || !user.ok) throw new Error('parse failed');
    const resolved = resolveGuardLimits(defaults, tier.value, user.value);
    expect(resolved.maxApiErrorsPerMin).toBe(8);
    expect(resolved.maxDailyLossUsd).toBe(75);
    expect(resolved.maxRunLossUsd).toBe(200);
  });
});
