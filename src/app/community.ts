// Gated community access: paying members get Discord roles and Telegram groups by license tier
// (which tier grants what: src/domain/community.ts, from COMMUNITY_ACCESS).
//
// Three ways in, one set of rules (src/domain/community-sync.ts):
//  - Sync requests. License changes and /link merges queue a row in community_sync_requests in
//    their own transaction (src/app/community-requests.ts). Every replica runs a small loop that
//    claims pending rows (SKIP LOCKED, all of one user's rows together), syncs the user and marks
//    them processed; a sync that could not finish is retried with backoff and, after too many
//    attempts, left to reconciliation.
//  - Reconciliation (a scheduled job): repairs drift. Discord: walks the guild, so hand-made role
//    changes and missed events are undone. Telegram: the Bot API cannot list members, so it asks
//    about every known identity that is entitled to a gated chat or that we have a record for.
//  - Telegram updates: a join request is approved only for members whose license grants that
//    chat; someone who joined a gated chat without a grant (a forwarded link) is removed at once.
//
// Each platform change is audited (`community.*`) in a transaction written right after the call
// that made it, so a crash loses at most the record of one change, which reconciliation then sees
// as already in place. Members hear of invites and removals through the alert outbox (type
// `license`). Invite links are never logged or audited: they reach only their owner.
//
// A failed Discord or Telegram call never aborts the rest of a sync: it is logged, the other
// targets go ahead, and the request is retried later.
//
// Not handled: two replicas syncing the same user at the very same moment (a sync request on
// one and reconciliation on another) may each send an invite; both links are single use.
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import type { Tx } from '../db/client.ts';
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { managedAccess, NO_ACCESS, resolveTierAccess, type CommunityAccess, type CommunityMap } from '../domain/community.ts';
import { discordRoleChanges, telegramStep, type MembershipRecord, type MembershipStatus, type SyncMode } from '../domain/community-sync.ts';
import { scrubSecrets, type Logger } from '../kernel/logger.ts';
import { recordAudit } from './audit.ts';
import { declinedNotice, inviteNotice, removalCause, removalNotice } from './community-notices.ts';
import { systemActor, type AppDeps } from './deps.ts';
import { entitlementOf } from './licenses.ts';
import { PollLoop } from '../kernel/poll-loop.ts';

// ------------------------------------------------------------------------------------- ports

/** The Discord guild named by DISCORD_GUILD_ID, as the community service needs it. */
export interface DiscordRolesPort {
  /** The whole guild, paged by the adapter. */
  listMembers(): AsyncIterable<{ userId: string; roles: readonly string[] }>;
  /** null: not in the guild. */
  member(userId: string): Promise<{ roles: readonly string[] } | null>;
  addRole(userId: string, roleId: string, reason: string): Promise<void>;
  removeRole(userId: string, roleId: string, reason: string): Promise<void>;
}

/** The gated Telegram groups and channels, where the bot is an administrator. */
export interface TelegramGroupsPort {
  /** A single-use link (member_limit 1) that expires at `expiresAt`; returns the link. */
  createInvite(chatId: string, input: { name: string; expiresAt: Date }): Promise<string>;
  /** `unknown`: Telegram cannot say (it does not know the user). Other failures reject. */
  memberStatus(chatId: string, userId: string): Promise<'member' | 'admin' | 'left' | 'banned' | 'unknown'>;
  /** Rejects with JoinRequestAnswered when there is no pending request (already answered). */
  approveJoinRequest(chatId: string, userId: string): Promise<void>;
  /** Rejects with JoinRequestAnswered when there is no pending request (already answered). */
  declineJoinRequest(chatId: string, userId: string): Promise<void>;
  /** Ban, then unban only_if_banned: out of the chat, free to rejoin with a new invite. */
  remove(chatId: string, userId: string): Promise<void>;
}

/** A join request that was already approved or declined: a repeated update, nothing to do. */
export class JoinRequestAnswered extends Error {
  constructor() {
    super('the join request was already answered');
    this.name = 'JoinRequestAnswered';
  }
}

// ------------------------------------------------------------------------------------- views

