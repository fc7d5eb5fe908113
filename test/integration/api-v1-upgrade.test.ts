// REST API v1, part 4: POST /v1/license/upgrade through the real stripe SDK against the Stripe
// simulator; the license is upgraded only when the signed webhook event says it was paid.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateLicense } from '../../src/app/licenses.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createStripe, StripeGateway } from '../../src/billing/stripe-gateway.ts';
import { StripeWebhook } from '../../src/billing/stripe-webhook.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { StripeSim } from '../sim/stripe-api.ts';
import { newMachineId, startApiHarness, type ApiHarness } from '../support/api-v1.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
let sim: StripeSim;
let api: ApiHarness;
let unpaid: ApiHarness;
let hookUrl = '';

beforeAll(async () => {
  database = await createMigratedDatabase();
  // The SDK checks webhook signatures against the wall clock: start the test clock at the real time.
  database.clock.advance(Date.now() - database.clock.now().getTime());
  sim = await StripeSim.start({ now: () => database.clock.now().getTime() });
  const stripe = createStripe({ secretKey: sim.secretKey, apiBase: sim.url });
  const gateway = new StripeGateway(stripe, { successUrl: 'http://127.0.0.1/billing/thanks', cancelUrl: 'http://127.0.0.1/billing/cancelled' }, () => database.clock.now());
  const stripeWebhook = new StripeWebhook({
    stripe,
    secret: sim.webhookSecret,
    deps: { ...database.deps, gateway },
    logger: createLogger({ level: 'silent' }),
    adminUserIds: async () => [],
    deliverKey: async () => undefined,
  });
  api = await startApiHarness({ database, payments: gateway, stripeWebhook });
  await api.server.listen({ host: '127.0.0.1', port: 0 });
  hookUrl = `http://127.0.0.1:${(api.server.server.address() as AddressInfo).port}/webhooks/stripe`;
  unpaid = await startApiHarness({ database });
});
afterAll(async () => {
  await unpaid?.close();
  await api?.close();
  await sim?.close();
  await database?.drop();
});

const sessionIdIn = (url: string) => /\/pay\/(cs_test_[A-Za-z0-9]+)/.exec(url)?.[1];

describe('POST /v1/license/upgrade', () => {
  it('opens a checkout for the price difference; the paid webhook upgrades the license', async () => {
    const b = await api.bot('starter');
    const response = await api.call('POST', '/v1/license/upgrade', b.key, { tier: 'pro' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    const hold = await database.db.poolHold.findFirstOrThrow({ where: { licenseId: b.licenseId, kind: 'upgrade' } });
    expect(body).toEqual({ checkout_url: expect.any(String), tier: 'pro', price_usd: 2_000, expires_at: hold.expiresAt.toISOString() });
    const sessionId = sessionIdIn(body.checkout_url)!;
    expect(sim.getSession(sessionId).amount_total).toBe(200_000); // ($25,000 - $5,000) × 10 %, in cents
    expect(hold.externalRef).toBe(sessionId);
    expect((await database.db.license.findUniqueOrThrow({ where: { id: b.licenseId } })).tierId).toBe('starter');

    const paid = sim.pay(sessionId);
    expect(await sim.deliver(hookUrl, paid.event)).toEqual([200]);
    expect((await database.db.license.findUniqueOrThrow({ where: { id: b.licenseId } })).tierId).toBe('pro');
    expect((await api.call('GET', '/v1/auth/heartbeat', b.key)).json()).toMatchObject({ valid: true, tier: 'pro' });
  });

  it('refusals: not a higher tier 409, no such tier 400, bad body 400', async () => {
    const b = await api.bot('pro');
    const lower = await api.call('POST', '/v1/license/upgrade', b.key, { tier: 'starter' });
    expect(lower.statusCode).toBe(409);
    expect(lower.json().error).toBe('tier_not_higher');
    const unknown = await api.call('POST', '/v1/license/upgrade', b.key, { tier: 'platinum' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toBe('tier_not_found');
    const bad = await api.call('POST', '/v1/license/upgrade', b.key, { level: 'elite' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems.map((p: { field: string }) => p.field)).toEqual(['tier', 'level']);
    expect(await database.db.poolHold.count({ where: { licenseId: b.licenseId } })).toBe(0);
  });

  it("a bot's license that is not the account's highest is refused (the upgrade would hit the other one)", async () => {
    const owner = await resolveIdentity(database.deps, { platform: 'telegram', externalId: 'two-licenses' });
    const elite = await api.issueKey('elite');
    await activateLicense(database.deps, { key: elite.key, identity: owner });
    const starter = await api.issueKey('starter', owner.userId);
    await activateLicense(database.deps, { key: starter.key, identity: owner });
    expect((await api.activate({ license_key: starter.key, machine_id: newMachineId() })).statusCode).toBe(200);

    const response = await api.call('POST', '/v1/license/upgrade', starter.key, { tier: 'whale' });
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toBe('license_not_upgradable');
    expect(await database.db.poolHold.count({ where: { userId: owner.userId } })).toBe(0);
  });

  it('3 upgrade requests per hour per license', async () => {
    const b = await api.bot('starter');
    for (let i = 0; i < 3; i++) expect((await api.call('POST', '/v1/license/upgrade', b.key, { tier: 'platinum' })).statusCode).toBe(400);
    const refused = await api.call('POST', '/v1/license/upgrade', b.key, { tier: 'trader' });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1200');
  });

  it('without payments configured: 503 payments_off, and nothing is reserved', async () => {
    const b = await unpaid.bot('starter');
    const response = await unpaid.call('POST', '/v1/license/upgrade', b.key, { tier: 'pro' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'payments_off', message: 'Payments are not set up on this server. An admin can issue you a license instead.' });
    expect(await database.db.poolHold.count({ where: { licenseId: b.licenseId } })).toBe(0);
  });
});
