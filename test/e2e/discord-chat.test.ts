// The Discord bot end to end: the real discord.js client (gateway) and @discordjs/rest, our
// adapter and command layer, a real database, and the Discord simulator on 127.0.0.1. The same
// handler also serves signed HTTP interactions (POST /discord/interactions).
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../commands/registry.ts';
import { CommunityAccessService } from '../../src/app/community.ts';
import { issueLicense, revokeLicense } from '../../src/app/licenses.ts';
import { listTiers } from '../../src/app/tiers.ts';
import { recordAudit } from '../../src/app/audit.ts';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { queueAlerts } from '../../src/alerts/outbox.ts';
import { discordAlertChannel } from '../../src/chat/discord/alert-channel.ts';
import { DiscordChat } from '../../src/chat/discord/discord-chat.ts';
import { DiscordInteractions } from '../../src/chat/discord/discord-interactions.ts';
import { createRest, DiscordRest } from '../../src/chat/discord/discord-rest.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { systemClock } from '../../src/kernel/clock.ts';
import { DiscordSim, type InteractionLog, type SimMessage } from '../sim/discord-api.ts';
import { createChatHarness, type ChatHarness } from '../support/chat.ts';
import { dumpJson } from '../support/results.ts';
import { eventually } from '../support/trading.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const GUILD = '400000000000000001';
const STARTER_ROLE = '500000000000000001';
const PRO_ROLE = '500000000000000002';
const ADMIN_ROLE = '500000000000000003';
const HAND_MADE_ROLE = '500000000000000004';
const ann = { id: '600000000000000001', username: 'ann' };
const ben = { id: '600000000000000002', username: 'ben' };
const boss = { id: '600000000000000009', username: 'boss' };
const mod = { id: '600000000000000008', username: 'mod' };

let sim: DiscordSim;
let database: MigratedDatabase;
let harness: ChatHarness;
let chat: DiscordChat;
let rest: DiscordRest;
let web: FastifyInstance;
let interactionsUrl = '';
const logLines: string[] = [];

beforeAll(async () => {
  sim = await DiscordSim.start();
  sim.addGuild(GUILD, { roles: [STARTER_ROLE, PRO_ROLE, ADMIN_ROLE, HAND_MADE_ROLE] });
  database = await createMigratedDatabase();
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  harness = await createChatHarness(database, { adminDiscordIds: [boss.id], logger });
  rest = new DiscordRest(createRest({ apiRoot: sim.apiRoot, token: sim.token }));
  const rules = { guildId: GUILD, adminRoleId: ADMIN_ROLE };
  const interactions = new DiscordInteractions({ pipeline: harness.pipeline, webhook: rest, rules, logger });
  chat = new DiscordChat({
    token: sim.token,
    applicationId: sim.applicationId,
    apiRoot: sim.apiRoot,
    guildId: GUILD,
    gateway: true,
    commands,
    interactions,
    rest,
    logger,
    dynamicChoices: async () => ({ tiers: (await listTiers(database.deps)).map((t) => t.id) }),
  });
  await chat.start();
  // The HTTP endpoint defers at once, so the deferred path is exercised there every time.
  const overHttp = new DiscordInteractions({ pipeline: harness.pipeline, webhook: rest, rules, logger, deferAfterMs: 0 });
  web = buildHttpServer({
    app: database.deps,
    logger,
    probeDatabase: async () => undefined,
    discordInteractions: { publicKeyHex: sim.publicKeyHex, interactions: overHttp },
  });
  await web.listen({ host: '127.0.0.1', port: 0 });
  interactionsUrl = `http://127.0.0.1:${(web.server.address() as AddressInfo).port}/discord/interactions`;
});

afterAll(async () => {
  await chat?.stop();
  await web?.close();
  await sim?.close();
  await database?.drop();
});

/** What the user ends up seeing: the original reply and any follow-ups. */
const shown = (log: InteractionLog): SimMessage[] => [log.original!, ...log.followUps].filter(Boolean);
const textOf = (log: InteractionLog) => shown(log).map((m) => m.content).join('\n');

async function command(user: { id: string; username: string }, name: string, options: { name: string; value?: string | number; options?: unknown[] }[] = [], extra: { memberRoles?: string[] } = {}) {
  const { id } = sim.runCommand({ name, options: options as never, user, guildId: GUILD, ...extra });
  return sim.waitForReply(id);
}

