// The account-wide facts the risk engine reads every step: tier capital, the other runs'
// capital, today's realised P&L and the realised drawdown (one user, one mode: paper losses do
// not block live entries, nor the reverse), the global kill switch and the guard limits with
// their tier and user overrides; order pacing reads the tier's execution priority from them too.
import { Prisma } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { limitsProblems, parseGuardOverrides, resolveGuardLimits, type GuardLimits } from '../engine/risk/limits.ts';
import { parseRiskOverrides, type RiskOverrides } from '../engine/risk/risk-overrides.ts';
import type { AccountFacts } from '../execution/run-engine.ts';
import type { Actor, AppDeps } from './deps.ts';
import type { RunMode } from './runs.ts';
import { parseExecutionPriority, type ExecutionPriority } from '../domain/execution-priority.ts';

/** What the risk engine knows about one user in one mode; a run's view of it is `factsForRun`. */
export interface UserAccountFacts {
  /** null without an active license, and while the account is suspended. */
  readonly tierMaxCapitalUsd: number | null;
  /** Capital of each of the user's active runs (and copy-trading follows) in this mode, by run (follow) id. */
  readonly activeRunCapital: ReadonlyMap<string, number>;
  readonly dailyRealizedPnlUsd: number;
  readonly realizedDrawdownUsd: number;
  /** Cumulative realised P&L and its peak (at least 0): what the drawdown is computed from. */
  readonly realizedTotalUsd: number;
  readonly realizedPeakUsd: number;
  readonly globalKill: boolean;
  readonly limits: GuardLimits;
  /** The best active license's tier's place in the exchange's order queue (normal without a license). */
  readonly executionPriority: ExecutionPriority;
}

/** The facts after one more realised P&L (a sell settled) on the same UTC day as `dayStart`. */
export function withRealized(facts: UserAccountFacts, pnlUsd: number, at: Date, dayStart: Date): UserAccountFacts {
  const total = facts.realizedTotalUsd + pnlUsd;
  const peak = Math.max(facts.realizedPeakUsd, total);
  return {
    ...facts,
    realizedTotalUsd: total,
    realizedPeakUsd: peak,
    realizedDrawdownUsd: peak - total,
    dailyRealizedPnlUsd: facts.dailyRealizedPnlUsd + (at >= dayStart ? pnlUsd : 0),
  };
}

/**
 * Loads one user's facts in one round trip. Today's realised P&L and the realised drawdown
 * (peak-to-now of the cumulative realised P&L, as `realizedDrawdown` computes it) are summed by
 * Postgres, so the cost does not grow with the user's fill history on the wire.
 */
