import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor, type Actor } from '../../src/app/deps.ts';
import {
  activateLicense,
  findLicenseByKey,
  issueLicense,
  revokeLicense,
  transferLicense,
} from '../../src/app/licenses.ts';
import { checkPoolAccess, getPoolStatus, setPoolCap } from '../../src/app/pool.ts';
import {
  commitHold,
  placePurchaseHold,
  placeUpgradeHold,
  releaseExpiredHolds,
  releaseHold,
} from '../../src/app/pool-holds.ts';
import { resolveIdentity, type ResolvedIdentity } from '../../src/app/users.ts';
import { dollars } from '../../src/kernel/money.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { dumpJson, errorCode, value } from '../support/results.ts';

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
  resolveIdentity(deps(), { platform, externalId: `user-${++counter}`, username: `name${counter}` });

const auditActions = async (entityId: string) =>
  (await database.db.auditEntry.findMany({ where: { entityId }, orderBy: { id: 'asc' } })).map((e) => e.action);

describe('identities', () => {
  it('the first contact creates one user, even when it arrives ten times at once', async () => {
    const ref = { platform: 'telegram' as const, externalId: 'burst-1' };
    const all = await Promise.all(Array.from({ length: 10 }, () => resolveIdentity(deps(), ref)));
    expect(new Set(all.map((r) => r.userId)).size).toBe(1);
    expect(await database.db.identity.count({ where: { externalId: 'burst-1' } })).toBe(1);
  });
});

