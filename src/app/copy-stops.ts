// Stopping follows, and what followers and masters are told about copy trading. Shared by the
// copy-trading use-cases, the kill switches (src/app/runs.ts) and the mirror; it imports no other
// use-case, so runs.ts can call it without a cycle.
import type { QueuedAlert } from '../alerts/outbox.ts';
import { queueAlerts } from '../alerts/outbox.ts';
import { Prisma, type Tx } from '../db/client.ts';
import { inTransaction } from '../db/transaction.ts';
import { isUuid } from '../kernel/ids.ts';
import type { AppDeps } from './deps.ts';

export const COPY_ALERT_TYPE = 'copy_trading';

/** Why a follow stopped (copy_follows.stop_reason). */
export type FollowStopReason =
  | 'unfollowed'
  | 'master_unpublished'
  | 'master_stopped'
  | 'master_killed'
  | 'master_guard'
  | 'master_failed'
  | 'kill'
  | 'killall'
  | 'max_loss'
  | 'suspended';

const REASON_WORDS: Readonly<Record<FollowStopReason, string>> = {
  unfollowed: 'you unfollowed',
  master_unpublished: 'the master stopped publishing the run',
  master_stopped: "the master's run stopped",
  master_killed: "the master's kill switch stopped the run",
  master_guard: "a risk guard stopped the master's run",
  master_failed: "the master's run failed",
  kill: 'your kill switch',
  killall: 'the global kill switch',
  max_loss: 'the copies reached your max_loss limit',
  suspended: 'your account was suspended',
};

export const stopReasonWords = (reason: string): string => REASON_WORDS[reason as FollowStopReason] ?? reason;

/** What an alert or a listing needs to name a follow. */
export interface FollowRef {
  readonly id: string;
  readonly userId: string;
  readonly mode: 'paper' | 'live';
  readonly startedAt: Date;
  readonly code: string;
  readonly masterUserId: string;
  readonly strategy: string;
  readonly symbol: string;
}

/** "🧪 Paper copy of M-7K2Q9X (grid BTC/USDT)": every copy message says paper or live. */
export const followLabel = (f: Pick<FollowRef, 'mode' | 'code' | 'strategy' | 'symbol'>): string =>
  `${f.mode === 'paper' ? '🧪 Paper' : '💰 Live'} copy of ${f.code} (${f.strategy} ${f.symbol})`;

