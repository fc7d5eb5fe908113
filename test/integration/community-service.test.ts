// The community service's Discord side and its failure handling, against in-memory platform
// fakes and a real database: roles follow activation, upgrade-free revocation and /link merges;
// reconciliation undoes hand-made role changes (managed roles only); a failing platform call
// never stops the rest of a sync, and the request is retried with backoff until it succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommunityAccessService, type DiscordRolesPort, type TelegramGroupsPort } from '../../src/app/community.ts';
import type { Actor } from '../../src/app/deps.ts';
import { createLinkCode, redeemLinkCode } from '../../src/app/identity-links.ts';
import { activateLicense, issueLicense, revokeLicense } from '../../src/app/licenses.ts';
import { resolveIdentity, type ResolvedIdentity } from '../../src/app/users.ts';
import type { CommunityMap } from '../../src/domain/community.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { value } from '../support/results.ts';

const STARTER_ROLE = '100000000000000001';
const PRO_ROLE = '100000000000000003';
const MODERATOR = '100000000000000099'; // not managed by the bot
const LOUNGE = '-1001000000333';
const MAP: CommunityMap = {
  starter: { discordRoles: [STARTER_ROLE], telegramChats: [], inherit: true },
  pro: { discordRoles: [PRO_ROLE], telegramChats: [LOUNGE], inherit: true },
};

/** A guild in memory; `failing` makes calls for a role fail until cleared. */
class FakeGuild implements DiscordRolesPort {
  readonly members = new Map<string, Set<string>>();
  readonly calls: string[] = [];
  readonly failing = new Set<string>();

  async *listMembers(): AsyncIterable<{ userId: string; roles: readonly string[] }> {
    for (const [userId, roles] of this.members) yield { userId, roles: [...roles] };
  }
  async member(userId: string) {
    const roles = this.members.get(userId);
    return roles ? { roles: [...roles] } : null;
  }
  async addRole(userId: string, roleId: string, reason: string) {
    this.#check(roleId);
    this.calls.push(`+${roleId} ${userId} (${reason})`);
    this.members.get(userId)!.add(roleId);
  }
  async removeRole(userId: string, roleId: string, reason: string) {
    this.#check(roleId);
    this.calls.push(`-${roleId} ${userId} (${reason})`);
    this.members.get(userId)!.delete(roleId);
  }
  #check(roleId: string) {
    if (this.failing.has(roleId)) throw new Error(`Discord said 500 for role ${roleId}`);
  }
}

/** Telegram that cannot make invites while `down`. */
class FlakyTelegram implements TelegramGroupsPort {
  down = true;
  invites = 0;
  async createInvite(): Promise<string> {
    if (this.down) throw new Error('502: Bad Gateway');
    return `https://t.me/+Fake${++this.invites}Invite0000`;
  }
  async memberStatus() {
    return 'left' as const;
  }
  async approveJoinRequest() {}
  async declineJoinRequest() {}
  async remove() {}
}

const admin: Actor = { type: 'admin', id: 'admin-1' };
let database: MigratedDatabase;
let guild: FakeGuild;
let telegram: FlakyTelegram;
let service: CommunityAccessService;
let counter = 0;

beforeAll(async () => {
  database = await createMigratedDatabase();
  guild = new FakeGuild();
  telegram = new FlakyTelegram();
  service = new CommunityAccessService({
    deps: database.deps,
    map: MAP,
    telegramInviteTtlMs: 3_600_000,
    discord: guild,
    telegram,
    logger: createLogger({ level: 'silent' }),
  });
});
afterAll(async () => {
  await database?.drop();
});

const deps = () => database.deps;
const discordIdentity = () => resolveIdentity(deps(), { platform: 'discord', externalId: `2000000000000000${++counter}`, username: null });
async function licensed(identity: ResolvedIdentity, tier: string) {
  const { license, key } = value(await issueLicense(deps(), { tier, actor: admin }));
  value(await activateLicense(deps(), { key, identity }));
  return license.id;
}
const requestsOf = (userId: string) => database.db.communitySyncRequest.findMany({ where: { userId }, orderBy: { id: 'asc' } });
const auditFor = (externalId: string) =>
  database.db.auditEntry.findMany({ where: { entityType: 'community', entityId: `discord:${externalId}` }, orderBy: { id: 'asc' } });

