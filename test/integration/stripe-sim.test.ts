/**
 * Drives the real stripe-node 23 SDK against the Stripe protocol simulator: Checkout Session
 * create / retrieve / expire, validation errors, auth, idempotency (including the SDK's own retry
 * of a lost response), payments, refunds, disputes, injected API errors, and webhooks signed so
 * that `stripe.webhooks.constructEvent` accepts them, all over HTTP on 127.0.0.1. Nothing in the
 * SDK is mocked. These tests pin the simulator's wire behaviour that billing tests rely on.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STRIPE_API_VERSION, StripeSim, parseForm, type RecordedCall } from '../sim/stripe-api.ts';

let sim: StripeSim;
let stripe: Stripe;
/** Sim clock = wall clock + skew (webhook timestamps must stay near the wall clock). */
let skewMs = 0;

const clientFor = (key: string) => new Stripe(key, { ...sim.clientConfig, maxNetworkRetries: 0, telemetry: false });
const nowSec = () => Math.floor((Date.now() + skewMs) / 1000);
const postsTo = (route: string): RecordedCall[] => sim.calls.filter((c) => c.route === route);

beforeEach(async () => {
  skewMs = 0;
  sim = await StripeSim.start({ now: () => Date.now() + skewMs });
  stripe = clientFor(sim.secretKey);
});

afterEach(async () => {
  await sim.close();
});

/** What the billing code sends for a license purchase. */
function licenseCheckout(overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    line_items: [{ price_data: { currency: 'usd', unit_amount: 4900, product_data: { name: 'Pro license (30 days)' } }, quantity: 1 }],
    success_url: 'https://bot.example/billing/success?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://bot.example/billing/cancel',
    client_reference_id: 'tenant-42',
    metadata: { license_tier: 'pro', tenant_id: '42' },
    payment_intent_data: { metadata: { license_tier: 'pro', tenant_id: '42' } },
    expires_at: nowSec() + 3600,
    ...overrides,
  };
}

/** Fails fast instead of hanging until the test timeout. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` and returns the Stripe error it must throw. */
async function stripeError(fn: () => Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Stripe.errors.StripeError);
    return error as Stripe.errors.StripeError;
  }
  throw new Error('expected the Stripe call to fail');
}

async function paidSession(): Promise<{ session: Stripe.Checkout.Session; paymentIntentId: string; chargeId: string }> {
  const session = await stripe.checkout.sessions.create(licenseCheckout());
  const paid = sim.pay(session.id);
  return { session, paymentIntentId: paid.paymentIntent.id, chargeId: paid.charge.id };
}

// ---------------------------------------------------------------------------------------------

