// POST /webhooks/stripe: the only way billing changes state. The signature is checked on the raw
// body with the endpoint's secret (bad or stale → 400, nothing changes); each event id is stored
// and a repeat is acknowledged without being handled again; one handler per event type, each of
// which re-reads its object from Stripe. A handler that fails answers 500, so Stripe retries
// (for up to three days); the handlers are idempotent, so a retry after a partial run is safe.
import Stripe from 'stripe';
import {
  chargeDisputed,
  chargeRefunded,
  checkoutCompleted,
  checkoutExpired,
  type BillingDeps,
  type PaymentGateway,
  type PaymentOutcome,
} from '../app/billing.ts';
import type { LicenseKey } from '../domain/license-key.ts';
import type { Logger } from '../kernel/logger.ts';
import { cents } from '../kernel/money.ts';

export interface StripeWebhookOptions {
  readonly stripe: Stripe;
  readonly secret: string;
  readonly deps: BillingDeps & { gateway: PaymentGateway };
  readonly logger: Logger;
  /** Users to alert about disputes (the admins who have talked to the bot). */
  readonly adminUserIds: () => Promise<readonly string[]>;
  /** Shows a purchase's new key to its buyer, once (it is stored only as a hash). */
  readonly deliverKey: (userId: string, key: LicenseKey) => Promise<void>;
}

export interface WebhookAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export class StripeWebhook {
  readonly #log: Logger;

  constructor(private readonly options: StripeWebhookOptions) {
    this.#log = options.logger.child({ component: 'stripe-webhook' });
  }

  async receive(rawBody: Buffer, signature: string): Promise<WebhookAnswer> {
    let event: Stripe.Event;
    try {
      event = this.options.stripe.webhooks.constructEvent(rawBody, signature, this.options.secret);
    } catch (error) {
      this.#log.warn({ reason: (error as Error).message }, 'stripe webhook rejected: bad signature');
      return { status: 400, body: { error: 'invalid_signature', message: 'The Stripe-Signature header does not match this body and secret.' } };
    }
    const { db, clock } = this.options.deps;
    await db.stripeEvent.createMany({ data: [{ id: event.id, type: event.type, receivedAt: clock.now() }], skipDuplicates: true });
    const seen = await db.stripeEvent.findUnique({ where: { id: event.id } });
    if (seen?.processedAt) return { status: 200, body: { received: true, duplicate: true } };

    let result: PaymentOutcome;
    try {
      result = await this.#handle(event);
    } catch (error) {
      this.#log.error({ err: error, eventId: event.id, type: event.type }, 'stripe event failed; Stripe will retry it');
      return { status: 500, body: { error: 'handler_failed', message: 'Try again later.' } };
    }
    await db.stripeEvent.update({ where: { id: event.id }, data: { processedAt: clock.now(), outcome: result.outcome } });
    this.#log.info({ eventId: event.id, type: event.type, outcome: result.outcome }, 'stripe event handled');
    if (result.key && result.userId) {
      await this.options.deliverKey(result.userId, result.key).catch((error: unknown) =>
        this.#log.warn({ err: error, userId: result.userId }, 'could not show the buyer their key (the license is active on their account anyway)'),
      );
    }
    return { status: 200, body: { received: true } };
  }

  async #handle(event: Stripe.Event): Promise<PaymentOutcome> {
    const { deps } = this.options;
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return checkoutCompleted(deps, event.data.object.id);
      case 'checkout.session.expired':
        return checkoutExpired(deps, event.data.object.id);
      case 'charge.refunded':
        return chargeRefunded(deps, event.data.object.id);
      case 'charge.dispute.created': {
        const dispute = event.data.object;
        const chargeId = typeof dispute.charge === 'string' ? dispute.charge : dispute.charge.id;
        return chargeDisputed(deps, { chargeId, disputeId: dispute.id, amount: cents(dispute.amount), reason: dispute.reason, adminUserIds: await this.options.adminUserIds() });
      }
      default:
        return { outcome: `ignored ${event.type}`, key: null, userId: null };
    }
  }
}
