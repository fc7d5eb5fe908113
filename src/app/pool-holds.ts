// The purchase lifecycle of pool capacity: a purchase or upgrade intent places a hold, payment
// commits it (issuing or upgrading the license), expiry or cancellation releases it.
import type { Tx } from '../db/client.ts';
import type { PoolHoldKind } from '../db/generated/enums.ts';
import { inTransaction } from '../db/transaction.ts';
import type { LicenseKey } from '../domain/license-key.ts';
import { fits } from '../domain/pool.ts';
import { priceForCapital } from '../domain/tiers.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { cents, centsToDecimalString, type Cents } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import type { Actor, AppDeps } from './deps.ts';
import { queueLicenseEvent } from './license-alerts.ts';
import { insertLicense, lockLicense, toLicenseView, updateLicense, type LicenseView } from './license-records.ts';
import { releaseHoldRow, toHoldView, type HoldView } from './pool-hold-records.ts';
import { lockPool, poolMeter, readUsage } from './pool.ts';
import { decimalToCents, findTier } from './tiers.ts';

export type { HoldView };

const userActor = (userId: string): Actor => ({ type: 'user', id: userId });

/**
 * Reserves a tier's full capital for a purchase. A user has at most one open purchase hold:
 * a new one replaces the previous, so nobody can tie up the pool by repeating /buy.
 */
export async function placePurchaseHold(deps: AppDeps, input: { userId: string; tier: string }): Promise<Result<HoldView>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const tier = await findTier(tx, input.tier);
    if (!tier || !tier.active) return err(appError('tier_not_found', { tier: input.tier }));
    await lockPool(tx, now);
    await supersedeOpenHolds(tx, { userId: input.userId, kind: 'purchase', licenseId: null }, now);
    const usage = await readUsage(tx, now);
    if (!fits(usage, tier.maxCapital)) return err(appError('pool_full', { tier: tier.id, ...poolMeter(usage) }));
    return ok(await insertHold(tx, deps, { userId: input.userId, tierId: tier.id, licenseId: null, kind: 'purchase', amount: tier.maxCapital }, now));
  });
}

/** Reserves only the capital difference and charges only the price difference. */
export async function placeUpgradeHold(
  deps: AppDeps,
  input: { userId: string; licenseId: string; tier: string },
): Promise<Result<HoldView>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const target = await findTier(tx, input.tier);
    if (!target || !target.active) return err(appError('tier_not_found', { tier: input.tier }));
    await lockPool(tx, now);
    const license = await lockLicense(tx, input.licenseId);
    if (!license || license.userId !== input.userId) return err(appError('license_not_found'));
    if (license.status === 'revoked') return err(appError('license_revoked'));
    const capital = decimalToCents(license.capitalUsd);
    if (target.maxCapital <= capital) return err(appError('tier_not_higher', { current: license.tierId, requested: target.id }));
    // One pending upgrade per license: the license's capital is then the base every open hold was priced from.
    await supersedeOpenHolds(tx, { userId: input.userId, kind: 'upgrade', licenseId: license.id }, now);
    const usage = await readUsage(tx, now);
    const amount = cents(target.maxCapital - capital);
    if (!fits(usage, amount)) return err(appError('pool_full', { tier: target.id, ...poolMeter(usage) }));
    return ok(await insertHold(tx, deps, { userId: input.userId, tierId: target.id, licenseId: license.id, kind: 'upgrade', amount }, now));
  });
}

async function insertHold(
  tx: Tx,
  deps: AppDeps,
  input: { userId: string; tierId: string; licenseId: string | null; kind: PoolHoldKind; amount: Cents },
  now: Date,
): Promise<HoldView> {
  const row = await tx.poolHold.create({
    data: {
      userId: input.userId,
      tierId: input.tierId,
      licenseId: input.licenseId,
      kind: input.kind,
      amountUsd: centsToDecimalString(input.amount),
      priceUsd: centsToDecimalString(priceForCapital(input.amount)),
      expiresAt: new Date(now.getTime() + deps.pool.holdTtlMs),
      createdAt: now,
    },
  });
  const hold = toHoldView(row);
  await recordAudit(tx, { actor: userActor(input.userId), action: 'pool_hold.placed', entityType: 'pool_hold', entityId: hold.id, after: hold, at: now });
  return hold;
}

async function supersedeOpenHolds(
  tx: Tx,
  scope: { userId: string; kind: PoolHoldKind; licenseId: string | null },
  now: Date,
): Promise<void> {
  const open = await tx.poolHold.findMany({
    where: { userId: scope.userId, kind: scope.kind, status: 'held', ...(scope.licenseId ? { licenseId: scope.licenseId } : {}) },
  });
  for (const hold of open) await releaseHoldRow(tx, hold, 'superseded', userActor(scope.userId), now);
}

export interface CommittedHold {
  readonly hold: HoldView;
  readonly license: LicenseView;
  /** The new key for a purchase, shown once; null for upgrades and repeated commits. */
  readonly key: LicenseKey | null;
  readonly alreadyCommitted: boolean;
}

/**
 * Payment arrived: commit the hold. Idempotent (a repeated commit reports the same license).
 * A hold that lapsed but was not yet released is honoured if the pool still has room.
 */
