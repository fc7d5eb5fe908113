import { inTransaction } from '../db/transaction.ts';
import { recordAudit } from './audit.ts';
import type { Actor, AppDeps } from './deps.ts';

/** Queues an announcement for every user; the alerts dispatcher delivers queued broadcasts. */
export async function queueBroadcast(deps: AppDeps, input: { text: string; actor: Actor }): Promise<{ id: string }> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const row = await tx.broadcast.create({ data: { text: input.text, createdBy: input.actor.id ?? input.actor.type, createdAt: now } });
    await recordAudit(tx, {
      actor: input.actor,
      action: 'broadcast.queued',
      entityType: 'broadcast',
      entityId: row.id,
      after: { text: input.text },
      at: now,
    });
    return { id: row.id };
  });
}
