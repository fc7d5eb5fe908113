/**
 * Stripe API protocol simulator for tests (API version 2026-10-28.endive, stripe-node 23).
 *
 * A real HTTP server on 127.0.0.1 that speaks enough of Stripe's v1 wire protocol for the real
 * `stripe` SDK to run against it unchanged:
 *
 *   const sim = await StripeSim.start();
 *   const stripe = new Stripe(sim.secretKey, { ...sim.clientConfig, maxNetworkRetries: 0, telemetry: false });
 *
 * Requests are form-encoded (`line_items[0][price_data][currency]=usd`, `expand[0]=payment_intent`);
 * the sim decodes the brackets into nested objects and arrays (values stay strings, as on the wire)
 * and records every request in `calls` (`waitForCall`). `failNext` injects API errors (500, 429, ...)
 * or drops the connection before or after the request ran.
 *
 * Tests act as the customer and as Stripe: `pay` (the customer completes Checkout), `expire`,
 * `refund`, `dispute`. Every state change, whether made by the service through the API or by the
 * test, produces the event Stripe would send (`events`, objects snapshotted as of the event), and
 * `deliver` / `deliverList` / `deliverAll` POST them to a webhook URL signed exactly like Stripe does
 * (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the whsec_ secret>`),
 * with switches for tampered bodies, wrong secrets, stale timestamps, duplicates and any order.
 * The session `url` is served too: `GET /pay/<id>` shows a page, `POST /pay/<id>` pays and answers
 * 303 to `success_url` (with `{CHECKOUT_SESSION_ID}` filled in), `GET /pay/<id>/cancel` 303s to
 * `cancel_url`.
 *
 * Modelled:
 * - One API version: a request whose `Stripe-Version` header differs from the sim's (the SDK
 *   sends its pinned 2026-10-28.endive unless `apiVersion` is overridden) gets a 400, because the
 *   object shapes would not be that version's.
 * - Auth: `Authorization: Bearer <secret key>` (or Basic with the key as user name). A missing or
 *   wrong key is a 401 with Stripe's body, which (as on Stripe) has type `invalid_request_error`;
 *   the SDK turns any 401 into `StripeAuthenticationError`.
 * - Errors as `{ error: { type, code, message, param, doc_url, request_log_url } }` with Stripe's
 *   statuses (400 params, 401 auth, 404 missing objects and unknown URLs, 429, 5xx) and a `Request-Id`
 *   header on every response.
 * - Idempotency keys (POST): same key + same endpoint + same params replays the saved status and
 *   body (`Idempotent-Replayed: true`, `Original-Request`); same key with other params or another
 *   endpoint is a 400 `idempotency_error`. As on Stripe, a response is saved once the endpoint ran
 *   (successes and state errors like `charge_already_refunded`); parameter validation errors, auth
 *   failures and injected faults are not saved, so a retry with the same key runs again. Keys are
 *   forgotten after 24 hours of sim clock.
 * - `POST /v1/checkout/sessions` in `payment` mode on the hosted page with `price_data` line items,
 *   `success_url`, `cancel_url`, `client_reference_id`, `customer_email`, `metadata`, `expires_at`
 *   (30 min to 24 h from now, default 24 h), `currency`, `payment_intent_data[metadata|description|
 *   receipt_email|statement_descriptor...]`, validated like Stripe (missing / unknown parameters,
 *   integers, URLs, e-mail, metadata limits, one currency, the 50-cent minimum). Other real
 *   parameters that do not change the money flow (locale, custom_text, ...) are accepted and
 *   ignored; ones that would (customer, discounts, subscriptions, other modes and UI modes) are
 *   rejected with a 400 whose message starts with "StripeSim does not model".
 * - `GET /v1/checkout/sessions/:id`, `POST /v1/checkout/sessions/:id/expire` (open sessions only),
 *   `GET /v1/payment_intents/:id`, `GET /v1/charges/:id`, `POST /v1/refunds` (by `payment_intent` or
 *   `charge`, partial or full, `reason`, `metadata`), `GET /v1/refunds/:id`, `GET /v1/events/:id`.
 *   `expand[]` works on every route for the links between these objects
 *   (`payment_intent.latest_charge`, `charge.refunds`, ...).
 * - Payment intents are created when the session is paid (`payment_intent` is null before, as in
 *   current API versions) and carry `payment_intent_data.metadata`, which the charge copies.
 * - Open sessions past `expires_at` expire (with their event) the next time the sim is used.
 * - Events: `checkout.session.completed`, `checkout.session.expired`, `charge.refunded` (with
 *   `previous_attributes`) then `refund.created`, `charge.dispute.created`; `request` names the API
 *   request (id and idempotency key) that caused them, or is null for test-side actions.
 *
 * Not modelled: other modes (subscription, setup), embedded / elements UI modes, Prices and
 * Products as objects (`price: 'price_...'` is a 404), customers, discounts, taxes, shipping,
 * line item listing, async payment methods (`checkout.session.async_payment_*`), failed payments,
 * manual capture, balance transactions and payment methods as objects (their ids are strings that
 * cannot be expanded), list endpoints, zero-amount sessions (rejected by the 50-cent minimum),
 * dispute evidence / closing, webhook endpoints as API objects (deliver to any URL you like) and
 * Stripe's automatic webhook retries (call `deliverAll` again: events without a 2xx stay pending).
 *
 * Deterministic: ids come from per-prefix counters (`cs_test_Sim00000001`, `pi_Sim00000001`,
 * `evt_Sim00000001`, ...), events are stored in the order they happen, and the clock can be
 * injected (`now`, milliseconds; `created` and the other timestamps are whole seconds). Webhook
 * timestamps use the sim clock too: `constructEvent` checks them against the wall clock, so an
 * injected clock should stay near `Date.now()` (or pass `receivedAt`).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { WaiterSet } from './waiters.ts';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** A JSON object as it goes over the wire. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WireObject = Record<string, any>;

/** Decoded form / query parameters: nested objects and arrays of strings, as sent. */
export type Params = Record<string, unknown>;

/** One HTTP request to the API, recorded as soon as its body has been read. */
export interface RecordedCall {
  method: string;
  /** Path without the query string, e.g. `/v1/checkout/sessions/cs_test_Sim00000001`. */
  path: string;
  /** The matched route, e.g. `GET /v1/checkout/sessions/:id`; undefined for unknown URLs. */
  route?: string;
  /** Body (POST) and query parameters, brackets decoded into objects and arrays. */
  params: Params;
  /** The body exactly as received. */
  rawBody: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  idempotencyKey?: string;
  /** `Stripe-Version` header. */
  stripeVersion?: string;
  /** The `Request-Id` the response carries. */
  requestId: string;
  /** Sim clock, milliseconds. */
  at: number;
  /** Set once answered; 0 when an injected fault dropped the connection. */
  status?: number;
  response?: unknown;
  /** Answered from the idempotency cache. */
  replayed?: boolean;
  /** Answered (or dropped) by a `failNext` fault. */
  faulted?: boolean;
}

/** `'POST /v1/refunds'`, `'GET /v1/checkout/sessions/:id'`, a literal path, or a predicate. */
export type CallMatcher = string | ((call: RecordedCall) => boolean);

/** An injected failure for the next matching call(s), applied after authentication. */
export interface Fault {
  /** HTTP status (default 500). */
  status?: number;
  /** Error type (default `api_error` for 5xx, `invalid_request_error` otherwise). */
  type?: string;
  /** Error code (429 defaults to `rate_limit`, which the SDK maps to StripeRateLimitError). */
  code?: string;
  message?: string;
  param?: string;
  /** How many consecutive matching calls fail (default 1). */
  times?: number;
  /** Sends `Stripe-Should-Retry`, which the SDK obeys when it has retries left. */
  shouldRetry?: boolean;
  /**
   * Drop the TCP connection instead of answering: `'before'` the request runs, or `'after'` it ran
   * (and its idempotent response was saved), i.e. a lost response. stripe-node retries a reset
   * connection once with the same Idempotency-Key even with `maxNetworkRetries: 0`.
   */
  disconnect?: 'before' | 'after';
}

export interface WaitOptions {
  /** Also accept entries already recorded at this index or later. Default: only future ones. */
  since?: number;
  timeoutMs?: number;
}

export interface StripeSimOptions {
  /** Default `sk_test_Sim…`; must start with `sk_test_`. */
  secretKey?: string;
  /** Default `whsec_Sim…`. */
  webhookSecret?: string;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
  /** `api_version` of events (default 2026-10-28.endive). */
  apiVersion?: string;
}

export interface PayOptions {
  email?: string;
  name?: string;
}

export interface PayResult {
  session: Stripe.Checkout.Session;
  paymentIntent: Stripe.PaymentIntent;
  charge: Stripe.Charge;
  event: Stripe.Event;
}

export interface RefundOptions {
  reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer';
  metadata?: Record<string, string>;
}