describe('license issue and activation', () => {
  it('shows the key once and stores only its hash and last four characters', async () => {
    const { license, key } = value(await issueLicense(deps(), { tier: 'pro', actor: admin }));
    expect(license).toMatchObject({ tierId: 'pro', status: 'issued', capital: dollars(25_000) });
    expect(license.maskedKey).toBe(`AIT-****-****-${key.slice(-4)}`);
    const rows = await database.db.$queryRaw<unknown[]>`SELECT * FROM licenses`;
    const audit = await database.db.$queryRaw<unknown[]>`SELECT * FROM audit_log`;
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(dumpJson(audit)).not.toContain(key);
    expect(await auditActions(license.id)).toEqual(['license.issued']);
  });

  it('binds to the first identity, shares with the same account, refuses anyone else', async () => {
    const { license, key } = value(await issueLicense(deps(), { tier: 'trader', actor: admin }));
    const owner = await newIdentity('telegram');

    const first = value(await activateLicense(deps(), { key, identity: owner }));
    expect(first).toMatchObject({ alreadyActive: false, license: { status: 'active', userId: owner.userId, boundIdentityId: owner.identityId } });
    expect(first.license.activatedAt).toEqual(database.clock.now());

    // Typed again, in lower case, by the same person: harmless.
    expect(value(await activateLicense(deps(), { key: key.toLowerCase(), identity: owner })).alreadyActive).toBe(true);

    // The owner's linked Discord identity belongs to the same account.
    const linked = await database.db.identity.create({
      data: { userId: owner.userId, platform: 'discord', externalId: `linked-${owner.userId}` },
    });
    const viaDiscord: ResolvedIdentity = { userId: owner.userId, identityId: linked.id, platform: 'discord', externalId: linked.externalId, created: false };
    expect(value(await activateLicense(deps(), { key, identity: viaDiscord })).alreadyActive).toBe(true);

    const stranger = await newIdentity('discord');
    const refused = await activateLicense(deps(), { key, identity: stranger });
    expect(refused).toEqual({ ok: false, error: { code: 'license_already_bound', message: 'Contact support to transfer license' } });
    expect(await auditActions(license.id)).toEqual(['license.issued', 'license.activated']);
  });

  it('catches typos before the database and reports unknown keys', async () => {
    const { key } = value(await issueLicense(deps(), { tier: 'starter', actor: admin }));
    const someone = await newIdentity();
    const typo = key.slice(0, -1) + (key.endsWith('Z') ? 'Y' : 'Z');
    expect(errorCode(await activateLicense(deps(), { key: typo, identity: someone }))).toBe('invalid_license_format');
    expect(errorCode(await activateLicense(deps(), { key: 'hello', identity: someone }))).toBe('invalid_license_format');
    // A well-formed key that was never issued.
    const { generateLicenseKey } = await import('../../src/domain/license-key.ts');
    expect(errorCode(await activateLicense(deps(), { key: generateLicenseKey(), identity: someone }))).toBe('license_not_found');
  });

  it('an admin transfer rebinds the license, with before and after in the audit log', async () => {
    const { license, key } = value(await issueLicense(deps(), { tier: 'elite', actor: admin }));
    const seller = await newIdentity();
    const buyer = await newIdentity('discord');
    value(await activateLicense(deps(), { key, identity: seller }));
    const moved = value(await transferLicense(deps(), { licenseId: license.id, to: buyer, actor: admin }));
    expect(moved).toMatchObject({ userId: buyer.userId, boundIdentityId: buyer.identityId, status: 'active' });
    expect(errorCode(await activateLicense(deps(), { key, identity: seller }))).toBe('license_already_bound');

    const entry = await database.db.auditEntry.findFirst({ where: { entityId: license.id, action: 'license.transferred' } });
    expect(entry).toMatchObject({ actorType: 'admin', actorId: 'admin-1' });
    expect(entry!.before).toMatchObject({ userId: seller.userId });
    expect(entry!.after).toMatchObject({ userId: buyer.userId });
    expect(errorCode(await transferLicense(deps(), { licenseId: 'not-a-uuid', to: buyer, actor: admin }))).toBe('license_not_found');
  });

  it('revoking returns the capital to the pool and blocks activation', async () => {
    const before = await getPoolStatus(deps());
    const { license, key } = value(await issueLicense(deps(), { tier: 'whale', actor: admin }));
    expect((await getPoolStatus(deps())).committed).toBe(before.committed + dollars(100_000));
    const revoked = value(await revokeLicense(deps(), { licenseId: license.id, reason: 'chargeback', actor: admin }));
    expect(revoked).toMatchObject({ status: 'revoked', revokedReason: 'chargeback' });
    expect((await getPoolStatus(deps())).committed).toBe(before.committed);
    expect(errorCode(await activateLicense(deps(), { key, identity: await newIdentity() }))).toBe('license_revoked');
    expect(errorCode(await revokeLicense(deps(), { licenseId: license.id, reason: 'again', actor: admin }))).toBe('license_revoked');
    expect(value(await findLicenseByKey(deps(), key)).status).toBe('revoked');
  });
});

