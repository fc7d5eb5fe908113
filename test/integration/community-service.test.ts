// The community service's Discord side and its failure handling, through the real adapters
// (@discordjs/rest behind DiscordRest.rolesIn, telegraf behind TelegramGroups) against the Discord
// and Telegram Bot API simulators on 127.0.0.1, and a real database: roles follow activation,
// upgrade-free revocation and /link merges; reconciliation undoes hand-made role changes (managed
// roles only); a failing platform call never stops the rest of a sync, and the request is retried
// with backoff until it succeeds. State is read back from the simulators: members' roles, and the
// calls the bot made with their audit-log reasons.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { REST } from 'discord.js';
import { CommunityAccessService } from '../../src/app/community.ts';
import type { Actor } from '../../src/app/deps.ts';
import { createLinkCode, redeemLinkCode } from '../../src/app/identity-links.ts';
import { activateLicense, issueLicense, revokeLicense } from '../../src/app/licenses.ts';
import { resolveIdentity, type ResolvedIdentity } from '../../src/app/users.ts';
import { createRest, DiscordRest } from '../../src/chat/discord/discord-rest.ts';
import { TelegramGroups } from '../../src/chat/telegram/telegram-groups.ts';
import type { CommunityMap } from '../../src/domain/community.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { DiscordSim } from '../sim/discord-api.ts';
import { TelegramBotApiSim } from '../sim/telegram-bot-api.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { value } from '../support/results.ts';

const GUILD = '500000000000000001';
const STARTER_ROLE = '500000000000000101';
const PRO_ROLE = '500000000000000103';
const MODERATOR = '500000000000000199'; // not managed by the bot
const LOUNGE = -1001000000333;
const MAP: CommunityMap = {
  starter: { discordRoles: [STARTER_ROLE], telegramChats: [], inherit: true },
  pro: { discordRoles: [PRO_ROLE], telegramChats: [String(LOUNGE)], inherit: true },
};

const ADD_ROLE = 'PUT /guilds/:guild/members/:user/roles/:role';
const REMOVE_ROLE = 'DELETE /guilds/:guild/members/:user/roles/:role';
/** What Discord answers when the bot's own role sits below the role it is asked to give. */
const MISSING_PERMISSIONS = { status: 403, code: 50013, message: 'Missing Permissions' };

const admin: Actor = { type: 'admin', id: 'admin-1' };
let database: MigratedDatabase;
let discord: DiscordSim;
let telegram: TelegramBotApiSim;
let rest: REST;
let service: CommunityAccessService;
/** Waits the Telegram port asked for (it only waits on a 429's retry_after). */
const telegramSleeps: number[] = [];
let counter = 0;

