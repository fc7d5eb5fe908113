// Gated Telegram groups end to end: the real telegraf client (the chat adapter and the groups
// port) against the Bot API simulator on 127.0.0.1, the command pipeline, the alert dispatcher and
// a real migrated database. Follows a few members through activation (a single-use invite sent
// through the outbox), join requests, a forwarded link, revocation, a transfer and reconciliation
// of drift injected behind the bot's back; then checks the audit trail, and that no invite link
// ever reached a log line or an audit entry. The steps build on each other, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { CommunityAccessService } from '../../src/app/community.ts';
import type { Actor } from '../../src/app/deps.ts';
import { issueLicense, revokeLicense, transferLicense, activateLicense } from '../../src/app/licenses.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { telegramAlertChannel } from '../../src/chat/telegram/alert-channel.ts';
import { TelegramChat } from '../../src/chat/telegram/telegram-chat.ts';
import { TelegramGroups } from '../../src/chat/telegram/telegram-groups.ts';
import type { CommunityMap } from '../../src/domain/community.ts';
import { communityReconcileJob } from '../../src/jobs/community-reconcile.ts';
import { JobScheduler } from '../../src/jobs/scheduler.ts';
import type { Clock } from '../../src/kernel/clock.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { TelegramBotApiSim, type RecordedCall } from '../sim/telegram-bot-api.ts';
import { createChatHarness } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { dumpJson, value } from '../support/results.ts';

const starterRoom = { id: -1001000000111, type: 'supergroup' as const, title: 'Starter Room' };
const proLounge = { id: -1001000000333, type: 'supergroup' as const, title: 'Pro Lounge' };
const MAP: CommunityMap = {
  starter: { discordRoles: [], telegramChats: [String(starterRoom.id)], inherit: true },
  pro: { discordRoles: [], telegramChats: [String(proLounge.id)], inherit: true },
};
const TTL_MS = 60 * 60_000;

const alice = { id: 5001, username: 'alice', first_name: 'Alice' };
const bob = { id: 5002, username: 'bob', first_name: 'Bob' };
const carol = { id: 5003, username: 'carol', first_name: 'Carol' };
const mallory = { id: 5004, username: 'mallory', first_name: 'Mallory' };
const dave = { id: 5005, username: 'dave', first_name: 'Dave' };
type Person = typeof alice;

const admin: Actor = { type: 'admin', id: 'admin-1' };
const logLines: string[] = [];
let database: MigratedDatabase;
let sim: TelegramBotApiSim;
let chat: TelegramChat;
let service: CommunityAccessService;
let scheduler: JobScheduler;
/** The dispatcher's pacing needs time to pass; the test clock only moves when told. */
let dispatchClock: Clock;

beforeAll(async () => {
  database = await createMigratedDatabase();
  sim = await TelegramBotApiSim.start({ now: () => database.clock.now().getTime() });
  sim.addChat(starterRoom);
  sim.addChat(proLounge);
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  // Wired as the composition root would: the port has its own client, so the service exists
  // before the pipeline (/community) and the chat adapter (join requests) that use it.
  service = new CommunityAccessService({
    deps: database.deps,
    map: MAP,
    telegramInviteTtlMs: TTL_MS,
    telegram: TelegramGroups.connect({ token: sim.token, apiRoot: sim.apiRoot }),
    logger,
    idleMs: 50,
  });
  const { pipeline } = await createChatHarness(database, { community: service, logger });
  chat = new TelegramChat({ token: sim.token, apiRoot: sim.apiRoot, webhook: null, pipeline, logger, community: service });
  const since = sim.calls.length;
  await chat.start();
  await sim.waitForCall('getUpdates', undefined, { since });
  scheduler = new JobScheduler({ db: database.db, clock: database.clock, logger, replicaId: 'test-replica' });
  scheduler.register(communityReconcileJob(service, { cron: '*/15 * * * *' }));
  const started = performance.now();
  dispatchClock = { now: () => new Date(database.clock.now().getTime() + Math.ceil(performance.now() - started)) };
});

afterAll(async () => {
  await service?.stop();
  await scheduler?.stop();
  await chat?.stop();
  await sim?.close();
  await database?.drop();
});

// ------------------------------------------------------------------------------------- helpers

/** A message from a person, answered by the bot; returns the bot's replies to them. */
async function say(from: Person, text: string): Promise<RecordedCall[]> {
  const since = sim.calls.length;
  sim.sendText({ from, text });
  await sim.waitForCall('sendMessage', (c) => c.params.chat_id === from.id, { since });
  await sim.waitForIdle();
  return sim.calls.slice(since).filter((c) => c.method === 'sendMessage' && c.params.chat_id === from.id);
}

