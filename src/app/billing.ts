// Paid licenses: /buy and /upgrade reserve pool capital (a hold) and open a checkout at the
// payment provider; its verified webhook events then commit the hold (issuing or upgrading the
// license), release it (checkout expired), undo it (refund) or flag the buyer (dispute).
//
// Billing changes state only through verified webhook events, and every handler is idempotent:
// Stripe delivers at least once and in any order. Each handler re-reads the object from the
// provider instead of trusting the event's copy, which may be stale by the time it arrives.
import { queueAlerts } from '../alerts/outbox.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { priceForCapital } from '../domain/tiers.ts';
import { appError } from '../kernel/errors.ts';
import { cents, centsFromDecimalString, centsToDecimalString, formatUsd, type Cents } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { systemActor, type Actor, type AppDeps } from './deps.ts';
import { queueLicenseEvent } from './license-alerts.ts';
import { lockLicense, updateLicense, type LicenseView } from './license-records.ts';
import { revokeLicense } from './licenses.ts';
import { commitHold, placePurchaseHold, placeUpgradeHold, releaseHold, type HoldView } from './pool-holds.ts';
import { decimalToCents, findTier } from './tiers.ts';
import type { LicenseKey } from '../domain/license-key.ts';

// ------------------------------------------------------------------------------------- port

export interface CheckoutRequest {
  readonly holdId: string;
  readonly userId: string;
  readonly kind: 'purchase' | 'upgrade';
  readonly tierId: string;
  /** What the buyer sees, e.g. "Pro license (lifetime)". */
  readonly description: string;
  readonly amount: Cents;
  /** The checkout closes with the hold. */
  readonly expiresAt: Date;
}

export interface CheckoutSession {
  readonly id: string;
  readonly status: 'open' | 'complete' | 'expired';
  readonly paid: boolean;
  /** Our hold id, from the session's metadata. */
  readonly holdId: string | null;
  /** The PaymentIntent, once paid. */
  readonly paymentRef: string | null;
}

export interface ChargeState {
  readonly paymentRef: string | null;
  /** Our hold id, from the metadata the checkout put on the payment. */
  readonly holdId: string | null;
  readonly amount: Cents;
  readonly amountRefunded: Cents;
  readonly refunded: boolean;
}

/** The payment provider as billing needs it (src/billing/stripe-gateway.ts). Failures throw. */
export interface PaymentGateway {
  createCheckout(request: CheckoutRequest): Promise<{ sessionId: string; url: string }>;
  session(sessionId: string): Promise<CheckoutSession>;
  charge(chargeId: string): Promise<ChargeState>;
  refund(paymentRef: string, reason: string): Promise<void>;
}

export interface BillingDeps extends AppDeps {
  /** Null when payments are not configured: /buy says so. */
  readonly gateway: PaymentGateway | null;
}

// ------------------------------------------------------------------------------------- buying

export interface CheckoutStarted {
  readonly url: string;
  readonly hold: HoldView;
  readonly price: Cents;
  readonly expiresAt: Date;
}

/** /buy: reserve the tier's capital, then open a checkout for 10% of it. */
export async function startPurchase(deps: BillingDeps, input: { userId: string; tier: string }): Promise<Result<CheckoutStarted>> {
  if (!deps.gateway) return err(appError('payments_off'));
  const blocked = await purchaseBlock(deps, input.userId);
  if (blocked) return err(appError(blocked));
  const held = await placePurchaseHold(deps, input);
  if (!held.ok) return held;
  const tier = await findTier(deps.db, held.value.tierId);
  return openCheckout(deps, deps.gateway, held.value, `${tier?.name ?? held.value.tierId} license (lifetime)`);
}