export async function commitHold(
  deps: AppDeps,
  input: {
    holdId: string;
    actor: Actor;
    /** What paid for it (a Stripe PaymentIntent id): refunds and disputes find the hold by it. */
    paymentRef?: string;
    /** A purchase is activated on this identity at once (the buyer), instead of waiting for /activate. */
    bindTo?: { userId: string; identityId: string };
  },
): Promise<Result<CommittedHold>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const usage = await lockPool(tx, now);
    const row = await lockHold(tx, input.holdId);
    if (!row) return err(appError('hold_not_found'));
    if (row.status === 'committed') {
      const license = row.licenseId ? await tx.license.findUnique({ where: { id: row.licenseId } }) : null;
      if (!license) return err(appError('hold_not_active'));
      return ok({ hold: toHoldView(row), license: toLicenseView(license), key: null, alreadyCommitted: true });
    }
    if (row.status === 'released') return err(appError('hold_not_active', { reason: row.releaseReason }));

    const amount = decimalToCents(row.amountUsd);
    const lapsed = row.expiresAt.getTime() <= now.getTime();
    // An unexpired hold is already inside `usage`; a lapsed one is not and must fit again.
    if (lapsed && !fits(usage, amount)) {
      await releaseHoldRow(tx, row, 'expired', input.actor, now);
      return err(appError('hold_expired', poolMeter(usage)));
    }

    let license: LicenseView;
    let key: LicenseKey | null = null;
    /** The tier an upgrade started from. */
    let upgradedFrom = '';
    let activated = false;
    if (row.kind === 'purchase') {
      const issued = await insertLicense(tx, { tierId: row.tierId, capital: amount, userId: row.userId, actor: input.actor, now, holdId: row.id });
      license = issued.license;
      key = issued.key;
      if (input.bindTo && input.bindTo.userId === row.userId) {
        const inserted = await tx.license.findUniqueOrThrow({ where: { id: license.id } });
        license = await updateLicense(
          tx,
          inserted,
          { status: 'active', boundIdentityId: input.bindTo.identityId, activatedAt: now },
          { actor: input.actor, action: 'license.activated', now },
        );
        activated = true;
      }
    } else {
      const current = row.licenseId ? await lockLicense(tx, row.licenseId) : null;
      if (!current) return err(appError('license_not_found'));
      if (current.status === 'revoked') {
        await releaseHoldRow(tx, row, 'license_revoked', input.actor, now);
        return err(appError('license_revoked'));
      }
      upgradedFrom = current.tierId;
      license = await updateLicense(
        tx,
        current,
        { tierId: row.tierId, capitalUsd: centsToDecimalString(cents(decimalToCents(current.capitalUsd) + amount)) },
        { actor: input.actor, action: 'license.upgraded', now },
      );
    }

    // The buyer hears of it (the purchase's key is in `key`, never in the alert).
    await queueLicenseEvent(
      tx,
      row.kind === 'upgrade' ? { type: 'upgraded', license, fromTierId: upgradedFrom } : activated ? { type: 'activated', license } : { type: 'issued', license },
      now,
    );

    const committed = await tx.poolHold.update({
      where: { id: row.id },
      data: {
        status: 'committed',
        committedAt: now,
        licenseId: license.id,
        updatedAt: now,
        ...(input.paymentRef ? { paymentRef: input.paymentRef } : {}),
        ...(row.kind === 'upgrade' ? { previousTierId: upgradedFrom } : {}),
      },
    });
    const hold = toHoldView(committed);
    await recordAudit(tx, { actor: input.actor, action: 'pool_hold.committed', entityType: 'pool_hold', entityId: row.id, before: toHoldView(row), after: hold, at: now });
    return ok({ hold, license, key, alreadyCommitted: false });
  });
}

/** Cancels a hold (checkout abandoned or expired at the payment provider). */
export async function releaseHold(
  deps: AppDeps,
  input: { holdId: string; reason: string; actor: Actor },
): Promise<Result<HoldView>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    await lockPool(tx, now);
    const row = await lockHold(tx, input.holdId);
    if (!row) return err(appError('hold_not_found'));
    if (row.status !== 'held') return err(appError('hold_not_active', { status: row.status }));
    return ok(await releaseHoldRow(tx, row, input.reason, input.actor, now));
  });
}

/** Scheduled: marks lapsed holds released. (They stop counting against the pool the moment they lapse.) */
export async function releaseExpiredHolds(deps: AppDeps): Promise<number> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    await lockPool(tx, now);
    const lapsed = await tx.poolHold.findMany({ where: { status: 'held', expiresAt: { lte: now } }, take: 1000 });
    for (const row of lapsed) await releaseHoldRow(tx, row, 'expired', { type: 'system', id: 'hold-expiry' }, now);
    return lapsed.length;
  });
}

async function lockHold(tx: Tx, holdId: string) {
  if (!isUuid(holdId)) return null;
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM pool_holds WHERE id = ${holdId}::uuid FOR UPDATE`;
  return locked[0] ? tx.poolHold.findUnique({ where: { id: holdId } }) : null;
}