beforeAll(async () => {
  database = await createMigratedDatabase();
  discord = await DiscordSim.start();
  discord.addGuild(GUILD, {
    name: 'AIT Community',
    roles: [
      { id: MODERATOR, name: 'Moderator' },
      { id: STARTER_ROLE, name: 'Starter' },
      { id: PRO_ROLE, name: 'Pro' },
    ],
  });
  // Invite expiry dates are checked against the sim's clock: the test's clock.
  telegram = await TelegramBotApiSim.start({ now: () => database.clock.now().getTime() });
  telegram.addChat({ id: LOUNGE, type: 'supergroup', title: 'Pro Lounge' });
  rest = createRest({ apiRoot: discord.apiRoot, token: discord.token });
  service = new CommunityAccessService({
    deps: database.deps,
    map: MAP,
    telegramInviteTtlMs: 3_600_000,
    discord: new DiscordRest(rest).rolesIn(GUILD),
    telegram: TelegramGroups.connect({
      token: telegram.token,
      apiRoot: telegram.apiRoot,
      sleep: async (ms) => void telegramSleeps.push(ms),
    }),
    logger: createLogger({ level: 'silent' }),
  });
});
afterAll(async () => {
  rest?.clearHashSweeper();
  rest?.clearHandlerSweeper();
  await discord?.close();
  await telegram?.close();
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

/** The member's roles in the simulated guild, sorted; undefined when not a member. */
const rolesOf = (userId: string) => discord.memberRoles(GUILD, userId)?.sort();
/** Role changes the bot asked Discord for since `since`: `+role user (audit-log reason) → status`. */
const roleCalls = (since: number) =>
  discord.calls
    .slice(since)
    .filter((c) => c.route === ADD_ROLE || c.route === REMOVE_ROLE)
    .map((c) => `${c.route === ADD_ROLE ? '+' : '-'}${c.params.role} ${c.params.user} (${c.reason}) → ${c.status}`);
const inviteCalls = (since = 0) => telegram.calls.slice(since).filter((c) => c.method === 'createChatInviteLink');

describe('community service: Discord roles and failures', () => {
  it('activation adds the tier\'s managed roles (inherited ones too) and leaves other roles alone', async () => {
    const member = await discordIdentity();
    discord.addMember(GUILD, member.externalId, { roles: [MODERATOR] });
    await licensed(member, 'pro');
    let since = discord.calls.length;
    expect(await service.processPending()).toBe(1);
    expect(rolesOf(member.externalId)).toEqual([MODERATOR, STARTER_ROLE, PRO_ROLE].sort());
    expect(roleCalls(since)).toEqual([
      `+${STARTER_ROLE} ${member.externalId} (AIT: Pro member) → 204`,
      `+${PRO_ROLE} ${member.externalId} (AIT: Pro member) → 204`,
    ]);
    expect((await auditFor(member.externalId)).map((a) => [a.action, (a.after as { roleId: string }).roleId])).toEqual([
      ['community.role_added', STARTER_ROLE],
      ['community.role_added', PRO_ROLE],
    ]);
    expect((await requestsOf(member.userId)).every((r) => r.processedAt !== null)).toBe(true);

    // Revoked: the managed roles go, the moderator role stays, and the member is told why.
    database.clock.advance(1000);
    const licenses = await database.db.license.findMany({ where: { userId: member.userId } });
    value(await revokeLicense(deps(), { licenseId: licenses[0]!.id, reason: 'chargeback', actor: admin }));
    since = discord.calls.length;
    expect(await service.processPending()).toBe(1);
    expect(rolesOf(member.externalId)).toEqual([MODERATOR]);
    expect(roleCalls(since).sort()).toEqual(
      [`-${STARTER_ROLE} ${member.externalId} (AIT: no active license) → 204`, `-${PRO_ROLE} ${member.externalId} (AIT: no active license) → 204`].sort(),
    );
    const notice = await database.db.alertOutbox.findFirstOrThrow({ where: { userId: member.userId, eventId: { startsWith: 'community:removed:' } } });
    expect(notice.text).toBe(
      '🚪 You were removed from 2 member roles on Discord because your license was revoked. To get back in, buy a license (/tiers) or activate one with /activate: you are let back in automatically.',
    );
  });

  it('a failed call does not stop the others; the request is retried with backoff until it goes through', async () => {
    // A member on both platforms (linked with /link): Telegram cannot make invites (502) and
    // Discord refuses one role (the bot's role sits below it).
    const member = await discordIdentity();
    const tgId = 7000 + ++counter;
    telegram.addChat({ id: tgId, first_name: 'Linked' }); // Telegram knows them: they talked to the bot
    const tg = await resolveIdentity(deps(), { platform: 'telegram', externalId: String(tgId), username: null });
    const vault = await Vault.create({ key: await generateMasterKey() });
    const { code } = await createLinkCode(deps(), { userId: member.userId, platform: 'discord' });
    value(await redeemLinkCode({ ...deps(), vault }, { code, identity: tg }));
    discord.addMember(GUILD, member.externalId);
    discord.failNext((c) => c.route === ADD_ROLE && c.params.role === STARTER_ROLE, MISSING_PERMISSIONS);
    telegram.failNext('createChatInviteLink', { status: 502 });
    await licensed(member, 'pro');

    let since = discord.calls.length;
    expect(await service.processPending()).toBe(2); // identity_linked + license_activated, one sync
    expect(roleCalls(since)).toEqual([
      `+${STARTER_ROLE} ${member.externalId} (AIT: Pro member) → 403`,
      `+${PRO_ROLE} ${member.externalId} (AIT: Pro member) → 204`,
    ]);
    expect(rolesOf(member.externalId)).toEqual([PRO_ROLE]);
    expect(inviteCalls().map((c) => [c.params.chat_id, c.params.name, c.status])).toEqual([[LOUNGE, `AIT pro ${tgId}`, 502]]);
    let requests = await requestsOf(member.userId);
    expect(requests.map((r) => [r.reason, r.attempts, r.processedAt])).toEqual([
      ['identity_linked', 1, null],
      ['license_activated', 1, null],
    ]);
    expect(requests[0]!.nextAttemptAt.getTime()).toBe(database.clock.now().getTime() + 5_000);
    expect(requests[0]!.lastError).toMatch(/^(DiscordAPIError\[50013\]: Missing Permissions|Error: 502: Bad Gateway)$/);
    // Not due yet: nothing is claimed and neither platform is asked anything.
    since = discord.calls.length;
    const tgSince = telegram.calls.length;
    expect(await service.processPending()).toBe(0);
    expect(discord.calls.length).toBe(since);
    expect(telegram.calls.length).toBe(tgSince);

    // Discord recovers, Telegram not yet: the next attempt adds the missing role only and waits
    // twice as long.
    telegram.failNext('createChatInviteLink', { status: 502 });
    database.clock.advance(5_000);
    expect(await service.processPending()).toBe(2);
    expect(roleCalls(since)).toEqual([`+${STARTER_ROLE} ${member.externalId} (AIT: Pro member) → 204`]);
    expect(rolesOf(member.externalId)).toEqual([PRO_ROLE, STARTER_ROLE].sort());
    requests = await requestsOf(member.userId);
    expect(requests.map((r) => [r.attempts, r.processedAt, r.lastError])).toEqual([
      [2, null, 'Error: 502: Bad Gateway'],
      [2, null, 'Error: 502: Bad Gateway'],
    ]);
    expect(requests[0]!.nextAttemptAt.getTime()).toBe(database.clock.now().getTime() + 10_000);

    // Telegram is back: the invite is made, and Discord is not asked to change anything.
    database.clock.advance(10_000);
    since = discord.calls.length;
    expect(await service.processPending()).toBe(2);
    expect(roleCalls(since)).toEqual([]);
    expect(inviteCalls().map((c) => c.status)).toEqual([502, 502, 200]);
    expect(telegram.inviteLinksOf(LOUNGE).map((l) => [l.name, l.member_limit])).toEqual([[`AIT pro ${tgId}`, 1]]);
    requests = await requestsOf(member.userId);
    expect(requests.every((r) => r.processedAt !== null && r.lastError === null)).toBe(true);
    // Roles were added once each, whatever the retries; the retrying was the service's backoff,
    // not the port's (it only waits on a 429).
    expect((await auditFor(member.externalId)).filter((a) => a.action === 'community.role_added')).toHaveLength(2);
    expect(telegramSleeps).toEqual([]);
  });

  it('reconciliation undoes hand-made changes to managed roles, and gives roles to members who joined later', async () => {
    const late = await discordIdentity();
    await licensed(late, 'starter'); // not in the guild yet: nothing to do
    const keeps = await discordIdentity();
    discord.addMember(GUILD, keeps.externalId);
    await licensed(keeps, 'starter');
    let since = discord.calls.length;
    expect(await service.processPending()).toBe(2);
    expect(rolesOf(keeps.externalId)).toEqual([STARTER_ROLE]);
    expect(rolesOf(late.externalId)).toBeUndefined();
    expect(roleCalls(since)).toEqual([`+${STARTER_ROLE} ${keeps.externalId} (AIT: Starter member) → 204`]);
    // The late member was looked up, and Discord said they are not in the guild.
    expect(discord.calls.slice(since).filter((c) => c.params.user === late.externalId).map((c) => [c.route, c.status])).toEqual([
      ['GET /guilds/:guild/members/:user', 404],
    ]);

    // By hand, with no event reaching the bot: a stranger is given the Pro role, and the
    // starter member loses theirs; the late member joins the guild; someone with only the
    // moderator role is left alone.
    discord.addMember(GUILD, '3000000000000000001', { roles: [PRO_ROLE, MODERATOR], silent: true });
    discord.setMemberRoles(GUILD, keeps.externalId, [], { silent: true });
    discord.addMember(GUILD, late.externalId, { silent: true });
    discord.addMember(GUILD, '3000000000000000002', { roles: [MODERATOR], silent: true });
    since = discord.calls.length;
    const tgSince = telegram.calls.length;

    expect(await service.reconcile()).toBe('discord +2 -1, telegram removed 0 invited 0');
    expect(rolesOf('3000000000000000001')).toEqual([MODERATOR]);
    expect(rolesOf(keeps.externalId)).toEqual([STARTER_ROLE]);
    expect(rolesOf(late.externalId)).toEqual([STARTER_ROLE]);
    expect(rolesOf('3000000000000000002')).toEqual([MODERATOR]);
    expect(roleCalls(since).sort()).toEqual(
      [
        `-${PRO_ROLE} 3000000000000000001 (AIT: no active license) → 204`,
        `+${STARTER_ROLE} ${keeps.externalId} (AIT: Starter member) → 204`,
        `+${STARTER_ROLE} ${late.externalId} (AIT: Starter member) → 204`,
      ].sort(),
    );
    // Telegram was checked (the linked Pro member still has an unused invite), not changed.
    expect(telegram.calls.slice(tgSince).map((c) => c.method)).toEqual(['getChatMember']);
    // Nothing left to do on the next run.
    since = discord.calls.length;
    expect(await service.reconcile()).toBe('discord +0 -0, telegram removed 0 invited 0');
    expect(roleCalls(since)).toEqual([]);
    expect((await auditFor('3000000000000000001')).map((a) => a.action)).toEqual(['community.role_removed']);
  });
});
