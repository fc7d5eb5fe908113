// ccxt errors -> VenueError, grouped by what the caller does next. The only module besides
// client.ts that knows ccxt's error classes.
//
// ccxt classifies by its own class tree (Binance codes are mapped in binance.js `exceptions`);
// a few distinctions it does not make are recovered here from the HTTP status and headers of
// the failed response (recorded by `recordHttpFailures`) and from Binance's `{code,msg}` body,
// which ccxt copies into its messages:
//  - 418 (banned) and 429 (rate limited) are both DDoSProtection;
//  - -2010 "Duplicate order sent." is a plain InvalidOrder;
//  - -1013 "Filter failure: NOTIONAL" is a BadRequest (PRICE_FILTER / LOT_SIZE are InvalidOrder);
//  - -2015 (bad key) becomes DDoSProtection once the instance has made one successful private call;
//  - a 5xx with a JSON body becomes whatever its code maps to (e.g. -1000 OperationFailed).
//
// Messages are built here, short and without URLs, query strings, signatures or credentials:
// ccxt's own messages carry the full request URL (signature included) on timeouts and HTTP
// errors, so they never pass through, not even as the `cause` (a scrubbed copy is kept).
import ccxt, { type Exchange } from 'ccxt';
import { redact, scrub, seconds, venueErrorMaker } from '../error-text.ts';
import type { VenueError } from '../venue.ts';

export type VenueOperation = 'read' | 'order';

export interface TranslateContext {
  readonly exchangeId: string;
  /** 'order' for calls that may change state (place, cancel): their transport failures leave the outcome unknown. */
  readonly operation: VenueOperation;
  /** HTTP status of the failed response, when the caller knows it better than the error does. */
  readonly httpStatus?: number | undefined;
  /** Response headers of the failed call (Retry-After), when not recorded by recordHttpFailures. */
  readonly responseHeaders?: Readonly<Record<string, string>> | undefined;
  /** Strings that must never appear in a message (API key, secret, passphrase). */
  readonly redact?: readonly string[] | undefined;
}

/** Default waits when a 429 / 418 carries no Retry-After: one request-weight window; Binance's shortest ban. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
export const DEFAULT_BAN_WAIT_MS = 120_000;

/** Binance codes that mean the key, its signature or its permissions were refused. */
const AUTH_CODES = new Set([-1002, -1022, -2008, -2014, -2015, -1099]);

const httpFailures = new WeakMap<object, { readonly status: number; readonly headers: Readonly<Record<string, string>> }>();

/**
 * Makes every error this ccxt instance throws for an HTTP response remember that response's
 * status and headers (read by translateCcxtError). Per error, so concurrent calls on one
 * instance cannot mix up each other's Retry-After the way `last_response_headers` can.
 */
export function recordHttpFailures(exchange: Exchange): void {
  const original = exchange.handleRestResponse.bind(exchange);
  exchange.handleRestResponse = (response: { status?: unknown; headers?: unknown }, ...rest: unknown[]) => {
    const result: unknown = original(response, ...(rest as [string, string, unknown, unknown]));
    if (!result || typeof (result as Promise<unknown>).then !== 'function') return result;
    return (result as Promise<unknown>).then(undefined, (error: unknown) => {
      if (error !== null && typeof error === 'object' && typeof response.status === 'number') {
        httpFailures.set(error, { status: response.status, headers: lowerCaseHeaders(response.headers) });
      }
      throw error;
    });
  };
}

/** A Binance -1021 / ccxt InvalidNonce: our clock is out of step with the exchange's. */
export function isClockSkew(error: unknown): boolean {
  return error instanceof ccxt.InvalidNonce || (error instanceof ccxt.BaseError && binanceCode(error.message) === -1021);
}

/** The exchange does not know the order (Binance -2013 on query, -2011 on cancel). */
export function isOrderNotFound(error: unknown): boolean {
  return error instanceof ccxt.OrderNotFound;
}

