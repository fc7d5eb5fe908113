// The global capacity pool: its meter, its cap and what being over the cap means.
import type { Tx } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import {
  available,
  enforcementLevel,
  percentUsed,
  type EnforcementLevel,
  type PoolUsage,
} from '../domain/pool.ts';
import type { Tier } from '../domain/tiers.ts';
import { appError } from '../kernel/errors.ts';
import { centsFromDecimalString, centsToDecimalString, formatUsd, type Cents } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import type { Actor, AppDeps } from './deps.ts';
import { listTiers } from './tiers.ts';

type Queryable = Pick<Tx, '$queryRaw'>;

/**
 * Locks the pool row for the rest of the transaction and returns the usage as of *after* the
 * lock was granted. Under READ COMMITTED each statement takes a fresh snapshot, so the sums
 * below (a separate statement) see every hold committed by whoever held the lock before us.
 * Folding the lock and the sums into one statement would read a snapshot from before the wait
 * and oversell the pool.
 */
export async function lockPool(tx: Tx, now: Date): Promise<PoolUsage> {
  await tx.$queryRaw`SELECT id FROM capacity_pool WHERE id = 1 FOR UPDATE`;
  return readUsage(tx, now);
}

export async function readUsage(db: Queryable, now: Date): Promise<PoolUsage> {
  const rows = await db.$queryRaw<{ cap: string; committed: string; held: string }[]>`
    SELECT
      (SELECT cap_usd FROM capacity_pool WHERE id = 1)::text AS cap,
      (SELECT COALESCE(SUM(capital_usd), 0) FROM licenses WHERE status <> 'revoked')::text AS committed,
      (SELECT COALESCE(SUM(amount_usd), 0) FROM pool_holds WHERE status = 'held' AND expires_at > ${now})::text AS held`;
  const row = rows[0];
  if (!row?.cap) throw new Error('capacity_pool row is missing: were the migrations applied?');
  return {
    cap: centsFromDecimalString(row.cap),
    committed: centsFromDecimalString(row.committed),
    held: centsFromDecimalString(row.held),
  };
}

export interface PoolStatus extends PoolUsage {
  readonly available: Cents;
  readonly percentUsed: number;
  readonly enforcement: EnforcementLevel;
  /** Each active tier and whether the pool can still take one more of it. */
  readonly tiers: readonly (Tier & { readonly purchasable: boolean })[];
}

export async function getPoolStatus(deps: AppDeps): Promise<PoolStatus> {
  const [usage, tiers] = await Promise.all([read(() => readUsage(deps.db, deps.clock.now())), listTiers(deps)]);
  return describePool(usage, tiers, deps.pool.hardOveragePct);
}

export function describePool(usage: PoolUsage, tiers: readonly Tier[], hardOveragePct: number): PoolStatus {
  const free = available(usage);
  return {
    ...usage,
    available: free,
    percentUsed: percentUsed(usage),
    enforcement: enforcementLevel(usage, hardOveragePct),
    tiers: tiers.map((t) => ({ ...t, purchasable: t.maxCapital <= free })),
  };
}

/** The meter attached to pool_full / pool_over_cap errors so chat can show it. */
export function poolMeter(usage: PoolUsage): Record<string, unknown> {
  return {
    cap: formatUsd(usage.cap),
    committed: formatUsd(usage.committed),
    held: formatUsd(usage.held),
    available: formatUsd(available(usage)),
    percentUsed: percentUsed(usage),
  };
}

export async function setPoolCap(deps: AppDeps, cap: Cents, actor: Actor): Promise<PoolUsage> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const before = await lockPool(tx, now);
    if (before.cap !== cap) {
      await tx.capacityPool.update({ where: { id: 1 }, data: { capUsd: centsToDecimalString(cap), updatedAt: now } });
      await recordAudit(tx, {
        actor,
        action: 'pool.cap_set',
        entityType: 'capacity_pool',
        entityId: '1',
        before: { capUsd: centsToDecimalString(before.cap) },
        after: { capUsd: centsToDecimalString(cap) },
        at: now,
      });
    }
    return { ...before, cap };
  });
}

export type PoolFeature = 'new_run' | 'scanner';

/**
 * Over-cap enforcement as the seed describes it: soft (allowed, with a warning) then hard
 * (new runs and scanner access blocked until capacity is restored).
 */
export async function checkPoolAccess(
  deps: AppDeps,
  feature: PoolFeature,
): Promise<Result<{ level: EnforcementLevel; warning: string | null }>> {
  const usage = await read(() => readUsage(deps.db, deps.clock.now()));
  const level = enforcementLevel(usage, deps.pool.hardOveragePct);
  if (level === 'hard') {
    return err(appError('pool_over_cap', { feature, ...poolMeter(usage) }));
  }
  const warning =
    level === 'soft'
      ? `The capacity pool is over its cap (${formatUsd(usage.committed)} committed of ${formatUsd(usage.cap)}); ${feature === 'scanner' ? 'scanner access' : 'starting new runs'} may be paused soon.`
      : null;
  return ok({ level, warning });
}