export async function loadUserAccountFacts(deps: AppDeps, defaults: GuardLimits, userId: string, mode: RunMode): Promise<UserAccountFacts> {
  const midnight = utcMidnight(deps.clock.now());
  const [row] = await read(
    () => deps.db.$queryRaw<
      {
        tier_max: string | null;
        tier_limits: unknown;
        tier_priority: string | null;
        user_limits: unknown;
        runs: [string, string][];
        global_kill: boolean | null;
        daily: string;
        total: string;
        peak: string;
      }[]
    >`
      WITH best AS (
        SELECT t.max_capital_usd, t.limits, t.execution_priority FROM licenses l JOIN tiers t ON t.id = l.tier_id
        WHERE l.user_id = ${userId}::uuid AND l.status = 'active'
          -- A suspended account counts as one without a license: nothing new is placed.
          AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = ${userId}::uuid AND u.suspended_at IS NOT NULL)
        ORDER BY t.rank DESC LIMIT 1
      ), sells AS (
        -- The user's run ids first, so the fills are read through their (run_id, trade_id) index
        -- whatever the planner's statistics say (a join let it scan every fill).
        SELECT f.realized_pnl AS pnl, f.executed_at,
               sum(f.realized_pnl) OVER (ORDER BY f.executed_at, f.id) AS cum
        FROM run_fills f
        WHERE f.run_id = ANY(ARRAY(SELECT id FROM trading_runs WHERE user_id = ${userId}::uuid AND mode = ${mode}::"RunMode"))
          AND f.delivered AND f.side = 'sell'
      )
      SELECT
        (SELECT max_capital_usd::text FROM best) AS tier_max,
        (SELECT limits FROM best) AS tier_limits,
        (SELECT execution_priority FROM best) AS tier_priority,
        (SELECT limits FROM users WHERE id = ${userId}::uuid) AS user_limits,
        -- status::text keeps the planner on the user's index: the status index is huge and
        -- unselective (every run is running), and stale statistics made it combine the two.
        -- Copy-trading follows (by follow id) use the tier's capital like runs.
        (SELECT coalesce(json_agg(json_build_array(id, capital_usd::text)), '[]'::json) FROM (
          SELECT id, capital_usd FROM trading_runs
          WHERE user_id = ${userId}::uuid AND mode = ${mode}::"RunMode" AND status::text IN ('running', 'stopping')
          UNION ALL
          SELECT id, capital_usd FROM copy_follows
          WHERE user_id = ${userId}::uuid AND mode = ${mode}::"RunMode" AND status <> 'stopped') capital) AS runs,
        (SELECT engaged FROM kill_switches WHERE scope = 'global') AS global_kill,
        (SELECT coalesce(sum(pnl) FILTER (WHERE executed_at >= ${midnight}), 0)::text FROM sells) AS daily,
        (SELECT coalesce(sum(pnl), 0)::text FROM sells) AS total,
        (SELECT greatest(coalesce(max(cum), 0), 0)::text FROM sells) AS peak`,
  );
  const total = Number(row?.total ?? 0);
  const peak = Number(row?.peak ?? 0);
  return {
    tierMaxCapitalUsd: row?.tier_max == null ? null : Number(row.tier_max),
    activeRunCapital: new Map((row?.runs ?? []).map(([id, capital]) => [id, Number(capital)])),
    dailyRealizedPnlUsd: Number(row?.daily ?? 0),
    realizedDrawdownUsd: peak - total,
    realizedTotalUsd: total,
    realizedPeakUsd: peak,
    globalKill: row?.global_kill === true,
    limits: limitsWithOverrides(defaults, row?.tier_limits ?? null, row?.user_limits ?? null),
    executionPriority: parseExecutionPriority(row?.tier_priority),
  };
}

const utcMidnight = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));

/** One run's view of its user's facts: the capital of the user's other runs excludes its own. */
export function factsForRun(user: UserAccountFacts, runId: string): AccountFacts {
  let otherRunsCapitalUsd = 0;
  for (const [id, capital] of user.activeRunCapital) if (id !== runId) otherRunsCapitalUsd += capital;
  return {
    tierMaxCapitalUsd: user.tierMaxCapitalUsd,
    otherRunsCapitalUsd,
    dailyRealizedPnlUsd: user.dailyRealizedPnlUsd,
    realizedDrawdownUsd: user.realizedDrawdownUsd,
    globalKill: user.globalKill,
    limits: user.limits,
  };
}

/**
 * Account facts per (user, mode), shared by the user's runs and reloaded at most every `ttlMs`:
 * without it every run step would cost a query. What this process changes is applied at
 * once: a settled sell's realised P&L is added (`recordRealized`), a run opening or finishing
 * drops the entry (`invalidate`). Changes made by other replicas (or by an admin) are seen
 * within `ttlMs`. The kill switch does not depend on this: engaging it stops the runs directly.
 */
export class AccountFactsCache {
  readonly #entries = new Map<string, { readonly loadedAt: number; readonly dayStart: Date; facts: Promise<UserAccountFacts> }>();

  constructor(
    private readonly deps: AppDeps,
    private readonly defaults: GuardLimits,
    private readonly ttlMs: number,
  ) {}

  async forRun(run: { readonly id: string; readonly userId: string; readonly mode: RunMode }): Promise<AccountFacts> {
    return factsForRun(await this.#user(run.userId, run.mode), run.id);
  }

  /** The user's execution priority, from the same cached facts (order pacing asks per order). */
  async executionPriority(account: { readonly userId: string; readonly mode: RunMode }): Promise<ExecutionPriority> {
    return (await this.#user(account.userId, account.mode)).executionPriority;
  }

  #user(userId: string, mode: RunMode): Promise<UserAccountFacts> {
    const key = `${userId}:${mode}`;
    const now = this.deps.clock.now().getTime();
    let entry = this.#entries.get(key);
    if (!entry || now - entry.loadedAt >= this.ttlMs) {
      const facts = loadUserAccountFacts(this.deps, this.defaults, userId, mode);
      const created = { loadedAt: now, dayStart: utcMidnight(new Date(now)), facts };
      entry = created;
      this.#entries.set(key, created);
      // A failed load is not kept: the next step asks again.
      facts.catch(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      });
    }
    return entry.facts;
  }

