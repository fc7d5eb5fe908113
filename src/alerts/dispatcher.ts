// Delivers the alert outbox to users' chats: at least once, each chat at most once per alert
// (a delivery row is written right after each successful send, and a redelivered alert skips
// chats that already have it), in priority order (kill switch and guards before fills before
// summaries) and, within a priority, in order per user. Every replica runs a dispatcher, but
// only the holder of the `alert-dispatcher` lease sends: one sender keeps each user's order and
// the bot-wide rate limit (Telegram's 30 messages a second are per bot, not per replica). When
// the holder dies, another replica takes over once the lease lapses (`leaseMs`).
//
// Exactly-once is not possible against a chat API that has no idempotency key: a crash between
// the platform's "sent" and our delivery row repeats that one message. The window is a single
// insert, and sends are paced, so a crash almost always lands between sends.
import type { Db } from '../db/client.ts';
import { alertSettings } from '../app/alert-preferences.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import { ALERT_PRIORITY } from './outbox.ts';
import { holdLease, leaseHolder, releaseLease, takeOverLease } from '../db/lease.ts';
import { PollLoop } from '../kernel/poll-loop.ts';

export type ChannelPlatform = 'telegram' | 'discord' | 'console';

/** One chat platform as the dispatcher sees it. */
export interface AlertChannel {
  send(chatId: string, text: string): Promise<void>;
  /** What a failed send means: wait this long and retry, give up on this chat, or back off. */
  classify(error: unknown): { readonly retryAfterMs?: number; readonly permanent?: boolean };
  /** Platform limits: messages per second to one chat, and overall. */
  readonly perChatPerSecond: number;
  readonly overallPerSecond: number;
}

export interface DispatcherOptions {
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly replicaId: string;
  readonly channels: Partial<Record<ChannelPlatform, AlertChannel>>;
  readonly batchSize?: number;
  /** How long a claim lasts without progress (ms). */
  readonly leaseMs?: number;
  /** Idle wait between polls (ms). */
  readonly idleMs?: number;
  readonly maxAttempts?: number;
  /** True when the lease holder is known to be dead (e.g. a crashed process on this host). */
  readonly isHolderDead?: (holder: string) => boolean;
  /** Observers (metrics). */
  readonly onDelivered?: (platform: ChannelPlatform, alertType: string, latencySeconds: number) => void;
  readonly onFailed?: (platform: ChannelPlatform, reason: string) => void;
}

interface ClaimedAlert {
  id: bigint;
  user_id: string;
  alert_type: string;
  text: string;
  attempts: number;
  priority: number;
  created_at: Date;
}

interface Recipient {
  readonly muted: ReadonlySet<string>;
  readonly identities: readonly { id: string; platform: string; externalId: string }[];
}