/** Delivers every due outbox alert the way the service does; returns what each person was sent. */
async function deliverAlerts(): Promise<RecordedCall[]> {
  const since = sim.calls.length;
  const dispatcher = new AlertDispatcher({
    db: database.db,
    clock: dispatchClock,
    logger: createLogger({ level: 'silent' }),
    replicaId: 'test-dispatcher',
    channels: { telegram: telegramAlertChannel((chatId, text) => chat.notify(chatId, text)) },
  });
  while ((await dispatcher.runOnce()) > 0);
  return sim.calls.slice(since).filter((c) => c.method === 'sendMessage');
}

const textsTo = (calls: RecordedCall[], who: Person) => calls.filter((c) => c.params.chat_id === who.id).map((c) => String(c.params.text));
const linksIn = (text: string) => text.match(/https:\/\/t\.me\/\+[A-Za-z0-9_-]+/g) ?? [];
const userOf = async (who: Person) => (await resolveIdentity(database.deps, { platform: 'telegram', externalId: String(who.id) })).userId;
const identityOf = (who: Person) => resolveIdentity(database.deps, { platform: 'telegram', externalId: String(who.id) });
const invitesFor = (who: Person, since = 0) =>
  sim.calls.slice(since).filter((c) => c.method === 'createChatInviteLink' && String(c.params.name).endsWith(` ${who.id}`));
const membership = (who: Person, room: { id: number }) =>
  database.db.communityMembership.findUnique({
    where: { platform_externalId_targetId: { platform: 'telegram', externalId: String(who.id), targetId: String(room.id) } },
  });
const auditOf = (who: Person, action: string) =>
  database.db.auditEntry.findMany({ where: { entityType: 'community', entityId: `telegram:${who.id}`, action }, orderBy: { id: 'asc' } });
const removalsOf = (who: Person, since: number) =>
  sim.calls.slice(since).filter((c) => (c.method === 'banChatMember' || c.method === 'unbanChatMember') && c.params.user_id === who.id);

/** A license of `tier` activated by this person (an identity they already have from /start). */
async function licensed(who: Person, tier: string): Promise<string> {
  const { license, key } = value(await issueLicense(database.deps, { tier, actor: admin }));
  value(await activateLicense(database.deps, { key, identity: await identityOf(who) }));
  return license.id;
}

/** Queues an update from the user's side and waits until the bot has handled it. */
async function handled(queue: () => unknown): Promise<void> {
  const since = sim.calls.length;
  queue();
  await sim.waitForCall('getUpdates', (c) => c.status === 200 && Array.isArray(c.result) && c.result.length > 0, { since });
  await sim.waitForIdle();
}

// ------------------------------------------------------------------------------------- the story