export interface RefundResult {
  refund: Stripe.Refund;
  charge: Stripe.Charge;
  events: Stripe.Event[];
}

export interface DisputeOptions {
  /** Default `fraudulent`. */
  reason?: string;
  /** Default: the whole charge. */
  amount?: number;
}

export interface DeliverOptions {
  /** Deliver the same event this many times (each attempt signed afresh). Default 1. */
  times?: number;
  /** Change the body after signing: `true` adds a field, or pass your own edit. */
  tamper?: boolean | ((body: string) => string);
  /** Sign with a different secret than `webhookSecret`. */
  wrongSecret?: boolean;
  /** Shift the signature timestamp, e.g. -600 for a stale one (the SDK tolerates 300 s). */
  timestampOffsetSec?: number;
  /** Per attempt (default 5000). A timeout or refused connection is recorded as status 0. */
  timeoutMs?: number;
}

/** One webhook POST. */
export interface DeliveryRecord {
  eventId: string;
  type: string;
  url: string;
  /** HTTP status, or 0 when no response came (refused, reset, timed out). */
  status: number;
  error?: string;
  /** The `Stripe-Signature` header sent. */
  signature: string;
  /** The body sent (after tampering). */
  body: string;
  responseBody: string;
  /** Sim clock, milliseconds. */
  at: number;
}

export const STRIPE_API_VERSION = '2026-10-28.endive';
export const DEFAULT_SECRET_KEY = 'sk_test_Sim4eC2bZ7kQ0vXwY9LmNpRsTuVa';
export const DEFAULT_WEBHOOK_SECRET = 'whsec_Sim8f3d2c1b0a9e8d7c6b5a4f3e2d1c0b';
const DEFAULT_TIMEOUT_MS = 5000;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const MIN_EXPIRY_SEC = 30 * 60;
const MAX_EXPIRY_SEC = 24 * 60 * 60;
/** Stripe's minimum charge is $0.50 or the equivalent; the sim uses 50 minor units everywhere. */
const MIN_AMOUNT = 50;
const CURRENCIES = new Set(['usd', 'eur', 'gbp', 'cad', 'aud', 'chf', 'sek', 'nok', 'dkk', 'pln', 'nzd', 'sgd', 'hkd']);

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

interface ErrorBody {
  type: string;
  message: string;
  code?: string;
  param?: string;
}

/** Thrown by handlers; becomes an `{ error }` response. */
class StripeFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: ErrorBody,
    /** Saved under the request's idempotency key (the endpoint ran). */
    readonly saved = false,
  ) {
    super(error.message);
  }
}

const invalid = (message: string, param?: string, code?: string) =>
  new StripeFailure(400, { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) });

const missing = (param: string) => invalid(`Missing required param: ${param}.`, param, 'parameter_missing');

const unknownParam = (param: string) => invalid(`Received unknown parameter: ${param}`, param, 'parameter_unknown');

const notModelled = (what: string, param?: string) =>
  invalid(`StripeSim does not model ${what}. Extend test/sim/stripe-api.ts if the service needs it.`, param);

/** A state conflict found after the endpoint started running: saved under the idempotency key. */
const conflict = (message: string, param?: string, code?: string) =>
  new StripeFailure(400, { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) }, true);

const noSuch = (kind: string, id: string, param: string) =>
  new StripeFailure(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, param });

// ---------------------------------------------------------------------------------------------
// Parameter shapes
// ---------------------------------------------------------------------------------------------

/** Every top-level parameter of Checkout Session create in this API version (from the SDK types). */
const SESSION_CREATE_PARAMS = new Set([
  'adaptive_pricing', 'after_expiration', 'allow_promotion_codes', 'allowed_payment_method_types', 'automatic_tax',
  'billing_address_collection', 'branding_settings', 'cancel_url', 'client_reference_id', 'consent_collection',
  'currency', 'custom_fields', 'custom_text', 'customer', 'customer_account', 'customer_creation', 'customer_email',
  'customer_update', 'discounts', 'excluded_payment_method_types', 'expand', 'expires_at', 'integration_identifier',
  'invoice_creation', 'line_items', 'locale', 'managed_payments', 'metadata', 'mode', 'name_collection',
  'optional_items', 'origin_context', 'payment_intent_data', 'payment_method_collection',
  'payment_method_configuration', 'payment_method_data', 'payment_method_options', 'permissions',
  'phone_number_collection', 'redirect_on_completion', 'return_url', 'saved_payment_method_options',
  'setup_intent_data', 'shipping_address_collection', 'shipping_options', 'submit_type', 'subscription_data',
  'success_url', 'tax_id_collection', 'ui_mode', 'wallet_options',
]);
/** Real parameters that would change who pays what: rejected rather than silently ignored. */
const UNMODELLED_SESSION_PARAMS = [
  'customer', 'customer_account', 'discounts', 'optional_items', 'shipping_options', 'subscription_data',
  'setup_intent_data', 'invoice_creation', 'managed_payments', 'allow_promotion_codes', 'return_url',
  'redirect_on_completion',
];
const LINE_ITEM_PARAMS = new Set(['adjustable_quantity', 'dynamic_tax_rates', 'metadata', 'price', 'price_data', 'quantity', 'tax_rates']);
const PRICE_DATA_PARAMS = new Set(['currency', 'product', 'product_data', 'recurring', 'tax_behavior', 'unit_amount', 'unit_amount_decimal']);
const PRODUCT_DATA_PARAMS = new Set(['description', 'images', 'metadata', 'name', 'tax_code', 'tax_details', 'unit_label']);
const PAYMENT_INTENT_DATA_PARAMS = new Set([
  'application_fee_amount', 'capture_method', 'description', 'metadata', 'on_behalf_of', 'receipt_email',
  'setup_future_usage', 'shipping', 'statement_descriptor', 'statement_descriptor_suffix', 'transfer_data',
  'transfer_group',
]);
const REFUND_CREATE_PARAMS = new Set([
  'amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent',
  'reason', 'refund_application_fee', 'reverse_transfer',
]);
const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'];

/**
 * What `expand[]` may follow, per object type: the target type, or null for fields Stripe can
 * expand but the sim has no objects for.
 */
const EXPANDABLE: Record<string, Record<string, string | null>> = {
  'checkout.session': {
    payment_intent: 'payment_intent', customer: null, invoice: null, line_items: null, payment_link: null,
    setup_intent: null, subscription: null,
  },
  payment_intent: {
    latest_charge: 'charge', customer: null, payment_method: null, application: null, on_behalf_of: null, review: null,
    payment_record: null,
  },
  charge: {
    payment_intent: 'payment_intent', refunds: 'refund_list', balance_transaction: null, customer: null,
    application: null, application_fee: null, review: null, on_behalf_of: null, source_transfer: null, transfer: null,
    failure_balance_transaction: null,
  },
  refund: {
    charge: 'charge', payment_intent: 'payment_intent', balance_transaction: null, failure_balance_transaction: null,
    source_transfer_reversal: null, transfer_reversal: null, payment_method: null,
  },
  dispute: { charge: 'charge', payment_intent: 'payment_intent' },
  event: {},
  refund_list: {},
};

// ---------------------------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------------------------

interface SessionExtras {
  paymentIntentData: {
    metadata: Record<string, string>;
    description: string | null;
    receiptEmail: string | null;
    statementDescriptor: string | null;
    statementDescriptorSuffix: string | null;
  };
}

/** The API request behind a state change, for `event.request`. */
interface Cause {
  requestId: string | null;
  idempotencyKey: string | null;
}

const TEST_SIDE: Cause = { requestId: null, idempotencyKey: null };

interface RequestContext {
  params: Params;
  ids: Record<string, string>;
  call: RecordedCall;
  cause: Cause;
}

interface Route {
  method: string;
  template: string;
  segments: string[];
  /** Object type the route returns, for checking `expand[]` before anything changes. */
  returns: string;
  handler: (ctx: RequestContext) => WireObject;
}

interface SavedResponse {
  route: string;
  paramsJson: string;
  status: number;
  body: unknown;
  requestId: string;
  at: number;
}

interface FaultEntry {
  matches: (call: RecordedCall) => boolean;
  fault: Fault;
  remaining: number;
}

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

export class StripeSim {
  /** Every API request, in arrival order. */
  readonly calls: RecordedCall[] = [];
  /** Every event, in the order things happened. */
  readonly events: Stripe.Event[] = [];
  /** Every webhook POST made by `deliver*`. */
  readonly deliveries: DeliveryRecord[] = [];
  readonly secretKey: string;
  readonly webhookSecret: string;
  readonly apiVersion: string;

  private readonly server: http.Server;
  private origin = '';
  private portNumber = 0;
  private readonly now: () => number;
  private readonly routes: Route[];
  private readonly counters = new Map<string, number>();