/** /upgrade: reserve only the capital difference and charge only the price difference. */
export async function startUpgrade(deps: BillingDeps, input: { userId: string; tier: string }): Promise<Result<CheckoutStarted>> {
  if (!deps.gateway) return err(appError('payments_off'));
  const blocked = await purchaseBlock(deps, input.userId);
  if (blocked) return err(appError(blocked));
  const best = await read(() =>
    deps.db.license.findFirst({ where: { userId: input.userId, status: 'active' }, orderBy: { tier: { rank: 'desc' } } }),
  );
  if (!best) return err(appError('no_license_to_upgrade'));
  const held = await placeUpgradeHold(deps, { userId: input.userId, licenseId: best.id, tier: input.tier });
  if (!held.ok) return held;
  const [from, to] = await Promise.all([findTier(deps.db, best.tierId), findTier(deps.db, held.value.tierId)]);
  return openCheckout(deps, deps.gateway, held.value, `Upgrade ${from?.name ?? best.tierId} → ${to?.name ?? held.value.tierId} (license …${best.keyLast4})`);
}

/** A disputed payment pauses further sales to that account until an admin has looked. */
/** Why this account may not buy now: suspended by an operator, or under review after a dispute. */
async function purchaseBlock(deps: AppDeps, userId: string): Promise<'account_suspended' | 'account_under_review' | null> {
  const user = await read(() => deps.db.user.findUnique({ where: { id: userId }, select: { flaggedAt: true, suspendedAt: true } }));
  if (user?.suspendedAt) return 'account_suspended';
  return user?.flaggedAt ? 'account_under_review' : null;
}

async function openCheckout(deps: AppDeps, gateway: PaymentGateway, hold: HoldView, description: string): Promise<Result<CheckoutStarted>> {
  const price = priceForCapital(hold.amount);
  let session: { sessionId: string; url: string };
  try {
    session = await gateway.createCheckout({
      holdId: hold.id,
      userId: hold.userId,
      kind: hold.kind,
      tierId: hold.tierId,
      description,
      amount: price,
      expiresAt: hold.expiresAt,
    });
  } catch {
    // Nothing can be paid without a checkout: give the capital back at once.
    await releaseHold(deps, { holdId: hold.id, reason: 'checkout_failed', actor: systemActor('billing') });
    return err(appError('payment_unavailable'));
  }
  await deps.db.poolHold.update({ where: { id: hold.id }, data: { externalRef: session.sessionId } });
  return ok({ url: session.url, hold, price, expiresAt: hold.expiresAt });
}

// ------------------------------------------------------------------------------------- webhook events

export interface PaymentOutcome {
  /** A few words for the event log. */
  readonly outcome: string;
  /** The new key of a purchase, to be shown once to its buyer; null otherwise. */
  readonly key: LicenseKey | null;
  readonly userId: string | null;
}

const nothing = (outcome: string): PaymentOutcome => ({ outcome, key: null, userId: null });
const stripeActor = systemActor('stripe');

/** checkout.session.completed: commit the hold once the session is really paid. */
export async function checkoutCompleted(deps: BillingDeps & { gateway: PaymentGateway }, sessionId: string): Promise<PaymentOutcome> {
  const session = await deps.gateway.session(sessionId);
  if (!session.paid || !session.holdId) return nothing(session.holdId ? 'not paid yet' : 'not ours');
  const hold = await deps.db.poolHold.findUnique({ where: { id: session.holdId } });
  if (!hold) return nothing('unknown hold');
  const buyer = await deps.db.identity.findFirst({ where: { userId: hold.userId }, orderBy: { createdAt: 'asc' } });
  const committed = await commitHold(deps, {
    holdId: hold.id,
    actor: stripeActor,
    ...(session.paymentRef ? { paymentRef: session.paymentRef } : {}),
    ...(buyer ? { bindTo: { userId: buyer.userId, identityId: buyer.id } } : {}),
  });
  if (committed.ok) {
    return {
      outcome: committed.value.alreadyCommitted ? 'already committed' : `committed ${hold.kind} ${hold.tierId}`,
      key: committed.value.key,
      userId: hold.userId,
    };
  }
  // Paid, but the hold lapsed and the pool has no room left (or it was cancelled): nothing was
  // sold, so the money goes back and the buyer is told why.
  if (session.paymentRef && ['hold_expired', 'hold_not_active', 'license_revoked'].includes(committed.error.code)) {
    await deps.gateway.refund(session.paymentRef, 'hold_lapsed');
    const now = deps.clock.now();
    await queueAlerts(
      deps.db,
      [{
        eventId: `billing:unfulfilled:${hold.id}`,
        userId: hold.userId,
        alertType: 'license',
        text: `💸 Your payment arrived after your reservation lapsed and the pool had no room left, so it was refunded in full. Nothing was charged in the end; try /buy again when there is room (see /pool).`,
      }],
      now,
    );
    return nothing(`refunded: ${committed.error.code}`);
  }
  return nothing(`not committed: ${committed.error.code}`);
}

