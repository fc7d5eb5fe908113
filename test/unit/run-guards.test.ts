import { describe, expect, it } from 'vitest';
import { ApiErrorWindow, evaluateGuards, movePct, realizedDrawdown, type GuardInput } from '../../src/engine/risk/guards.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';

const NOW = 1_700_000_000_000;
const limits = SEED_GUARD_LIMITS; // run loss $200, drawdown $500, 10 errors/min, 300000 ms

const input = (patch: Partial<GuardInput> = {}): GuardInput => ({
  now: NOW,
  startedAt: NOW - 3_600_000,
  runLossUsd: 0,
  realizedDrawdownUsd: 0,
  apiErrorsLastMinute: 0,
  lastDataAt: NOW - 1000,
  ...patch,
});

describe('evaluateGuards', () => {
  it('returns null when nothing trips', () => {
    expect(evaluateGuards(input({ runLossUsd: -500 }), limits)).toBeNull();
  });

  it('max_run_loss trips at exactly the limit, not a cent below', () => {
    expect(evaluateGuards(input({ runLossUsd: 199.99 }), limits)).toBeNull();
    expect(evaluateGuards(input({ runLossUsd: 200 }), limits)).toEqual({
      guard: 'max_run_loss',
      message: 'Run loss $200.00 reached the $200.00 limit (MAX_RUN_LOSS_USD)',
      details: { runLossUsd: 200, limitUsd: 200 },
    });
    expect(evaluateGuards(input({ runLossUsd: 210 }), limits)?.message).toBe('Run loss $210.00 reached the $200.00 limit (MAX_RUN_LOSS_USD)');
  });

  it('max_global_drawdown trips at exactly the limit, not a cent below', () => {
    expect(evaluateGuards(input({ realizedDrawdownUsd: 499.99 }), limits)).toBeNull();
    expect(evaluateGuards(input({ realizedDrawdownUsd: 500 }), limits)).toEqual({
      guard: 'max_global_drawdown',
      message: 'Realized drawdown $500.00 reached the $500.00 limit (MAX_GLOBAL_DRAWDOWN_USD)',
      details: { realizedDrawdownUsd: 500, limitUsd: 500 },
    });
  });

  it('api_error_burst trips at exactly the limit, not one below', () => {
    expect(evaluateGuards(input({ apiErrorsLastMinute: 9 }), limits)).toBeNull();
    expect(evaluateGuards(input({ apiErrorsLastMinute: 10 }), limits)).toEqual({
      guard: 'api_error_burst',
      message: '10 exchange API errors in the last minute reached the limit of 10 (MAX_API_ERRORS_PER_MIN)',
      details: { apiErrorsLastMinute: 10, limit: 10 },
    });
  });

  it('stale_ticker trips once data is older than the maximum age (the limit itself is still fresh)', () => {
    expect(evaluateGuards(input({ lastDataAt: NOW - 300_000 }), limits)).toBeNull();
    expect(evaluateGuards(input({ lastDataAt: NOW - 300_001 }), limits)).toEqual({
      guard: 'stale_ticker',
      message: 'No market data for 5 min 1 s, past the 5 min limit (STALE_TICKER_MS)',
      details: { ageMs: 300_001, limitMs: 300_000 },
    });
  });

  it('before the first data point, staleness counts from the run start', () => {
    expect(evaluateGuards(input({ lastDataAt: null, startedAt: NOW - 300_000 }), limits)).toBeNull();
    expect(evaluateGuards(input({ lastDataAt: null, startedAt: NOW - 360_000 }), limits)).toEqual({
      guard: 'stale_ticker',
      message: 'No market data since the run started 6 min ago, past the 5 min limit (STALE_TICKER_MS)',
      details: { ageMs: 360_000, limitMs: 300_000 },
    });
  });

  it('reports the first guard in order when several trip', () => {
    const all = input({ runLossUsd: 300, realizedDrawdownUsd: 600, apiErrorsLastMinute: 20, lastDataAt: null, startedAt: 0 });
    expect(evaluateGuards(all, limits)?.guard).toBe('max_run_loss');
    expect(evaluateGuards({ ...all, runLossUsd: 0 }, limits)?.guard).toBe('max_global_drawdown');
    expect(evaluateGuards({ ...all, runLossUsd: 0, realizedDrawdownUsd: 0 }, limits)?.guard).toBe('api_error_burst');
    expect(evaluateGuards({ ...all, runLossUsd: 0, realizedDrawdownUsd: 0, apiErrorsLastMinute: 0 }, limits)?.guard).toBe('stale_ticker');
  });

  it('uses the limits it is given and fails closed on NaN', () => {
    const tight = { ...limits, maxRunLossUsd: 50 };
    expect(evaluateGuards(input({ runLossUsd: 50 }), tight)?.message).toBe('Run loss $50.00 reached the $50.00 limit (MAX_RUN_LOSS_USD)');
    expect(evaluateGuards(input({ realizedDrawdownUsd: Number.NaN }), limits)?.guard).toBe('max_global_drawdown');
  });
});