  private readonly sessions = new Map<string, Stripe.Checkout.Session>();
  private readonly sessionExtras = new Map<string, SessionExtras>();
  private readonly paymentIntents = new Map<string, Stripe.PaymentIntent>();
  private readonly charges = new Map<string, Stripe.Charge>();
  private readonly refunds = new Map<string, Stripe.Refund>();
  private readonly disputes = new Map<string, Stripe.Dispute>();
  private readonly eventsById = new Map<string, Stripe.Event>();
  /** Events that got a 2xx from some webhook delivery. */
  private readonly delivered = new Set<string>();
  private readonly idempotency = new Map<string, SavedResponse>();
  private readonly faults: FaultEntry[] = [];
  private readonly callWaiters = new WaiterSet<RecordedCall>('StripeSim');
  private readonly eventWaiters = new WaiterSet<Stripe.Event>('StripeSim');
  private closed: Promise<void> | undefined;

  private constructor(options: StripeSimOptions) {
    this.secretKey = options.secretKey ?? DEFAULT_SECRET_KEY;
    if (!this.secretKey.startsWith('sk_test_')) throw new Error('StripeSim: secretKey must start with sk_test_');
    this.webhookSecret = options.webhookSecret ?? DEFAULT_WEBHOOK_SECRET;
    this.apiVersion = options.apiVersion ?? STRIPE_API_VERSION;
    this.now = options.now ?? Date.now;
    this.routes = this.createRoutes();
    this.server = http.createServer((req, res) => void this.handleRequest(req, res));
  }