export const usd = (n: number): string =>
  `${n < 0 ? '-' : ''}$${Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

const startedKey = (f: Pick<FollowRef, 'id' | 'startedAt'>) => `${f.id}:${f.startedAt.getTime()}`;

export function followStoppedAlert(f: FollowRef, reason: string, detail: string | null): QueuedAlert {
  return {
    eventId: `copy-stop:${startedKey(f)}`,
    userId: f.userId,
    alertType: COPY_ALERT_TYPE,
    text: `📋 ${followLabel(f)} stopped: ${stopReasonWords(reason)}.${detail ? ` ${detail}` : ''}`,
    payload: { type: 'follow_stopped', followId: f.id, reason },
  };
}

/** The master never learns who: only the capital and the mode. */
export function followerJoinedAlert(f: FollowRef, capitalUsd: number): QueuedAlert {
  return {
    eventId: `copy-join:${startedKey(f)}`,
    userId: f.masterUserId,
    alertType: COPY_ALERT_TYPE,
    text: `📋 A follower with ${usd(capitalUsd)} (${f.mode}) joined ${f.code} (${f.strategy} ${f.symbol}).`,
    payload: { type: 'follower_joined', code: f.code, capitalUsd, mode: f.mode },
  };
}

export function followerLeftAlert(f: FollowRef, capitalUsd: number): QueuedAlert {
  return {
    eventId: `copy-leave:${startedKey(f)}`,
    userId: f.masterUserId,
    alertType: COPY_ALERT_TYPE,
    text: `📋 A follower with ${usd(capitalUsd)} (${f.mode}) left ${f.code} (${f.strategy} ${f.symbol}).`,
    payload: { type: 'follower_left', code: f.code, capitalUsd, mode: f.mode },
  };
}

type FollowRow = {
  id: string;
  user_id: string;
  mode: 'paper' | 'live';
  started_at: Date;
  base_qty: string;
  capital_usd: string;
  code: string;
  master_user_id: string;
  strategy: string;
  symbol: string;
  base: string;
};

export type FollowFilter = { readonly followIds: readonly string[] } | { readonly userId: string } | { readonly masterId: string } | 'all';

/** Locks the still-active follows the filter names, with what their alerts need. */
async function lockActiveFollows(tx: Tx, filter: FollowFilter): Promise<FollowRow[]> {
  const which =
    filter === 'all'
      ? Prisma.sql`TRUE`
      : 'followIds' in filter
        ? Prisma.sql`cf.id = ANY(${[...filter.followIds]}::uuid[])`
        : 'userId' in filter
          ? Prisma.sql`cf.user_id = ${filter.userId}::uuid`
          : Prisma.sql`cf.master_id = ${filter.masterId}::uuid`;
  return tx.$queryRaw<FollowRow[]>`
    SELECT cf.id, cf.user_id, cf.mode::text AS mode, cf.started_at, cf.base_qty::text AS base_qty, cf.capital_usd::text AS capital_usd,
           m.code, m.user_id AS master_user_id, r.strategy, r.symbol, split_part(r.symbol, '/', 1) AS base
    FROM copy_follows cf JOIN copy_masters m ON m.id = cf.master_id JOIN trading_runs r ON r.id = m.run_id
    WHERE cf.status = 'active' AND ${which}
    ORDER BY cf.id
    FOR UPDATE OF cf`;
}

export interface StopFollowsRequest {
  readonly reason: FollowStopReason;
  readonly detail?: string | null;
  /** Close the copied position at market (the mirror does it: the follow is `stopping` until then). */
  readonly close: boolean;
  /** Tell the master a follower left (an unfollow; not when the master's own run ended). */
  readonly tellMaster?: boolean;
}

/**
 * Stops active follows. One holding base with `close` becomes `stopping` and the mirror sells
 * the copies at market, then marks it stopped and tells the follower; any other stops at once
 * (its copies, if any, stay in the follower's account) and the follower is told now.
 */
export async function stopFollows(
  tx: Tx,
  filter: FollowFilter,
  request: StopFollowsRequest,
  now: Date,
): Promise<{ readonly stopping: number; readonly stopped: number }> {
  const rows = await lockActiveFollows(tx, filter);
  let stopping = 0;
  const alerts: QueuedAlert[] = [];
  for (const row of rows) {
    const ref: FollowRef = { id: row.id, userId: row.user_id, mode: row.mode, startedAt: row.started_at, code: row.code, masterUserId: row.master_user_id, strategy: row.strategy, symbol: row.symbol };
    const holds = Number(row.base_qty) > 0;
    if (request.close && holds) {
      stopping++;
      await tx.copyFollow.update({ where: { id: row.id }, data: { status: 'stopping', stopReason: request.reason, stopDetail: request.detail ?? null } });
    } else {
      const kept = holds ? `Your copies keep ${Number(row.base_qty)} ${row.base}${row.mode === 'live' ? ' in your exchange account' : ''}.` : null;
      const detail = [request.detail ?? null, kept].filter(Boolean).join(' ') || null;
      await tx.copyFollow.update({ where: { id: row.id }, data: { status: 'stopped', stopReason: request.reason, stopDetail: detail, stoppedAt: now } });
      alerts.push(followStoppedAlert(ref, request.reason, detail));
    }
    if (request.tellMaster) alerts.push(followerLeftAlert(ref, Number(row.capital_usd)));
  }
  await queueAlerts(tx, alerts, now);
  return { stopping, stopped: rows.length - stopping };
}

/**
 * A kill switch: /kill stops the user's follows (closing their copies with `flatten`, as it
 * closes the runs' positions); the global kill switch stops every follow and closes nothing
 * (it blocks every order, the copies' included).
 */
export async function stopFollowsOnKill(deps: AppDeps, scope: { readonly userId: string; readonly flatten: boolean } | 'global'): Promise<number> {
  if (scope !== 'global' && !isUuid(scope.userId)) return 0;
  const result = await inTransaction(deps.db, (tx) =>
    scope === 'global'
      ? stopFollows(tx, 'all', { reason: 'killall', close: false }, deps.clock.now())
      : stopFollows(tx, { userId: scope.userId }, { reason: 'kill', close: scope.flatten }, deps.clock.now()),
  );
  return result.stopping + result.stopped;
}