describe('Discord bot over the gateway', () => {
  it('registers the slash commands from the registry in the community server, with groups and choices', () => {
    const registered = sim.registeredCommands(GUILD);
    const names = registered.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['start', 'help', 'activate', 'keys', 'paper', 'admin', 'link']));
    expect(sim.registeredCommands()).toEqual([]); // nothing global when a guild is configured
    const admin = registered.find((c) => c.name === 'admin')!;
    expect(admin.default_member_permissions).toBe('32');
    const license = admin.options.find((o: { name: string }) => o.name === 'license');
    expect(license.type).toBe(2); // a subcommand group
    const create = license.options.find((o: { name: string }) => o.name === 'create');
    // Tier choices come from the database at registration.
    expect(create.options[0].choices.map((c: { value: string }) => c.value)).toEqual(['starter', 'trader', 'pro', 'elite', 'whale']);
    const paper = registered.find((c) => c.name === 'paper')!;
    expect(paper.options[0]).toMatchObject({ name: 'strategy', type: 3, required: true });
    expect(paper.options[0].choices.map((c: { value: string }) => c.value)).toEqual(['dca', 'grid']);
  });

  it('answers a slash command with an ephemeral reply through the interaction callback', async () => {
    const log = await command(ann, 'tiers');
    expect(log.callback?.type).toBe(4);
    expect(log.original?.ephemeral).toBe(true);
    expect(log.original?.content).toContain('Starter');
    expect(log.original?.content).toMatch(/\*\*/); // bold rendered as Discord markdown
  });

  it('refuses admin commands to members, allows ADMIN_DISCORD_IDS and holders of the admin role', async () => {
    expect(textOf(await command(ann, 'admin', [{ name: 'pool' }]))).toContain('admins only');
    expect(textOf(await command(boss, 'admin', [{ name: 'pool' }]))).toContain('Capacity pool');
    expect(textOf(await command(mod, 'admin', [{ name: 'pool' }], { memberRoles: [ADMIN_ROLE] }))).toContain('Capacity pool');
  });

  it('runs a subcommand group with typed options: an admin issues keys, a member activates one', async () => {
    const issued = await command(boss, 'admin', [{ name: 'license', options: [{ name: 'create', options: [{ name: 'tier', value: 'starter' }, { name: 'count', value: 1 }] }] }]);
    const key = /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(textOf(issued))?.[0];
    expect(key).toBeDefined();
    expect(issued.original?.ephemeral).toBe(true);
    const activated = await command(ann, 'activate', [{ name: 'key', value: key! }]);
    expect(textOf(activated)).toContain('activated');
    // The key never reaches the logs.
    expect(logLines.join('\n')).not.toContain(key!);
  });

  it('/keys add offers the one-time link and a modal; the modal stores the keys and nothing typed is logged', async () => {
    const offer = await command(ann, 'keys', [{ name: 'add', options: [{ name: 'exchange', value: 'binance' }] }]);
    expect(textOf(offer)).toMatch(/http:\/\/127\.0\.0\.1:8080\/keys\/[A-Za-z0-9_-]{43}/);
    const button = offer.original!.components[0]!.components[0];
    expect(button.label).toBe('Enter keys here instead');
    expect(button.custom_id).toMatch(/^form:/);

    const pressed = sim.pressButton({ customId: button.custom_id, user: ann, guildId: GUILD });
    const modal = await sim.waitForReply(pressed.id);
    expect(modal.callback?.type).toBe(9);
    expect(modal.callback?.data?.title).toBe('/keys set binance');
    const inputs = modal.callback!.data!.components.map((row: { components: { custom_id: string }[] }) => row.components[0]!.custom_id);
    expect(inputs).toEqual(['key', 'secret', 'passphrase']);

    const apiKey = 'AKIAmodalkey0000000000000000000000000001';
    const apiSecret = 'modal-secret-0000000000000000000000000000000000000001';
    const submitted = sim.submitModal({ customId: button.custom_id, fields: { key: apiKey, secret: apiSecret, passphrase: '' }, user: ann, guildId: GUILD });
    const saved = await sim.waitForReply(submitted.id);
    expect(saved.original?.ephemeral).toBe(true);
    expect(textOf(saved)).toContain('Binance keys saved (key ending 0001)');
    const stored = await database.db.exchangeCredential.findMany({ where: { exchange: 'binance' } });
    expect(stored).toHaveLength(1);
    const everything = logLines.join('\n') + dumpJson(await database.db.auditEntry.findMany());
    expect(everything).not.toContain(apiKey);
    expect(everything).not.toContain(apiSecret);

    // The form is single use: pressing its button again opens nothing.
    const again = sim.pressButton({ customId: button.custom_id, user: ann, guildId: GUILD });
    const refused = await sim.waitForReply(again.id);
    expect(refused.callback?.type).toBe(4);
    expect(textOf(refused)).toContain('expired or was already used');
  });

  it('a confirmation button replaces the question with the result', async () => {
    const asked = await command(ann, 'keys', [{ name: 'remove', options: [{ name: 'exchange', value: 'binance' }] }]);
    expect(textOf(asked)).toContain('Delete your binance keys');
    const confirm = asked.original!.components[0]!.components.find((b: { label: string }) => b.label === 'Delete');
    expect(confirm.style).toBe(4); // danger
    const pressed = sim.pressButton({ customId: confirm.custom_id, user: ann, guildId: GUILD, messageId: asked.original!.id });
    const done = await sim.waitForReply(pressed.id);
    expect(done.callback?.type).toBe(7); // update the message the button was on
    expect(sim.message(asked.original!.id)?.content).toContain('Deleted your Binance keys');
    expect(sim.message(asked.original!.id)?.components).toEqual([]);
  });

  it('defers a reply that carries an attachment and edits it in, with the file', async () => {
    const { userId } = await database.db.identity.findFirstOrThrow({ where: { platform: 'discord', externalId: ann.id } });
    const run = await database.db.tradingRun.create({
      data: { userId, seq: 1, mode: 'paper', strategy: 'dca', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '1000.00', params: {}, status: 'stopped', stopReason: 'user', startedAt: database.clock.now() },
    });
    const order = await database.db.runOrder.create({
      data: { runId: run.id, clientOrderId: 'discord-test-1', tag: 'base', attempt: 1, side: 'buy', type: 'limit', price: '60000', qty: '0.01', filledQty: '0.01', status: 'filled' },
    });
    await database.db.runFill.create({
      data: { runId: run.id, orderId: order.id, tradeId: 't1', side: 'buy', price: '60000', qty: '0.01', fee: '0.6', realizedPnl: '0', executedAt: database.clock.now(), delivered: true },
    });
    const log = await command(ann, 'trades', [{ name: 'n', value: 'csv' }]);
    expect(log.callback?.type).toBe(5);
    expect(log.callback?.data?.flags).toBe(64);
    const original = log.original!;
    expect(original.loading).toBe(false);
    expect(original.ephemeral).toBe(true);
    expect(original.attachments.map((a) => a.filename)).toEqual([expect.stringMatching(/\.csv$/)]);
    expect(original.attachments[0]!.data.toString('utf8')).toContain('BTC/USDT');
  });

  it('splits a reply longer than 2000 characters into follow-ups', async () => {
    for (let i = 0; i < 50; i++) {
      await recordAudit(database.db, { actor: { type: 'system', id: 'test' }, action: `test.entry_number_${i}`, entityType: 'license', entityId: `license-${i}`, at: database.clock.now() });
    }
    const { id } = sim.runCommand({ name: 'admin', options: [{ name: 'audit', options: [{ name: 'n', value: 50 }] }], user: boss, guildId: GUILD });
    await sim.waitForReply(id);
    // Follow-ups come after the first answer.
    const log = await eventually(() => (sim.interaction(id).followUps.length > 0 ? sim.interaction(id) : undefined), 5_000, 'follow-ups');
    const messages = shown(log);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(m.content.length).toBeLessThanOrEqual(2000);
      expect(m.ephemeral).toBe(true);
    }
    expect(textOf(log)).toContain('test.entry_number_0');
    expect(textOf(log)).toContain('test.entry_number_49');
  });

  it('delivers alerts as DMs and gives up on a user whose DMs are closed', async () => {
    await command(ann, 'start');
    const owner = await database.db.identity.findFirstOrThrow({ where: { platform: 'discord', externalId: ann.id } });
    const dispatcher = new AlertDispatcher({
      db: database.db,
      // The real clock: the test clock stands still, so the pacing between two DMs would never elapse.
      clock: systemClock,
      logger: createLogger({ level: 'silent' }),
      replicaId: 'test',
      channels: { discord: discordAlertChannel(rest) },
    });
    await queueAlerts(database.db, [{ eventId: 'test:dm:1', userId: owner.userId, alertType: 'fills', text: '*Filled*: bought 0.1 BTC' }], systemClock.now());
    expect(await dispatcher.runOnce()).toBeGreaterThanOrEqual(1);
    expect(sim.dmsTo(ann.id).map((m) => m.content)).toContain('**Filled**: bought 0.1 BTC');

    sim.blockDms(ann.id);
    await queueAlerts(database.db, [{ eventId: 'test:dm:2', userId: owner.userId, alertType: 'fills', text: 'second' }], systemClock.now());
    await dispatcher.runOnce();
    const row = await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: 'test:dm:2' } });
    expect(row.status).toBe('failed');
    sim.unblockDms(ann.id);
  });
});