  /** Starts a simulator on 127.0.0.1 with an ephemeral port. */
  static async start(options: StripeSimOptions = {}): Promise<StripeSim> {
    const sim = new StripeSim(options);
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(0, '127.0.0.1', () => resolve());
    });
    sim.portNumber = (sim.server.address() as AddressInfo).port;
    sim.origin = `http://127.0.0.1:${sim.portNumber}`;
    return sim;
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return this.origin;
  }

  get port(): number {
    return this.portNumber;
  }

  /** Spread into the SDK config: `new Stripe(sim.secretKey, { ...sim.clientConfig, maxNetworkRetries: 0 })`. */
  get clientConfig(): { host: string; port: number; protocol: 'http' } {
    return { host: '127.0.0.1', port: this.portNumber, protocol: 'http' };
  }

  // ------------------------------------------------------------------ recorded calls and waits

  /** Forgets recorded calls; `since` indexes then count from the new start. */
  clearCalls(): void {
    this.calls.length = 0;
  }

  /**
   * Resolves with the first answered call matching `matcher`. Only calls answered after this call
   * count unless `since` is given. A number is the timeout.
   */
  waitForCall(matcher: CallMatcher, options: number | WaitOptions = {}): Promise<RecordedCall> {
    const { since = this.calls.length, timeoutMs = DEFAULT_TIMEOUT_MS } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const test = toMatcher(matcher);
    const matches = (call: RecordedCall) => call.status !== undefined && test(call);
    const found = this.calls.slice(since).find(matches);
    if (found) return Promise.resolve(found);
    return this.callWaiters.wait(matches, timeoutMs, () =>
      `a call matching ${typeof matcher === 'string' ? JSON.stringify(matcher) : 'the predicate'}. Recent calls: ${
        this.calls.slice(-8).map((c) => `${c.method} ${c.path} → ${c.status ?? '…'}`).join(', ') || '(none)'}`);
  }

  /** Resolves with the first event of `type` (or matching the predicate) recorded at `since` or later. */
  waitForEvent(matcher: string | ((event: Stripe.Event) => boolean), options: number | WaitOptions = {}): Promise<Stripe.Event> {
    const { since = this.events.length, timeoutMs = DEFAULT_TIMEOUT_MS } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const matches = typeof matcher === 'string' ? (e: Stripe.Event) => e.type === matcher : matcher;
    const found = this.events.slice(since).find(matches);
    if (found) return Promise.resolve(found);
    return this.eventWaiters.wait(matches, timeoutMs, () =>
      `an event matching ${typeof matcher === 'string' ? JSON.stringify(matcher) : 'the predicate'}. Events so far: ${
        this.events.map((e) => e.type).join(', ') || '(none)'}`);
  }

  // ------------------------------------------------------------------ faults

  /**
   * The next `fault.times ?? 1` calls matching `matcher` fail with this error instead of running
   * (after authentication), or lose their connection (`disconnect`).
   */
  failNext(matcher: CallMatcher, fault: Fault = {}): void {
    this.faults.push({ matches: toMatcher(matcher), fault, remaining: fault.times ?? 1 });
  }

  // ------------------------------------------------------------------ reading state

  getSession(id: string): Stripe.Checkout.Session {
    this.expireDue();
    return structuredClone(this.require(this.sessions, id, 'checkout session'));
  }

  getPaymentIntent(id: string): Stripe.PaymentIntent {
    return structuredClone(this.require(this.paymentIntents, id, 'payment intent'));
  }

  getCharge(id: string): Stripe.Charge {
    return structuredClone(this.require(this.charges, id, 'charge'));
  }

  getRefund(id: string): Stripe.Refund {
    return structuredClone(this.require(this.refunds, id, 'refund'));
  }

  getDispute(id: string): Stripe.Dispute {
    return structuredClone(this.require(this.disputes, id, 'dispute'));
  }

  getEvent(id: string): Stripe.Event {
    return structuredClone(this.require(this.eventsById, id, 'event'));
  }

  /** All Checkout Sessions, in creation order. */
  listSessions(): Stripe.Checkout.Session[] {
    this.expireDue();
    return [...this.sessions.values()].map((s) => structuredClone(s));
  }

  /** Events no webhook delivery has answered with a 2xx yet, in creation order. */
  undeliveredEvents(): Stripe.Event[] {
    return this.events.filter((e) => !this.delivered.has(e.id));
  }

  // ------------------------------------------------------------------ customer / Stripe actions

  /** The customer completes Checkout: a succeeded PaymentIntent and Charge, `checkout.session.completed`. */
  pay(sessionId: string, options: PayOptions = {}): PayResult {
    this.expireDue();
    const session = this.require(this.sessions, sessionId, 'checkout session');
    if (session.status !== 'open') throw new Error(`StripeSim.pay: session ${sessionId} is ${session.status}, not open`);
    return this.completeSession(session, options);
  }

  /** Stripe expires the session (as `POST /expire` or reaching `expires_at` would). */
  expire(sessionId: string): { session: Stripe.Checkout.Session; event: Stripe.Event } {
    this.expireDue();
    const session = this.require(this.sessions, sessionId, 'checkout session');
    if (session.status !== 'open') throw new Error(`StripeSim.expire: session ${sessionId} is ${session.status}, not open`);
    const event = this.expireSession(session, TEST_SIDE);
    return { session: structuredClone(session), event };
  }

  /**
   * Refunds a charge (a `ch_` id, or a `pi_` id for its latest charge), as the Dashboard would:
   * `charge.refunded` then `refund.created`. Throws what the API would answer with as an Error.
   */
  refund(chargeOrPaymentIntentId: string, amount?: number, options: RefundOptions = {}): RefundResult {
    this.expireDue();
    const charge = chargeOrPaymentIntentId.startsWith('pi_')
      ? this.chargeOfPaymentIntent(chargeOrPaymentIntentId, (m) => new Error(`StripeSim.refund: ${m}`))
      : this.require(this.charges, chargeOrPaymentIntentId, 'charge');
    try {
      return this.createRefund(charge, amount, options.reason ?? null, options.metadata ?? {}, TEST_SIDE);
    } catch (error) {
      if (error instanceof StripeFailure) throw new Error(`StripeSim.refund: ${error.message}`);
      throw error;
    }
  }

  /** The cardholder disputes a charge: a Dispute in `needs_response`, `charge.dispute.created`. */
  dispute(chargeOrPaymentIntentId: string, options: DisputeOptions = {}): { dispute: Stripe.Dispute; charge: Stripe.Charge; event: Stripe.Event } {
    const charge = chargeOrPaymentIntentId.startsWith('pi_')
      ? this.chargeOfPaymentIntent(chargeOrPaymentIntentId, (m) => new Error(`StripeSim.dispute: ${m}`))
      : this.require(this.charges, chargeOrPaymentIntentId, 'charge');
    if (charge.disputed) throw new Error(`StripeSim.dispute: charge ${charge.id} is already disputed`);
    const amount = options.amount ?? charge.amount;
    if (!Number.isInteger(amount) || amount <= 0 || amount > charge.amount) {
      throw new Error(`StripeSim.dispute: amount must be an integer in 1..${charge.amount}`);
    }
    const created = this.nowSec();
    const dispute: Stripe.Dispute = {
      id: this.nextId('dp'),
      object: 'dispute',
      amount,
      balance_transactions: [],
      charge: charge.id,
      created,
      currency: charge.currency,
      enhanced_eligibility_types: [],
      evidence: emptyEvidence(),
      evidence_details: {
        due_by: created + 7 * 24 * 60 * 60,
        enhanced_eligibility: {},
        has_evidence: false,
        past_due: false,
        submission_count: 0,
        submission_method: 'not_submitted',
      },
      intended_submission_method: null,
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: typeof charge.payment_intent === 'string' ? charge.payment_intent : null,
      reason: options.reason ?? 'fraudulent',
      status: 'needs_response',
    };
    this.disputes.set(dispute.id, dispute);
    charge.disputed = true;
    const event = this.emit('charge.dispute.created', dispute, TEST_SIDE);
    return { dispute: structuredClone(dispute), charge: structuredClone(charge), event };
  }

  /**
   * Expires every open session whose `expires_at` has passed on the sim clock (emitting
   * `checkout.session.expired`). Runs by itself before every API request and action; call it after
   * moving an injected clock if nothing else touches the sim.
   */
  expireDue(): Stripe.Event[] {
    const nowSec = this.nowSec();
    const events: Stripe.Event[] = [];
    for (const session of this.sessions.values()) {
      if (session.status === 'open' && session.expires_at <= nowSec) events.push(this.expireSession(session, TEST_SIDE));
    }
    return events;
  }

  // ------------------------------------------------------------------ webhooks

  /**
   * POSTs one event (object or id) to `url`, signed like Stripe, `times` times. Returns the HTTP
   * status of each attempt (0 = no response). A 2xx marks the event delivered.
   */
  async deliver(url: string, event: Stripe.Event | string, options: DeliverOptions = {}): Promise<number[]> {
    const target = this.resolveEvent(event);
    const statuses: number[] = [];
    for (let i = 0; i < (options.times ?? 1); i++) statuses.push((await this.post(url, target, options)).status);
    return statuses;
  }

  /** Delivers the given events in exactly this order (duplicates allowed), one attempt each. */
  async deliverList(url: string, events: Array<Stripe.Event | string>, options: Omit<DeliverOptions, 'times'> = {}): Promise<DeliveryRecord[]> {
    const targets = events.map((e) => this.resolveEvent(e));
    const records: DeliveryRecord[] = [];
    for (const target of targets) records.push(await this.post(url, target, options));
    return records;
  }

  /** Delivers every event that has not had a 2xx yet, in creation order, one attempt each. */
  async deliverAll(url: string, options: Omit<DeliverOptions, 'times'> = {}): Promise<DeliveryRecord[]> {
    return this.deliverList(url, this.undeliveredEvents(), options);
  }

  /** The `Stripe-Signature` header Stripe would send for `payload` at unix time `timestamp`. */
  signatureHeader(payload: string, timestamp = this.nowSec(), secret = this.webhookSecret): string {
    const signature = crypto.createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
    return `t=${timestamp},v1=${signature}`;
  }

  /** The body Stripe sends for an event: pretty-printed JSON (two-space indent). */
  webhookPayload(event: Stripe.Event | string): string {
    return JSON.stringify(this.resolveEvent(event), null, 2);
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Stops the server: pending waits are rejected and keep-alive connections (the SDK's agent keeps
   * them) are closed. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const closedError = new Error('StripeSim closed while waiting');
    this.callWaiters.rejectAll(closedError);
    this.eventWaiters.rejectAll(closedError);
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await serverClosed;
  }

  // ------------------------------------------------------------------ routes

  private createRoutes(): Route[] {
    const route = (method: string, template: string, returns: string, handler: Route['handler']): Route =>
      ({ method, template, segments: template.split('/').filter((s) => s !== ''), returns, handler });
    return [
      route('POST', '/v1/checkout/sessions', 'checkout.session', (ctx) => this.apiCreateSession(ctx)),
      route('GET', '/v1/checkout/sessions/:id', 'checkout.session', (ctx) => {
        onlyExpand(ctx.params);
        return this.requireApi(this.sessions, ctx.ids.id, 'checkout.session', 'session');
      }),
      route('POST', '/v1/checkout/sessions/:id/expire', 'checkout.session', (ctx) => this.apiExpireSession(ctx)),
      route('GET', '/v1/payment_intents/:id', 'payment_intent', (ctx) => {
        checkKnown(ctx.params, new Set(['expand', 'client_secret']), '');
        return this.requireApi(this.paymentIntents, ctx.ids.id, 'payment_intent', 'intent');
      }),
      route('GET', '/v1/charges/:id', 'charge', (ctx) => {
        onlyExpand(ctx.params);
        return this.requireApi(this.charges, ctx.ids.id, 'charge', 'charge');
      }),
      route('POST', '/v1/refunds', 'refund', (ctx) => this.apiCreateRefund(ctx)),
      route('GET', '/v1/refunds/:id', 'refund', (ctx) => {
        onlyExpand(ctx.params);
        return this.requireApi(this.refunds, ctx.ids.id, 'refund', 'refund');
      }),
      route('GET', '/v1/events/:id', 'event', (ctx) => {
        onlyExpand(ctx.params);
        return this.requireApi(this.eventsById, ctx.ids.id, 'event', 'id');
      }),
    ];
  }

  private apiCreateSession(ctx: RequestContext): WireObject {
    const p = ctx.params;
    checkKnown(p, SESSION_CREATE_PARAMS, '');
    for (const name of UNMODELLED_SESSION_PARAMS) {
      if (p[name] !== undefined && p[name] !== '' && p[name] !== 'false') throw notModelled(`\`${name}\``, name);
    }
    if (isObject(p.automatic_tax) && p.automatic_tax.enabled === 'true') throw notModelled('automatic tax', 'automatic_tax[enabled]');

    const mode = str(p.mode, 'mode');
    if (mode === undefined) throw missing('mode');
    if (!['payment', 'setup', 'subscription'].includes(mode)) {
      throw invalid('Invalid mode: must be one of payment, setup, or subscription', 'mode', 'parameter_invalid_string');
    }
    if (mode !== 'payment') throw notModelled(`mode=${mode}`, 'mode');
    const uiMode = str(p.ui_mode, 'ui_mode') ?? 'hosted_page';
    if (!['elements', 'embedded_page', 'form', 'hosted_page'].includes(uiMode)) {
      throw invalid('Invalid ui_mode: must be one of elements, embedded_page, form, or hosted_page', 'ui_mode', 'parameter_invalid_string');
    }
    if (uiMode !== 'hosted_page') throw notModelled(`ui_mode=${uiMode}`, 'ui_mode');

    const successUrl = str(p.success_url, 'success_url');
    if (successUrl === undefined || successUrl === '') throw missing('success_url');
    checkUrl(successUrl, 'success_url');
    const cancelUrl = str(p.cancel_url, 'cancel_url') || undefined;
    if (cancelUrl !== undefined) checkUrl(cancelUrl, 'cancel_url');

    const clientReferenceId = str(p.client_reference_id, 'client_reference_id') || null;
    if (clientReferenceId !== null && clientReferenceId.length > 200) {
      throw invalid('Invalid client_reference_id: must be at most 200 characters', 'client_reference_id', 'parameter_invalid_string');
    }
    const customerEmail = str(p.customer_email, 'customer_email') || null;
    if (customerEmail !== null) checkEmail(customerEmail, 'customer_email');
    const metadata = readMetadata(p.metadata, 'metadata');

    // Line items.
    if (p.line_items === undefined || p.line_items === '') throw missing('line_items');
    if (!Array.isArray(p.line_items)) throw invalid('Invalid array', 'line_items', 'parameter_invalid_array');
    if (p.line_items.length === 0) throw missing('line_items');
    if (p.line_items.length > 100) throw invalid('You may only specify up to 100 line items.', 'line_items');
    let currency = str(p.currency, 'currency')?.toLowerCase();
    if (currency !== undefined && !CURRENCIES.has(currency)) throw invalid(`Invalid currency: ${currency}`, 'currency', 'parameter_invalid_string');
    let amount = 0;
    p.line_items.forEach((item: unknown, i: number) => {
      const at = `line_items[${i}]`;
      if (!isObject(item)) throw invalid('Invalid object', at, 'parameter_invalid_object');
      checkKnown(item, LINE_ITEM_PARAMS, at);
      if (item.price !== undefined) {
        if (item.price_data !== undefined) throw invalid(`You may only specify one of these parameters: price, price_data.`, `${at}[price]`);
        throw noSuch('price', String(item.price), `${at}[price]`);
      }
      if (item.price_data === undefined) throw missing(`${at}[price_data]`);
      const priceData = item.price_data;
      if (!isObject(priceData)) throw invalid('Invalid object', `${at}[price_data]`, 'parameter_invalid_object');
      checkKnown(priceData, PRICE_DATA_PARAMS, `${at}[price_data]`);
      const itemCurrency = str(priceData.currency, `${at}[price_data][currency]`)?.toLowerCase();
      if (itemCurrency === undefined) throw missing(`${at}[price_data][currency]`);
      if (!CURRENCIES.has(itemCurrency)) throw invalid(`Invalid currency: ${itemCurrency}`, `${at}[price_data][currency]`, 'parameter_invalid_string');
      if (currency !== undefined && currency !== itemCurrency) {
        throw invalid(`All line items must have the same currency (${currency}), but ${at} is in ${itemCurrency}.`, `${at}[price_data][currency]`);
      }
      currency = itemCurrency;
      if (priceData.recurring !== undefined) {
        throw invalid('You must be in `subscription` mode to use recurring prices.', `${at}[price_data][recurring]`);
      }
      if (priceData.product !== undefined) {
        if (priceData.product_data !== undefined) throw invalid('You may only specify one of these parameters: product, product_data.', `${at}[price_data][product]`);
        throw noSuch('product', String(priceData.product), `${at}[price_data][product]`);
      }
      if (priceData.product_data === undefined) throw missing(`${at}[price_data][product_data]`);
      if (!isObject(priceData.product_data)) throw invalid('Invalid object', `${at}[price_data][product_data]`, 'parameter_invalid_object');
      checkKnown(priceData.product_data, PRODUCT_DATA_PARAMS, `${at}[price_data][product_data]`);
      const name = str(priceData.product_data.name, `${at}[price_data][product_data][name]`);
      if (name === undefined || name.trim() === '') throw missing(`${at}[price_data][product_data][name]`);
      readMetadata(priceData.product_data.metadata, `${at}[price_data][product_data][metadata]`);
      if (priceData.unit_amount_decimal !== undefined) {
        if (priceData.unit_amount !== undefined) throw invalid('You may only specify one of these parameters: unit_amount, unit_amount_decimal.', `${at}[price_data][unit_amount]`);
        throw notModelled('unit_amount_decimal', `${at}[price_data][unit_amount_decimal]`);
      }
      const unitAmount = int(priceData.unit_amount, `${at}[price_data][unit_amount]`);
      if (unitAmount === undefined) throw missing(`${at}[price_data][unit_amount]`);
      if (unitAmount < 0) throw invalid('Invalid non-negative integer', `${at}[price_data][unit_amount]`, 'parameter_invalid_integer');
      if (unitAmount > 99_999_999) throw invalid('This value must be less than or equal to 99999999.', `${at}[price_data][unit_amount]`, 'parameter_invalid_integer');
      const quantity = int(item.quantity, `${at}[quantity]`);
      if (quantity === undefined) throw missing(`${at}[quantity]`);
      if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', `${at}[quantity]`, 'parameter_invalid_integer');
      amount += unitAmount * quantity;
    });
    if (currency === undefined) throw missing('currency');
    if (amount < MIN_AMOUNT) {
      throw invalid(`The Checkout Session's total amount due must add up to at least $0.50 ${currency}`, 'line_items', 'amount_too_small');
    }
    if (amount > 99_999_999) {
      throw invalid(`The Checkout Session's total amount due must be no more than $999,999.99 ${currency}`, 'line_items', 'amount_too_large');
    }

    const created = this.nowSec();
    const expiresAt = int(p.expires_at, 'expires_at') ?? created + MAX_EXPIRY_SEC;
    if (expiresAt < created + MIN_EXPIRY_SEC) {
      throw invalid('The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.', 'expires_at');
    }
    if (expiresAt > created + MAX_EXPIRY_SEC) {
      throw invalid('The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.', 'expires_at');
    }

    let pid: Params = {};
    if (p.payment_intent_data !== undefined && p.payment_intent_data !== '') {
      if (!isObject(p.payment_intent_data)) throw invalid('Invalid object', 'payment_intent_data', 'parameter_invalid_object');
      pid = p.payment_intent_data;
      checkKnown(pid, PAYMENT_INTENT_DATA_PARAMS, 'payment_intent_data');
      for (const name of ['application_fee_amount', 'on_behalf_of', 'transfer_data', 'setup_future_usage', 'shipping']) {
        if (pid[name] !== undefined) throw notModelled(`payment_intent_data[${name}]`, `payment_intent_data[${name}]`);
      }
      const capture = str(pid.capture_method, 'payment_intent_data[capture_method]');
      if (capture !== undefined && capture !== 'automatic' && capture !== 'automatic_async') {
        throw notModelled(`capture_method=${capture}`, 'payment_intent_data[capture_method]');
      }
    }
    const receiptEmail = str(pid.receipt_email, 'payment_intent_data[receipt_email]') || null;
    if (receiptEmail !== null) checkEmail(receiptEmail, 'payment_intent_data[receipt_email]');
    const statementDescriptor = str(pid.statement_descriptor, 'payment_intent_data[statement_descriptor]') || null;
    if (statementDescriptor !== null && (statementDescriptor.length < 5 || statementDescriptor.length > 22)) {
      throw invalid('The statement descriptor must be between 5 and 22 characters long.', 'payment_intent_data[statement_descriptor]');
    }
    const extras: SessionExtras = {
      paymentIntentData: {
        metadata: readMetadata(pid.metadata, 'payment_intent_data[metadata]'),
        description: str(pid.description, 'payment_intent_data[description]') || null,
        receiptEmail,
        statementDescriptor,
        statementDescriptorSuffix: str(pid.statement_descriptor_suffix, 'payment_intent_data[statement_descriptor_suffix]') || null,
      },
    };

    const id = this.nextId('cs_test');
    const session: Stripe.Checkout.Session = {
      id,
      object: 'checkout.session',
      adaptive_pricing: { enabled: false },
      after_expiration: null,
      allow_promotion_codes: null,
      allowed_payment_method_types: null,
      amount_subtotal: amount,
      amount_total: amount,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: cancelUrl ?? null,
      client_reference_id: clientReferenceId,
      client_secret: null,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created,
      currency,
      currency_conversion: null,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: null,
      customer_account: null,
      customer_creation: 'if_required',
      customer_details: customerEmail === null ? null : {
        address: null, business_name: null, email: customerEmail, individual_name: null, name: null, phone: null,
        tax_exempt: 'none', tax_ids: null,
      },
      customer_email: customerEmail,
      discounts: [],
      expires_at: expiresAt,
      integration_identifier: null,
      invoice: null,
      invoice_creation: null,
      livemode: false,
      locale: null,
      managed_payments: null,
      metadata,
      mode: 'payment',
      origin_context: null,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: 'if_required',
      payment_method_configuration_details: null,
      payment_method_options: { card: { request_three_d_secure: 'automatic' } },
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      permissions: null,
      recovered_from: null,
      saved_payment_method_options: null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: 'open',
      submit_type: null,
      subscription: null,
      success_url: successUrl,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted_page',
      url: `${this.origin}/pay/${id}`,
      wallet_options: null,
    };
    this.sessions.set(id, session);
    this.sessionExtras.set(id, extras);
    return session;
  }

  private apiExpireSession(ctx: RequestContext): WireObject {
    onlyExpand(ctx.params);
    const session = this.requireApi(this.sessions, ctx.ids.id, 'checkout.session', 'session');
    if (session.status !== 'open') {
      throw conflict(
        `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`,
        undefined, undefined);
    }
    this.expireSession(session, ctx.cause);
    return session;
  }

  private apiCreateRefund(ctx: RequestContext): WireObject {
    const p = ctx.params;
    checkKnown(p, REFUND_CREATE_PARAMS, '');
    for (const name of ['customer', 'origin', 'instructions_email', 'refund_application_fee', 'reverse_transfer']) {
      if (p[name] !== undefined) throw notModelled(`refunds with \`${name}\``, name);
    }
    const amount = int(p.amount, 'amount');
    if (amount !== undefined && amount < 1) throw invalid('Invalid positive integer', 'amount', 'parameter_invalid_integer');
    const reason = str(p.reason, 'reason') || null;
    if (reason !== null && !REFUND_REASONS.includes(reason)) {
      throw invalid('Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer', 'reason', 'parameter_invalid_string');
    }
    const metadata = readMetadata(p.metadata, 'metadata');
    const chargeId = str(p.charge, 'charge');
    const paymentIntentId = str(p.payment_intent, 'payment_intent');
    let charge: Stripe.Charge;
    if (paymentIntentId !== undefined) {
      charge = this.chargeOfPaymentIntent(paymentIntentId, (m, notFound) =>
        notFound ? noSuch('payment_intent', paymentIntentId, 'payment_intent') : invalid(m, 'payment_intent'));
      if (chargeId !== undefined && chargeId !== charge.id) {
        throw invalid(`The charge ${chargeId} does not belong to the PaymentIntent ${paymentIntentId}.`, 'charge');
      }
    } else if (chargeId !== undefined) {
      charge = this.requireApi(this.charges, chargeId, 'charge', 'charge');
    } else {
      throw invalid('One of the following params should be provided for this request: payment_intent or charge.', undefined, 'parameter_missing');
    }
    const currency = str(p.currency, 'currency');
    if (currency !== undefined && currency.toLowerCase() !== charge.currency) {
      throw invalid(`The currency ${currency} does not match the charge's currency ${charge.currency}.`, 'currency');
    }
    return this.createRefund(charge, amount, reason as Stripe.Refund.Reason | null, metadata, ctx.cause).refund;
  }

  // ------------------------------------------------------------------ state changes

  private completeSession(session: Stripe.Checkout.Session, options: PayOptions): PayResult {
    const extras = this.sessionExtras.get(session.id) as SessionExtras;
    const pid = extras.paymentIntentData;
    const created = this.nowSec();
    const amount = session.amount_total ?? 0;
    const currency = session.currency ?? 'usd';
    const email = options.email ?? session.customer_email ?? 'customer@example.com';
    const name = options.name ?? null;
    const paymentIntentId = this.nextId('pi');
    const chargeId = this.nextId('ch');
    const paymentMethodId = this.nextId('pm');
    const charge: Stripe.Charge = {
      id: chargeId,
      object: 'charge',
      amount,
      amount_captured: amount,
      amount_refunded: 0,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: this.nextId('txn'),
      billing_details: {
        address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94103', state: null },
        email, name, phone: null, tax_id: null,
      },
      calculated_statement_descriptor: pid.statementDescriptor ?? 'STRIPESIM',
      captured: true,
      created,
      currency,
      customer: null,
      description: pid.description,
      disputed: false,
      failure_balance_transaction: null,
      failure_code: null,
      failure_message: null,
      fraud_details: {},
      livemode: false,
      metadata: { ...pid.metadata },
      on_behalf_of: null,
      outcome: {
        advice_code: null,
        network_advice_code: null,
        network_decline_code: null,
        network_status: 'approved_by_network',
        reason: null,
        risk_level: 'normal',
        risk_score: 32,
        seller_message: 'Payment complete.',
        type: 'authorized',
      },
      paid: true,
      payment_intent: paymentIntentId,
      payment_method: paymentMethodId,
      payment_method_details: {
        type: 'card',
        card: {
          amount_authorized: amount, authorization_code: null, brand: 'visa',
          checks: { address_line1_check: null, address_postal_code_check: 'pass', cvc_check: 'pass' }, country: 'US',
          electronic_commerce_indicator: null, installments: null, mandate: null, transaction_link_id: null,
          exp_month: 12, exp_year: 2034, fingerprint: 'SimFingerprint01', funding: 'credit', last4: '4242',
          network: 'visa', network_token: { used: false }, network_transaction_id: null, regulated_status: 'unregulated',
          three_d_secure: null, wallet: null,
        },
      },
      receipt_email: pid.receiptEmail,
      receipt_number: null,
      receipt_url: `${this.origin}/receipts/${chargeId}`,
      refunded: false,
      review: null,
      shipping: null,
      source: null,
      source_transfer: null,
      statement_descriptor: pid.statementDescriptor,
      statement_descriptor_suffix: pid.statementDescriptorSuffix,
      status: 'succeeded',
      transfer_data: null,
      transfer_group: null,
    };
    const paymentIntent: Stripe.PaymentIntent = {
      id: paymentIntentId,
      object: 'payment_intent',
      allowed_payment_method_types: null,
      amount,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: amount,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: 'automatic_async',
      client_secret: `${paymentIntentId}_secret_Sim${paymentIntentId.slice(-8)}`,
      confirmation_method: 'automatic',
      created,
      currency,
      customer: null,
      customer_account: null,
      description: pid.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: chargeId,
      livemode: false,
      managed_payments: null,
      metadata: { ...pid.metadata },
      next_action: null,
      on_behalf_of: null,
      payment_method: paymentMethodId,
      payment_method_configuration_details: null,
      payment_method_options: null,
      payment_method_types: ['card'],
      payment_record: null,
      processing: null,
      receipt_email: pid.receiptEmail,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: pid.statementDescriptor,
      statement_descriptor_suffix: pid.statementDescriptorSuffix,
      status: 'succeeded',
      transfer_data: null,
      transfer_group: null,
    };
    this.charges.set(chargeId, charge);
    this.paymentIntents.set(paymentIntentId, paymentIntent);
    session.status = 'complete';
    session.payment_status = 'paid';
    session.payment_intent = paymentIntentId;
    session.url = null;
    session.customer_details = {
      address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94103', state: null },
      business_name: null, email, individual_name: null, name, phone: null, tax_exempt: 'none', tax_ids: [],
    };
    const event = this.emit('checkout.session.completed', session, TEST_SIDE);
    return {
      session: structuredClone(session),
      paymentIntent: structuredClone(paymentIntent),
      charge: structuredClone(charge),
      event,
    };
  }

  private expireSession(session: Stripe.Checkout.Session, cause: Cause): Stripe.Event {
    session.status = 'expired';
    session.url = null;
    return this.emit('checkout.session.expired', session, cause);
  }

  private createRefund(
    charge: Stripe.Charge,
    amount: number | undefined,
    reason: Stripe.Refund.Reason | null,
    metadata: Record<string, string>,
    cause: Cause,
  ): RefundResult {
    if (charge.disputed) {
      throw conflict(`Charge ${charge.id} has been charged back; cannot issue a refund.`, undefined, 'charge_disputed');
    }
    const remaining = charge.amount - charge.amount_refunded;
    if (remaining <= 0) throw conflict(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded');
    const refundAmount = amount ?? remaining;
    if (refundAmount > remaining) {
      throw conflict(
        `Refund amount (${money(refundAmount, charge.currency)}) is greater than unrefunded amount on charge (${money(remaining, charge.currency)})`,
        'amount', 'amount_too_large');
    }
    const refund: Stripe.Refund = {
      id: this.nextId('re'),
      object: 'refund',
      amount: refundAmount,
      balance_transaction: this.nextId('txn'),
      charge: charge.id,
      created: this.nowSec(),
      currency: charge.currency,
      customer: null,
      customer_account: null,
      destination_details: { type: 'card', card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' } },
      metadata,
      payment_intent: charge.payment_intent,
      payment_method: charge.payment_method,
      reason,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    this.refunds.set(refund.id, refund);
    const previous: WireObject = { amount_refunded: charge.amount_refunded };
    charge.amount_refunded += refundAmount;
    if (charge.amount_refunded === charge.amount) {
      charge.refunded = true;
      previous.refunded = false;
    }
    const events = [
      this.emit('charge.refunded', charge, cause, previous),
      this.emit('refund.created', refund, cause),
    ];
    return { refund: structuredClone(refund), charge: structuredClone(charge), events };
  }

  private emit(type: string, object: WireObject, cause: Cause, previousAttributes?: WireObject): Stripe.Event {
    const event = {
      id: this.nextId('evt'),
      object: 'event',
      api_version: this.apiVersion,
      created: this.nowSec(),
      data: {
        object: structuredClone(object),
        ...(previousAttributes ? { previous_attributes: previousAttributes } : {}),
      },
      livemode: false,
      pending_webhooks: 1,
      request: { id: cause.requestId, idempotency_key: cause.idempotencyKey },
      type,
    } as unknown as Stripe.Event;
    this.events.push(event);
    this.eventsById.set(event.id, event);
    this.eventWaiters.notify(event);
    return structuredClone(event);
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      const raw = (await readBody(req)).toString('utf8');
      if (url.pathname === '/pay' || url.pathname.startsWith('/pay/')) return this.servePayPage(method, url, raw, res);

      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const segments = url.pathname.split('/').filter((s) => s !== '').map(safeDecode);
      const path = `/${segments.join('/')}`;
      const query = parseForm(url.search.slice(1));
      const body = method === 'GET' || method === 'DELETE' ? {} : parseForm(raw);
      const call: RecordedCall = {
        method,
        path,
        params: { ...query, ...body },
        rawBody: raw,
        headers,
        requestId: this.nextId('req'),
        at: this.now(),
      };
      if (headers['idempotency-key'] !== undefined) call.idempotencyKey = headers['idempotency-key'];
      if (headers['stripe-version'] !== undefined) call.stripeVersion = headers['stripe-version'];

      let route: Route | undefined;
      let ids: Record<string, string> = {};
      for (const candidate of this.routes) {
        if (candidate.method !== method) continue;
        const matched = matchSegments(candidate.segments, segments);
        if (matched) {
          route = candidate;
          ids = matched;
          break;
        }
      }
      if (route) call.route = `${route.method} ${route.template}`;
      this.calls.push(call);

      const authFailure = this.checkAuth(headers.authorization);
      if (authFailure) return this.finish(res, call, authFailure);
      if (!route) {
        return this.finish(res, call, new StripeFailure(404, {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        }));
      }

      if (call.stripeVersion !== undefined && call.stripeVersion !== this.apiVersion) {
        return this.finish(res, call, notModelled(
          `Stripe-Version ${call.stripeVersion}: its object shapes differ (the sim speaks ${this.apiVersion}; see the \`apiVersion\` option)`));
      }
      const fault = this.takeFault(call);
      if (fault?.disconnect === 'before') return this.drop(res, call);
      if (fault && !fault.disconnect) return this.finish(res, call, faultFailure(fault), fault);

      const key = call.idempotencyKey;
      const paramsJson = stableJson(call.params);
      if (method === 'POST' && key !== undefined) {
        if (key.length > 255) return this.finish(res, call, invalid('Idempotency-Key must be at most 255 characters long.', undefined));
        const saved = this.idempotency.get(key);
        if (saved && this.now() - saved.at > IDEMPOTENCY_TTL_MS) this.idempotency.delete(key);
        else if (saved) {
          if (saved.route !== call.route) {
            return this.finish(res, call, new StripeFailure(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${saved.route.replace(/:id/, '…')}' vs '${method} ${path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
            }));
          }
          if (saved.paramsJson !== paramsJson) {
            return this.finish(res, call, new StripeFailure(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            }));
          }
          call.replayed = true;
          return this.write(res, call, saved.status, saved.body, {
            'idempotent-replayed': 'true',
            'original-request': saved.requestId,
          });
        }
      }

      this.expireDue();
      let status = 200;
      let responseBody: unknown;
      let saveIt = true;
      try {
        const expand = readExpand(call.params.expand);
        checkExpandPaths(route.returns, expand);
        const result = route.handler({
          params: call.params,
          ids,
          call,
          cause: { requestId: call.requestId, idempotencyKey: key ?? null },
        });
        responseBody = this.expandObject(structuredClone(result), expand);
      } catch (error) {
        if (!(error instanceof StripeFailure)) throw error;
        status = error.status;
        responseBody = { error: this.errorBody(error.error, call.requestId) };
        saveIt = error.saved;
      }
      if (method === 'POST' && key !== undefined && saveIt) {
        this.idempotency.set(key, { route: call.route ?? '', paramsJson, status, body: responseBody, requestId: call.requestId, at: this.now() });
      }
      if (fault?.disconnect === 'after') return this.drop(res, call);
      this.write(res, call, status, responseBody, {});
    } catch (error) {
      // A simulator bug: answer like Stripe's 500 and make it visible in the test log.
      console.error('StripeSim internal error', error);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: 'StripeSim internal error (see the test log)' } }));
      }
    }
  }

  private checkAuth(authorization: string | undefined): StripeFailure | undefined {
    let key: string | undefined;
    if (authorization?.startsWith('Bearer ')) key = authorization.slice(7).trim();
    else if (authorization?.startsWith('Basic ')) key = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8').split(':')[0];
    if (!key) {
      return new StripeFailure(401, {
        type: 'invalid_request_error',
        message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    if (key !== this.secretKey) {
      return new StripeFailure(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${maskKey(key)}` });
    }
    return undefined;
  }

  private errorBody(error: ErrorBody, requestId: string): WireObject {
    return {
      ...(error.code ? { code: error.code, doc_url: `https://stripe.com/docs/error-codes/${error.code.replace(/_/g, '-')}` } : {}),
      message: error.message,
      ...(error.param ? { param: error.param } : {}),
      request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=${this.nowSec()}`,
      type: error.type,
    };
  }

  private finish(res: http.ServerResponse, call: RecordedCall, failure: StripeFailure, fault?: Fault): void {
    const headers: Record<string, string> = {};
    if (fault?.shouldRetry !== undefined) headers['stripe-should-retry'] = String(fault.shouldRetry);
    if (fault) call.faulted = true;
    this.write(res, call, failure.status, { error: this.errorBody(failure.error, call.requestId) }, headers);
  }

  private write(res: http.ServerResponse, call: RecordedCall, status: number, body: unknown, extra: Record<string, string>): void {
    call.status = status;
    call.response = structuredClone(body);
    this.callWaiters.notify(call);
    const text = JSON.stringify(body, null, 2);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'request-id': call.requestId,
      'stripe-version': call.stripeVersion ?? this.apiVersion,
      'cache-control': 'no-cache, no-store',
      ...extra,
    };
    if (call.idempotencyKey !== undefined && call.method === 'POST') headers['idempotency-key'] = call.idempotencyKey;
    res.writeHead(status, headers);
    res.end(text);
  }

  private drop(res: http.ServerResponse, call: RecordedCall): void {
    call.status = 0;
    call.faulted = true;
    this.callWaiters.notify(call);
    res.socket?.destroy();
  }

  private takeFault(call: RecordedCall): Fault | undefined {
    const entry = this.faults.find((f) => f.remaining > 0 && f.matches(call));
    if (!entry) return undefined;
    entry.remaining--;
    if (entry.remaining === 0) this.faults.splice(this.faults.indexOf(entry), 1);
    return entry.fault;
  }

  /** The hosted Checkout page behind `session.url`, for tests that follow the link. */
  private servePayPage(method: string, url: URL, raw: string, res: http.ServerResponse): void {
    const [, , id = '', action] = url.pathname.split('/').map(safeDecode);
    const session = this.sessions.get(id);
    const send = (status: number, html: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(html);
    };
    this.expireDue();
    if (!session) return send(404, '<h1>Not found</h1>');
    if (action === 'cancel' && method === 'GET') {
      if (!session.cancel_url) return send(404, '<h1>No cancel_url</h1>');
      return send(303, '', { location: session.cancel_url });
    }
    if (action !== undefined) return send(404, '<h1>Not found</h1>');
    if (session.status !== 'open') return send(410, `<h1>This Checkout Session is ${escapeHtml(session.status ?? '')}</h1>`);
    if (method === 'GET') {
      return send(200, `<!doctype html><title>StripeSim Checkout</title><h1>Pay ${escapeHtml(money(session.amount_total ?? 0, session.currency ?? 'usd'))}</h1>` +
        `<form method="post"><input name="email" value="${escapeHtml(session.customer_email ?? '')}"><button>Pay</button></form>` +
        (session.cancel_url ? `<a href="/pay/${escapeHtml(id)}/cancel">Cancel</a>` : ''));
    }
    if (method !== 'POST') return send(405, '<h1>Method not allowed</h1>');
    const form = parseForm(raw);
    this.completeSession(session, typeof form.email === 'string' && form.email !== '' ? { email: form.email } : {});
    return send(303, '', { location: (session.success_url ?? '').split('{CHECKOUT_SESSION_ID}').join(id) });
  }

  // ------------------------------------------------------------------ webhook plumbing

  private resolveEvent(event: Stripe.Event | string): Stripe.Event {
    const id = typeof event === 'string' ? event : event.id;
    const found = this.eventsById.get(id);
    if (!found) throw new Error(`StripeSim: no event ${id}`);
    return found;
  }

  private async post(url: string, event: Stripe.Event, options: DeliverOptions): Promise<DeliveryRecord> {
    const payload = JSON.stringify(event, null, 2);
    const timestamp = this.nowSec() + (options.timestampOffsetSec ?? 0);
    const secret = options.wrongSecret ? `${this.webhookSecret}_wrong` : this.webhookSecret;
    const signature = this.signatureHeader(payload, timestamp, secret);
    const body = options.tamper === undefined || options.tamper === false ? payload
      : options.tamper === true ? payload.replace(/\n}$/, ',\n  "tampered": true\n}')
        : options.tamper(payload);
    const record: DeliveryRecord = {
      eventId: event.id, type: event.type, url, status: 0, signature, body, responseBody: '', at: this.now(),
    };
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    await new Promise<void>((resolve) => {
      const req = client.request(target, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'cache-control': 'no-cache',
          accept: '*/*; q=0.5, application/xml',
          'stripe-signature': signature,
          connection: 'close',
        },
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          record.status = res.statusCode ?? 0;
          record.responseBody = Buffer.concat(chunks).toString('utf8');
          resolve();
        });
        res.on('error', (error) => {
          record.error = error.message;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error(`timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)));
      req.on('error', (error) => {
        record.error = error.message;
        resolve();
      });
      req.end(body);
    });
    if (record.status >= 200 && record.status < 300) this.delivered.add(event.id);
    this.deliveries.push(record);
    return record;
  }

  // ------------------------------------------------------------------ helpers

  private nowSec(): number {
    return Math.floor(this.now() / 1000);
  }

  private nextId(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_Sim${String(n).padStart(8, '0')}`;
  }

  private require<T>(map: Map<string, T>, id: string, what: string): T {
    const found = map.get(id);
    if (found === undefined) throw new Error(`StripeSim: no ${what} ${id}`);
    return found;
  }

  private requireApi<T>(map: Map<string, T>, id: string | undefined, kind: string, param: string): T {
    const found = id === undefined ? undefined : map.get(id);
    if (found === undefined) throw noSuch(kind, id ?? '', param);
    return found;
  }

  private chargeOfPaymentIntent(id: string, fail: (message: string, notFound: boolean) => Error): Stripe.Charge {
    const paymentIntent = this.paymentIntents.get(id);
    if (!paymentIntent) throw fail(`no payment intent ${id}`, true);
    const chargeId = typeof paymentIntent.latest_charge === 'string' ? paymentIntent.latest_charge : paymentIntent.latest_charge?.id;
    const charge = chargeId === undefined ? undefined : this.charges.get(chargeId);
    if (paymentIntent.status !== 'succeeded' || !charge) {
      throw fail(`This PaymentIntent (${id}) does not have a successful charge to refund.`, false);
    }
    return charge;
  }

  /** Lookup for expansion: a deep copy of the object with this id. */
  private objectById(id: string): WireObject | undefined {
    const found = this.sessions.get(id) ?? this.paymentIntents.get(id) ?? this.charges.get(id) ?? this.refunds.get(id) ?? this.disputes.get(id);
    return found === undefined ? undefined : structuredClone(found);
  }

  /** Applies already checked `expand` paths to a response object. */
  private expandObject(object: WireObject, paths: string[]): WireObject {
    for (const path of paths) {
      let targets: WireObject[] = [object];
      for (const field of path.split('.')) {
        const next: WireObject[] = [];
        for (const target of targets) {
          const value = target[field];
          if (target.object === 'charge' && field === 'refunds') {
            const data = [...this.refunds.values()].filter((r) => r.charge === target.id).reverse().map((r) => structuredClone(r));
            target.refunds = { object: 'list', data, has_more: false, total_count: data.length, url: `/v1/charges/${target.id}/refunds` };
            continue;
          }
          if (typeof value === 'string') {
            const expanded = this.objectById(value);
            if (expanded) {
              target[field] = expanded;
              next.push(expanded);
            }
          } else if (isObject(value)) {
            next.push(value);
          }
        }
        targets = next;
      }
    }
    return object;
  }
}

// ---------------------------------------------------------------------------------------------
// Form decoding
// ---------------------------------------------------------------------------------------------

/**
 * Decodes `application/x-www-form-urlencoded` with Stripe's bracket nesting:
 * `a[b][0][c]=1&a[b][1][c]=2&e[]=x` → `{ a: { b: [{ c: '1' }, { c: '2' }] }, e: ['x'] }`.
 * Objects whose keys are all indices become arrays (in index order), except under `metadata`,
 * whose keys are free-form. Values stay strings; an empty value is `''` (Stripe's "unset").
 */
export function parseForm(text: string): Params {
  const root: WireObject = {};
  if (text === '') return root;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = formDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = formDecode(eq < 0 ? '' : pair.slice(eq + 1));
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!match) {
      root[key] = value;
      continue;
    }
    const segments = [match[1] as string, ...[...(match[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] as string)];
    let node = root;
    segments.forEach((segment, i) => {
      const name = segment === '' ? String(Object.keys(node).length) : segment;
      if (i === segments.length - 1) {
        node[name] = value;
        return;
      }
      if (!isObject(node[name])) node[name] = {};
      node = node[name] as WireObject;
    });
  }
  return arrayify(root, undefined) as Params;
}

function arrayify(value: unknown, key: string | undefined): unknown {
  if (!isObject(value)) return value;
  const out: WireObject = {};
  for (const [k, v] of Object.entries(value)) out[k] = key === 'metadata' ? v : arrayify(v, k);
  const keys = Object.keys(out);
  if (key !== undefined && key !== 'metadata' && keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => out[k]);
  }
  return out;
}

function formDecode(text: string): string {
  return safeDecode(text.replace(/\+/g, ' '));
}

// ---------------------------------------------------------------------------------------------
// Parameter readers (values arrive as strings)
// ---------------------------------------------------------------------------------------------

function str(value: unknown, param: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`Invalid string: ${JSON.stringify(value)}`, param, 'parameter_invalid_string');
  return value;
}

function int(value: unknown, param: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw invalid(`Invalid integer: ${typeof value === 'string' ? value : JSON.stringify(value)}`, param, 'parameter_invalid_integer');
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw invalid(`Invalid integer: ${value}`, param, 'parameter_invalid_integer');
  return n;
}

function checkKnown(params: Params, allowed: Set<string>, prefix: string): void {
  for (const key of Object.keys(params)) {
    if (!allowed.has(key)) throw unknownParam(prefix === '' ? key : `${prefix}[${key}]`);
  }
}

function onlyExpand(params: Params): void {
  checkKnown(params, new Set(['expand']), '');
}

function readExpand(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid('Invalid array', 'expand', 'parameter_invalid_array');
  return value as string[];
}

/** Checks `expand[]` paths against what the route returns, before the handler changes anything. */
function checkExpandPaths(returns: string, paths: string[]): void {
  for (const path of paths) {
    let type: string | null = returns;
    for (const field of path.split('.')) {
      const fields: Record<string, string | null> = EXPANDABLE[type] ?? {};
      if (!(field in fields)) throw invalid(`This property cannot be expanded (${field}).`, undefined);
      const next: string | null | undefined = fields[field];
      if (next === null || next === undefined) throw notModelled(`expanding \`${field}\` of a ${type}`, 'expand');
      type = next;
    }
  }
}

