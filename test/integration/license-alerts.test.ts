// License events reach the alert outbox in the transaction that changes the license: the owner
// hears of issue (on purchase), activation, transfer, upgrade and revocation, as `license` alerts
// whose text names the license by its masked key and never contains the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/deps.ts';
import { activateLicense, issueLicense, revokeLicense, transferLicense } from '../../src/app/licenses.ts';
import { commitHold, placePurchaseHold, placeUpgradeHold } from '../../src/app/pool-holds.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { value } from '../support/results.ts';

const admin: Actor = { type: 'admin', id: 'admin-1' };
const billing: Actor = { type: 'system', id: 'billing' };
let database: MigratedDatabase;
let counter = 0;

beforeAll(async () => {
  database = await createMigratedDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const deps = () => database.deps;
const newIdentity = () => resolveIdentity(deps(), { platform: 'telegram', externalId: `lic-alert-${++counter}`, username: null });
const alertsOf = (userId: string) => database.db.alertOutbox.findMany({ where: { userId }, orderBy: { id: 'asc' } });
/** The key in any spelling a leak might take (as typed, without dashes, lower case). */
const leaks = (text: string, key: string) => [key, key.replaceAll('-', ''), key.toLowerCase()].some((k) => text.includes(k));

describe('license alerts', () => {
  it('activation commits with its alert to the owner, which names the masked key only', async () => {
    const { license, key } = value(await issueLicense(deps(), { tier: 'pro', actor: admin }));
    // Issued to nobody yet: nobody to tell.
    expect(await database.db.alertOutbox.count({ where: { eventId: { startsWith: `license:${license.id}:` } } })).toBe(0);

    const owner = await newIdentity();
    database.clock.advance(1000);
    const activation = value(await activateLicense(deps(), { key, identity: owner }));
    const stored = await database.db.license.findUniqueOrThrow({ where: { id: license.id } });
    expect(stored.status).toBe('active');

    const alerts = await alertsOf(owner.userId);
    expect(alerts).toHaveLength(1);
    const alert = alerts[0]!;
    expect(alert).toMatchObject({
      eventId: `license:${license.id}:activated:${database.clock.now().getTime()}`,
      userId: owner.userId,
      alertType: 'license',
      priority: 4,
      status: 'pending',
    });
    // Written in the activation's transaction: the same instant as the license's change.
    expect(alert.nextAttemptAt).toEqual(stored.updatedAt);
    expect(alert.text).toBe(`✅ Your Pro license ${activation.license.maskedKey} is active. Capital limit $25,000.`);
    expect(leaks(alert.text, key)).toBe(false);
    expect(leaks(JSON.stringify(alert.payload), key)).toBe(false);

    // A repeat activation changes nothing and tells nobody again; someone else's attempt fails and queues nothing.
    expect(value(await activateLicense(deps(), { key, identity: owner })).alreadyActive).toBe(true);
    const stranger = await newIdentity();
    expect((await activateLicense(deps(), { key, identity: stranger })).ok).toBe(false);
    expect(await alertsOf(owner.userId)).toHaveLength(1);
    expect(await alertsOf(stranger.userId)).toHaveLength(0);
  });

  it('a transfer tells the new owner and the previous one; revocation tells the owner why, scrubbed of keys', async () => {
    const { license, key } = value(await issueLicense(deps(), { tier: 'trader', actor: admin }));
    const first = await newIdentity();
    const second = await newIdentity();
    value(await activateLicense(deps(), { key, identity: first }));
    database.clock.advance(1000);
    value(await transferLicense(deps(), { licenseId: license.id, to: second, actor: admin }));
    const at = database.clock.now().getTime();
    expect((await alertsOf(second.userId)).map((a) => [a.eventId, a.text])).toEqual([
      [`license:${license.id}:transferred:${at}`, `✅ The Trader license ${license.maskedKey} was moved to your account by support. Capital limit $10,000.`],
    ]);
    expect((await alertsOf(first.userId)).map((a) => a.eventId)).toEqual([
      expect.stringMatching(new RegExp(`^license:${license.id}:activated:`)),
      `license:${license.id}:transferred_away:${at}`,
    ]);

    database.clock.advance(1000);
    value(await revokeLicense(deps(), { licenseId: license.id, reason: `key ${key} was posted publicly`, actor: admin }));
    const revoked = (await alertsOf(second.userId)).at(-1)!;
    expect(revoked.eventId).toBe(`license:${license.id}:revoked:${database.clock.now().getTime()}`);
    expect(revoked.text).toBe(
      `⛔ Your Trader license ${license.maskedKey} was revoked (key ${license.maskedKey} was posted publicly). Contact support if you think this is a mistake.`,
    );
    for (const a of [...(await alertsOf(first.userId)), ...(await alertsOf(second.userId))]) expect(leaks(a.text, key)).toBe(false);
  });

  it('a paid purchase tells the buyer the license is issued (without the key); a paid upgrade says so too', async () => {
    const buyer = await newIdentity();
    const hold = value(await placePurchaseHold(deps(), { userId: buyer.userId, tier: 'starter' }));
    const committed = value(await commitHold(deps(), { holdId: hold.id, actor: billing }));
    expect(committed.key).not.toBeNull();
    const key = committed.key!;
    let alerts = await alertsOf(buyer.userId);
    expect(alerts.map((a) => [a.alertType, a.eventId])).toEqual([['license', `license:${committed.license.id}:issued:${database.clock.now().getTime()}`]]);
    expect(alerts[0]!.text).toBe(`🎟 You have a new Starter license ${committed.license.maskedKey}. Activate it with /activate and its key.`);
    expect(leaks(alerts[0]!.text, key)).toBe(false);
    // A repeated commit (a redelivered payment webhook) queues nothing new.
    expect(value(await commitHold(deps(), { holdId: hold.id, actor: billing })).alreadyCommitted).toBe(true);
    expect(await alertsOf(buyer.userId)).toHaveLength(1);

    value(await activateLicense(deps(), { key, identity: buyer }));
    database.clock.advance(1000);
    const upgrade = value(await placeUpgradeHold(deps(), { userId: buyer.userId, licenseId: committed.license.id, tier: 'pro' }));
    value(await commitHold(deps(), { holdId: upgrade.id, actor: billing }));
    alerts = await alertsOf(buyer.userId);
    expect(alerts.map((a) => a.eventId.split(':')[2])).toEqual(['issued', 'activated', 'upgraded']);
    expect(alerts.at(-1)!.text).toBe(`⬆️ Your license ${committed.license.maskedKey} was upgraded from Starter to Pro. Capital limit $25,000.`);
    for (const a of alerts) expect(leaks(a.text, key)).toBe(false);
  });
});
