// License use-cases: issue (by an admin; paid purchases go through pool-holds.ts), activate
// (bind to an identity), transfer, revoke. The key exists in clear only in the value returned
// at issue time. Each change the license's owner should hear about queues a `license` alert in
// the same transaction (src/app/license-alerts.ts).
import { inTransaction, read } from '../db/transaction.ts';
import { hashLicenseKey, parseLicenseKey } from '../domain/license-key.ts';
import { fits } from '../domain/pool.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { Actor, AppDeps } from './deps.ts';
import { queueLicenseEvent } from './license-alerts.ts';
import {
  insertLicense,
  lockLicense,
  lockLicenseByKeyHash,
  toLicenseView,
  updateLicense,
  type IssuedLicense,
  type LicenseView,
} from './license-records.ts';
import { releaseHoldRow } from './pool-hold-records.ts';
import { lockPool, poolMeter } from './pool.ts';
import { findTier } from './tiers.ts';
import type { ResolvedIdentity } from './users.ts';

export type { IssuedLicense, LicenseView };

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
    const issued = await insertLicense(tx, { tierId: tier.id, capital: tier.maxCapital, userId: input.userId ?? null, actor: input.actor, now });
    await queueLicenseEvent(tx, { type: 'issued', license: issued.license }, now);
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
    const row = await lockLicenseByKeyHash(tx, keyHash);
    if (!row) return err(appError('license_not_found'));

    if (row.status === 'revoked') return err(appError('license_revoked'));
    if (row.status === 'active') {
      if (row.userId === input.identity.userId) return ok({ license: toLicenseView(row), alreadyActive: true });
      return err(appError('license_already_bound'));
    }
    const license = await updateLicense(
      tx,
      row,
      { status: 'active', userId: input.identity.userId, boundIdentityId: input.identity.identityId, activatedAt: now },
      { actor: { type: 'user', id: input.identity.userId }, action: 'license.activated', now },
    );
    await queueLicenseEvent(tx, { type: 'activated', license }, now);
    return ok({ license, alreadyActive: false });
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
    const license = await updateLicense(
      tx,
      row,
      { status: 'active', userId: input.to.userId, boundIdentityId: input.to.identityId, activatedAt: row.activatedAt ?? now },
      { actor: input.actor, action: 'license.transferred', now },
    );
    await queueLicenseEvent(tx, { type: 'transferred', license, fromUserId: row.userId }, now);
    return ok(license);
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
    const pendingUpgrades = await tx.poolHold.findMany({ where: { licenseId: row.id, status: 'held' } });
    for (const hold of pendingUpgrades) await releaseHoldRow(tx, hold, 'license_revoked', input.actor, now);
    const license = await updateLicense(
      tx,
      row,
      { status: 'revoked', revokedAt: now, revokedReason: input.reason },
      { actor: input.actor, action: 'license.revoked', now },
    );
    await queueLicenseEvent(tx, { type: 'revoked', license, userId: row.userId, reason: input.reason }, now);
    return ok(license);
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

export interface Entitlement {
  readonly tierId: string;
  readonly rank: number;
}

/** The highest tier among the user's active licenses, or null when they have none. */
export async function entitlementOf(deps: AppDeps, userId: string): Promise<Entitlement | null> {
  const best = await read(() =>
    deps.db.license.findFirst({
      where: { userId, status: 'active' },
      orderBy: { tier: { rank: 'desc' } },
      select: { tierId: true, tier: { select: { rank: true } } },
    }),
  );
  return best ? { tierId: best.tierId, rank: best.tier.rank } : null;
}