describe('Checkout Sessions', () => {
  it('decodes the form-encoded params the SDK sends and returns a Stripe-shaped session', async () => {
    const params = licenseCheckout({ customer_email: 'buyer@example.com' });
    const session = await stripe.checkout.sessions.create(params);

    const call = await sim.waitForCall('POST /v1/checkout/sessions', { since: 0 });
    expect(call.rawBody).toContain('line_items[0][price_data][currency]=usd');
    expect(call.rawBody).toContain('line_items[0][price_data][product_data][name]=Pro%20license%20%2830%20days%29');
    expect(call.params).toEqual({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: '4900', product_data: { name: 'Pro license (30 days)' } }, quantity: '1' }],
      success_url: 'https://bot.example/billing/success?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://bot.example/billing/cancel',
      client_reference_id: 'tenant-42',
      metadata: { license_tier: 'pro', tenant_id: '42' },
      payment_intent_data: { metadata: { license_tier: 'pro', tenant_id: '42' } },
      expires_at: String(params.expires_at),
      customer_email: 'buyer@example.com',
    });
    expect(call.headers.authorization).toBe(`Bearer ${sim.secretKey}`);
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call.stripeVersion).toBe(STRIPE_API_VERSION);
    expect(call.idempotencyKey).toMatch(/^stripe-node-retry-[0-9a-f-]{36}$/);

    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_subtotal: 4900,
      amount_total: 4900,
      currency: 'usd',
      client_reference_id: 'tenant-42',
      customer_email: 'buyer@example.com',
      metadata: { license_tier: 'pro', tenant_id: '42' },
      expires_at: params.expires_at,
      payment_intent: null,
      livemode: false,
      success_url: params.success_url,
    });
    expect(session.id).toBe('cs_test_Sim00000001');
    expect(session.url).toBe(`${sim.url}/pay/${session.id}`);
    expect(session.lastResponse.requestId).toBe(call.requestId);

    const retrieved = await stripe.checkout.sessions.retrieve(session.id);
    expect(retrieved).toEqual(session);
    const get = sim.calls.at(-1);
    expect(get).toMatchObject({ method: 'GET', route: 'GET /v1/checkout/sessions/:id', params: {}, status: 200 });
    expect(get?.idempotencyKey).toBeUndefined();
  });

  it('parses nested brackets, empty-bracket arrays and metadata with numeric keys', () => {
    expect(parseForm('a[b][0][c]=1&a[b][1][c]=x%20y&e[]=p&e[]=q&metadata[0]=zero&n=a+b&m=')).toEqual({
      a: { b: [{ c: '1' }, { c: 'x y' }] },
      e: ['p', 'q'],
      metadata: { 0: 'zero' },
      n: 'a b',
      m: '',
    });
  });

  it('rejects bad params like Stripe, naming the param', async () => {
    const lineItem = (priceData: object, quantity = 1) =>
      [{ price_data: { currency: 'usd', product_data: { name: 'Pro' }, ...priceData }, quantity }] as Stripe.Checkout.SessionCreateParams.LineItem[];
    const cases: Array<{ params: Stripe.Checkout.SessionCreateParams; param: string; code: string; message?: string }> = [
      { params: licenseCheckout({ success_url: undefined }), param: 'success_url', code: 'parameter_missing', message: 'Missing required param: success_url.' },
      { params: licenseCheckout({ mode: undefined }), param: 'mode', code: 'parameter_missing' },
      { params: licenseCheckout({ line_items: lineItem({ unit_amount: 19.99 }) }), param: 'line_items[0][price_data][unit_amount]', code: 'parameter_invalid_integer', message: 'Invalid integer: 19.99' },
      { params: licenseCheckout({ line_items: lineItem({ unit_amount: -100 }) }), param: 'line_items[0][price_data][unit_amount]', code: 'parameter_invalid_integer' },
      { params: licenseCheckout({ line_items: lineItem({ unit_amount: 0 }) }), param: 'line_items', code: 'amount_too_small' },
      { params: licenseCheckout({ line_items: lineItem({ unit_amount: 4900 }, 0) }), param: 'line_items[0][quantity]', code: 'parameter_invalid_integer' },
      { params: licenseCheckout({ line_items: lineItem({ unit_amount: undefined }) }), param: 'line_items[0][price_data][unit_amount]', code: 'parameter_missing' },
      // The SDK sends nothing at all for an empty array.
      { params: licenseCheckout({ line_items: [] }), param: 'line_items', code: 'parameter_missing' },
      { params: licenseCheckout({ success_url: 'not a url' }), param: 'success_url', code: 'url_invalid' },
      { params: licenseCheckout({ customer_email: 'nobody' }), param: 'customer_email', code: 'email_invalid' },
      {
        params: { ...licenseCheckout(), payment_method_types: ['card'] } as unknown as Stripe.Checkout.SessionCreateParams,
        param: 'payment_method_types', code: 'parameter_unknown', message: 'Received unknown parameter: payment_method_types',
      },
    ];
    for (const { params, param, code, message } of cases) {
      const error = await stripeError(() => stripe.checkout.sessions.create(params));
      expect(error, param).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect({ status: error.statusCode, param: error.param, code: error.code, rawType: error.rawType }, JSON.stringify(params))
        .toEqual({ status: 400, param, code, rawType: 'invalid_request_error' });
      if (message) expect(error.message).toBe(message);
    }
    for (const expiresAt of [nowSec() + 600, nowSec() + 25 * 3600]) {
      const error = await stripeError(() => stripe.checkout.sessions.create(licenseCheckout({ expires_at: expiresAt })));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.param).toBe('expires_at');
    }
    expect(sim.listSessions()).toEqual([]);

    const missingSession = await stripeError(() => stripe.checkout.sessions.retrieve('cs_test_nope'));
    expect(missingSession).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missingSession).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'session', message: "No such checkout.session: 'cs_test_nope'" });
  });

  it('answers a wrong API key with 401, which the SDK raises as StripeAuthenticationError', async () => {
    const wrong = clientFor('sk_test_ThisIsNotTheSimKey1234');
    const error = await stripeError(() => wrong.checkout.sessions.create(licenseCheckout()));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.message).toBe('Invalid API Key provided: sk_test_******************1234');
    expect(sim.calls[0]?.status).toBe(401);
    expect(sim.listSessions()).toEqual([]);
  });

  it('replays an idempotent retry and refuses the same key with other params', async () => {
    const params = licenseCheckout();
    const first = await stripe.checkout.sessions.create(params, { idempotencyKey: 'checkout-tenant-42-1' });
    const again = await stripe.checkout.sessions.create(params, { idempotencyKey: 'checkout-tenant-42-1' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(postsTo('POST /v1/checkout/sessions').map((c) => [c.idempotencyKey, c.replayed ?? false]))
      .toEqual([['checkout-tenant-42-1', false], ['checkout-tenant-42-1', true]]);

    const conflict = await stripeError(() =>
      stripe.checkout.sessions.create({ ...params, client_reference_id: 'tenant-43' }, { idempotencyKey: 'checkout-tenant-42-1' }));
    expect(conflict).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(conflict).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });

    // Without an explicit key the SDK generates a fresh one per call: two sessions.
    await stripe.checkout.sessions.create(params);
    await stripe.checkout.sessions.create(params);
    // A validation error is not saved, so the key can be reused with fixed params.
    await stripeError(() => stripe.checkout.sessions.create({ ...params, success_url: undefined }, { idempotencyKey: 'k2' }));
    const fixed = await stripe.checkout.sessions.create(params, { idempotencyKey: 'k2' });
    expect(fixed.status).toBe('open');
    expect(sim.listSessions().map((s) => s.id)).toEqual([
      'cs_test_Sim00000001', 'cs_test_Sim00000002', 'cs_test_Sim00000003', 'cs_test_Sim00000004',
    ]);
  });

  it('a lost response is retried once by the SDK (even with maxNetworkRetries 0) and replayed, not duplicated', async () => {
    sim.failNext('POST /v1/checkout/sessions', { disconnect: 'after' });
    const session = await stripe.checkout.sessions.create(licenseCheckout());
    const posts = postsTo('POST /v1/checkout/sessions');
    expect(posts.map((c) => [c.status, c.replayed ?? false])).toEqual([[0, false], [200, true]]);
    expect(posts[1]?.idempotencyKey).toBe(posts[0]?.idempotencyKey);
    expect(sim.listSessions().map((s) => s.id)).toEqual([session.id]);

    sim.failNext('POST /v1/checkout/sessions', { disconnect: 'before' });
    const second = await stripe.checkout.sessions.create(licenseCheckout());
    expect(postsTo('POST /v1/checkout/sessions').slice(2).map((c) => [c.status, c.replayed ?? false])).toEqual([[0, false], [200, false]]);
    expect(sim.listSessions().map((s) => s.id)).toEqual([session.id, second.id]);
  });
});