describe('purchase and upgrade holds', () => {
  it('revoking a license releases its pending upgrade, with an audit entry for each', async () => {
    const owner = await newIdentity();
    const { license } = value(await issueLicense(deps(), { tier: 'trader', actor: admin, userId: owner.userId }));
    const hold = value(await placeUpgradeHold(deps(), { userId: owner.userId, licenseId: license.id, tier: 'pro' }));
    value(await revokeLicense(deps(), { licenseId: license.id, reason: 'refund', actor: admin }));
    const row = await database.db.poolHold.findUniqueOrThrow({ where: { id: hold.id } });
    expect(row).toMatchObject({ status: 'released', releaseReason: 'license_revoked' });
    expect(await auditActions(hold.id)).toEqual(['pool_hold.placed', 'pool_hold.released']);
    expect(await auditActions(license.id)).toEqual(['license.issued', 'license.revoked']);
    expect(errorCode(await commitHold(deps(), { holdId: hold.id, actor: systemActor('stripe') }))).toBe('hold_not_active');
  });

  it('a paid purchase hold becomes a license; a repeated commit changes nothing', async () => {
    const buyer = await newIdentity();
    const before = await getPoolStatus(deps());
    const hold = value(await placePurchaseHold(deps(), { userId: buyer.userId, tier: 'Pro' }));
    expect(hold).toMatchObject({ kind: 'purchase', status: 'held', amount: dollars(25_000), price: dollars(2_500) });
    expect(hold.expiresAt.getTime() - database.clock.now().getTime()).toBe(30 * 60_000);
    expect((await getPoolStatus(deps())).held).toBe(before.held + dollars(25_000));

    const committed = value(await commitHold(deps(), { holdId: hold.id, actor: systemActor('stripe') }));
    expect(committed.key).toMatch(/^AIT-/);
    expect(committed.license).toMatchObject({ tierId: 'pro', status: 'issued', userId: buyer.userId, capital: dollars(25_000) });
    const after = await getPoolStatus(deps());
    expect(after.held).toBe(before.held);
    expect(after.committed).toBe(before.committed + dollars(25_000));

    const repeat = value(await commitHold(deps(), { holdId: hold.id, actor: systemActor('stripe') }));
    expect(repeat).toMatchObject({ alreadyCommitted: true, key: null, license: { id: committed.license.id } });
    expect((await getPoolStatus(deps())).committed).toBe(after.committed);
    expect(await auditActions(hold.id)).toEqual(['pool_hold.placed', 'pool_hold.committed']);
  });

  it('an upgrade holds only the capital difference and charges only the price difference', async () => {
    const owner = await newIdentity();
    const { license, key } = value(await issueLicense(deps(), { tier: 'trader', actor: admin, userId: owner.userId }));
    value(await activateLicense(deps(), { key, identity: owner }));

    expect(errorCode(await placeUpgradeHold(deps(), { userId: owner.userId, licenseId: license.id, tier: 'starter' }))).toBe('tier_not_higher');
    const stranger = await newIdentity();
    expect(errorCode(await placeUpgradeHold(deps(), { userId: stranger.userId, licenseId: license.id, tier: 'elite' }))).toBe('license_not_found');

    const hold = value(await placeUpgradeHold(deps(), { userId: owner.userId, licenseId: license.id, tier: 'elite' }));
    expect(hold).toMatchObject({ kind: 'upgrade', amount: dollars(40_000), price: dollars(4_000), licenseId: license.id });
    const upgraded = value(await commitHold(deps(), { holdId: hold.id, actor: systemActor('stripe') }));
    expect(upgraded.key).toBeNull();
    expect(upgraded.license).toMatchObject({ id: license.id, tierId: 'elite', capital: dollars(50_000), status: 'active' });
    expect(await auditActions(license.id)).toEqual(['license.issued', 'license.activated', 'license.upgraded']);
  });

  it('a new hold by the same user replaces the previous one', async () => {
    const buyer = await newIdentity();
    const first = value(await placePurchaseHold(deps(), { userId: buyer.userId, tier: 'pro' }));
    const second = value(await placePurchaseHold(deps(), { userId: buyer.userId, tier: 'elite' }));
    const rows = await database.db.poolHold.findMany({ where: { userId: buyer.userId }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.id, r.status, r.releaseReason])).toEqual([
      [first.id, 'released', 'superseded'],
      [second.id, 'held', null],
    ]);
    expect(errorCode(await commitHold(deps(), { holdId: first.id, actor: systemActor('stripe') }))).toBe('hold_not_active');
    value(await releaseHold(deps(), { holdId: second.id, reason: 'checkout_expired', actor: systemActor('stripe') }));
  });

  it('lapsed holds stop counting at once, are released by the expiry job, and late payments are honoured only if they fit', async () => {
    const other = await createMigratedDatabase({ holdTtlMs: 60_000 });
    try {
      const d = other.deps;
      await setPoolCap(d, dollars(30_000), admin);
      const a = await resolveIdentity(d, { platform: 'telegram', externalId: 'a' });
      const b = await resolveIdentity(d, { platform: 'telegram', externalId: 'b' });
      const c = await resolveIdentity(d, { platform: 'telegram', externalId: 'c' });

      const holdA = value(await placePurchaseHold(d, { userId: a.userId, tier: 'pro' }));
      expect(errorCode(await placePurchaseHold(d, { userId: b.userId, tier: 'pro' }))).toBe('pool_full');

      other.clock.advance(60_000); // A's hold lapses: it no longer counts
      expect((await getPoolStatus(d)).held).toBe(0);
      // A pays late while there is still room: honoured.
      expect(value(await commitHold(d, { holdId: holdA.id, actor: systemActor('stripe') })).license.tierId).toBe('pro');

      const holdB = value(await placePurchaseHold(d, { userId: b.userId, tier: 'starter' }));
      other.clock.advance(61_000);
      const holdC = value(await placePurchaseHold(d, { userId: c.userId, tier: 'starter' }));
      // B pays after lapsing, but C took the room: refused, and B's hold is released.
      expect(errorCode(await commitHold(d, { holdId: holdB.id, actor: systemActor('stripe') }))).toBe('hold_expired');

      other.clock.advance(61_000);
      expect(await releaseExpiredHolds(d)).toBe(1);
      const rows = await other.db.poolHold.findMany({ where: { id: { in: [holdB.id, holdC.id] } } });
      expect(rows.every((r) => r.status === 'released' && r.releaseReason === 'expired')).toBe(true);
      expect(await releaseExpiredHolds(d)).toBe(0);
    } finally {
      await other.drop();
    }
  });

  it('pool_full carries the meter so the user can be shown it', async () => {
    const other = await createMigratedDatabase();
    try {
      await setPoolCap(other.deps, dollars(4_000), admin);
      const buyer = await resolveIdentity(other.deps, { platform: 'discord', externalId: 'x' });
      const result = await placePurchaseHold(other.deps, { userId: buyer.userId, tier: 'starter' });
      expect(result).toMatchObject({
        ok: false,
        error: { code: 'pool_full', details: { cap: '$4,000', available: '$4,000', tier: 'starter' } },
      });
      expect(errorCode(await placePurchaseHold(other.deps, { userId: buyer.userId, tier: 'platinum' }))).toBe('tier_not_found');
    } finally {
      await other.drop();
    }
  });
});

