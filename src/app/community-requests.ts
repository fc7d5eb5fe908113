// "This user's community access may have changed": rows written in the same transaction as the
// change (a license activated, upgraded, moved or revoked; two accounts merged by /link), so a
// committed change is always followed by a sync and a rolled-back one never is. The community
// service (src/app/community.ts) claims and works them off; nothing here calls Discord or Telegram.
import type { Tx } from '../db/client.ts';

export type CommunitySyncReason =
  | 'license_activated'
  | 'license_upgraded'
  | 'license_downgraded'
  | 'license_transferred'
  | 'license_transferred_away'
  | 'license_revoked'
  | 'identity_linked';

export interface CommunitySync {
  readonly userId: string;
  readonly reason: CommunitySyncReason;
}

/** Queues syncs in the caller's transaction. Cheap and unconditional: without a community nobody reads them, and the daily cleanup (src/jobs/inbound-cleanup.ts) prunes them. */
export async function queueCommunitySync(tx: Pick<Tx, 'communitySyncRequest'>, syncs: readonly CommunitySync[], now: Date): Promise<void> {
  if (syncs.length === 0) return;
  await tx.communitySyncRequest.createMany({
    data: syncs.map((s) => ({ userId: s.userId, reason: s.reason, nextAttemptAt: now, createdAt: now })),
  });
}