describe('payments, refunds, expiry and disputes', () => {
  it('pay completes the session; expand shows the payment intent and its charge', async () => {
    const session = await stripe.checkout.sessions.create(licenseCheckout());
    const paid = sim.pay(session.id, { email: 'buyer@example.com' });
    expect(paid.paymentIntent.id).toBe('pi_Sim00000001');
    expect(paid.charge.id).toBe('ch_Sim00000001');

    const withIntent = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(sim.calls.at(-1)?.params).toEqual({ expand: ['payment_intent'] });
    expect(withIntent).toMatchObject({ status: 'complete', payment_status: 'paid', url: null, amount_total: 4900 });
    expect(withIntent.customer_details?.email).toBe('buyer@example.com');
    const intent = withIntent.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      id: paid.paymentIntent.id, object: 'payment_intent', status: 'succeeded', amount: 4900, amount_received: 4900,
      currency: 'usd', latest_charge: paid.charge.id, metadata: { license_tier: 'pro', tenant_id: '42' },
    });

    const deep = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.latest_charge'] });
    const charge = (deep.payment_intent as Stripe.PaymentIntent).latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({
      id: paid.charge.id, object: 'charge', paid: true, status: 'succeeded', amount: 4900, amount_refunded: 0,
      refunded: false, payment_intent: paid.paymentIntent.id, metadata: { license_tier: 'pro', tenant_id: '42' },
    });
    expect(await stripe.paymentIntents.retrieve(paid.paymentIntent.id)).toEqual(sim.getPaymentIntent(paid.paymentIntent.id));
    expect(await stripe.charges.retrieve(paid.charge.id)).toEqual(sim.getCharge(paid.charge.id));

    const bad = await stripeError(() => stripe.checkout.sessions.retrieve(session.id, { expand: ['currency'] }));
    expect(bad.message).toBe('This property cannot be expanded (currency).');

    expect(sim.events.map((e) => e.type)).toEqual(['checkout.session.completed']);
    const event = sim.events[0] as Stripe.CheckoutSessionCompletedEvent;
    expect(event).toMatchObject({
      id: 'evt_Sim00000001', object: 'event', api_version: STRIPE_API_VERSION, livemode: false,
      request: { id: null, idempotency_key: null },
      data: { object: { id: session.id, status: 'complete', payment_status: 'paid', payment_intent: paid.paymentIntent.id, client_reference_id: 'tenant-42' } },
    });
    expect(event.created).toBeGreaterThanOrEqual(session.created);
    expect(await stripe.events.retrieve(event.id)).toEqual(sim.getEvent(event.id));
  });

  it('refunds through the API once; a second full refund fails with charge_already_refunded', async () => {
    const { paymentIntentId, chargeId } = await paidSession();
    const refund = await stripe.refunds.create({ payment_intent: paymentIntentId, reason: 'requested_by_customer', metadata: { ticket: 'T-1' } });
    expect(refund).toMatchObject({
      object: 'refund', amount: 4900, currency: 'usd', status: 'succeeded', charge: chargeId, payment_intent: paymentIntentId,
      reason: 'requested_by_customer', metadata: { ticket: 'T-1' },
    });
    expect(await stripe.refunds.retrieve(refund.id)).toEqual(refund);
    expect(await stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 4900, refunded: true });

    const call = postsTo('POST /v1/refunds')[0] as RecordedCall;
    const [chargeRefunded, refundCreated] = sim.events.slice(1);
    expect(chargeRefunded).toMatchObject({
      type: 'charge.refunded',
      data: { object: { id: chargeId, amount_refunded: 4900, refunded: true }, previous_attributes: { amount_refunded: 0, refunded: false } },
      request: { id: call.requestId, idempotency_key: call.idempotencyKey },
    });
    expect(refundCreated).toMatchObject({ type: 'refund.created', data: { object: { id: refund.id, amount: 4900 } } });
    expect((await sim.waitForEvent('refund.created', { since: 0 })).id).toBe(refundCreated?.id);
    await expect(sim.waitForEvent('charge.dispute.created', 50)).rejects.toThrow(/timed out after 50 ms waiting for an event/);

    const again = await stripeError(() => stripe.refunds.create({ payment_intent: paymentIntentId }));
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
    expect(sim.events).toHaveLength(3);

    const listed = await stripe.charges.retrieve(chargeId, { expand: ['refunds'] });
    expect(listed.refunds?.data.map((r) => r.id)).toEqual([refund.id]);
  });

  it('partial refunds add up and cannot exceed what is left', async () => {
    const { chargeId } = await paidSession();
    await stripe.refunds.create({ charge: chargeId, amount: 1000 });
    const tooMuch = await stripeError(() => stripe.refunds.create({ charge: chargeId, amount: 4000 }));
    expect(tooMuch).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    expect(tooMuch.message).toBe('Refund amount ($40.00) is greater than unrefunded amount on charge ($39.00)');
    expect(sim.getCharge(chargeId)).toMatchObject({ amount_refunded: 1000, refunded: false });

    const rest = sim.refund(chargeId);
    expect(rest.refund.amount).toBe(3900);
    expect(rest.charge).toMatchObject({ amount_refunded: 4900, refunded: true });
    expect(rest.events.map((e) => [e.type, e.request])).toEqual([
      ['charge.refunded', { id: null, idempotency_key: null }],
      ['refund.created', { id: null, idempotency_key: null }],
    ]);
    expect(() => sim.refund(chargeId)).toThrow(/has already been refunded/);
    const zero = await stripeError(() => stripe.refunds.create({ charge: chargeId, amount: 0 }));
    expect(zero).toMatchObject({ statusCode: 400, param: 'amount' });
  });

  it('expires open sessions through the API, refuses paid ones, and expires sessions past expires_at', async () => {
    const open = await stripe.checkout.sessions.create(licenseCheckout());
    const expired = await stripe.checkout.sessions.expire(open.id);
    expect(expired).toMatchObject({ id: open.id, status: 'expired', payment_status: 'unpaid', url: null });
    const expireCall = postsTo('POST /v1/checkout/sessions/:id/expire')[0] as RecordedCall;
    expect(sim.events.at(-1)).toMatchObject({
      type: 'checkout.session.expired', data: { object: { id: open.id, status: 'expired' } }, request: { id: expireCall.requestId },
    });
    const twice = await stripeError(() => stripe.checkout.sessions.expire(open.id));
    expect(twice).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(twice.statusCode).toBe(400);

    const { session: paid } = await paidSession();
    const paidExpire = await stripeError(() => stripe.checkout.sessions.expire(paid.id));
    expect(paidExpire).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(paidExpire.message).toContain('has a status of "complete"');
    expect(() => sim.expire(paid.id)).toThrow(/is complete/);

    const soon = await stripe.checkout.sessions.create(licenseCheckout({ expires_at: nowSec() + 1900 }));
    skewMs += 1901_000;
    expect(await stripe.checkout.sessions.retrieve(soon.id)).toMatchObject({ status: 'expired', url: null });
    expect(sim.events.at(-1)).toMatchObject({ type: 'checkout.session.expired', data: { object: { id: soon.id } } });
    expect(() => sim.pay(soon.id)).toThrow(/is expired/);
  });

  it('disputes a charge; a disputed charge cannot be refunded', async () => {
    const { paymentIntentId, chargeId } = await paidSession();
    const { dispute, event } = sim.dispute(chargeId);
    expect(dispute).toMatchObject({
      id: 'dp_Sim00000001', object: 'dispute', charge: chargeId, payment_intent: paymentIntentId, amount: 4900,
      currency: 'usd', reason: 'fraudulent', status: 'needs_response',
    });
    expect(event).toMatchObject({ type: 'charge.dispute.created', data: { object: { id: dispute.id, charge: chargeId } } });
    expect(sim.getCharge(chargeId).disputed).toBe(true);
    const refund = await stripeError(() => stripe.refunds.create({ payment_intent: paymentIntentId }));
    expect(refund).toMatchObject({ statusCode: 400, code: 'charge_disputed' });
  });

  it('serves the session url: POST pays and redirects to success_url with the session id filled in', async () => {
    const session = await stripe.checkout.sessions.create(licenseCheckout());
    const page = await fetch(session.url as string);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('$49.00');
    const cancel = await fetch(`${session.url}/cancel`, { redirect: 'manual' });
    expect([cancel.status, cancel.headers.get('location')]).toEqual([303, 'https://bot.example/billing/cancel']);

    const pay = await fetch(session.url as string, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ email: 'payer@example.com' }),
    });
    expect([pay.status, pay.headers.get('location')]).toEqual([303, `https://bot.example/billing/success?session=${session.id}`]);
    expect(sim.getSession(session.id)).toMatchObject({ status: 'complete', customer_details: { email: 'payer@example.com' } });
    expect((await fetch(session.url as string)).status).toBe(410);
  });
});