describe('over-cap enforcement', () => {
  it('warns when the cap is lowered a little below what was sold, blocks new runs and scanner beyond the margin', async () => {
    const other = await createMigratedDatabase({ hardOveragePct: 10 });
    try {
      const d = other.deps;
      for (let i = 0; i < 10; i++) value(await issueLicense(d, { tier: 'whale', actor: admin })); // $1,000,000
      expect(value(await checkPoolAccess(d, 'new_run'))).toEqual({ level: 'normal', warning: null });

      await setPoolCap(d, dollars(950_000), admin); // 5.3% over: soft
      const soft = value(await checkPoolAccess(d, 'scanner'));
      expect(soft.level).toBe('soft');
      expect(soft.warning).toMatch(/over its cap/);

      await setPoolCap(d, dollars(900_000), admin); // 11.1% over: hard
      const hard = await checkPoolAccess(d, 'new_run');
      expect(hard).toMatchObject({ ok: false, error: { code: 'pool_over_cap', details: { feature: 'new_run' } } });
      expect((await getPoolStatus(d)).enforcement).toBe('hard');

      const caps = await other.db.auditEntry.findMany({ where: { action: 'pool.cap_set' }, orderBy: { id: 'asc' } });
      expect(caps.map((c) => [c.before, c.after])).toEqual([
        [{ capUsd: '2500000.00' }, { capUsd: '950000.00' }],
        [{ capUsd: '950000.00' }, { capUsd: '900000.00' }],
      ]);
    } finally {
      await other.drop();
    }
  });
});