describe('gated Telegram groups', () => {
  let aliceLicense = '';
  let bobLicense = '';
  const mallorysJoinRequest: { updateId: number } = { updateId: 0 };

  it('activation sends a single-use, expiring invite per granted group through the outbox', async () => {
    for (const who of [alice, bob, carol, mallory, dave]) await say(who, '/start');
    const { key, license } = value(await issueLicense(database.deps, { tier: 'pro', actor: admin }));
    aliceLicense = license.id;
    database.clock.advance(1000);
    const since = sim.calls.length;
    const replies = await say(alice, `/activate ${key}`);
    expect(replies.map((c) => c.params.text).join('\n')).toContain('activated');
    // The activation committed its sync request; nothing has been sent to Telegram yet.
    expect(invitesFor(alice, since)).toHaveLength(0);
    expect(await service.processPending()).toBe(1);

    const invites = invitesFor(alice, since);
    const expireDate = Math.floor((database.clock.now().getTime() + TTL_MS) / 1000);
    // Pro inherits the Starter room.
    expect(invites.map((c) => c.params.chat_id).sort()).toEqual([starterRoom.id, proLounge.id].sort());
    for (const call of invites) {
      expect(call.params).toMatchObject({ member_limit: 1, expire_date: expireDate, name: `AIT pro ${alice.id}` });
      expect(call.status).toBe(200);
    }
    const links = invites.map((c) => (c.result as { invite_link: string }).invite_link);
    expect(new Set(links).size).toBe(2);

    // The links travel in the outbox, as license alerts with deterministic ids, and reach Alice.
    const outbox = await database.db.alertOutbox.findMany({ where: { userId: await userOf(alice), eventId: { startsWith: 'community:' } } });
    expect(outbox.map((a) => [a.alertType, a.eventId])).toEqual(
      expect.arrayContaining([
        ['license', `community:invite:${alice.id}:${starterRoom.id}:${database.clock.now().getTime()}`],
        ['license', `community:invite:${alice.id}:${proLounge.id}:${database.clock.now().getTime()}`],
      ]),
    );
    const sent = textsTo(await deliverAlerts(), alice);
    expect(sent.flatMap(linksIn).sort()).toEqual([...links].sort());
    expect(sent.find((t) => t.includes(links[0]!))).toContain('works once, only for you');

    // A second pass has nothing to do: the request is processed and nobody is invited twice.
    expect(await service.processPending()).toBe(0);
    expect(await database.db.communitySyncRequest.count({ where: { userId: await userOf(alice), processedAt: null } })).toBe(0);

    // Alice joins with both links; the bot sees her arrive and remembers her as a member.
    for (const link of links) {
      let joined: ReturnType<TelegramBotApiSim['useInviteLink']> | undefined;
      await handled(() => (joined = sim.useInviteLink(link, alice)));
      expect(joined).toMatchObject({ joined: true });
    }
    expect(sim.memberStatus(starterRoom.id, alice.id)).toBe('member');
    expect(sim.memberStatus(proLounge.id, alice.id)).toBe('member');
    expect((await membership(alice, proLounge))?.status).toBe('member');
    // Single use: nobody else gets in with Alice's link.
    expect(sim.useInviteLink(links[0]!, mallory)).toEqual({ joined: false, reason: 'limit_reached' });
    expect(await auditOf(alice, 'community.telegram_invited')).toHaveLength(2);
  });

  it('the request loop reflects an activation within moments', async () => {
    service.start();
    const since = sim.calls.length;
    database.clock.advance(1000);
    bobLicense = await licensed(bob, 'starter');
    const invite = await sim.waitForCall('createChatInviteLink', (c) => c.params.name === `AIT starter ${bob.id}`, { since, timeoutMs: 3000 });
    await service.stop();
    // Starter grants the Starter room only.
    expect(invite.params.chat_id).toBe(starterRoom.id);
    expect(invitesFor(bob, since)).toHaveLength(1);
    expect(textsTo(await deliverAlerts(), bob).flatMap(linksIn)).toEqual([(invite.result as { invite_link: string }).invite_link]);
  });

  it('join requests: approved when the license grants the group, declined otherwise; a repeated update changes nothing', async () => {
    // Bob (Starter) asks for the Starter room: approved, without needing his link.
    let since = sim.calls.length;
    await handled(() => sim.joinRequest({ chat: starterRoom, user: bob }));
    expect(sim.calls.slice(since).filter((c) => c.method === 'approveChatJoinRequest').map((c) => [c.params.chat_id, c.params.user_id, c.status])).toEqual([
      [starterRoom.id, bob.id, 200],
    ]);
    expect(sim.memberStatus(starterRoom.id, bob.id)).toBe('member');
    expect(await auditOf(bob, 'community.join_approved')).toHaveLength(1);

    // ... and for the Pro lounge: his tier does not include it.
    since = sim.calls.length;
    await handled(() => sim.joinRequest({ chat: proLounge, user: bob }));
    expect(sim.calls.slice(since).filter((c) => c.method === 'declineChatJoinRequest').map((c) => [c.params.chat_id, c.params.user_id])).toEqual([[proLounge.id, bob.id]]);
    expect(sim.memberStatus(proLounge.id, bob.id)).toBe('left');

    // Mallory has no license at all.
    since = sim.calls.length;
    await handled(() => (mallorysJoinRequest.updateId = sim.joinRequest({ chat: starterRoom, user: mallory })));
    expect(sim.calls.slice(since).filter((c) => c.method.endsWith('ChatJoinRequest')).map((c) => [c.method, c.params.user_id])).toEqual([['declineChatJoinRequest', mallory.id]]);
    expect(sim.pendingJoinRequests(starterRoom.id)).toEqual([]);

    // Telegram delivers at least once: the same update again is answered by Telegram with
    // HIDE_REQUESTER_MISSING, and the service records nothing new.
    since = sim.calls.length;
    await handled(() => sim.redeliver(mallorysJoinRequest.updateId));
    expect(sim.calls.slice(since).filter((c) => c.method === 'declineChatJoinRequest').map((c) => c.error?.description)).toEqual(['Bad Request: HIDE_REQUESTER_MISSING']);
    expect(await auditOf(mallory, 'community.join_declined')).toHaveLength(1);
    expect((await membership(mallory, starterRoom))?.status).toBe('declined');

    // The declined people we know are told why.
    const told = await deliverAlerts();
    expect(textsTo(told, mallory)).toEqual([expect.stringContaining('declined because you have no active license')]);
    expect(textsTo(told, bob)).toEqual([expect.stringContaining('declined because your Starter license does not include it')]);
  });

  it('someone who slips into a gated group without a grant is removed at once, and told why', async () => {
    const since = sim.calls.length;
    // An admin adds Mallory by hand; the bot gets the chat_member update.
    await handled(() => sim.setMember(starterRoom.id, mallory, 'member', { notify: true }));
    expect(removalsOf(mallory, since).map((c) => [c.method, c.params.chat_id, c.params.only_if_banned])).toEqual([
      ['banChatMember', starterRoom.id, undefined],
      ['unbanChatMember', starterRoom.id, true],
    ]);
    // Out, but not banned: with a license she could join later.
    expect(sim.memberStatus(starterRoom.id, mallory.id)).toBe('left');
    expect(await auditOf(mallory, 'community.telegram_removed')).toHaveLength(1);
    expect(textsTo(await deliverAlerts(), mallory)).toEqual([expect.stringMatching(/removed from a members-only Telegram group because you have no active license\. To get back in, buy a license/)]);
  });

  it('revocation removes the owner from every gated group (never a chat admin) and says why', async () => {
    // Dave holds Pro too, and is an administrator of both rooms.
    const davesLicense = await licensed(dave, 'pro');
    await service.processPending();
    sim.setMember(starterRoom.id, dave, 'administrator');
    sim.setMember(proLounge.id, dave, 'administrator');
    await deliverAlerts();

    database.clock.advance(1000);
    const since = sim.calls.length;
    value(await revokeLicense(database.deps, { licenseId: aliceLicense, reason: 'refunded', actor: admin }));
    value(await revokeLicense(database.deps, { licenseId: davesLicense, reason: 'refunded', actor: admin }));
    expect(await service.processPending()).toBe(2);

    expect(removalsOf(alice, since).map((c) => [c.method, c.params.chat_id]).sort()).toEqual(
      [
        ['banChatMember', starterRoom.id],
        ['unbanChatMember', starterRoom.id],
        ['banChatMember', proLounge.id],
        ['unbanChatMember', proLounge.id],
      ].sort(),
    );
    expect(sim.memberStatus(starterRoom.id, alice.id)).toBe('left');
    expect(sim.memberStatus(proLounge.id, alice.id)).toBe('left');
    expect(removalsOf(dave, since)).toEqual([]);
    expect(sim.memberStatus(proLounge.id, dave.id)).toBe('administrator');

    const told = await deliverAlerts();
    expect(textsTo(told, alice)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('was revoked (refunded)'),
        '🚪 You were removed from 2 members-only Telegram groups because your license was revoked. To get back in, buy a license (/tiers) or activate one with /activate: you are let back in automatically.',
      ]),
    );
    expect(textsTo(told, dave).some((t) => t.startsWith('🚪'))).toBe(false);
  });

  it('a transfer moves access: the previous owner is removed, the new one invited; a forwarded link gets its user removed', async () => {
    database.clock.advance(1000);
    const since = sim.calls.length;
    value(await transferLicense(database.deps, { licenseId: bobLicense, to: await identityOf(carol), actor: admin }));
    expect(await service.processPending()).toBe(2);

    expect(removalsOf(bob, since).map((c) => c.method)).toEqual(['banChatMember', 'unbanChatMember']);
    expect(sim.memberStatus(starterRoom.id, bob.id)).toBe('left');
    const invites = invitesFor(carol, since);
    expect(invites.map((c) => c.params.chat_id)).toEqual([starterRoom.id]);
    const link = (invites[0]!.result as { invite_link: string }).invite_link;

    const told = await deliverAlerts();
    expect(textsTo(told, bob)).toEqual(expect.arrayContaining([expect.stringContaining('because your license was moved to another account')]));
    expect(textsTo(told, carol).flatMap(linksIn)).toEqual([link]);

    // Carol forwards her link; Mallory gets in with it and is taken straight out again...
    await handled(() => expect(sim.useInviteLink(link, mallory)).toMatchObject({ joined: true }));
    expect(sim.memberStatus(starterRoom.id, mallory.id)).toBe('left');
    // ... which frees the link's one place for Carol.
    await handled(() => expect(sim.useInviteLink(link, carol)).toMatchObject({ joined: true }));
    expect(sim.memberStatus(starterRoom.id, carol.id)).toBe('member');
    expect((await membership(carol, starterRoom))?.status).toBe('member');
  });

  it('reconciliation repairs drift, and re-invites a removed member only once', async () => {
    // Behind the bot's back: Bob (no license any more) is let back into the Starter room, and
    // Carol (licensed) is kicked out of it.
    sim.setMember(starterRoom.id, bob, 'member');
    sim.setMember(starterRoom.id, carol, 'left');
    database.clock.advance(15 * 60_000);
    const since = sim.calls.length;
    const first = await scheduler.runSlot('community-reconcile', database.clock.now());
    expect(first).toMatchObject({ status: 'ran', failed: false, outcome: 'telegram removed 1 invited 1' });
    expect(removalsOf(bob, since).map((c) => c.method)).toEqual(['banChatMember', 'unbanChatMember']);
    expect(sim.memberStatus(starterRoom.id, bob.id)).toBe('left');
    expect(removalsOf(alice, since)).toEqual([]);
    expect(removalsOf(dave, since)).toEqual([]);
    expect(invitesFor(carol, since).map((c) => c.params.chat_id)).toEqual([starterRoom.id]);
    const told = await deliverAlerts();
    expect(textsTo(told, carol).flatMap(linksIn)).toHaveLength(1);
    expect(textsTo(told, bob)).toEqual([expect.stringContaining('because you have no active license')]);

    // The next run finds nothing to do: Carol has her link and is not sent another.
    database.clock.advance(15 * 60_000);
    const again = await scheduler.runSlot('community-reconcile', database.clock.now());
    expect(again).toMatchObject({ status: 'ran', outcome: 'telegram removed 0 invited 0' });
    expect(invitesFor(carol, since)).toHaveLength(1);
    expect(await deliverAlerts()).toEqual([]);
    const row = await database.db.scheduledJobRun.findFirstOrThrow({ where: { job: 'community-reconcile' }, orderBy: { slot: 'desc' } });
    expect(row.outcome).toBe('telegram removed 0 invited 0');
  });

  it('/community sends licensed members fresh links privately and tells others what to do', async () => {
    sim.setMember(starterRoom.id, carol, 'left');
    const since = sim.calls.length;
    const [reply] = await say(carol, '/community');
    const text = String(reply!.params.text);
    expect(text).toContain('<b>Your Starter community access</b>');
    const links = linksIn(text);
    expect(links).toHaveLength(1);
    expect(invitesFor(carol, since).map((c) => (c.result as { invite_link: string }).invite_link)).toEqual(links);
    expect(sim.useInviteLink(links[0]!, carol)).toMatchObject({ joined: true });
    // A reply, not an alert: nothing new in the outbox for it.
    expect(await database.db.alertOutbox.count({ where: { userId: await userOf(carol), status: 'pending' } })).toBe(0);
    await sim.waitForIdle();

    const [refusal] = await say(mallory, '/community');
    expect(refusal!.params.text).toContain('come with a license');
  });

  it('every change is audited, and no invite link reaches a log line or an audit entry', async () => {
    const audit = await database.db.auditEntry.findMany({ where: { entityType: 'community' } });
    expect(new Set(audit.map((a) => a.action))).toEqual(
      new Set(['community.telegram_invited', 'community.telegram_removed', 'community.join_approved', 'community.join_declined']),
    );
    expect(audit.every((a) => a.actorType === 'system' && a.actorId === 'community')).toBe(true);
    const alicesRemovals = audit.filter((a) => a.action === 'community.telegram_removed' && a.entityId === `telegram:${alice.id}`);
    expect(alicesRemovals.map((a) => a.after)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ platform: 'telegram', chatId: String(starterRoom.id), reason: 'license_revoked', userId: await userOf(alice), tier: null }),
        expect.objectContaining({ platform: 'telegram', chatId: String(proLounge.id), reason: 'license_revoked' }),
      ]),
    );

    const links = sim.callsOf('createChatInviteLink').map((c) => (c.result as { invite_link: string }).invite_link);
    expect(links.length).toBeGreaterThanOrEqual(7);
    // The logs did record the work (so this is not vacuous), just never a link.
    const logs = logLines.join('\n');
    expect(logs).toContain('Telegram invite sent');
    expect(logs).toContain('removed from a gated Telegram chat');
    const stored = dumpJson(audit) + dumpJson(await database.db.communitySyncRequest.findMany()) + dumpJson(await database.db.communityMembership.findMany());
    for (const link of links) {
      expect(logs).not.toContain(link.slice('https://t.me/+'.length));
      expect(stored).not.toContain(link.slice('https://t.me/+'.length));
    }
  });
});
