// Licenses: issue (by an admin, or by a paid hold), activate (bind to an identity), transfer,
// revoke. The key exists in clear only in the value returned at issue time.
import type { Tx } from '../db/client.ts';
import type { LicenseStatus } from '../db/generated/enums.ts';
import { inTransaction, read } from '../db/transaction.ts';
import {
  generateLicenseKey,
  hashLicenseKey,
  keyLast4,
  maskedKey,
  parseLicenseKey,
  type LicenseKey,
} from '../domain/license-key.ts';
import { fits } from '../domain/pool.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { centsToDecimalString, type Cents } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import type { Actor, AppDeps } from './deps.ts';
import { lockPool, poolMeter } from './pool.ts';
import { decimalToCents, findTier } from './tiers.ts';
import type { ResolvedIdentity } from './users.ts';

export interface LicenseView {
  readonly id: string;
  readonly tierId: string;
  readonly status: LicenseStatus;
  readonly capital: Cents;
  /** e.g. AIT-****-****-7KQ2; the full key is never stored. */
  readonly maskedKey: string;
  readonly userId: string | null;
  readonly boundIdentityId: string | null;
  readonly activatedAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokedReason: string | null;
}

interface LicenseRow {
  id: string;
  tierId: string;
  status: LicenseStatus;
  capitalUsd: { toFixed(d: number): string };
  keyLast4: string;
  userId: string | null;
  boundIdentityId: string | null;
  activatedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
}

export function toLicenseView(row: LicenseRow): LicenseView {
  return {
    id: row.id,
    tierId: row.tierId,
    status: row.status,
    capital: decimalToCents(row.capitalUsd),
    maskedKey: maskedKey(row.keyLast4),
    userId: row.userId,
    boundIdentityId: row.boundIdentityId,
    activatedAt: row.activatedAt,
    revokedAt: row.revokedAt,
    revokedReason: row.revokedReason,
  };
}

export interface IssuedLicense {
  readonly license: LicenseView;
  /** Shown to the buyer exactly once. */
  readonly key: LicenseKey;
}

/** Inserts a license row inside the caller's transaction (the caller has checked the pool). */
export async function insertLicense(
  tx: Tx,
  input: { tierId: string; capital: Cents; userId: string | null; now: Date },
): Promise<IssuedLicense> {
  let key = generateLicenseKey();
  // ~54 random bits make a clash practically impossible; checking first keeps the transaction alive if one happens.
  while (await tx.license.findUnique({ where: { keyHash: hashLicenseKey(key) }, select: { id: true } })) {
    key = generateLicenseKey();
  }
  const row = await tx.license.create({
    data: {
      keyHash: hashLicenseKey(key),
      keyLast4: keyLast4(key),
      tierId: input.tierId,
      capitalUsd: centsToDecimalString(input.capital),
      userId: input.userId,
      createdAt: input.now,
    },
  });
  return { license: toLicenseView(row), key };
}

/** An admin issues a license without payment; it still takes its capital from the pool. */
export async function issueLicense(
  deps: AppDeps,
  input: { tier: string; actor: Actor; userId?: string | null },
): Promise<Result<IssuedLicense>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const tier = await findTier(tx, input.tier);
    if (!tier) return err(appError('tier_not_found', { tier: input.tier }));
    const usage = await lockPool(tx, now);
    if (!fits(usage, tier.maxCapital)) {
      return err(appError('pool_full', { tier: tier.id, ...poolMeter(usage) }));
    }
    const issued = await insertLicense(tx, { tierId: tier.id, capital: tier.maxCapital, userId: input.userId ?? null, now });
    await recordAudit(tx, {
      actor: input.actor,
      action: 'license.issued',
      entityType: 'license',
      entityId: issued.license.id,
      after: issued.license,
      at: now,
    });
    return ok(issued);
  });
}

export interface Activation {
  readonly license: LicenseView;
  /** True when this account had already activated it (a repeat is harmless). */
  readonly alreadyActive: boolean;
}

/**
 * Binds a license to the identity that activates it. Another identity of the same account
 * shares it; any other account gets license_already_bound.
 */
