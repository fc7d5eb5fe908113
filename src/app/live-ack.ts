// The last step before a live run: after the user pressed "Continue" under the /live summary,
// they must type the risk phrase within 10 minutes. The pending acknowledgement is a row in
// chat_actions under a name no button can run.
import { randomBytes } from 'node:crypto';
import { read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { AppDeps } from './deps.ts';
import type { RunSpecInput } from './runs.ts';

export const RISK_PHRASE = 'I ACKNOWLEDGE RISK';
const ACK_COMMAND = 'live-ack';
const ACK_TTL_MS = 10 * 60_000;

export interface PendingLive {
  readonly spec: RunSpecInput;
  readonly credentialLabel: string | null;
}

export async function awaitRiskPhrase(deps: AppDeps, userId: string, pending: PendingLive): Promise<void> {
  const now = deps.clock.now();
  await read(() =>
    deps.db.chatAction.create({
      data: {
        id: `ack-${randomBytes(9).toString('base64url')}`,
        userId,
        command: ACK_COMMAND,
        args: pending as unknown as object,
        expiresAt: new Date(now.getTime() + ACK_TTL_MS),
      },
    }),
  );
}

/** Spaces and case are forgiven; the words are not. */
export const isRiskPhrase = (text: string): boolean => text.trim().replace(/\s+/g, ' ').toUpperCase() === RISK_PHRASE;

/** Claims the user's latest pending acknowledgement when the phrase is right (once). */
export async function acknowledgeRisk(deps: AppDeps, userId: string, phrase: string): Promise<Result<PendingLive>> {
  const now = deps.clock.now();
  const pending = await read(() =>
    deps.db.chatAction.findFirst({ where: { userId, command: ACK_COMMAND, usedAt: null, expiresAt: { gt: now } }, orderBy: { createdAt: 'desc' } }),
  );
  if (!pending) return err(appError('live_ack_missing'));
  if (!isRiskPhrase(phrase)) return err(appError('live_ack_wrong'));
  const claimed = await read(() => deps.db.chatAction.updateMany({ where: { id: pending.id, usedAt: null }, data: { usedAt: now } }));
  if (claimed.count === 0) return err(appError('live_ack_missing'));
  return ok(pending.args as unknown as PendingLive);
}