  /** A sell of one of the user's runs settled with this realised P&L. */
  recordRealized(run: { readonly userId: string; readonly mode: RunMode }, pnlUsd: number, at: Date): void {
    const entry = this.#entries.get(`${run.userId}:${run.mode}`);
    if (entry) entry.facts = entry.facts.then((facts) => withRealized(facts, pnlUsd, at, entry.dayStart));
  }

  invalidate(userId: string): void {
    this.#entries.delete(`${userId}:paper`);
    this.#entries.delete(`${userId}:live`);
  }
}

/**
 * Defaults, then the user's best tier's `limits.guard`, then the user's own. A malformed
 * override is ignored (the admin command that writes them validates first).
 */
export async function guardLimits(deps: AppDeps, defaults: GuardLimits, userId: string): Promise<GuardLimits> {
  const [user, license] = await Promise.all([
    read(() => deps.db.user.findUnique({ where: { id: userId }, select: { limits: true } })),
    read(() =>
      deps.db.license.findFirst({ where: { userId, status: 'active' }, orderBy: { tier: { rank: 'desc' } }, select: { tier: { select: { limits: true } } } }),
    ),
  ]);
  return limitsWithOverrides(defaults, license?.tier.limits ?? null, user?.limits ?? null);
}

/** A user's run risk defaults (`limits.risk`); a malformed section is ignored, as above. */
export async function riskDefaults(deps: AppDeps, userId: string): Promise<RiskOverrides> {
  const user = await read(() => deps.db.user.findUnique({ where: { id: userId }, select: { limits: true } }));
  const parsed = parseRiskOverrides(user?.limits ?? null);
  return parsed.ok ? parsed.value : {};
}

/** A malformed override is ignored (the admin command that writes them validates first). */
function limitsWithOverrides(defaults: GuardLimits, tierLimits: unknown, userLimits: unknown): GuardLimits {
  const tier = parseGuardOverrides(tierLimits);
  const own = parseGuardOverrides(userLimits);
  return resolveGuardLimits(defaults, tier.ok ? tier.value : {}, own.ok ? own.value : {});
}

export type LimitsTarget = { readonly kind: 'tier'; readonly tierId: string } | { readonly kind: 'user'; readonly userId: string };

/**
 * Sets a tier's or a user's `limits` JSON section by section, after validating it (guard for
 * both, risk for users): a section given replaces that section, a section given as null removes
 * it, and a section not given is kept, so setting guard leaves risk alone and the reverse.
 * `limits` null clears every section. Audited; returns the stored value (null when empty).
 */
export async function setLimits(deps: AppDeps, target: LimitsTarget, limits: unknown, actor: Actor): Promise<Result<unknown>> {
  if (limits !== null) {
    const problems = limitsProblems(limits, target.kind);
    if (problems.length) return err(appError('invalid_input', { field: 'limits', problems }, problems.join('; ')));
  }
  const merged = (before: unknown): Prisma.InputJsonObject | null => {
    if (limits === null) return null;
    const kept = before !== null && typeof before === 'object' && !Array.isArray(before) ? (before as Record<string, unknown>) : {};
    const sections = Object.entries({ ...kept, ...(limits as Record<string, unknown>) }).filter(([, section]) => section !== null && section !== undefined);
    return sections.length ? (Object.fromEntries(sections) as Prisma.InputJsonObject) : null;
  };
  const now = deps.clock.now();
  return inTransaction(deps.db, async (tx) => {
    if (target.kind === 'tier') {
      const before = await tx.tier.findUnique({ where: { id: target.tierId } });
      if (!before) return err(appError('tier_not_found'));
      const after = merged(before.limits);
      await tx.tier.update({ where: { id: target.tierId }, data: { limits: after ?? Prisma.DbNull } });
      await recordAudit(tx, { actor, action: 'tier.limits_set', entityType: 'tier', entityId: target.tierId, before: { limits: before.limits }, after: { limits: after }, at: now });
      return ok(after);
    }
    const before = await tx.user.findUnique({ where: { id: target.userId } });
    if (!before) return err(appError('user_not_found'));
    const after = merged(before.limits);
    await tx.user.update({ where: { id: target.userId }, data: { limits: after ?? Prisma.DbNull } });
    await recordAudit(tx, { actor, action: 'user.limits_set', entityType: 'user', entityId: target.userId, before: { limits: before.limits }, after: { limits: after }, at: now });
    return ok(after);
  });
}