describe('ApiErrorWindow', () => {
  it('counts errors over a sliding 60 s window in 1 s buckets', () => {
    const window = new ApiErrorWindow();
    const t0 = NOW; // NOW is a whole second
    window.record(t0);
    window.record(t0 + 500);
    window.record(t0 + 30_000);
    expect(window.count(t0 + 30_000)).toBe(3);
    expect(window.count(t0 + 59_999)).toBe(3);
    expect(window.count(t0 + 60_000)).toBe(1); // the bucket of t0 and t0 + 500 has slid out
    expect(window.count(t0 + 89_999)).toBe(1);
    expect(window.count(t0 + 90_000)).toBe(0);
  });

  it('reuses ring slots as time moves on, keeping memory constant', () => {
    const window = new ApiErrorWindow();
    for (let i = 0; i < 1000; i++) window.record(NOW + i * 250); // 4 errors a second for 250 s
    expect(window.count(NOW + 249_750)).toBe(240); // the last 60 buckets x 4
    window.record(NOW + 600_000);
    expect(window.count(NOW + 600_000)).toBe(1);
  });

  it('ignores a record older than the ring still covers', () => {
    const window = new ApiErrorWindow();
    window.record(NOW + 120_000);
    window.record(NOW + 60_000); // same slot as NOW + 120 s, but a whole window older
    expect(window.count(NOW + 120_000)).toBe(1);
  });

  it('supports another window and bucket, and refuses a bucket that does not divide the window', () => {
    const window = new ApiErrorWindow(10_000, 100);
    window.record(NOW);
    expect(window.count(NOW + 9_999)).toBe(1);
    expect(window.count(NOW + 10_000)).toBe(0);
    expect(() => new ApiErrorWindow(60_000, 7_000)).toThrow('window (60000 ms) must be a positive whole multiple of the bucket (7000 ms)');
  });
});

describe('realizedDrawdown', () => {
  it('is the drop from the peak of the running sum to now', () => {
    expect(realizedDrawdown([])).toBe(0);
    expect(realizedDrawdown([100, 50, -30, -40, 10])).toBe(60); // peak 150, now 90
    expect(realizedDrawdown([100, -150])).toBe(150); // peak 100, now -50
    expect(realizedDrawdown([-20, -30])).toBe(50); // the peak is the starting 0
    expect(realizedDrawdown([10, -5, 20])).toBe(0); // a new high
  });
});

describe('movePct', () => {
  it('is the largest move from an earlier close to a later one, either way', () => {
    expect(movePct([100, 105, 110])).toBeCloseTo(10, 10);
    expect(movePct([100, 90, 95])).toBeCloseTo(10, 10); // a crash that half rebounds: still 10%, not 5%
    expect(movePct([100, 90, 100])).toBeCloseTo(100 / 9, 10); // the rebound 90 -> 100 is the larger move
    expect(movePct([100, 80, 120])).toBeCloseTo(50, 10); // 80 -> 120
    expect(movePct(new Float64Array([200, 150]))).toBeCloseTo(25, 10);
  });

  it('reads 0 for flat or short windows and skips unusable closes', () => {
    expect(movePct([])).toBe(0);
    expect(movePct([100])).toBe(0);
    expect(movePct([100, 100, 100])).toBe(0);
    expect(movePct([100, Number.NaN, 0, 95])).toBeCloseTo(5, 10);
  });
});
