// The service as deployed with Discord and Stripe: src/main.ts in its own process, configured
// only through its environment, against the Discord and Stripe simulators. Slash commands
// registered, a command over the gateway, signed HTTP interactions, a gated role granted by the
// service's own community loop, and a license sold through Checkout and its signed webhook.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordSim } from '../sim/discord-api.ts';
import { StripeSim } from '../sim/stripe-api.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { serviceEnv, startService, type RunningService } from '../support/service.ts';
import { eventually } from '../support/trading.ts';

const GUILD = '410000000000000001';
const STARTER_ROLE = '510000000000000001';
const boss = { id: '610000000000000009', username: 'boss' };
const ann = { id: '610000000000000001', username: 'ann' };

const cleanups: (() => Promise<unknown>)[] = [];
let sim: DiscordSim;
let stripe: StripeSim;
let service: RunningService;

beforeAll(async () => {
  sim = await DiscordSim.start();
  cleanups.push(() => sim.close());
  stripe = await StripeSim.start();
  cleanups.push(() => stripe.close());
  sim.addGuild(GUILD, { roles: [STARTER_ROLE] });
  sim.addMember(GUILD, ann.id, { username: ann.username });
  const database = await createEmptyDatabase();
  cleanups.push(() => database.drop());
  const dir = await mkdtemp(join(tmpdir(), 'ait-discord-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  service = await startService(
    serviceEnv({
      DATABASE_URL: database.url,
      DATA_DIR: join(dir, 'data'),
      CONSOLE_CHAT: 'off',
      DISCORD_BOT_TOKEN: sim.token,
      DISCORD_APPLICATION_ID: sim.applicationId,
      DISCORD_GUILD_ID: GUILD,
      DISCORD_API_ROOT: sim.apiRoot,
      DISCORD_PUBLIC_KEY: sim.publicKeyHex,
      ADMIN_DISCORD_IDS: boss.id,
      COMMUNITY_ACCESS: JSON.stringify({ starter: { discordRoles: [STARTER_ROLE] } }),
      STRIPE_SECRET_KEY: stripe.secretKey,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      STRIPE_API_BASE: stripe.url,
    }),
  );
  cleanups.push(() => service.stop('SIGTERM'));
}, 60_000);

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const replyText = async (id: string) => {
  const log = await sim.waitForReply(id);
  return [log.original?.content ?? '', ...log.followUps.map((m) => m.content)].join('\n');
};

describe('the service with Discord configured', () => {
  it('registers its slash commands in the community server and connects the gateway with the members intent', () => {
    expect(sim.registeredCommands(GUILD).map((c) => c.name)).toEqual(expect.arrayContaining(['activate', 'paper', 'admin', 'community']));
    expect(sim.identifies).toHaveLength(1);
    expect(sim.identifies[0]!.intents & 2).toBe(2); // GUILD_MEMBERS: gated roles follow joins
  });

  it('grants the tier role when a member activates a license, through the service end to end', async () => {
    const issued = await replyText(
      sim.runCommand({ name: 'admin', options: [{ name: 'license', options: [{ name: 'create', options: [{ name: 'tier', value: 'starter' }] }] }], user: boss, guildId: GUILD }).id,
    );
    const key = /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(issued)?.[0];
    expect(key).toBeDefined();
    expect(await replyText(sim.runCommand({ name: 'activate', options: [{ name: 'key', value: key! }], user: ann, guildId: GUILD }).id)).toContain('activated');
    await eventually(() => sim.memberRoles(GUILD, ann.id)?.includes(STARTER_ROLE), 10_000, 'the starter role');
    // The license key is in no log line.
    expect(JSON.stringify(service.logs())).not.toContain(key!);
    expect(JSON.stringify(service.logs())).not.toContain(sim.token);
  });

  it('serves signed HTTP interactions on the same port: PING, a command, and 401 for a forged request', async () => {
    const url = `${service.baseUrl}/discord/interactions`;
    expect((await sim.postInteraction(url, sim.buildInteraction({ kind: 'ping' }))).body).toEqual({ type: 1 });
    expect((await sim.postInteraction(url, sim.buildInteraction({ kind: 'ping' }), { badSignature: true })).status).toBe(401);
    const payload = sim.buildInteraction({ kind: 'command', name: 'pool', user: ann, guildId: GUILD });
    const answer = await sim.postInteraction(url, payload);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect((answer.body as { data: { content: string } }).data.content).toContain('Capacity pool');
  });

  it('sells through Stripe: /buy opens a checkout, the signed webhook activates the license and grants the role', async () => {
    const cat = { id: '610000000000000002', username: 'cat' };
    sim.addMember(GUILD, cat.id, { username: cat.username });
    const link = await replyText(sim.runCommand({ name: 'buy', options: [{ name: 'tier', value: 'starter' }], user: cat, guildId: GUILD }).id);
    const sessionId = /\/pay\/(cs_test_[A-Za-z0-9]+)/.exec(link)?.[1];
    expect(sessionId).toBeDefined();
    const paid = stripe.pay(sessionId!);
    const url = `${service.baseUrl}/webhooks/stripe`;
    expect(await stripe.deliver(url, paid.event, { tamper: true })).toEqual([400]);
    expect(await stripe.deliver(url, paid.event)).toEqual([200]);
    await eventually(() => sim.memberRoles(GUILD, cat.id)?.includes(STARTER_ROLE), 10_000, 'the starter role for the buyer');
    // The key went to the buyer's DMs once, and to no log line.
    const dm = await eventually(() => sim.dmsTo(cat.id).find((m) => m.content.includes('Your license key')), 10_000, 'the key DM');
    const key = /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(dm.content)?.[0];
    expect(key).toBeDefined();
    expect(JSON.stringify(service.logs())).not.toContain(key!);
    expect(JSON.stringify(service.logs())).not.toContain(stripe.secretKey);
  });
});