export function translateCcxtError(error: unknown, context: TranslateContext): VenueError {
  const ex = context.exchangeId;
  const isOrder = context.operation === 'order';
  const { make, transport } = venueErrorMaker({ exchangeId: ex, isOrder, redact: context.redact, cause: scrubbedCause(error, context.redact) });

  if (!(error instanceof ccxt.BaseError)) {
    const name = error instanceof Error ? error.name : typeof error;
    return isOrder ? make('unknown_outcome', `${ex} order call failed unexpectedly (${name}); its outcome is unknown`) : make('temporary', `${ex} call failed unexpectedly (${name})`);
  }

  const recorded = httpFailures.get(error);
  const status = context.httpStatus ?? recorded?.status ?? statusFromMessage(error.message);
  const headers = context.responseHeaders ? lowerCaseHeaders(context.responseHeaders) : recorded?.headers;
  const code = binanceCode(error.message);
  const said = exchangeMessage(error, ex);
  const isDdos = error instanceof ccxt.DDoSProtection || error instanceof ccxt.RateLimitExceeded;

  if (status === 418) {
    const wait = retryAfterMs(headers) ?? DEFAULT_BAN_WAIT_MS;
    return make('banned', `${ex} has banned this IP for ${seconds(wait)} (HTTP 418 after rate limiting)`, { retryAfterMs: wait });
  }
  // Before rate limits: ccxt turns -2015 into DDoSProtection once a private call has succeeded.
  if (code !== undefined && AUTH_CODES.has(code)) return make('authentication', `${ex} refused the API key: ${said}`);
  if (status === 429 || isDdos) {
    const wait = retryAfterMs(headers) ?? DEFAULT_RATE_LIMIT_WAIT_MS;
    return make('rate_limited', `${ex} is rate limiting us; retry in ${seconds(wait)}`, { retryAfterMs: wait });
  }
  if (isClockSkew(error)) return make('temporary', `${ex} refused the request timestamp: our clock is out of step with the exchange's`);
  if (error instanceof ccxt.AuthenticationError) return make('authentication', `${ex} refused the API key: ${said}`);
  if (status !== undefined && status >= 500) return transport(`HTTP ${status}`);
  if (error instanceof ccxt.InsufficientFunds) return make('rejected', `${ex} rejected the order: insufficient balance`, { reason: 'insufficient_funds' });
  if (error instanceof ccxt.BadSymbol) return make('rejected', `${ex} has no such market: ${said}`, { reason: 'bad_symbol' });
  if (error instanceof ccxt.MarketClosed) return make('rejected', `${ex} market is closed: ${said}`, { reason: 'market_closed' });
  if (error instanceof ccxt.OrderNotFound) return make('rejected', `${ex} does not know this order`, { reason: 'other' });
  if (error instanceof ccxt.DuplicateOrderId || /duplicate order/i.test(said)) {
    return make('rejected', `${ex} rejected the order: its client order id is already in use`, { reason: 'duplicate_order' });
  }
  if (error instanceof ccxt.InvalidOrder) return make('rejected', `${ex} rejected the order: ${said}`, { reason: 'invalid_order' });
  // Refused outright (malformed, filter failure, refused by ccxt before sending): nothing was placed.
  if (error instanceof ccxt.BadRequest || error instanceof ccxt.ArgumentsRequired || error instanceof ccxt.NotSupported || error instanceof ccxt.OperationRejected) {
    return isOrder ? make('rejected', `${ex} rejected the order: ${said}`, { reason: 'invalid_order' }) : make('rejected', `${ex} refused the request: ${said}`, { reason: 'other' });
  }
  if (error instanceof ccxt.RequestTimeout) return transport('no answer in time');
  if (error instanceof ccxt.ExchangeNotAvailable) return transport(status !== undefined ? `HTTP ${status}` : 'not available');
  if (error instanceof ccxt.NetworkError) return transport('network error');
  // OperationFailed (-1000 unknown error, -1006 execution status unknown), BadResponse and any
  // ExchangeError ccxt could not classify.
  return transport(said);
}

// ---- helpers --------------------------------------------------------------------------------

function lowerCaseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers || typeof headers !== 'object') return out;
  const put = (value: unknown, key: string) => {
    out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  };
  const withForEach = headers as { forEach?: (fn: (value: unknown, key: string) => void) => void };
  if (typeof withForEach.forEach === 'function' && !Array.isArray(headers)) withForEach.forEach(put);
  else for (const [key, value] of Object.entries(headers)) put(value, key);
  return out;
}

/** Retry-After in seconds or as an HTTP date. */
function retryAfterMs(headers: Readonly<Record<string, string>> | undefined): number | undefined {
  const value = headers?.['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** ccxt messages: "<id> <status> <reason> <body>" (429/418) or "<id> <METHOD> <url> <status> <reason> <body>". */
function statusFromMessage(message: string): number | undefined {
  const match = /^\S+ (?:(?:GET|POST|PUT|DELETE|PATCH) \S+ )?([1-5]\d\d) /.exec(message);
  return match ? Number(match[1]) : undefined;
}

function binanceCode(message: string): number | undefined {
  const match = /"code"\s*:\s*(-?\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** What the exchange said: its JSON `msg` when there is one, else ccxt's own words, scrubbed. */
function exchangeMessage(error: Error, exchangeId: string): string {
  const match = /"msg"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(error.message);
  if (match) {
    try {
      return scrub(JSON.parse(`"${match[1]}"`) as string);
    } catch {
      return scrub(match[1]!);
    }
  }
  let text = (error.message.split('\n')[0] ?? '').trim();
  if (text.startsWith(`${exchangeId} `)) text = text.slice(exchangeId.length + 1);
  return scrub(text) || error.name;
}

/** The ccxt error, renamed and scrubbed, for logs: its message may hold a signed URL. */
function scrubbedCause(error: unknown, secrets: readonly string[] | undefined): Error {
  if (!(error instanceof Error)) return new Error(redact(scrub(String(error), 500), secrets));
  const cause = new Error(redact(scrub(error.message, 500), secrets));
  cause.name = error.name;
  return cause;
}