export interface CommunityOverview {
  /** The tier whose access applies (the highest among active licenses), or null. */
  readonly tier: { readonly id: string; readonly name: string } | null;
  /** Role ids the tier grants on Discord (empty when Discord is not managed here). */
  readonly discordRoles: readonly string[];
  /** Chat ids the tier grants on Telegram (empty when Telegram is not managed here). */
  readonly telegramChats: readonly string[];
  readonly hasDiscordIdentity: boolean;
  readonly hasTelegramIdentity: boolean;
}

export interface FreshInvites {
  /** New single-use links, for a private reply. */
  readonly invites: readonly { readonly chatId: string; readonly link: string; readonly expiresAt: Date }[];
  /** Granted chats the user is already in. */
  readonly alreadyIn: readonly string[];
  /** Granted chats no link could be made for now (banned there by an admin, or Telegram failed). */
  readonly unavailable: readonly string[];
  /** Missing Discord roles added just now. */
  readonly rolesAdded: number;
}

export interface SyncSummary {
  readonly rolesAdded: number;
  readonly rolesRemoved: number;
  readonly invited: number;
  readonly telegramRemoved: number;
  /** Platform calls that failed; the work they were part of is retried or left to reconciliation. */
  readonly failures: number;
  readonly lastError: string | null;
}

export interface CommunityAccessOptions {
  readonly deps: AppDeps;
  readonly map: CommunityMap;
  readonly telegramInviteTtlMs: number;
  readonly discord?: DiscordRolesPort;
  readonly telegram?: TelegramGroupsPort;
  readonly logger: Logger;
  /** Idle wait of the request loop between polls (ms); default 1000. */
  readonly idleMs?: number;
  /** Sync requests claimed per pass; default 20. */
  readonly batchSize?: number;
  /** A request still failing after this many attempts is given up (reconciliation repairs it); default 8. */
  readonly maxAttempts?: number;
  /** How long a claim lasts (ms): a crashed claimer's requests come back after it; default 5 minutes. */
  readonly claimMs?: number;
}

// ------------------------------------------------------------------------------------- service

interface Who {
  readonly userId: string | null;
  readonly tierId: string | null;
  readonly tierName: string | null;
  readonly access: CommunityAccess;
}

const STRANGER: Who = { userId: null, tierId: null, tierName: null, access: NO_ACCESS };

interface AccessTable {
  readonly byTier: ReadonlyMap<string, CommunityAccess>;
  readonly names: ReadonlyMap<string, string>;
}

class Tally {
  rolesAdded = 0;
  rolesRemoved = 0;
  invited = 0;
  telegramRemoved = 0;
  failures = 0;
  lastError: string | null = null;

  failed(error: unknown): void {
    this.failures++;
    this.lastError = problem(error);
  }

  summary(): SyncSummary {
    return { ...this };
  }
}

/** What each user lost in one operation, told in one message per user at its end. */
class Removals {
  readonly #byUser = new Map<string, { who: Who; chats: number; roles: number }>();

  add(who: Who, kind: 'chat' | 'role'): void {
    if (!who.userId) return; // a stranger has no chat with us to be told in
    const entry = this.#byUser.get(who.userId) ?? { who, chats: 0, roles: 0 };
    if (kind === 'chat') entry.chats++;
    else entry.roles++;
    this.#byUser.set(who.userId, entry);
  }

  alerts(operation: string, reason: string, now: Date): QueuedAlert[] {
    return [...this.#byUser].map(([userId, { who, chats, roles }]) => ({
      eventId: `community:removed:${userId}:${operation}:${now.getTime()}`,
      userId,
      alertType: 'license',
      text: removalNotice({ telegramGroups: chats, discordRoles: roles, cause: removalCause(reason, who.tierName), currentTierName: who.tierName }),
      payload: { type: 'community_removed', telegramGroups: chats, discordRoles: roles, reason },
    }));
  }
}

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 10 * 60_000;
const PROCESSED_RETENTION_MS = 7 * 86_400_000;
/** Telegram limits invite link names to 32 characters. */
const INVITE_NAME_MAX = 32;