describe('community service: Discord roles and failures', () => {
  it('activation adds the tier\'s managed roles (inherited ones too) and leaves other roles alone', async () => {
    const member = await discordIdentity();
    guild.members.set(member.externalId, new Set([MODERATOR]));
    await licensed(member, 'pro');
    guild.calls.length = 0;
    expect(await service.processPending()).toBe(1);
    expect([...guild.members.get(member.externalId)!].sort()).toEqual([MODERATOR, STARTER_ROLE, PRO_ROLE].sort());
    expect(guild.calls).toEqual([`+${STARTER_ROLE} ${member.externalId} (AIT: Pro member)`, `+${PRO_ROLE} ${member.externalId} (AIT: Pro member)`]);
    expect((await auditFor(member.externalId)).map((a) => [a.action, (a.after as { roleId: string }).roleId])).toEqual([
      ['community.role_added', STARTER_ROLE],
      ['community.role_added', PRO_ROLE],
    ]);
    expect((await requestsOf(member.userId)).every((r) => r.processedAt !== null)).toBe(true);

    // Revoked: the managed roles go, the moderator role stays, and the member is told why.
    database.clock.advance(1000);
    const licenses = await database.db.license.findMany({ where: { userId: member.userId } });
    value(await revokeLicense(deps(), { licenseId: licenses[0]!.id, reason: 'chargeback', actor: admin }));
    expect(await service.processPending()).toBe(1);
    expect([...guild.members.get(member.externalId)!]).toEqual([MODERATOR]);
    const notice = await database.db.alertOutbox.findFirstOrThrow({ where: { userId: member.userId, eventId: { startsWith: 'community:removed:' } } });
    expect(notice.text).toBe(
      '🚪 You were removed from 2 member roles on Discord because your license was revoked. To get back in, buy a license (/tiers) or activate one with /activate: you are let back in automatically.',
    );
  });

  it('a failed call does not stop the others; the request is retried with backoff until it goes through', async () => {
    // A member on both platforms: Telegram is down and one Discord role fails.
    const member = await discordIdentity();
    const tg = await resolveIdentity(deps(), { platform: 'telegram', externalId: `7000${++counter}`, username: null });
    const vault = await Vault.create({ key: await generateMasterKey() });
    const { code } = await createLinkCode(deps(), { userId: member.userId, platform: 'discord' });
    value(await redeemLinkCode({ ...deps(), vault }, { code, identity: tg }));
    guild.members.set(member.externalId, new Set());
    guild.failing.add(STARTER_ROLE);
    await licensed(member, 'pro');

    expect(await service.processPending()).toBe(2); // identity_linked + license_activated, one sync
    expect([...guild.members.get(member.externalId)!]).toEqual([PRO_ROLE]);
    let requests = await requestsOf(member.userId);
    expect(requests.map((r) => [r.reason, r.attempts, r.processedAt])).toEqual([
      ['identity_linked', 1, null],
      ['license_activated', 1, null],
    ]);
    expect(requests[0]!.nextAttemptAt.getTime()).toBe(database.clock.now().getTime() + 5_000);
    expect(requests[0]!.lastError).toMatch(/^Error: (Discord said 500|502: Bad Gateway)/);
    // Not due yet.
    expect(await service.processPending()).toBe(0);

    // Discord recovers, Telegram not yet: the next attempt adds the role and waits twice as long.
    guild.failing.clear();
    database.clock.advance(5_000);
    expect(await service.processPending()).toBe(2);
    expect([...guild.members.get(member.externalId)!].sort()).toEqual([PRO_ROLE, STARTER_ROLE].sort());
    requests = await requestsOf(member.userId);
    expect(requests.map((r) => [r.attempts, r.processedAt, r.lastError])).toEqual([
      [2, null, 'Error: 502: Bad Gateway'],
      [2, null, 'Error: 502: Bad Gateway'],
    ]);
    expect(requests[0]!.nextAttemptAt.getTime()).toBe(database.clock.now().getTime() + 10_000);

    telegram.down = false;
    database.clock.advance(10_000);
    expect(await service.processPending()).toBe(2);
    expect(telegram.invites).toBe(1);
    requests = await requestsOf(member.userId);
    expect(requests.every((r) => r.processedAt !== null && r.lastError === null)).toBe(true);
    // Roles were added once each, whatever the retries.
    expect((await auditFor(member.externalId)).filter((a) => a.action === 'community.role_added')).toHaveLength(2);
  });

  it('reconciliation undoes hand-made changes to managed roles, and gives roles to members who joined later', async () => {
    const late = await discordIdentity();
    await licensed(late, 'starter'); // not in the guild yet: nothing to do
    const keeps = await discordIdentity();
    guild.members.set(keeps.externalId, new Set());
    await licensed(keeps, 'starter');
    expect(await service.processPending()).toBe(2);
    expect(guild.members.get(keeps.externalId)).toEqual(new Set([STARTER_ROLE]));

    // By hand: a stranger is given the Pro role, and the starter member loses theirs; the late
    // member joins the guild; someone with only the moderator role is left alone.
    guild.members.set('3000000000000000001', new Set([PRO_ROLE, MODERATOR]));
    guild.members.get(keeps.externalId)!.delete(STARTER_ROLE);
    guild.members.set(late.externalId, new Set());
    guild.members.set('3000000000000000002', new Set([MODERATOR]));
    guild.calls.length = 0;
    telegram.down = false;

    expect(await service.reconcile()).toBe('discord +2 -1, telegram removed 0 invited 0');
    expect(guild.members.get('3000000000000000001')).toEqual(new Set([MODERATOR]));
    expect(guild.members.get(keeps.externalId)).toEqual(new Set([STARTER_ROLE]));
    expect(guild.members.get(late.externalId)).toEqual(new Set([STARTER_ROLE]));
    expect(guild.members.get('3000000000000000002')).toEqual(new Set([MODERATOR]));
    expect(guild.calls).toHaveLength(3);
    // Nothing left to do on the next run.
    expect(await service.reconcile()).toBe('discord +0 -0, telegram removed 0 invited 0');
    expect((await auditFor('3000000000000000001')).map((a) => a.action)).toEqual(['community.role_removed']);
  });
});
