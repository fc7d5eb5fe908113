// The account-wide facts the risk engine reads every step: tier capital, the other runs'
// capital, today's realised P&L and the realised drawdown (one user, one mode: paper losses do
// not block live entries, nor the reverse), the global kill switch and the guard limits with
// their tier and user overrides.
import { Prisma } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { realizedDrawdown } from '../engine/risk/guards.ts';
import { parseGuardOverrides, resolveGuardLimits, type GuardLimits } from '../engine/risk/limits.ts';
import type { AccountFacts } from '../execution/run-engine.ts';
import type { Actor, AppDeps } from './deps.ts';
import { capitalFacts, globalKillEngaged, type RunMode } from './runs.ts';

export async function accountFacts(
  deps: AppDeps,
  defaults: GuardLimits,
  run: { readonly id: string; readonly userId: string; readonly mode: RunMode },
): Promise<AccountFacts> {
  const now = deps.clock.now();
  const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const [capital, globalKill, fills, limits] = await Promise.all([
    capitalFacts(deps, run.userId, run.mode, run.id),
    globalKillEngaged(deps),
    read(() =>
      deps.db.runFill.findMany({
        where: { delivered: true, side: 'sell', run: { userId: run.userId, mode: run.mode } },
        select: { realizedPnl: true, executedAt: true },
        orderBy: { executedAt: 'asc' },
      }),
    ),
    guardLimits(deps, defaults, run.userId),
  ]);
  let daily = 0;
  for (const f of fills) if (f.executedAt >= midnight) daily += Number(f.realizedPnl);
  return {
    tierMaxCapitalUsd: capital.tierMaxCapitalUsd,
    otherRunsCapitalUsd: capital.otherRunsCapitalUsd,
    dailyRealizedPnlUsd: daily,
    realizedDrawdownUsd: realizedDrawdown(fills.map((f) => Number(f.realizedPnl))),
    globalKill,
    limits,
  };
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
  const tier = parseGuardOverrides(license?.tier.limits ?? null);
  const own = parseGuardOverrides(user?.limits ?? null);
  return resolveGuardLimits(defaults, tier.ok ? tier.value : {}, own.ok ? own.value : {});
}

export type LimitsTarget = { readonly kind: 'tier'; readonly tierId: string } | { readonly kind: 'user'; readonly userId: string };

/**
 * Sets (or, with null, clears) a tier's or a user's `limits` JSON after validating its `guard`
 * object; audited. Returns the stored value.
 */
export async function setLimits(deps: AppDeps, target: LimitsTarget, limits: unknown, actor: Actor): Promise<Result<unknown>> {
  if (limits !== null) {
    if (typeof limits !== 'object' || Array.isArray(limits)) {
      return err(appError('invalid_input', { field: 'limits' }, 'Limits must be a JSON object like {"guard": {"maxRunLossUsd": 100}}.'));
    }
    const parsed = parseGuardOverrides(limits);
    if (!parsed.ok) return parsed;
  }
  const value = limits === null ? Prisma.DbNull : (limits as object);
  const now = deps.clock.now();
  return inTransaction(deps.db, async (tx) => {
    if (target.kind === 'tier') {
      const before = await tx.tier.findUnique({ where: { id: target.tierId } });
      if (!before) return err(appError('tier_not_found'));
      await tx.tier.update({ where: { id: target.tierId }, data: { limits: value } });
      await recordAudit(tx, { actor, action: 'tier.limits_set', entityType: 'tier', entityId: target.tierId, before: { limits: before.limits }, after: { limits }, at: now });
    } else {
      const before = await tx.user.findUnique({ where: { id: target.userId } });
      if (!before) return err(appError('user_not_found'));
      await tx.user.update({ where: { id: target.userId }, data: { limits: value } });
      await recordAudit(tx, { actor, action: 'user.limits_set', entityType: 'user', entityId: target.userId, before: { limits: before.limits }, after: { limits }, at: now });
    }
    return ok(limits);
  });
}