function readMetadata(value: unknown, param: string): Record<string, string> {
  if (value === undefined || value === '') return {};
  if (!isObject(value)) throw invalid('Invalid object', param, 'parameter_invalid_object');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid('Invalid string', `${param}[${key}]`, 'parameter_invalid_string');
    if (key.length > 40) throw invalid(`Metadata keys can have up to 40 characters, but you passed in a key with ${key.length} characters: ${key}`, `${param}[${key}]`);
    if (v.length > 500) throw invalid(`Metadata values can have up to 500 characters, but you passed in a value that is ${v.length} characters.`, `${param}[${key}]`);
    if (v !== '') out[key] = v; // an empty value unsets the key
  }
  if (Object.keys(out).length > 50) {
    throw invalid(`Invalid metadata: metadata can have up to 50 keys, but currently has ${Object.keys(out).length} keys.`, param);
  }
  return out;
}

function checkUrl(value: string, param: string): void {
  let ok = false;
  try {
    const url = new URL(value);
    ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && value.length <= 5000;
  } catch {
    ok = false;
  }
  if (!ok) throw invalid('Not a valid URL', param, 'url_invalid');
}

function checkEmail(value: string, param: string): void {
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) || value.length > 800) {
    throw invalid(`Invalid email address: ${value}`, param, 'email_invalid');
  }
}

