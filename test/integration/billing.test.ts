// Stripe billing end to end: the real stripe SDK against the Stripe simulator, the webhook route
// on a real HTTP server, events signed the way Stripe signs them, and a real database. /buy and
// /upgrade go through the command pipeline; payments, expiries, refunds and disputes happen at
// the simulator and reach the service only as webhook events.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPoolStatus, setPoolCap } from '../../src/app/pool.ts';
import { reinstateClient, suspendClient } from '../../src/app/suspension.ts';
import { createStripe, StripeGateway } from '../../src/billing/stripe-gateway.ts';
import { StripeWebhook } from '../../src/billing/stripe-webhook.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { cents, dollars } from '../../src/kernel/money.ts';
import { StripeSim } from '../sim/stripe-api.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let sim: StripeSim;
let database: MigratedDatabase;
let chat: ChatHarness;
let web: FastifyInstance;
let hookUrl = '';
const keysShown: { userId: string; key: string }[] = [];
const logLines: string[] = [];
const boss: Person = { platform: 'telegram', id: '9001', username: 'boss' };

beforeAll(async () => {
  database = await createMigratedDatabase();
  // Stripe signs with the simulator's clock and the SDK checks signatures against the wall
  // clock: start the shared test clock at the real time.
  database.clock.advance(Date.now() - database.clock.now().getTime());
  sim = await StripeSim.start({ now: () => database.clock.now().getTime() });
  const stripe = createStripe({ secretKey: sim.secretKey, apiBase: sim.url });
  const gateway = new StripeGateway(stripe, { successUrl: 'http://127.0.0.1/billing/thanks', cancelUrl: 'http://127.0.0.1/billing/cancelled' }, () => database.clock.now());
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  chat = await createChatHarness(database, { payments: gateway, adminTelegramIds: [boss.id], logger });
  await chat.say(boss, '/start'); // the admin is known, so dispute alerts can reach them
  const webhook = new StripeWebhook({
    stripe,
    secret: sim.webhookSecret,
    deps: { ...database.deps, gateway },
    logger,
    adminUserIds: async () => (await database.db.identity.findMany({ where: { platform: 'telegram', externalId: boss.id } })).map((i) => i.userId),
    deliverKey: async (userId, key) => void keysShown.push({ userId, key }),
  });
  web = buildHttpServer({ app: database.deps, logger, probeDatabase: async () => undefined, stripeWebhook: webhook });
  await web.listen({ host: '127.0.0.1', port: 0 });
  hookUrl = `http://127.0.0.1:${(web.server.address() as AddressInfo).port}/webhooks/stripe`;
});

afterAll(async () => {
  await web?.close();
  await sim?.close();
  await database?.drop();
});

let people = 0;
const person = (): Person => ({ platform: 'telegram', id: String(5000 + ++people) });
const userIdOf = async (p: Person) => (await database.db.identity.findFirstOrThrow({ where: { platform: p.platform, externalId: p.id } })).userId;
const sessionIdIn = (text: string) => /\/pay\/(cs_test_[A-Za-z0-9]+)/.exec(text)?.[1];

/** /buy <tier> → the session the payment link points at. */
async function buy(p: Person, tier: string): Promise<string> {
  const reply = await chat.say(p, `/buy ${tier}`);
  const id = sessionIdIn(reply?.text ?? '');
  if (!id) throw new Error(`no payment link in ${reply?.text}`);
  return id;
}

/** The customer pays; Stripe's event reaches the webhook (as often as asked). */
async function pay(sessionId: string, times = 1) {
  const paid = sim.pay(sessionId);
  const statuses = await sim.deliver(hookUrl, paid.event, { times });
  return { ...paid, statuses };
}

const licensesOf = async (p: Person) => database.db.license.findMany({ where: { userId: await userIdOf(p) }, orderBy: { createdAt: 'asc' } });