const LEASE = 'alert-dispatcher';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class AlertDispatcher {
  #leading = false;
  readonly #loop: PollLoop;
  /** Next moment each chat (platform:chatId) and each platform may be sent to (ms). */
  readonly #nextChatAt = new Map<string, number>();
  readonly #nextPlatformAt = new Map<string, number>();
  delivered = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.#loop = new PollLoop({
      pass: async () => {
        await this.#fanOutBroadcasts();
        return this.runOnce();
      },
      idleMs: options.idleMs ?? 1_000,
      onError: (error) => options.logger.warn({ err: error }, 'alert dispatch pass failed'),
    });
  }

  start(): void {
    this.#loop.start();
  }

  /** Something was queued: look now instead of after the idle wait. */
  poke(): void {
    this.#loop.poke();
  }

  /** Finishes the message being sent, releases its claims and stops. */
  async stop(): Promise<void> {
    await this.#loop.stop();
    await this.options.db.alertOutbox.updateMany({ where: { lockedBy: this.options.replicaId, status: 'pending' }, data: { lockedBy: null, lockedUntil: null } });
    await releaseLease(this.options.db, LEASE, this.options.replicaId);
  }

  /** One pass: claim a batch, deliver it; returns how many alerts were settled (0 when another replica sends). */
  async runOnce(): Promise<number> {
    if (!(await this.#lead())) return 0;
    const batch = await this.#claim();
    let settled = 0;
    const blockedUsers = new Set<string>();
    // A user's switches and chats are read once per pass, not once per alert.
    const recipients = new Map<string, Promise<Recipient>>();
    for (const alert of batch) {
      if (this.#loop.stopping) break;
      // Keep each user's order: after one of theirs must wait, the rest of theirs waits too.
      if (blockedUsers.has(alert.user_id)) {
        await this.#release(alert.id);
        continue;
      }
      let recipient = recipients.get(alert.user_id);
      if (!recipient) {
        recipient = this.#recipient(alert.user_id);
        recipients.set(alert.user_id, recipient);
      }
      const outcome = await this.#deliver(alert, await recipient);
      if (outcome === 'retry') blockedUsers.add(alert.user_id);
      else settled++;
    }
    return settled;
  }

  /** Holds the sender lease; on taking it over, frees the claims the previous holder left. */
  async #lead(): Promise<boolean> {
    const { db, clock, replicaId } = this.options;
    const ttl = this.options.leaseMs ?? 30_000;
    let held = await holdLease(db, LEASE, replicaId, clock.now(), ttl);
    if (!held && this.options.isHolderDead) {
      const holder = await leaseHolder(db, LEASE);
      if (holder && this.options.isHolderDead(holder)) held = await takeOverLease(db, LEASE, holder, replicaId, clock.now(), ttl);
    }
    if (held && !this.#leading) {
      // Only the holder claims rows, so every other claim is a dead holder's leftover.
      await db.alertOutbox.updateMany({ where: { status: 'pending', lockedBy: { not: replicaId } }, data: { lockedBy: null, lockedUntil: null } });
    }
    this.#leading = held;
    return held;
  }

  async #claim(): Promise<ClaimedAlert[]> {
    const { db, clock, replicaId } = this.options;
    const now = clock.now();
    const until = new Date(now.getTime() + (this.options.leaseMs ?? 30_000));
    return db.$queryRaw<ClaimedAlert[]>`
      UPDATE alert_outbox SET locked_by = ${replicaId}, locked_until = ${until}
      WHERE id IN (
        SELECT id FROM alert_outbox
        WHERE status = 'pending' AND next_attempt_at <= ${now} AND (locked_until IS NULL OR locked_until < ${now})
        ORDER BY priority, id
        LIMIT ${this.options.batchSize ?? 20}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING id, user_id, alert_type, text, attempts, priority, created_at`.then((rows) =>
      // RETURNING does not keep the subquery's order.
      rows.sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  }

  async #recipient(userId: string): Promise<Recipient> {
    const { db, clock } = this.options;
    const [settings, identities] = await Promise.all([
      alertSettings({ db, clock, pool: { holdTtlMs: 0, hardOveragePct: 0 } }, userId),
      db.identity.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }),
    ]);
    return { muted: new Set(settings.filter((s) => !s.enabled).map((s) => s.id)), identities };
  }

  async #deliver(alert: ClaimedAlert, recipient: Recipient): Promise<'done' | 'retry'> {
    const { db, clock } = this.options;
    if (recipient.muted.has(alert.alert_type)) {
      await this.#finish(alert.id, 'muted');
      return 'done';
    }
    const { identities } = recipient;
    const done = await db.alertDelivery.findMany({ where: { alertId: alert.id }, select: { identityId: true } });
    const already = new Set(done.map((d) => d.identityId));
    let permanentFailures = 0;
    let reachable = 0;
    for (const identity of identities) {
      const channel = this.options.channels[identity.platform as ChannelPlatform];
      if (!channel) continue;
      reachable++;
      if (already.has(identity.id)) continue;
      await this.#pace(identity.platform, identity.externalId, channel);
      try {
        await channel.send(identity.externalId, alert.text);
      } catch (error) {
        const verdict = channel.classify(error);
        if (verdict.permanent) {
          // Blocked the bot, or no such chat: this chat never gets it; the others still do.
          permanentFailures++;
          this.options.onFailed?.(identity.platform as ChannelPlatform, 'permanent');
          this.options.logger.info({ alertId: String(alert.id), platform: identity.platform }, 'alert not deliverable to this chat');
          continue;
        }
        const attempts = alert.attempts + 1;
        const max = this.options.maxAttempts ?? 10;
        const waitMs = verdict.retryAfterMs ?? Math.min(600_000, 1_000 * 2 ** attempts);
        this.options.onFailed?.(identity.platform as ChannelPlatform, verdict.retryAfterMs ? 'rate_limited' : 'error');
        this.options.logger.warn({ alertId: String(alert.id), platform: identity.platform, attempts, waitMs }, 'alert delivery failed; will retry');
        if (verdict.retryAfterMs) this.#nextPlatformAt.set(identity.platform, clock.now().getTime() + verdict.retryAfterMs);
        await db.alertOutbox.update({
          where: { id: alert.id },
          data:
            attempts >= max
              ? { status: 'failed', attempts, lastError: String((error as Error)?.message ?? error).slice(0, 300), lockedBy: null, lockedUntil: null }
              : { attempts, nextAttemptAt: new Date(clock.now().getTime() + waitMs), lastError: String((error as Error)?.message ?? error).slice(0, 300), lockedBy: null, lockedUntil: null },
        });
        return attempts >= max ? 'done' : 'retry';
      }
      // Recorded at once: a crash after this line never sends this chat the alert again.
      await db.alertDelivery.create({ data: { alertId: alert.id, identityId: identity.id, deliveredAt: clock.now() } });
      this.delivered++;
      this.options.onDelivered?.(identity.platform as ChannelPlatform, alert.alert_type, (clock.now().getTime() - alert.created_at.getTime()) / 1000);
      // Sending takes time: keep the claim and the lease alive while the batch is worked through.
      await db.alertOutbox.update({ where: { id: alert.id }, data: { lockedUntil: new Date(clock.now().getTime() + (this.options.leaseMs ?? 30_000)) } });
      await holdLease(db, LEASE, this.options.replicaId, clock.now(), this.options.leaseMs ?? 30_000);
    }
    await this.#finish(alert.id, reachable > 0 && permanentFailures === reachable ? 'failed' : 'delivered');
    return 'done';
  }

  async #pace(platform: string, chatId: string, channel: AlertChannel): Promise<void> {
    const key = `${platform}:${chatId}`;
    for (;;) {
      const now = this.options.clock.now().getTime();
      const at = Math.max(this.#nextChatAt.get(key) ?? 0, this.#nextPlatformAt.get(platform) ?? 0);
      if (at <= now) break;
      await sleep(at - now);
    }
    const now = this.options.clock.now().getTime();
    this.#nextChatAt.set(key, now + 1000 / channel.perChatPerSecond);
    this.#nextPlatformAt.set(platform, Math.max(this.#nextPlatformAt.get(platform) ?? 0, now + 1000 / channel.overallPerSecond));
  }

  async #finish(id: bigint, status: 'delivered' | 'muted' | 'failed'): Promise<void> {
    await this.options.db.alertOutbox.update({
      where: { id },
      data: { status, deliveredAt: status === 'delivered' ? this.options.clock.now() : null, lockedBy: null, lockedUntil: null },
    });
  }

  async #release(id: bigint): Promise<void> {
    await this.options.db.alertOutbox.update({ where: { id }, data: { lockedBy: null, lockedUntil: null } });
  }

  /** Admin broadcasts become one outbox alert per user (once: the event id says so). */
  async #fanOutBroadcasts(): Promise<void> {
    const { db, clock } = this.options;
    const queued = await db.broadcast.findMany({ where: { status: 'queued' }, orderBy: { createdAt: 'asc' }, take: 5 });
    for (const broadcast of queued) {
      await db.$transaction(async (tx) => {
        const users = await tx.user.findMany({ select: { id: true } });
        await tx.alertOutbox.createMany({
          data: users.map((u) => ({
            eventId: `broadcast:${broadcast.id}:${u.id}`,
            userId: u.id,
            alertType: 'broadcast',
            priority: ALERT_PRIORITY.broadcast!,
            text: `📣 ${broadcast.text}`,
            payload: { broadcastId: broadcast.id },
            nextAttemptAt: clock.now(),
          })),
          skipDuplicates: true,
        });
        await tx.broadcast.update({ where: { id: broadcast.id }, data: { status: 'sent' } });
      });
    }
  }
}