/** checkout.session.expired: the buyer did not pay; the capital goes back to the pool. */
export async function checkoutExpired(deps: BillingDeps & { gateway: PaymentGateway }, sessionId: string): Promise<PaymentOutcome> {
  const session = await deps.gateway.session(sessionId);
  if (session.status !== 'expired' || !session.holdId) return nothing('not expired');
  const released = await releaseHold(deps, { holdId: session.holdId, reason: 'checkout_expired', actor: stripeActor });
  return nothing(released.ok ? 'hold released' : `left alone: ${released.error.code}`);
}

/** charge.refunded: a full refund undoes the purchase (license revoked) or the upgrade (tier back). */
export async function chargeRefunded(deps: BillingDeps & { gateway: PaymentGateway }, chargeId: string): Promise<PaymentOutcome> {
  const charge = await deps.gateway.charge(chargeId);
  if (!charge.paymentRef) return nothing('no payment');
  if (!charge.refunded) return nothing(`partial refund of ${formatUsd(charge.amountRefunded)}: left alone`);
  let hold = await deps.db.poolHold.findUnique({ where: { paymentRef: charge.paymentRef } });
  if (!hold) {
    // The refund's event may arrive before the checkout's: settle the purchase first.
    const pending = charge.holdId ? await deps.db.poolHold.findUnique({ where: { id: charge.holdId } }) : null;
    if (!pending?.externalRef) return nothing('not ours');
    await checkoutCompleted(deps, pending.externalRef);
    hold = await deps.db.poolHold.findUnique({ where: { paymentRef: charge.paymentRef } });
    if (!hold) return nothing('never committed');
  }
  return reverseHold(deps, hold.id, 'refunded');
}

/** Undoes what a paid hold bought. Idempotent: a second call finds it reversed. */
async function reverseHold(deps: AppDeps, holdId: string, reason: string): Promise<PaymentOutcome> {
  const hold = await deps.db.poolHold.findUniqueOrThrow({ where: { id: holdId } });
  if (hold.reversedAt) return nothing('already reversed');
  if (hold.status !== 'committed' || !hold.licenseId) return nothing(`hold ${hold.status}`);
  if (hold.kind === 'purchase') {
    const revoked = await revokeLicense(deps, { licenseId: hold.licenseId, reason, actor: stripeActor });
    await deps.db.poolHold.update({ where: { id: hold.id }, data: { reversedAt: deps.clock.now() } });
    return nothing(revoked.ok ? 'license revoked' : `license already ${revoked.error.code}`);
  }
  const undone = await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const locked = await tx.$queryRaw<{ reversed_at: Date | null }[]>`SELECT reversed_at FROM pool_holds WHERE id = ${hold.id}::uuid FOR UPDATE`;
    if (locked[0]?.reversed_at) return 'already reversed';
    const license = await lockLicense(tx, hold.licenseId!);
    await tx.poolHold.update({ where: { id: hold.id }, data: { reversedAt: now } });
    if (!license || license.status === 'revoked' || !hold.previousTierId) return 'license gone';
    const capital = cents(decimalToCents(license.capitalUsd) - decimalToCents(hold.amountUsd));
    const back: LicenseView = await updateLicense(
      tx,
      license,
      { tierId: hold.previousTierId, capitalUsd: centsToDecimalString(capital) },
      { actor: stripeActor, action: 'license.upgrade_refunded', now },
    );
    await queueLicenseEvent(tx, { type: 'downgraded', license: back, fromTierId: hold.tierId, reason }, now);
    return 'upgrade undone';
  });
  return nothing(undone);
}