export async function activateLicense(
  deps: AppDeps,
  input: { key: string; identity: ResolvedIdentity },
): Promise<Result<Activation>> {
  // Typos are caught here, before any database lookup.
  const parsed = parseLicenseKey(input.key);
  if (!parsed.ok) return parsed;
  const keyHash = hashLicenseKey(parsed.value);

  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM licenses WHERE key_hash = ${keyHash} FOR UPDATE`;
    const id = locked[0]?.id;
    if (!id) return err(appError('license_not_found'));
    const row = await tx.license.findUniqueOrThrow({ where: { id } });
    const before = toLicenseView(row);

    if (row.status === 'revoked') return err(appError('license_revoked'));
    if (row.status === 'active') {
      if (row.userId === input.identity.userId) return ok({ license: before, alreadyActive: true });
      return err(appError('license_already_bound'));
    }
    const updated = await tx.license.update({
      where: { id },
      data: {
        status: 'active',
        userId: input.identity.userId,
        boundIdentityId: input.identity.identityId,
        activatedAt: now,
        updatedAt: now,
      },
    });
    const after = toLicenseView(updated);
    await recordAudit(tx, {
      actor: { type: 'user', id: input.identity.userId },
      action: 'license.activated',
      entityType: 'license',
      entityId: id,
      before,
      after,
      at: now,
    });
    return ok({ license: after, alreadyActive: false });
  });
}

/** Admin rebinds a license to another identity (the seed's "contact support to transfer"). */
export async function transferLicense(
  deps: AppDeps,
  input: { licenseId: string; to: ResolvedIdentity; actor: Actor },
): Promise<Result<LicenseView>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const row = await lockLicense(tx, input.licenseId);
    if (!row) return err(appError('license_not_found'));
    if (row.status === 'revoked') return err(appError('license_revoked'));
    const updated = await tx.license.update({
      where: { id: row.id },
      data: {
        status: 'active',
        userId: input.to.userId,
        boundIdentityId: input.to.identityId,
        activatedAt: row.activatedAt ?? now,
        updatedAt: now,
      },
    });
    const after = toLicenseView(updated);
    await recordAudit(tx, {
      actor: input.actor,
      action: 'license.transferred',
      entityType: 'license',
      entityId: row.id,
      before: toLicenseView(row),
      after,
      at: now,
    });
    return ok(after);
  });
}

/** Revoking returns the license's capital to the pool and voids any pending upgrade of it. */
export async function revokeLicense(
  deps: AppDeps,
  input: { licenseId: string; reason: string; actor: Actor },
): Promise<Result<LicenseView>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    await lockPool(tx, now);
    const row = await lockLicense(tx, input.licenseId);
    if (!row) return err(appError('license_not_found'));
    if (row.status === 'revoked') return err(appError('license_revoked'));
    const updated = await tx.license.update({
      where: { id: row.id },
      data: { status: 'revoked', revokedAt: now, revokedReason: input.reason, updatedAt: now },
    });
    await tx.poolHold.updateMany({
      where: { licenseId: row.id, status: 'held' },
      data: { status: 'released', releasedAt: now, releaseReason: 'license_revoked', updatedAt: now },
    });
    const after = toLicenseView(updated);
    await recordAudit(tx, {
      actor: input.actor,
      action: 'license.revoked',
      entityType: 'license',
      entityId: row.id,
      before: toLicenseView(row),
      after,
      at: now,
    });
    return ok(after);
  });
}

export async function findLicenseByKey(deps: AppDeps, key: string): Promise<Result<LicenseView>> {
  const parsed = parseLicenseKey(key);
  if (!parsed.ok) return parsed;
  const row = await read(() => deps.db.license.findUnique({ where: { keyHash: hashLicenseKey(parsed.value) } }));
  return row ? ok(toLicenseView(row)) : err(appError('license_not_found'));
}

export async function listLicensesOfUser(deps: AppDeps, userId: string): Promise<LicenseView[]> {
  const rows = await read(() => deps.db.license.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }));
  return rows.map(toLicenseView);
}

export async function lockLicense(tx: Tx, licenseId: string) {
  if (!isUuid(licenseId)) return null;
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM licenses WHERE id = ${licenseId}::uuid FOR UPDATE`;
  return locked[0] ? tx.license.findUnique({ where: { id: licenseId } }) : null;
}
