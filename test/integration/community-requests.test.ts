// Every change that can move a user's gated community access queues a community sync in the
// same transaction as the change: activation, upgrade, transfer (both owners), revocation, and
// an account merge by /link. A change that fails queues nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/deps.ts';
import { createLinkCode, redeemLinkCode } from '../../src/app/identity-links.ts';
import { activateLicense, issueLicense, revokeLicense, transferLicense } from '../../src/app/licenses.ts';
import { commitHold, placeUpgradeHold } from '../../src/app/pool-holds.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { value } from '../support/results.ts';

const admin: Actor = { type: 'admin', id: 'admin-1' };
let database: MigratedDatabase;
let counter = 0;

beforeAll(async () => {
  database = await createMigratedDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const deps = () => database.deps;
const newIdentity = (platform: 'telegram' | 'discord' = 'telegram') =>
  resolveIdentity(deps(), { platform, externalId: `sync-${++counter}`, username: null });
const syncsOf = async (userId: string) =>
  (await database.db.communitySyncRequest.findMany({ where: { userId }, orderBy: { id: 'asc' } })).map((r) => r.reason);

describe('community sync requests', () => {
  it('activation, upgrade, transfer and revocation queue syncs for every account they touch', async () => {
    const { license, key } = value(await issueLicense(deps(), { tier: 'starter', actor: admin }));
    const first = await newIdentity();
    const second = await newIdentity();
    // Issued to nobody, or issued but not active: nothing grants access yet.
    expect(await database.db.communitySyncRequest.count()).toBe(0);

    value(await activateLicense(deps(), { key, identity: first }));
    const stored = await database.db.communitySyncRequest.findFirstOrThrow({ where: { userId: first.userId } });
    expect(stored).toMatchObject({ reason: 'license_activated', attempts: 0, processedAt: null, nextAttemptAt: database.clock.now() });
    // A repeated activation changes nothing and queues nothing.
    value(await activateLicense(deps(), { key, identity: first }));
    expect(await syncsOf(first.userId)).toEqual(['license_activated']);

    database.clock.advance(1000);
    const hold = value(await placeUpgradeHold(deps(), { userId: first.userId, licenseId: license.id, tier: 'pro' }));
    value(await commitHold(deps(), { holdId: hold.id, actor: { type: 'system', id: 'billing' } }));
    expect(await syncsOf(first.userId)).toEqual(['license_activated', 'license_upgraded']);

    database.clock.advance(1000);
    value(await transferLicense(deps(), { licenseId: license.id, to: second, actor: admin }));
    expect(await syncsOf(first.userId)).toEqual(['license_activated', 'license_upgraded', 'license_transferred_away']);
    expect(await syncsOf(second.userId)).toEqual(['license_transferred']);

    database.clock.advance(1000);
    value(await revokeLicense(deps(), { licenseId: license.id, reason: 'chargeback', actor: admin }));
    expect(await syncsOf(second.userId)).toEqual(['license_transferred', 'license_revoked']);
    // Revoking again fails and queues nothing.
    expect((await revokeLicense(deps(), { licenseId: license.id, reason: 'again', actor: admin })).ok).toBe(false);
    expect(await syncsOf(second.userId)).toEqual(['license_transferred', 'license_revoked']);
  });

  it('/link queues a sync of the merged account; the merged-away account and its syncs are gone', async () => {
    const vault = await Vault.create({ key: await generateMasterKey() });
    const { key } = value(await issueLicense(deps(), { tier: 'pro', actor: admin }));
    const onDiscord = await newIdentity('discord');
    value(await activateLicense(deps(), { key, identity: onDiscord }));
    const onTelegram = await newIdentity('telegram');
    const other = value(await issueLicense(deps(), { tier: 'starter', actor: admin }));
    value(await activateLicense(deps(), { key: other.key, identity: onTelegram }));
    expect(await syncsOf(onTelegram.userId)).toEqual(['license_activated']);
    const { code } = await createLinkCode(deps(), { userId: onDiscord.userId, platform: 'discord' });
    value(await redeemLinkCode({ ...deps(), vault }, { code, identity: onTelegram }));
    expect(await syncsOf(onDiscord.userId)).toEqual(['license_activated', 'identity_linked']);
    expect(await database.db.user.findUnique({ where: { id: onTelegram.userId } })).toBeNull();
    expect(await syncsOf(onTelegram.userId)).toEqual([]);
  });
});