function faultFailure(fault: Fault): StripeFailure {
  const status = fault.status ?? 500;
  const type = fault.type ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  const code = fault.code ?? (status === 429 ? 'rate_limit' : undefined);
  const message = fault.message ?? (status === 429
    ? 'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.'
    : status >= 500 ? 'An unknown error occurred' : `Injected ${status} error`);
  return new StripeFailure(status, { type, message, ...(code ? { code } : {}), ...(fault.param ? { param: fault.param } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isObject(value: unknown): value is WireObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function emptyEvidence(): Stripe.Dispute.Evidence {
  return {
    access_activity_log: null, billing_address: null, cancellation_policy: null, cancellation_policy_disclosure: null,
    cancellation_rebuttal: null, customer_communication: null, customer_email_address: null, customer_name: null,
    customer_purchase_ip: null, customer_signature: null, duplicate_charge_documentation: null,
    duplicate_charge_explanation: null, duplicate_charge_id: null, enhanced_evidence: {}, product_description: null,
    receipt: null, refund_policy: null, refund_policy_disclosure: null, refund_refusal_explanation: null,
    service_date: null, service_documentation: null, shipping_address: null, shipping_carrier: null,
    shipping_date: null, shipping_documentation: null, shipping_tracking_number: null, uncategorized_file: null,
    uncategorized_text: null,
  };
}

/** `$12.34` for two-decimal currencies (all the sim accepts). */
function money(amount: number, currency: string): string {
  const symbol = currency === 'usd' ? '$' : `${currency.toUpperCase()} `;
  return `${symbol}${(amount / 100).toFixed(2)}`;
}

function maskKey(key: string): string {
  const prefix = /^(sk|pk|rk)_(test|live)_/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  return `${prefix}${'*'.repeat(Math.max(0, rest.length - 4))}${rest.slice(-4)}`;
}

/** JSON with object keys sorted, for order-insensitive comparison. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function matchSegments(template: string[], segments: string[]): Record<string, string> | undefined {
  if (template.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i] as string;
    const s = segments[i] as string;
    if (t.startsWith(':')) params[t.slice(1)] = s;
    else if (t !== s) return undefined;
  }
  return params;
}

/** `'POST /v1/refunds'`, `'GET /v1/checkout/sessions/:id'`, `'/v1/refunds'` or a literal path. */
function toMatcher(matcher: CallMatcher): (call: RecordedCall) => boolean {
  if (typeof matcher === 'function') return matcher;
  const parts = matcher.trim().split(/\s+/);
  const [method, target] = parts.length > 1 ? [parts[0]?.toUpperCase(), parts[1] ?? ''] : [undefined, parts[0] ?? ''];
  return (call) => (method === undefined || call.method === method) &&
    (call.path === target || call.route?.split(' ')[1] === target);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
