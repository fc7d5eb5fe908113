// Stripe behind the PaymentGateway port: Checkout Sessions for purchases and upgrades, the
// objects webhook events name (re-read, never trusted from the event), and refunds. Only this
// directory imports the stripe SDK.
import Stripe from 'stripe';
import type { ChargeState, CheckoutRequest, CheckoutSession, PaymentGateway } from '../app/billing.ts';
import { cents } from '../kernel/money.ts';

export interface StripeSettings {
  readonly secretKey: string;
  /** Another API server (tests: the simulator), as scheme://host:port; null: Stripe itself. */
  readonly apiBase: string | null;
  /** Where the hosted checkout sends the buyer afterwards. */
  readonly successUrl: string;
  readonly cancelUrl: string;
}

/** Stripe accepts a Checkout Session expiry between 30 minutes and 24 hours from now. */
const MIN_EXPIRY_S = 30 * 60 + 60;
const MAX_EXPIRY_S = 24 * 3600 - 60;

export function createStripe(settings: Pick<StripeSettings, 'secretKey' | 'apiBase'>): Stripe {
  const base = settings.apiBase ? new URL(settings.apiBase) : null;
  return new Stripe(settings.secretKey, {
    telemetry: false,
    // The SDK retries network errors and 5xx with the same idempotency key.
    maxNetworkRetries: base ? 0 : 2,
    ...(base
      ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol === 'https:' ? 'https' : 'http' }
      : {}),
  });
}

const idOf = (value: string | { id: string } | null | undefined): string | null => (typeof value === 'string' ? value : (value?.id ?? null));

export class StripeGateway implements PaymentGateway {
  constructor(
    private readonly stripe: Stripe,
    private readonly settings: Pick<StripeSettings, 'successUrl' | 'cancelUrl'>,
    private readonly now: () => Date,
  ) {}

  async createCheckout(request: CheckoutRequest): Promise<{ sessionId: string; url: string }> {
    const nowS = Math.floor(this.now().getTime() / 1000);
    const wanted = Math.floor(request.expiresAt.getTime() / 1000);
    const metadata = { hold_id: request.holdId, user_id: request.userId, tier: request.tierId, kind: request.kind };
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [{ price_data: { currency: 'usd', unit_amount: request.amount, product_data: { name: request.description } }, quantity: 1 }],
        client_reference_id: request.holdId,
        metadata,
        // On the payment too: refund and dispute events name the charge, not the session.
        payment_intent_data: { metadata },
        expires_at: Math.min(nowS + MAX_EXPIRY_S, Math.max(nowS + MIN_EXPIRY_S, wanted)),
        success_url: this.settings.successUrl,
        cancel_url: this.settings.cancelUrl,
      },
      // One checkout per hold, even if the call is retried.
      { idempotencyKey: `checkout-${request.holdId}` },
    );
    if (!session.url) throw new Error('Stripe returned a checkout session without a URL');
    return { sessionId: session.id, url: session.url };
  }

  async session(sessionId: string): Promise<CheckoutSession> {
    const session = await this.stripe.checkout.sessions.retrieve(sessionId);
    return {
      id: session.id,
      status: session.status === 'complete' ? 'complete' : session.status === 'expired' ? 'expired' : 'open',
      paid: session.payment_status === 'paid',
      holdId: session.metadata?.hold_id ?? session.client_reference_id ?? null,
      paymentRef: idOf(session.payment_intent),
    };
  }

  async charge(chargeId: string): Promise<ChargeState> {
    const charge = await this.stripe.charges.retrieve(chargeId);
    return {
      paymentRef: idOf(charge.payment_intent),
      holdId: charge.metadata?.hold_id ?? null,
      amount: cents(charge.amount),
      amountRefunded: cents(charge.amount_refunded),
      refunded: charge.refunded,
    };
  }

  async refund(paymentRef: string, reason: string): Promise<void> {
    await this.stripe.refunds.create(
      { payment_intent: paymentRef, reason: 'requested_by_customer', metadata: { reason } },
      { idempotencyKey: `refund-${paymentRef}` },
    );
  }
}