export class CommunityAccessService {
  readonly #deps: AppDeps;
  readonly #map: CommunityMap;
  readonly #managed: CommunityAccess;
  readonly #ttlMs: number;
  readonly #discord: DiscordRolesPort | undefined;
  readonly #telegram: TelegramGroupsPort | undefined;
  readonly #log: Logger;
  readonly #options: CommunityAccessOptions;
  readonly #loop: PollLoop;

  constructor(options: CommunityAccessOptions) {
    this.#options = options;
    this.#deps = options.deps;
    this.#map = options.map;
    this.#managed = managedAccess(options.map);
    this.#ttlMs = options.telegramInviteTtlMs;
    this.#discord = options.discord;
    this.#telegram = options.telegram;
    this.#log = options.logger.child({ component: 'community' });
    this.#loop = new PollLoop({
      pass: () => this.processPending(),
      idleMs: options.idleMs ?? 1_000,
      onError: (error) => this.#log.warn({ error: problem(error) }, 'community sync pass failed'),
    });
  }

  // ----------------------------------------------------------------------------- request loop

  start(): void {
    this.#loop.start();
  }

  /** Something was queued: look now instead of after the idle wait. */
  poke(): void {
    this.#loop.poke();
  }

  /** Finishes the user being synced and stops; its unfinished claims lapse after claimMs. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /**
   * Claims due sync requests (every pending row of each claimed user, so one replica syncs a
   * user at a time), syncs each user once and settles the rows: processed, or retried later.
   * Returns how many requests were worked on.
   */
  async processPending(): Promise<number> {
    const { db, clock } = this.#deps;
    const now = clock.now();
    const until = new Date(now.getTime() + (this.#options.claimMs ?? 5 * 60_000));
    const claimed = await db.$queryRaw<{ id: bigint; user_id: string; reason: string; attempts: number }[]>`
      UPDATE community_sync_requests SET locked_until = ${until}, attempts = attempts + 1
      WHERE processed_at IS NULL AND (locked_until IS NULL OR locked_until < ${now}) AND user_id IN (
        SELECT user_id FROM community_sync_requests
        WHERE processed_at IS NULL AND next_attempt_at <= ${now} AND (locked_until IS NULL OR locked_until < ${now})
        ORDER BY id
        LIMIT ${this.#options.batchSize ?? 20}
        FOR UPDATE SKIP LOCKED)
      RETURNING id, user_id, reason, attempts`;
    const byUser = new Map<string, typeof claimed>();
    for (const row of claimed) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row]);

    for (const [userId, rows] of byUser) {
      // The latest request says best why access changed (it names the removal's cause).
      const latest = rows.reduce((a, b) => (b.id > a.id ? b : a));
      let summary: SyncSummary;
      try {
        summary = await this.syncUser(userId, latest.reason);
      } catch (error) {
        summary = { rolesAdded: 0, rolesRemoved: 0, invited: 0, telegramRemoved: 0, failures: 1, lastError: problem(error) };
        this.#log.warn({ userId, error: summary.lastError }, 'community sync failed');
      }
      await this.#settle(rows.map((r) => r.id), Math.max(...rows.map((r) => r.attempts)), summary);
    }
    return claimed.length;
  }

  async #settle(ids: bigint[], attempts: number, summary: SyncSummary): Promise<void> {
    const { db, clock } = this.#deps;
    const now = clock.now();
    const where = { id: { in: ids } };
    if (summary.failures === 0) {
      await db.communitySyncRequest.updateMany({ where, data: { processedAt: now, lockedUntil: null, lastError: null } });
      return;
    }
    const lastError = (summary.lastError ?? 'failed').slice(0, 300);
    if (attempts >= (this.#options.maxAttempts ?? 8)) {
      this.#log.warn({ requests: ids.length, attempts, error: lastError }, 'community sync given up; reconciliation will repair it');
      await db.communitySyncRequest.updateMany({ where, data: { processedAt: now, lockedUntil: null, lastError: `gave up: ${lastError}` } });
      return;
    }
    const waitMs = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1));
    await db.communitySyncRequest.updateMany({ where, data: { nextAttemptAt: new Date(now.getTime() + waitMs), lockedUntil: null, lastError } });
  }

  // ----------------------------------------------------------------------------- one user

  /** Brings one user's roles and groups in line with their licenses now. */
  async syncUser(userId: string, reason: string): Promise<SyncSummary> {
    const tally = new Tally();
    const removals = new Removals();
    const who = await this.#accessOf(userId);
    const identities = await read(() =>
      this.#deps.db.identity.findMany({ where: { userId, platform: { in: ['discord', 'telegram'] } }, select: { platform: true, externalId: true } }),
    );
    const discordId = identities.find((i) => i.platform === 'discord')?.externalId;
    const telegramId = identities.find((i) => i.platform === 'telegram')?.externalId;

    if (this.#discord && discordId && this.#managed.discordRoles.size > 0) {
      let member: { roles: readonly string[] } | null = null;
      try {
        member = await this.#discord.member(discordId);
      } catch (error) {
        this.#platformFailed(tally, error, { platform: 'discord', userId }, 'could not read a Discord member');
      }
      // Not in the guild: nothing to give yet; reconciliation adds the roles once they join.
      if (member) await this.#applyRoles(who, discordId, member.roles, reason, tally, removals);
    }
    if (this.#telegram && telegramId) {
      for (const chatId of this.#managed.telegramChats) {
        await this.#syncTelegramChat(who, telegramId, chatId, { mode: 'event', reason }, tally, removals);
      }
    }
    await queueAlerts(this.#deps.db, removals.alerts('sync', reason, this.#deps.clock.now()), this.#deps.clock.now());
    const summary = tally.summary();
    if (summary.rolesAdded + summary.rolesRemoved + summary.invited + summary.telegramRemoved + summary.failures > 0) {
      this.#log.info({ userId, reason, ...summary, lastError: undefined }, 'community access synced');
    }
    return summary;
  }

  // ----------------------------------------------------------------------------- reconciliation

  /** Repairs drift on every managed platform; returns a one-line outcome for the scheduler. */
  async reconcile(): Promise<string> {
    const table = await this.#table();
    const tally = new Tally();
    const parts: string[] = [];
    if (this.#discord && this.#managed.discordRoles.size > 0) {
      await this.#reconcileDiscord(table, tally);
      parts.push(`discord +${tally.rolesAdded} -${tally.rolesRemoved}`);
    }
    if (this.#telegram && this.#managed.telegramChats.size > 0) {
      await this.#reconcileTelegram(table, tally);
      parts.push(`telegram removed ${tally.telegramRemoved} invited ${tally.invited}`);
    }
    if (tally.failures > 0) parts.push(`${tally.failures} failed`);
    const cutoff = new Date(this.#deps.clock.now().getTime() - PROCESSED_RETENTION_MS);
    await this.#deps.db.communitySyncRequest.deleteMany({ where: { processedAt: { lt: cutoff } } });
    return parts.join(', ') || 'nothing managed';
  }

  async #reconcileDiscord(table: AccessTable, tally: Tally): Promise<void> {
    const entitled = await this.#entitledIdentities('discord', table);
    const removals = new Removals();
    try {
      for await (const member of this.#discord!.listMembers()) {
        const known = entitled.get(member.userId);
        const wanted = known?.access ?? NO_ACCESS;
        const changes = discordRoleChanges({ managed: this.#managed.discordRoles, wanted: wanted.discordRoles, has: member.roles });
        if (changes.add.length === 0 && changes.remove.length === 0) continue;
        // Someone we know without a license is told; a stranger only loses the roles.
        const who = known ?? (await this.#userBehind('discord', member.userId));
        await this.#applyRoles(who, member.userId, member.roles, 'reconcile', tally, removals);
      }
    } catch (error) {
      this.#platformFailed(tally, error, { platform: 'discord' }, 'could not list the Discord guild');
    }
    const now = this.#deps.clock.now();
    await queueAlerts(this.#deps.db, removals.alerts('reconcile', 'reconcile', now), now);
  }

  async #reconcileTelegram(table: AccessTable, tally: Tally): Promise<void> {
    const { db } = this.#deps;
    const chats = [...this.#managed.telegramChats];
    const entitled = await this.#entitledIdentities('telegram', table);
    const rows = await read(() => db.communityMembership.findMany({ where: { platform: 'telegram', targetId: { in: chats } } }));
    const records = new Map(rows.map((r) => [`${r.externalId}|${r.targetId}`, toRecord(r)]));

    // Who to ask about, and where: everyone entitled to a gated chat, and everyone we have a
    // record for there (the Bot API cannot list a group's members).
    const candidates = new Map<string, Set<string>>();
    const consider = (externalId: string, chatId: string) => candidates.set(externalId, (candidates.get(externalId) ?? new Set()).add(chatId));
    for (const [externalId, who] of entitled) for (const chatId of who.access.telegramChats) consider(externalId, chatId);
    for (const row of rows) consider(row.externalId, row.targetId);

    const unentitled = [...candidates.keys()].filter((id) => !entitled.has(id));
    const known = unentitled.length
      ? await read(() => db.identity.findMany({ where: { platform: 'telegram', externalId: { in: unentitled } }, select: { externalId: true, userId: true } }))
      : [];
    const usersOf = new Map(known.map((i) => [i.externalId, i.userId]));

    const removals = new Removals();
    for (const [externalId, chatIds] of candidates) {
      const who = entitled.get(externalId) ?? { ...STRANGER, userId: usersOf.get(externalId) ?? null };
      for (const chatId of chatIds) {
        const record = records.get(`${externalId}|${chatId}`) ?? null;
        await this.#syncTelegramChat(who, externalId, chatId, { mode: 'reconcile', reason: 'reconcile', record }, tally, removals);
      }
    }
    const now = this.#deps.clock.now();
    await queueAlerts(db, removals.alerts('reconcile', 'reconcile', now), now);
  }

  // ----------------------------------------------------------------------------- Telegram updates

  /** A chat_join_request: approved when the requester's license grants the chat, else declined. */
  async onJoinRequest(chatId: string, telegramUserId: string): Promise<void> {
    if (!this.#telegram || !this.#managed.telegramChats.has(chatId)) return; // not a gated chat: not ours to answer
    const who = await this.#userBehind('telegram', telegramUserId);
    const approve = who.access.telegramChats.has(chatId);
    try {
      if (approve) await this.#telegram.approveJoinRequest(chatId, telegramUserId);
      else await this.#telegram.declineJoinRequest(chatId, telegramUserId);
    } catch (error) {
      if (error instanceof JoinRequestAnswered) {
        this.#log.debug({ chatId, telegramUserId }, 'join request already answered (repeated update)');
        return;
      }
      throw error;
    }
    const now = this.#deps.clock.now();
    await inTransaction(this.#deps.db, async (tx) => {
      await this.#remember(tx, 'telegram', telegramUserId, chatId, approve ? 'member' : 'declined', now);
      await this.#audit(tx, approve ? 'community.join_approved' : 'community.join_declined', 'telegram', telegramUserId, { chatId, userId: who.userId, tier: who.tierId }, now);
      if (!approve && who.userId) {
        await queueAlerts(
          tx,
          [{
            eventId: `community:declined:${telegramUserId}:${chatId}:${now.getTime()}`,
            userId: who.userId,
            alertType: 'license',
            text: declinedNotice(who.tierName),
            payload: { type: 'community_declined', chatId },
          }],
          now,
        );
      }
    });
    this.#log.info({ chatId, telegramUserId, userId: who.userId, approved: approve }, 'join request answered');
  }

  /** A chat_member update saying someone joined a gated chat: out again unless their license grants it. */
  async onMemberJoined(chatId: string, telegramUserId: string): Promise<void> {
    if (!this.#telegram || !this.#managed.telegramChats.has(chatId)) return;
    const who = await this.#userBehind('telegram', telegramUserId);
    const tally = new Tally();
    const removals = new Removals();
    // Asked again rather than trusting the update: it may be a stale repeat, or the person may have been made an admin since.
    await this.#syncTelegramChat(who, telegramUserId, chatId, { mode: 'reconcile', reason: 'joined_without_grant', mayInvite: false }, tally, removals);
    const now = this.#deps.clock.now();
    await queueAlerts(this.#deps.db, removals.alerts('joined', 'joined_without_grant', now), now);
    if (tally.failures > 0) throw new Error(`could not check a member who joined a gated chat: ${tally.lastError}`);
  }

  // ----------------------------------------------------------------------------- /community

  async describe(userId: string): Promise<CommunityOverview> {
    const who = await this.#accessOf(userId);
    const identities = await read(() => this.#deps.db.identity.findMany({ where: { userId }, select: { platform: true } }));
    return {
      tier: who.tierId ? { id: who.tierId, name: who.tierName ?? who.tierId } : null,
      discordRoles: this.#discord ? [...who.access.discordRoles] : [],
      telegramChats: this.#telegram ? [...who.access.telegramChats] : [],
      hasDiscordIdentity: identities.some((i) => i.platform === 'discord'),
      hasTelegramIdentity: identities.some((i) => i.platform === 'telegram'),
    };
  }

  /**
   * Fresh single-use links to every granted Telegram chat the user is not in (for a private
   * reply, not the outbox), and any missing Discord roles added.
   */
  async freshInvites(userId: string): Promise<FreshInvites> {
    const who = await this.#accessOf(userId);
    const identities = await read(() =>
      this.#deps.db.identity.findMany({ where: { userId, platform: { in: ['discord', 'telegram'] } }, select: { platform: true, externalId: true } }),
    );
    const tally = new Tally();
    const invites: { chatId: string; link: string; expiresAt: Date }[] = [];
    const alreadyIn: string[] = [];
    const unavailable: string[] = [];

    const telegramId = identities.find((i) => i.platform === 'telegram')?.externalId;
    if (this.#telegram && telegramId) {
      for (const chatId of who.access.telegramChats) {
        try {
          const status = await this.#telegram.memberStatus(chatId, telegramId);
          if (status === 'member' || status === 'admin') {
            alreadyIn.push(chatId);
            continue;
          }
          if (status === 'banned') {
            unavailable.push(chatId);
            continue;
          }
          invites.push({ chatId, ...(await this.#invite(who, telegramId, chatId, { delivery: 'reply', reason: 'community_command' })) });
        } catch (error) {
          this.#platformFailed(tally, error, { platform: 'telegram', chatId }, 'could not make a fresh invite');
          unavailable.push(chatId);
        }
      }
    }
    const discordId = identities.find((i) => i.platform === 'discord')?.externalId;
    if (this.#discord && discordId && who.access.discordRoles.size > 0) {
      try {
        const member = await this.#discord.member(discordId);
        if (member) {
          // Only additions here: taking roles away is the sync's and reconciliation's business.
          const { add } = discordRoleChanges({ managed: this.#managed.discordRoles, wanted: who.access.discordRoles, has: member.roles });
          for (const roleId of add) await this.#addRole(who, discordId, roleId, 'community_command', tally);
        }
      } catch (error) {
        this.#platformFailed(tally, error, { platform: 'discord' }, 'could not read a Discord member');
      }
    }
    return { invites, alreadyIn, unavailable, rolesAdded: tally.rolesAdded };
  }

  // ----------------------------------------------------------------------------- changes

  async #applyRoles(who: Who, discordId: string, has: readonly string[], reason: string, tally: Tally, removals: Removals): Promise<void> {
    const { add, remove } = discordRoleChanges({ managed: this.#managed.discordRoles, wanted: who.access.discordRoles, has });
    for (const roleId of add) await this.#addRole(who, discordId, roleId, reason, tally);
    for (const roleId of remove) {
      try {
        await this.#discord!.removeRole(discordId, roleId, who.tierName ? `AIT: not in the ${who.tierName} tier` : 'AIT: no active license');
        const now = this.#deps.clock.now();
        await inTransaction(this.#deps.db, async (tx) => {
          await this.#remember(tx, 'discord', discordId, roleId, 'removed', now);
          await this.#audit(tx, 'community.role_removed', 'discord', discordId, { roleId, userId: who.userId, tier: who.tierId, reason }, now);
        });
        tally.rolesRemoved++;
        removals.add(who, 'role');
      } catch (error) {
        this.#platformFailed(tally, error, { platform: 'discord', roleId }, 'could not remove a Discord role');
      }
    }
  }

  async #addRole(who: Who, discordId: string, roleId: string, reason: string, tally: Tally): Promise<void> {
    try {
      await this.#discord!.addRole(discordId, roleId, `AIT: ${who.tierName ?? 'licensed'} member`);
      const now = this.#deps.clock.now();
      await inTransaction(this.#deps.db, async (tx) => {
        await this.#remember(tx, 'discord', discordId, roleId, 'granted', now);
        await this.#audit(tx, 'community.role_added', 'discord', discordId, { roleId, userId: who.userId, tier: who.tierId, reason }, now);
      });
      tally.rolesAdded++;
    } catch (error) {
      this.#platformFailed(tally, error, { platform: 'discord', roleId }, 'could not add a Discord role');
    }
  }

  /**
   * One identity and one gated chat. `record` undefined: read it here. `mayInvite` false: never
   * invite (an arrival that is only being checked).
   */
  async #syncTelegramChat(
    who: Who,
    telegramId: string,
    chatId: string,
    how: { mode: SyncMode; reason: string; record?: MembershipRecord | null; mayInvite?: boolean },
    tally: Tally,
    removals: Removals,
  ): Promise<void> {
    const entitled = who.access.telegramChats.has(chatId);
    try {
      const status = await this.#telegram!.memberStatus(chatId, telegramId);
      const record = how.record !== undefined ? how.record : await this.#membership('telegram', telegramId, chatId);
      const now = this.#deps.clock.now();
      const step = telegramStep({ entitled, status, record, now, mode: how.mode });
      switch (step.kind) {
        case 'none':
          return;
        case 'record':
          await this.#remember(this.#deps.db, 'telegram', telegramId, chatId, step.status, now);
          return;
        case 'invite':
          if (how.mayInvite === false) return;
          await this.#invite(who, telegramId, chatId, { delivery: 'outbox', reason: how.reason });
          tally.invited++;
          return;
        case 'remove':
          await this.#telegram!.remove(chatId, telegramId);
          await inTransaction(this.#deps.db, async (tx) => {
            const at = this.#deps.clock.now();
            await this.#remember(tx, 'telegram', telegramId, chatId, 'removed', at);
            await this.#audit(tx, 'community.telegram_removed', 'telegram', telegramId, { chatId, userId: who.userId, tier: who.tierId, reason: how.reason }, at);
          });
          tally.telegramRemoved++;
          removals.add(who, 'chat');
          this.#log.info({ chatId, telegramUserId: telegramId, userId: who.userId, reason: how.reason }, 'removed from a gated Telegram chat');
          return;
      }
    } catch (error) {
      this.#platformFailed(tally, error, { platform: 'telegram', chatId, telegramUserId: telegramId }, 'gated Telegram chat not synced');
    }
  }

  /** Creates a single-use link and records it; `outbox` also queues it to the member. */
  async #invite(
    who: Who,
    telegramId: string,
    chatId: string,
    how: { delivery: 'outbox' | 'reply'; reason: string },
  ): Promise<{ link: string; expiresAt: Date }> {
    const { db, clock } = this.#deps;
    const now = clock.now();
    // Whole seconds: Telegram's expire_date is a unix time, and the text should not promise more.
    const expiresAt = new Date(Math.floor((now.getTime() + this.#ttlMs) / 1000) * 1000);
    // The name shows in the group's invite list, so admins can tell whose link it is.
    const name = `AIT ${who.tierId ?? 'member'} ${telegramId}`.slice(0, INVITE_NAME_MAX);
    const link = await this.#telegram!.createInvite(chatId, { name, expiresAt });
    await inTransaction(db, async (tx) => {
      await this.#remember(tx, 'telegram', telegramId, chatId, 'invited', now, expiresAt);
      await this.#audit(tx, 'community.telegram_invited', 'telegram', telegramId, { chatId, userId: who.userId, tier: who.tierId, expiresAt, delivery: how.delivery, reason: how.reason }, now);
      if (how.delivery === 'outbox' && who.userId) {
        await queueAlerts(
          tx,
          [{
            eventId: `community:invite:${telegramId}:${chatId}:${now.getTime()}`,
            userId: who.userId,
            alertType: 'license',
            text: inviteNotice({ tierName: who.tierName ?? 'current', link, expiresAt }),
            payload: { type: 'community_invite', chatId, expiresAt: expiresAt.toISOString() },
          }],
          now,
        );
      }
    });
    this.#log.info({ chatId, telegramUserId: telegramId, userId: who.userId, delivery: how.delivery }, 'Telegram invite sent');
    return { link, expiresAt };
  }

  #platformFailed(tally: Tally, error: unknown, context: Record<string, unknown>, message: string): void {
    tally.failed(error);
    this.#log.warn({ ...context, error: problem(error) }, message);
  }

  // ----------------------------------------------------------------------------- records

  async #membership(platform: IdentityPlatform, externalId: string, targetId: string): Promise<MembershipRecord | null> {
    const row = await read(() =>
      this.#deps.db.communityMembership.findUnique({ where: { platform_externalId_targetId: { platform, externalId, targetId } } }),
    );
    return row ? toRecord(row) : null;
  }

  async #remember(
    db: Pick<Tx, 'communityMembership'>,
    platform: IdentityPlatform,
    externalId: string,
    targetId: string,
    status: MembershipStatus,
    now: Date,
    inviteExpiresAt?: Date,
  ): Promise<void> {
    const invite = inviteExpiresAt ? { invitedAt: now, inviteExpiresAt } : {};
    await db.communityMembership.upsert({
      where: { platform_externalId_targetId: { platform, externalId, targetId } },
      create: { platform, externalId, targetId, status, ...invite, createdAt: now, updatedAt: now },
      update: { status, ...invite, updatedAt: now },
    });
  }

  async #audit(tx: Tx, action: string, platform: IdentityPlatform, externalId: string, after: Record<string, unknown>, now: Date): Promise<void> {
    await recordAudit(tx, { actor: systemActor('community'), action, entityType: 'community', entityId: `${platform}:${externalId}`, after: { platform, ...after }, at: now });
  }

  // ----------------------------------------------------------------------------- access lookups

  async #table(): Promise<AccessTable> {
    const tiers = await read(() => this.#deps.db.tier.findMany({ select: { id: true, name: true, rank: true } }));
    return { byTier: resolveTierAccess(this.#map, tiers), names: new Map(tiers.map((t) => [t.id, t.name])) };
  }

  async #accessOf(userId: string): Promise<Who> {
    const [entitlement, table] = await Promise.all([entitlementOf(this.#deps, userId), this.#table()]);
    if (!entitlement) return { ...STRANGER, userId };
    return { userId, tierId: entitlement.tierId, tierName: table.names.get(entitlement.tierId) ?? entitlement.tierId, access: table.byTier.get(entitlement.tierId) ?? NO_ACCESS };
  }

  async #userBehind(platform: IdentityPlatform, externalId: string): Promise<Who> {
    const identity = await read(() =>
      this.#deps.db.identity.findUnique({ where: { platform_externalId: { platform, externalId } }, select: { userId: true } }),
    );
    return identity ? this.#accessOf(identity.userId) : STRANGER;
  }

  /** Identities on a platform whose account holds an active license, with that license's access. */
  async #entitledIdentities(platform: IdentityPlatform, table: AccessTable): Promise<Map<string, Who>> {
    const rows = await read(() =>
      this.#deps.db.$queryRaw<{ external_id: string; user_id: string; tier_id: string }[]>`
        SELECT i.external_id, i.user_id, best.tier_id
        FROM identities i
        JOIN LATERAL (
          SELECT l.tier_id FROM licenses l JOIN tiers t ON t.id = l.tier_id
          WHERE l.user_id = i.user_id AND l.status = 'active'
          ORDER BY t.rank DESC LIMIT 1
        ) best ON true
        WHERE i.platform = ${platform}::"IdentityPlatform"`,
    );
    return new Map(
      rows.map((r) => [
        r.external_id,
        { userId: r.user_id, tierId: r.tier_id, tierName: table.names.get(r.tier_id) ?? r.tier_id, access: table.byTier.get(r.tier_id) ?? NO_ACCESS },
      ]),
    );
  }
}

function toRecord(row: { status: string; inviteExpiresAt: Date | null }): MembershipRecord {
  return { status: row.status as MembershipStatus, inviteExpiresAt: row.inviteExpiresAt };
}

/** A failure as one short line for logs and last_error: no stack, no secrets (invite links included). */
function problem(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return scrubSecrets(text, []).slice(0, 300);
}