describe('buying a license', () => {
  it('/buy without a tier offers one button per tier; a button opens a checkout for 10% of the capital', async () => {
    const ann = person();
    const picker = await chat.say(ann, '/buy');
    expect(picker?.text).toContain('Which license?');
    expect(picker?.buttons?.flat().map((b) => b.label.split(' ')[0])).toEqual(['Starter', 'Trader', 'Pro', 'Elite', 'Whale']);
    const link = await chat.press(ann, picker, 'Starter — $500 ($5,000 capital)');
    expect(link?.private).toBe(true);
    const sessionId = sessionIdIn(link?.text ?? '')!;
    const session = sim.getSession(sessionId)!;
    expect(session.amount_total).toBe(50_000); // 10% of $5,000, in cents
    expect(session.currency).toBe('usd');
    expect(session.mode).toBe('payment');
    const hold = await database.db.poolHold.findUniqueOrThrow({ where: { externalRef: sessionId } });
    expect(session.metadata).toMatchObject({ hold_id: hold.id, user_id: await userIdOf(ann), tier: 'starter', kind: 'purchase' });
    expect(session.client_reference_id).toBe(hold.id);
    expect(hold.status).toBe('held');
    expect((await getPoolStatus(database.deps)).held).toBe(dollars(5_000));
  });

  it('a paid checkout issues exactly one active license, shows its key once, even when the event arrives three times', async () => {
    const ben = person();
    const before = await getPoolStatus(database.deps);
    const { statuses } = await pay(await buy(ben, 'pro'), 3);
    expect(statuses).toEqual([200, 200, 200]);
    const licenses = await licensesOf(ben);
    expect(licenses).toHaveLength(1);
    expect(licenses[0]).toMatchObject({ tierId: 'pro', status: 'active' });
    expect(licenses[0]!.boundIdentityId).not.toBeNull();
    const shown = keysShown.filter((k) => k.userId === licenses[0]!.userId);
    expect(shown).toHaveLength(1);
    expect(shown[0]!.key.slice(-4)).toBe(licenses[0]!.keyLast4);
    const after = await getPoolStatus(database.deps);
    expect(after.committed - before.committed).toBe(dollars(25_000));
    // The license works at once: /license shows it.
    expect((await chat.say(ben, '/license'))?.text).toMatch(/pro/i);
    // Nothing logged the key.
    expect(logLines.join('\n')).not.toContain(shown[0]!.key);
  });

  it('/upgrade holds only the capital difference and charges only the price difference', async () => {
    const cy = person();
    await pay(await buy(cy, 'starter'));
    const reply = await chat.say(cy, '/upgrade pro');
    const sessionId = sessionIdIn(reply?.text ?? '')!;
    expect(sim.getSession(sessionId)!.amount_total).toBe(200_000); // ($25,000 - $5,000) × 10%
    const hold = await database.db.poolHold.findUniqueOrThrow({ where: { externalRef: sessionId } });
    expect(hold).toMatchObject({ kind: 'upgrade' });
    expect(Number(hold.amountUsd)).toBe(20_000);
    await pay(sessionId);
    const [license] = await licensesOf(cy);
    expect(license).toMatchObject({ tierId: 'pro', status: 'active' });
    expect(Number(license!.capitalUsd)).toBe(25_000);
  });

  it('a tampered, stale or foreign signature gets 400 and changes nothing', async () => {
    const dee = person();
    const paid = sim.pay(await buy(dee, 'starter'));
    expect(await sim.deliver(hookUrl, paid.event, { tamper: true })).toEqual([400]);
    expect(await sim.deliver(hookUrl, paid.event, { timestampOffsetSec: -600 })).toEqual([400]);
    expect(await sim.deliver(hookUrl, paid.event, { wrongSecret: true })).toEqual([400]);
    expect(await licensesOf(dee)).toEqual([]);
    expect(await database.db.stripeEvent.findUnique({ where: { id: paid.event.id } })).toBeNull();
    // The genuine delivery still works afterwards.
    expect(await sim.deliver(hookUrl, paid.event)).toEqual([200]);
    expect(await licensesOf(dee)).toHaveLength(1);
  });

  it('an expired checkout releases its hold', async () => {
    const eve = person();
    const sessionId = await buy(eve, 'elite');
    const held = (await getPoolStatus(database.deps)).held;
    const expired = sim.expire(sessionId);
    expect(await sim.deliver(hookUrl, expired.event)).toEqual([200]);
    const hold = await database.db.poolHold.findUniqueOrThrow({ where: { externalRef: sessionId } });
    expect(hold).toMatchObject({ status: 'released', releaseReason: 'checkout_expired' });
    expect(held - (await getPoolStatus(database.deps)).held).toBe(dollars(50_000));
  });
});