// ---------------------------------------------------------------------------------------------

interface Receiver {
  url: string;
  accepted: Stripe.Event[];
  rejected: Error[];
  bodies: Array<{ body: string; signature: string }>;
  /** Statuses to answer verified deliveries with, first in first out (default 200). */
  answers: number[];
  close(): Promise<void>;
}

/** A webhook endpoint the way the service should write one: raw body + constructEvent. */
async function startReceiver(): Promise<Receiver> {
  const receiver: Omit<Receiver, 'url' | 'close'> = { accepted: [], rejected: [], bodies: [], answers: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const signature = String(req.headers['stripe-signature'] ?? '');
      receiver.bodies.push({ body: body.toString('utf8'), signature });
      try {
        receiver.accepted.push(stripe.webhooks.constructEvent(body, signature, sim.webhookSecret));
      } catch (error) {
        receiver.rejected.push(error as Error);
        res.writeHead(400).end('bad signature');
        return;
      }
      res.writeHead(receiver.answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...receiver,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  } as Receiver;
}

describe('webhooks', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('signs events the way constructEvent accepts; deliverAll sends pending events once, in order', async () => {
    const a = await stripe.checkout.sessions.create(licenseCheckout());
    const b = await stripe.checkout.sessions.create(licenseCheckout());
    sim.pay(a.id);
    await stripe.checkout.sessions.expire(b.id);

    const records = await sim.deliverAll(receiver.url);
    expect(records.map((r) => [r.type, r.status])).toEqual([['checkout.session.completed', 200], ['checkout.session.expired', 200]]);
    expect(receiver.rejected).toEqual([]);
    expect(receiver.accepted.map((e) => e.id)).toEqual(sim.events.map((e) => e.id));
    expect(receiver.accepted[0]).toEqual(sim.events[0]);
    expect(await sim.deliverAll(receiver.url)).toEqual([]);

    const { body, signature } = receiver.bodies[0] as { body: string; signature: string };
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const t = Number(/^t=(\d+)/.exec(signature)?.[1]);
    expect(Math.abs(t - Math.floor(Date.now() / 1000))).toBeLessThanOrEqual(2);
    const hmac = crypto.createHmac('sha256', sim.webhookSecret).update(`${t}.${body}`).digest('hex');
    expect(signature).toBe(`t=${t},v1=${hmac}`);
    expect(Stripe.webhooks.generateTestHeaderString({ payload: body, secret: sim.webhookSecret, timestamp: t })).toBe(signature);
    // Stripe pretty-prints the payload: a handler that re-serializes the parsed JSON breaks the signature.
    expect(body).toBe(JSON.stringify(JSON.parse(body), null, 2));
    expect(() => stripe.webhooks.constructEvent(JSON.stringify(JSON.parse(body)), signature, sim.webhookSecret))
      .toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('tampered, stale and wrongly signed deliveries fail verification and stay pending', async () => {
    const { session } = await paidSession();
    const event = sim.events[0] as Stripe.Event;
    expect(await sim.deliver(receiver.url, event, { tamper: true })).toEqual([400]);
    expect(await sim.deliver(receiver.url, event.id, { timestampOffsetSec: -600 })).toEqual([400]);
    expect(await sim.deliver(receiver.url, event, { wrongSecret: true })).toEqual([400]);
    expect(receiver.rejected).toHaveLength(3);
    for (const error of receiver.rejected) expect(error).toBeInstanceOf(Stripe.errors.StripeSignatureVerificationError);
    expect(receiver.rejected.map((e) => e.message.split('.')[0])).toEqual([
      'No signatures found matching the expected signature for payload',
      'Timestamp outside the tolerance zone',
      'No signatures found matching the expected signature for payload',
    ]);
    expect(JSON.parse(receiver.bodies[0]?.body ?? '{}')).toMatchObject({ id: event.id, tampered: true });
    // A 290 s old signature is still inside the SDK's 300 s tolerance.
    expect(await sim.deliver(receiver.url, event, { timestampOffsetSec: -290 })).toEqual([200]);
    expect(receiver.accepted.map((e) => (e.data.object as Stripe.Checkout.Session).id)).toEqual([session.id]);
    expect(sim.undeliveredEvents()).toEqual([]);
  });

  it('delivers duplicates and out of order on request; non-2xx answers leave events pending', async () => {
    const { chargeId } = await paidSession();
    sim.refund(chargeId, 900);
    const [completed, refunded, refundCreated] = sim.events as [Stripe.Event, Stripe.Event, Stripe.Event];

    const records = await sim.deliverList(receiver.url, [refundCreated, completed, completed]);
    expect(records.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(receiver.accepted.map((e) => e.type)).toEqual(['refund.created', 'checkout.session.completed', 'checkout.session.completed']);
    expect(await sim.deliver(receiver.url, refundCreated, { times: 2 })).toEqual([200, 200]);

    receiver.answers.push(500);
    expect((await sim.deliverAll(receiver.url)).map((r) => [r.eventId, r.status])).toEqual([[refunded.id, 500]]);
    expect(sim.undeliveredEvents().map((e) => e.id)).toEqual([refunded.id]);
    expect((await sim.deliverAll(receiver.url)).map((r) => [r.eventId, r.status])).toEqual([[refunded.id, 200]]);

    const gone = await sim.deliver('http://127.0.0.1:9/unreachable', completed);
    expect(gone).toEqual([0]);
    expect(sim.deliveries.at(-1)?.error).toBeTruthy();
  });
});

describe('faults and lifecycle', () => {
  it('failNext errors surface as the matching SDK errors, then the route works again', async () => {
    sim.failNext('POST /v1/checkout/sessions', { status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const error = await stripeError(() => stripe.checkout.sessions.create(licenseCheckout()));
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(error).toMatchObject({ statusCode: 500, rawType: 'api_error', message: 'An unknown error occurred' });
    }
    sim.failNext('GET /v1/checkout/sessions/:id', { status: 429 });
    const session = await stripe.checkout.sessions.create(licenseCheckout());
    const limited = await stripeError(() => stripe.checkout.sessions.retrieve(session.id));
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(limited).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    sim.failNext((call) => call.path === '/v1/refunds', { status: 402, type: 'card_error', code: 'card_declined', message: 'Your card was declined.' });
    const declined = await stripeError(() => stripe.refunds.create({ charge: 'ch_whatever' }));
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(declined).toMatchObject({ code: 'card_declined', message: 'Your card was declined.' });

    expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ id: session.id });
    expect(sim.calls.map((c) => [c.route, c.status, c.faulted ?? false])).toEqual([
      ['POST /v1/checkout/sessions', 500, true],
      ['POST /v1/checkout/sessions', 500, true],
      ['POST /v1/checkout/sessions', 200, false],
      ['GET /v1/checkout/sessions/:id', 429, true],
      ['POST /v1/refunds', 402, true],
      ['GET /v1/checkout/sessions/:id', 200, false],
    ]);
    const otherVersion = new Stripe(sim.secretKey, { ...sim.clientConfig, maxNetworkRetries: 0, telemetry: false, apiVersion: '2025-03-31.basil' as Stripe.LatestApiVersion });
    const versionError = await stripeError(() => otherVersion.checkout.sessions.retrieve(session.id));
    expect(versionError).toMatchObject({ statusCode: 400 });
    expect(versionError.message).toMatch(/^StripeSim does not model Stripe-Version 2025-03-31.basil/);
    const unknown = await stripeError(() => stripe.rawRequest('GET', '/v1/nothing/here', {}));
    expect(unknown).toMatchObject({ statusCode: 404 });
    expect(unknown.message).toContain('Unrecognized request URL (GET: /v1/nothing/here)');
  });

  it('close is idempotent and also closes connections that are not idle', async () => {
    await stripe.checkout.sessions.create(licenseCheckout());
    // A client that sent half a request: server.close() alone would wait for it forever.
    const socket = net.connect(sim.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /v1/refunds HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\namount=1');
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    const waiting = sim.waitForCall('GET /v1/charges/:id', 10_000).then(() => 'resolved', (error: Error) => error.message);
    const started = Date.now();
    try {
      await within(Promise.all([sim.close(), sim.close(), socketClosed]), 2000, 'sim.close() and the half-sent request closed');
    } finally {
      socket.destroy(); // so a failing close() does not also hang afterEach
    }
    expect(Date.now() - started).toBeLessThan(1000);
    await sim.close();
    expect(await waiting).toMatch(/closed/);
    await expect(fetch(`${sim.url}/v1/charges/ch_x`)).rejects.toThrow();
  });
});
