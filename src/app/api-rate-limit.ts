// REST API rate limits (the seed's table), per license and endpoint group, as GCRA (generic cell
// rate algorithm) in Postgres: each bucket is one row holding its theoretical arrival time (tat).
// A request is allowed while tat - burstAllowance <= now, and then moves tat one emission
// interval past max(tat, now). One statement per request, so replicas share the limits and two
// concurrent requests cannot both take the last slot (the upsert locks the row).
import { read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { AppDeps } from './deps.ts';

export type ApiLimitGroup =
  | 'status_push'
  | 'trade_push'
  | 'scanner_recommendation'
  | 'strategy_params'
  | 'strategy_regimes'
  | 'heartbeat'
  | 'license_upgrade';

export interface ApiLimit {
  /** Requests allowed per period; they may come in one burst. */
  readonly count: number;
  readonly periodMs: number;
  /** For messages: "1 per minute". */
  readonly label: string;
}

const MINUTE = 60_000;

/** The seed's limits (plus upgrades). Scanner and params: each endpoint has its own bucket of 1 per 5 minutes. */
export const API_RATE_LIMITS: Readonly<Record<ApiLimitGroup, ApiLimit>> = Object.freeze({
  status_push: { count: 1, periodMs: MINUTE, label: '1 per minute' },
  trade_push: { count: 10, periodMs: MINUTE, label: '10 per minute' },
  scanner_recommendation: { count: 1, periodMs: 5 * MINUTE, label: '1 per 5 minutes' },
  strategy_params: { count: 1, periodMs: 5 * MINUTE, label: '1 per 5 minutes' },
  strategy_regimes: { count: 1, periodMs: 5 * MINUTE, label: '1 per 5 minutes' },
  heartbeat: { count: 1, periodMs: 60 * MINUTE, label: '1 per hour' },
  // Not in the seed: each upgrade request reserves pool capital for the checkout's lifetime.
  license_upgrade: { count: 3, periodMs: 60 * MINUTE, label: '3 per hour' },
});

export interface RateAllowance {
  /** When this bucket will take its next request (the earliest moment it is not refused). */
  readonly nextAllowedAt: Date;
}

/** GCRA's two numbers: one request "costs" the emission interval; the burst allowance is what may be spent ahead. */
function gcra(limit: ApiLimit): { emissionMs: number; burstMs: number } {
  const emissionMs = Math.ceil(limit.periodMs / limit.count);
  return { emissionMs, burstMs: emissionMs * (limit.count - 1) };
}

/**
 * Takes one request from the bucket of this license and group; `rate_limited` (with
 * `retryAfterS`, whole seconds, at least 1) when it is empty. The time is the injected clock's,
 * not the database's, so tests move it.
 */
export async function takeRateLimit(
  deps: AppDeps,
  input: { licenseId: string; group: ApiLimitGroup },
  limits: Readonly<Record<ApiLimitGroup, ApiLimit>> = API_RATE_LIMITS,
): Promise<Result<RateAllowance>> {
  const limit = limits[input.group];
  const { emissionMs, burstMs } = gcra(limit);
  const key = `${input.licenseId}:${input.group}`;
  const now = deps.clock.now();
  // The CTE's SELECT reads the snapshot from before the upsert: when the upsert is refused (no
  // row returned), `stored` is the tat that refused it, which says when to come back.
  const rows = await read(() =>
    deps.db.$queryRaw<{ taken: Date | null; stored: Date | null }[]>`
      WITH attempt AS (
        INSERT INTO api_rate_limits (key, tat)
        VALUES (${key}, ${now}::timestamptz + ${emissionMs} * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE
          SET tat = GREATEST(api_rate_limits.tat, ${now}::timestamptz) + ${emissionMs} * interval '1 millisecond'
          WHERE api_rate_limits.tat - ${burstMs} * interval '1 millisecond' <= ${now}::timestamptz
        RETURNING tat
      )
      SELECT (SELECT tat FROM attempt) AS taken, (SELECT tat FROM api_rate_limits WHERE key = ${key}) AS stored`,
  );
  const { taken, stored } = rows[0] ?? { taken: null, stored: null };
  if (taken) return ok({ nextAllowedAt: new Date(taken.getTime() - burstMs) });
  // A row inserted concurrently after our snapshot leaves `stored` empty: one interval is a fair guess.
  const allowedFrom = stored ? stored.getTime() - burstMs : now.getTime() + emissionMs;
  const retryAfterS = Math.max(1, Math.ceil((allowedFrom - now.getTime()) / 1000));
  return err(
    appError('rate_limited', { retryAfterS, group: input.group }, `Rate limit for this endpoint is ${limit.label}; retry in ${retryAfterS} s.`),
  );
}

/**
 * Deletes buckets whose tat has passed: such a row allows exactly what a missing row allows, so it
 * is dead weight. Returns how many were deleted. Run daily by the cleanup job.
 */
export async function pruneRateLimits(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  return read(() => deps.db.$executeRaw`DELETE FROM api_rate_limits WHERE tat <= ${now}::timestamptz`);
}