describe('refunds and disputes', () => {
  it('a refunded upgrade puts the license back on its old tier; a refunded purchase revokes it and frees the capital', async () => {
    const fay = person();
    const purchase = await pay(await buy(fay, 'starter'));
    const upgradeSession = sessionIdIn((await chat.say(fay, '/upgrade trader'))?.text ?? '')!;
    const upgrade = await pay(upgradeSession);
    expect((await licensesOf(fay))[0]).toMatchObject({ tierId: 'trader' });

    const committedBefore = (await getPoolStatus(database.deps)).committed;
    sim.refund(upgrade.charge.id);
    await sim.deliverAll(hookUrl);
    const [afterUpgradeRefund] = await licensesOf(fay);
    expect(afterUpgradeRefund).toMatchObject({ tierId: 'starter', status: 'active' });
    expect(Number(afterUpgradeRefund!.capitalUsd)).toBe(5_000);
    expect(committedBefore - (await getPoolStatus(database.deps)).committed).toBe(dollars(5_000));

    // An admin refunds the purchase itself from chat; Stripe's event then revokes the license.
    const key = keysShown.find((k) => k.userId === afterUpgradeRefund!.userId)!.key;
    const asked = await chat.say(boss, `/admin refund ${key}`);
    const done = await chat.press(boss, asked, 'Refund');
    expect(done?.text).toContain('Refund of $500 (purchase)');
    expect(sim.getCharge(purchase.charge.id)!.refunded).toBe(true);
    await sim.deliverAll(hookUrl);
    expect((await licensesOf(fay))[0]).toMatchObject({ status: 'revoked', revokedReason: 'refunded' });
    expect(committedBefore - (await getPoolStatus(database.deps)).committed).toBe(dollars(10_000));
    // The user was told, through the outbox.
    const alerts = await database.db.alertOutbox.findMany({ where: { userId: afterUpgradeRefund!.userId! } });
    expect(alerts.map((a) => a.text).join('\n')).toMatch(/upgrade to Trader was undone[\s\S]*revoked \(refunded\)/);
    // A second refund attempt is refused before it reaches Stripe.
    const again = await chat.press(boss, await chat.say(boss, `/admin refund ${key}`), 'Refund');
    expect(again?.text).toContain('already refunded');
  });

  it('events out of order: a refund delivered before its checkout event still ends with the license revoked', async () => {
    const gus = person();
    const sessionId = await buy(gus, 'starter');
    const paid = sim.pay(sessionId);
    sim.refund(paid.charge.id);
    const refunded = sim.events.find((e) => e.type === 'charge.refunded' && (e.data.object as { id: string }).id === paid.charge.id)!;
    expect((await sim.deliverList(hookUrl, [refunded, paid.event, refunded])).map((d) => d.status)).toEqual([200, 200, 200]);
    const licenses = await licensesOf(gus);
    expect(licenses).toHaveLength(1);
    expect(licenses[0]).toMatchObject({ status: 'revoked' });
  });

  it('a dispute flags the account and alerts the admins', async () => {
    const hal = person();
    const paid = await pay(await buy(hal, 'starter'));
    sim.dispute(paid.charge.id, { reason: 'fraudulent' });
    await sim.deliverAll(hookUrl);
    const user = await database.db.user.findUniqueOrThrow({ where: { id: await userIdOf(hal) } });
    expect(user.flaggedAt).not.toBeNull();
    expect(user.flagReason).toContain('fraudulent');
    const adminAlerts = await database.db.alertOutbox.findMany({ where: { userId: await userIdOf(boss), text: { contains: 'Payment dispute' } } });
    expect(adminAlerts).toHaveLength(1);
    // Further purchases wait for an admin.
    expect((await chat.say(hal, '/buy trader'))?.text).toContain('under review');
    expect((await chat.say(boss, `/admin user ${user.id}`))?.text).toContain('Flagged');
    expect((await chat.say(boss, `/admin unflag ${user.id}`))?.text).toContain('Flag cleared');
    expect((await chat.say(hal, '/buy trader'))?.text).toContain('/pay/cs_test_');
  });

  it('a suspended account cannot buy or upgrade until an operator reinstates it', async () => {
    const ian = person();
    await pay(await buy(ian, 'starter'));
    const userId = await userIdOf(ian);
    const checkoutsBefore = sim.listSessions().length;
    await suspendClient(database.deps, { userId, reason: 'chargeback pattern', actor: { type: 'admin', id: 'test' } });
    expect((await chat.say(ian, '/buy trader'))?.text).toBe('Your account is suspended. Contact support.');
    expect((await chat.say(ian, '/upgrade pro'))?.text).toContain('suspended');
    expect(sim.listSessions().length).toBe(checkoutsBefore);
    await reinstateClient(database.deps, { userId, actor: { type: 'admin', id: 'test' } });
    expect((await chat.say(ian, '/buy trader'))?.text).toContain('/pay/cs_test_');
  });

  it('a payment that arrives after its hold lapsed into a full pool is refunded in full, and the buyer told', async () => {
    const ivy = person();
    const sessionId = await buy(ivy, 'starter');
    database.clock.advance(30 * 60_000 + 30_000); // the hold lapses; the checkout stays open a little longer
    const pool = await getPoolStatus(database.deps);
    await setPoolCap(database.deps, cents(pool.committed + pool.held), { type: 'admin', id: 'test' });
    const paid = sim.pay(sessionId);
    expect(await sim.deliver(hookUrl, paid.event)).toEqual([200]);
    expect(await licensesOf(ivy)).toEqual([]);
    expect(sim.getCharge(paid.charge.id)!.refunded).toBe(true);
    const told = await database.db.alertOutbox.findMany({ where: { userId: await userIdOf(ivy) } });
    expect(told.map((a) => a.text).join('\n')).toContain('refunded in full');
    await setPoolCap(database.deps, pool.cap, { type: 'admin', id: 'test' });
  });

  it('/admin revenue sums what was sold and refunded', async () => {
    const text = (await chat.say(boss, '/admin revenue'))?.text ?? '';
    expect(text).toContain('*Revenue*');
    expect(text).toMatch(/starter\s+purchase/);
    expect(text).toMatch(/refunded \$[1-9]/);
  });
});