describe('identity linking', () => {
  it('/link on Discord, redeemed on Telegram, joins both identities into one account; codes are single use and expire', async () => {
    await command(ann, 'start');
    const issued = textOf(await command(ann, 'link'));
    const code = /`([A-Z0-9]{4}-[A-Z0-9]{4})`/.exec(issued)?.[1];
    expect(code).toBeDefined();
    const annOnTelegram = { platform: 'telegram' as const, id: '7001', username: 'ann_tg' };
    expect((await harness.say(annOnTelegram, `/link ${code}`))?.text).toContain('Linked');
    const identities = await database.db.identity.findMany({ where: { externalId: { in: [ann.id, annOnTelegram.id] } } });
    expect(identities).toHaveLength(2);
    expect(new Set(identities.map((i) => i.userId)).size).toBe(1);
    // The license activated on Discord is now Ann's on Telegram too.
    expect((await harness.say(annOnTelegram, '/license'))?.text).toMatch(/starter/i);
    // Used once: nobody else can redeem it.
    expect((await harness.say({ platform: 'telegram', id: '7002' }, `/link ${code}`))?.text).toContain('not valid');

    const benCode = /`([A-Z0-9]{4}-[A-Z0-9]{4})`/.exec(textOf(await command(ben, 'link')))?.[1];
    database.clock.advance(11 * 60_000); // codes last 10 minutes
    expect((await harness.say({ platform: 'telegram', id: '7003' }, `/link ${benCode}`))?.text).toContain('not valid');
  });
});

