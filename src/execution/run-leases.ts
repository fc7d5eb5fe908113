// Which replica runs which run: a row lease on trading_runs (owner_id, lease_until). A replica
// claims runs nobody holds (or whose holder's lease lapsed, or whose holder is known dead),
// renews its leases while it lives, and gives them back on a clean shutdown. Claims use
// FOR UPDATE SKIP LOCKED, so two replicas claiming at once never take the same run.
import type { Db } from '../db/client.ts';

export interface LeaseOptions {
  readonly replicaId: string;
  readonly leaseMs: number;
  /** Only runs of these modes (a paper-only replica, LIVE_TRADING=off, never takes a live run); default both. */
  readonly modes?: readonly ('paper' | 'live')[];
}

const ALL_MODES = ['paper', 'live'] as const;

/** Claims up to `limit` active runs that nobody holds; returns their ids. */
export async function claimRuns(db: Db, options: LeaseOptions & { now: Date; limit: number; deadOwners?: readonly string[] }): Promise<string[]> {
  const until = new Date(options.now.getTime() + options.leaseMs);
  const dead = options.deadOwners ?? [];
  const rows = await db.$queryRaw<{ id: string }[]>`
    UPDATE trading_runs SET owner_id = ${options.replicaId}, lease_until = ${until}
    WHERE id IN (
      SELECT id FROM trading_runs
      WHERE status IN ('running', 'stopping')
        AND mode::text = ANY(${[...(options.modes ?? ALL_MODES)]}::text[])
        AND (owner_id IS NULL OR lease_until < ${options.now} OR owner_id = ANY(${dead}::text[]))
      ORDER BY started_at
      LIMIT ${options.limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id`;
  return rows.map((r) => r.id);
}

/** Claims one run if nobody else holds it (a run just started or stopped from chat). */
export async function claimRun(db: Db, runId: string, options: LeaseOptions & { now: Date }): Promise<boolean> {
  const { count } = await db.tradingRun.updateMany({
    where: {
      id: runId,
      status: { in: ['running', 'stopping'] },
      mode: { in: [...(options.modes ?? ALL_MODES)] },
      OR: [{ ownerId: null }, { ownerId: options.replicaId }, { leaseUntil: { lt: options.now } }],
    },
    data: { ownerId: options.replicaId, leaseUntil: new Date(options.now.getTime() + options.leaseMs) },
  });
  return count === 1;
}

export interface Renewal {
  /** Active runs this replica holds. */
  readonly held: number;
  /** Held runs whose row says `stopping` (a stop or kill issued through any replica). */
  readonly stopping: readonly string[];
  /** Of the runs this replica is running, those it no longer holds (another replica took them). */
  readonly lost: readonly string[];
}

/**
 * Renews this replica's leases. The answer stays small however many runs it holds: a count, the
 * stopping ones, and which of `running` (the runs it has open) it lost.
 */
export async function renewLeases(db: Db, options: LeaseOptions & { now: Date; running: readonly string[] }): Promise<Renewal> {
  const until = new Date(options.now.getTime() + options.leaseMs);
  const [row] = await db.$queryRaw<{ held: number; stopping: string[]; lost: string[] }[]>`
    WITH renewed AS (
      UPDATE trading_runs SET lease_until = ${until}
      WHERE id IN (
        -- Rows are locked in id order, as the step writer's batches lock them: two multi-row
        -- updates locking in different orders deadlock.
        SELECT id FROM trading_runs
        WHERE owner_id = ${options.replicaId} AND status IN ('running', 'stopping')
        ORDER BY id
        FOR NO KEY UPDATE
      )
      RETURNING id, status
    )
    SELECT
      (SELECT count(*) FROM renewed)::int AS held,
      coalesce((SELECT array_agg(id::text) FROM renewed WHERE status = 'stopping'), '{}') AS stopping,
      coalesce((SELECT array_agg(r::text) FROM unnest(${[...options.running]}::uuid[]) AS r WHERE r NOT IN (SELECT id FROM renewed)), '{}') AS lost`;
  return { held: row?.held ?? 0, stopping: row?.stopping ?? [], lost: row?.lost ?? [] };
}

/** Owners of active runs, for spotting dead ones. */
export async function runOwners(db: Db): Promise<string[]> {
  const rows = await db.tradingRun.findMany({ where: { status: { in: ['running', 'stopping'] }, ownerId: { not: null } }, distinct: ['ownerId'], select: { ownerId: true } });
  return rows.map((r) => r.ownerId!);
}

/** Gives every lease of this replica back (clean shutdown): another replica takes them at once. */
export async function releaseLeases(db: Db, replicaId: string): Promise<void> {
  await db.tradingRun.updateMany({ where: { ownerId: replicaId }, data: { ownerId: null, leaseUntil: null } });
}