describe('the pool under a rush', () => {
  it('50 buyers racing for the last 10 Starter slots: exactly 10 get a checkout, and paying them all never oversells', async () => {
    const pool = await getPoolStatus(database.deps);
    await setPoolCap(database.deps, cents(pool.committed + pool.held + dollars(50_000)), { type: 'admin', id: 'test' });
    const buyers = Array.from({ length: 50 }, () => person());
    const replies = await Promise.all(buyers.map((b) => chat.say(b, '/buy starter')));
    const links = replies.map((r) => sessionIdIn(r?.text ?? '')).filter((id): id is string => Boolean(id));
    expect(links).toHaveLength(10);
    expect(replies.filter((r) => r?.text.includes('pool is full'))).toHaveLength(40);

    const events = links.map((id) => sim.pay(id).event);
    const statuses = await Promise.all(events.map((e) => sim.deliver(hookUrl, e, { times: 2 })));
    expect(statuses.flat().every((s) => s === 200)).toBe(true);
    const after = await getPoolStatus(database.deps);
    expect(after.committed + after.held).toBeLessThanOrEqual(after.cap);
    expect(after.available).toBe(0);
    const sold = await database.db.license.count({ where: { user: { identities: { some: { externalId: { in: buyers.map((b) => b.id) } } } } } });
    expect(sold).toBe(10);
  });
});

describe('without Stripe', () => {
  it('/buy says payments are not set up and that an admin can issue a license', async () => {
    const plain = await createChatHarness(database);
    const reply = await plain.say(person(), '/buy starter');
    expect(reply?.text).toContain('Payments are not set up');
    expect(reply?.text).toContain('admin can issue');
  });
});
