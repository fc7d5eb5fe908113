// Suspending a client (an operator's decision, from the admin CLI or the admin API): the account
// is refused everything that trades (the chat license gate, run starts, and the risk engine,
// which treats it like an account without a license on every replica), its running runs stop
// and its copy-trading follows stop. Reinstating lifts it; stopped runs stay stopped.
// Positions are not sold (that would be trading for a suspended account): runs stop without
// flatten and follows keep their copies, as the global kill switch does.
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { recordAudit } from './audit.ts';
import { stopFollows } from './copy-stops.ts';
import type { Actor, AppDeps } from './deps.ts';
import { stopUserRuns, type RunView } from './runs.ts';

export const SUSPENDED_REASON = 'suspended';

const ACCOUNT_ALERTS = {
  suspended: '⛔ Your account is suspended: your runs and copy trading were stopped, and nothing new can be started. Contact support.',
  reinstated:
    '✅ Your account is active again: you can start runs and follow masters. Runs stopped by the suspension stay stopped; start them again with /paper or /live.',
} as const;

/** What the user is told; the operator's reason is not in it. */
function accountAlert(userId: string, kind: keyof typeof ACCOUNT_ALERTS, at: Date): QueuedAlert {
  return { eventId: `account:${kind}:${userId}:${at.getTime()}`, userId, alertType: 'license', text: ACCOUNT_ALERTS[kind], payload: { type: `account_${kind}` } };
}

export interface Suspension {
  readonly at: Date;
  readonly reason: string | null;
}

/** The account's suspension, or null when it is not suspended. */
export async function suspensionOf(deps: AppDeps, userId: string): Promise<Suspension | null> {
  const row = await read(() => deps.db.user.findUnique({ where: { id: userId }, select: { suspendedAt: true, suspendReason: true } }));
  return row?.suspendedAt ? { at: row.suspendedAt, reason: row.suspendReason } : null;
}

export interface SuspendOutcome {
  /** false when it was already suspended (the reason is updated, nothing is re-announced). */
  readonly changed: boolean;
  /** Runs now stopping: wake them where a run supervisor is at hand; otherwise lease renewal finds them. */
  readonly runs: readonly RunView[];
  readonly followsStopped: number;
}

/**
 * Suspends the account first (so nothing new starts meanwhile), then stops its runs and follows.
 * The user is told through the outbox; the operator's reason is kept for operators only.
 */
export async function suspendClient(deps: AppDeps, input: { userId: string; reason: string | null; actor: Actor }): Promise<SuspendOutcome> {
  const now = deps.clock.now();
  const { changed, follows } = await inTransaction(deps.db, async (tx) => {
    const before = await tx.user.findUniqueOrThrow({ where: { id: input.userId }, select: { suspendedAt: true, suspendReason: true } });
    const changed = before.suspendedAt === null;
    if (changed || before.suspendReason !== input.reason) {
      await tx.user.update({ where: { id: input.userId }, data: { suspendedAt: before.suspendedAt ?? now, suspendReason: input.reason, updatedAt: now } });
      await recordAudit(tx, {
        actor: input.actor,
        action: 'user.suspended',
        entityType: 'user',
        entityId: input.userId,
        before,
        after: { suspendedAt: before.suspendedAt ?? now, suspendReason: input.reason },
        at: now,
      });
    }
    if (changed) await queueAlerts(tx, [accountAlert(input.userId, 'suspended', now)], now);
    const follows = await stopFollows(tx, { userId: input.userId }, { reason: 'suspended', close: false }, now);
    return { changed, follows: follows.stopped + follows.stopping };
  });
  const runs = await stopUserRuns(deps, input.userId, { reason: SUSPENDED_REASON, detail: 'Your account was suspended.', actor: input.actor });
  return { changed, runs, followsStopped: follows };
}

/** Lifts a suspension; false when the account was not suspended. Runs stopped by it stay stopped. */
export async function reinstateClient(deps: AppDeps, input: { userId: string; actor: Actor }): Promise<boolean> {
  const now = deps.clock.now();
  return inTransaction(deps.db, async (tx) => {
    const before = await tx.user.findUniqueOrThrow({ where: { id: input.userId }, select: { suspendedAt: true, suspendReason: true } });
    if (before.suspendedAt === null) return false;
    await tx.user.update({ where: { id: input.userId }, data: { suspendedAt: null, suspendReason: null, updatedAt: now } });
    await recordAudit(tx, { actor: input.actor, action: 'user.reinstated', entityType: 'user', entityId: input.userId, before, after: { suspendedAt: null }, at: now });
    await queueAlerts(tx, [accountAlert(input.userId, 'reinstated', now)], now);
    return true;
  });
}