describe('gated roles follow the license tier', () => {
  it('adds the tier roles on activation, removes them on revoke, and reconciliation undoes hand-made drift', async () => {
    sim.addMember(GUILD, ben.id, { username: ben.username });
    const community = new CommunityAccessService({
      deps: database.deps,
      map: { starter: { discordRoles: [STARTER_ROLE], telegramChats: [], inherit: true }, pro: { discordRoles: [PRO_ROLE], telegramChats: [], inherit: true } },
      telegramInviteTtlMs: 60 * 60_000,
      discord: rest.rolesIn(GUILD),
      logger: createLogger({ level: 'silent' }),
    });
    await community.processPending(); // earlier tests' activations

    const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
    if (!issued.ok) throw new Error(issued.error.code);
    expect(textOf(await command(ben, 'activate', [{ name: 'key', value: issued.value.key }]))).toContain('activated');
    await community.processPending();
    // Pro includes Starter's access.
    expect(sim.memberRoles(GUILD, ben.id)?.sort()).toEqual([STARTER_ROLE, PRO_ROLE].sort());
    const added = sim.calls.filter((c) => c.route === 'PUT /guilds/:guild/members/:user/roles/:role' && c.params.user === ben.id);
    expect(added).toHaveLength(2);
    expect(added[0]!.reason).toContain('Pro');

    // Drift: a moderator strips one role and hands out another managed one to a stranger.
    sim.setMemberRoles(GUILD, ben.id, [PRO_ROLE, HAND_MADE_ROLE], { silent: true });
    sim.addMember(GUILD, '600000000000000077', { roles: [PRO_ROLE], silent: true });
    await community.reconcile();
    expect(sim.memberRoles(GUILD, ben.id)?.sort()).toEqual([STARTER_ROLE, PRO_ROLE, HAND_MADE_ROLE].sort()); // unmanaged roles stay
    expect(sim.memberRoles(GUILD, '600000000000000077')).toEqual([]);

    const revoked = await revokeLicense(database.deps, { licenseId: issued.value.license.id, reason: 'refund', actor: { type: 'admin', id: 'test' } });
    expect(revoked.ok).toBe(true);
    await community.processPending();
    expect(sim.memberRoles(GUILD, ben.id)).toEqual([HAND_MADE_ROLE]);
    const audit = await database.db.auditEntry.findMany({ where: { action: { startsWith: 'community.role' } } });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['community.role_added', 'community.role_removed']));
  });
});

describe('signed HTTP interactions', () => {
  it('answers PING with PONG', async () => {
    const result = await sim.postInteraction(interactionsUrl, sim.buildInteraction({ kind: 'ping' }));
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ type: 1 });
  });

  it('rejects a tampered body, a foreign signature and a missing one with 401', async () => {
    const ping = sim.buildInteraction({ kind: 'ping' });
    expect((await sim.postInteraction(interactionsUrl, ping, { tamperBody: true })).status).toBe(401);
    expect((await sim.postInteraction(interactionsUrl, ping, { badSignature: true })).status).toBe(401);
    const unsigned = await fetch(interactionsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ping) });
    expect(unsigned.status).toBe(401);
  });

  it('runs the same commands: deferred in the response, then the reply edited in through the webhook', async () => {
    const payload = sim.buildInteraction({ kind: 'command', name: 'tiers', user: ann, guildId: GUILD });
    const result = await sim.postInteraction(interactionsUrl, payload);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ type: 5, data: { flags: 64 } });
    const log = await sim.waitForReply(payload.id as string);
    expect(log.original?.content).toContain('Starter');
    expect(log.original?.ephemeral).toBe(true);
  });
});