/** charge.dispute.created: flag the buyer's account and tell the admins. */
export async function chargeDisputed(
  deps: BillingDeps & { gateway: PaymentGateway },
  input: { chargeId: string; disputeId: string; amount: Cents; reason: string; adminUserIds: readonly string[] },
): Promise<PaymentOutcome> {
  const charge = await deps.gateway.charge(input.chargeId);
  const hold = charge.paymentRef ? await deps.db.poolHold.findUnique({ where: { paymentRef: charge.paymentRef } }) : null;
  if (!hold) return nothing('not ours');
  await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    await tx.user.update({ where: { id: hold.userId }, data: { flaggedAt: now, flagReason: `payment disputed (${input.reason})` } });
    await recordAudit(tx, {
      actor: stripeActor,
      action: 'user.flagged',
      entityType: 'user',
      entityId: hold.userId,
      after: { dispute: input.disputeId, reason: input.reason, holdId: hold.id, licenseId: hold.licenseId },
      at: now,
    });
    await queueAlerts(
      tx,
      input.adminUserIds.map((adminId) => ({
        eventId: `billing:dispute:${input.disputeId}:${adminId}`,
        userId: adminId,
        alertType: 'license',
        text: `⚠️ Payment dispute ${input.disputeId}: ${formatUsd(input.amount)} on a ${hold.tierId} ${hold.kind} (user ${hold.userId}, license ${hold.licenseId ?? '—'}), reason "${input.reason}". The account is flagged; see /admin user ${hold.userId}.`,
      })),
      now,
    );
  });
  return nothing('account flagged');
}

// ------------------------------------------------------------------------------------- admin

/** An admin looked at a disputed account: purchases are possible again. Returns false when it was not flagged. */
export async function clearAccountFlag(deps: AppDeps, input: { userId: string; actor: Actor }): Promise<boolean> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const user = await tx.user.findUnique({ where: { id: input.userId }, select: { flaggedAt: true, flagReason: true } });
    if (!user?.flaggedAt) return false;
    await tx.user.update({ where: { id: input.userId }, data: { flaggedAt: null, flagReason: null } });
    await recordAudit(tx, { actor: input.actor, action: 'user.unflagged', entityType: 'user', entityId: input.userId, before: user, after: { flaggedAt: null }, at: now });
    return true;
  });
}

/** /admin refund: refunds the payment behind a license; the charge.refunded event then undoes it. */
export async function refundLicensePayment(deps: BillingDeps, input: { licenseId: string }): Promise<Result<{ price: Cents; kind: string }>> {
  if (!deps.gateway) return err(appError('payments_off'));
  const hold = await deps.db.poolHold.findFirst({
    where: { licenseId: input.licenseId, status: 'committed', paymentRef: { not: null } },
    orderBy: { committedAt: 'desc' },
  });
  if (!hold?.paymentRef) return err(appError('not_paid_for'));
  if (hold.reversedAt) return err(appError('already_refunded'));
  try {
    await deps.gateway.refund(hold.paymentRef, 'requested_by_admin');
  } catch {
    return err(appError('payment_unavailable'));
  }
  return ok({ price: decimalToCents(hold.priceUsd), kind: hold.kind });
}

export interface RevenueLine {
  readonly tierId: string;
  readonly kind: string;
  readonly sold: number;
  readonly revenue: Cents;
  readonly refunded: number;
  readonly refundedAmount: Cents;
}

/** Paid holds by tier and kind: what was sold, for how much, and what was refunded. */
export async function revenueReport(deps: AppDeps): Promise<RevenueLine[]> {
  const rows = await read(() =>
    deps.db.$queryRaw<{ tier_id: string; kind: string; sold: bigint; revenue: string; refunded: bigint; refunded_amount: string }[]>`
      SELECT tier_id, kind::text AS kind, count(*) AS sold, sum(price_usd)::text AS revenue,
             count(reversed_at) AS refunded, coalesce(sum(price_usd) FILTER (WHERE reversed_at IS NOT NULL), 0)::text AS refunded_amount
      FROM pool_holds
      WHERE status = 'committed' AND payment_ref IS NOT NULL
      GROUP BY tier_id, kind
      ORDER BY tier_id, kind`,
  );
  return rows.map((r) => ({
    tierId: r.tier_id,
    kind: r.kind,
    sold: Number(r.sold),
    revenue: centsFromDecimalString(r.revenue),
    refunded: Number(r.refunded),
    refundedAmount: centsFromDecimalString(r.refunded_amount),
  }));
}
