// Alpaca SDK errors -> VenueError, grouped by what the caller does next (as translate-error.ts
// does for ccxt). With client.ts and the venue, the only modules that know the SDK's classes.
//
// The SDK throws an ApiError subclass for every non-2xx answer (status plus Alpaca's
// `{ code, message }` body and Retry-After) and a FetchError when no answer came (network
// failure, or its own timeout). What it does not tell apart, Alpaca's body does:
//  - 403 is both "insufficient buying power" / "insufficient qty available" (code 40310000) and a
//    key that may not trade (account blocked, wrong permissions);
//  - 422 / 400 is an invalid order, but also "client_order_id must be unique" (our own earlier
//    send got through) and an unknown or untradable asset.
// Messages are built here, short, without URLs or credentials.
import { ApiError, FetchError } from '@alpacahq/alpaca-trade-api/rest';
import { redact, scrub, seconds, venueErrorMaker } from '../error-text.ts';
import type { VenueError } from '../venue.ts';

export const ALPACA_EXCHANGE_ID = 'alpaca';

/** 'order' for calls that may change state (place, cancel): their transport failures leave the outcome unknown. */
export type AlpacaOperation = 'read' | 'order';

/** When a 429 carries no Retry-After: Alpaca's limits are per minute. */
export const DEFAULT_ALPACA_RATE_LIMIT_WAIT_MS = 60_000;

/** Alpaca's code for "insufficient buying power" and "insufficient qty available for order". */
const INSUFFICIENT_CODE = 40310000;

export interface AlpacaErrorContext {
  readonly operation: AlpacaOperation;
  /** Strings that must never appear in a message (key id, secret). */
  readonly redact?: readonly string[] | undefined;
}

/** An SDK error for an answer with this HTTP status. */
export function isAlpacaStatus(error: unknown, status: number): boolean {
  return error instanceof ApiError && error.status === status;
}

/** The SDK's 404: the order (or asset) does not exist. */
export const isAlpacaNotFound = (error: unknown): boolean => isAlpacaStatus(error, 404);

export function translateAlpacaError(error: unknown, context: AlpacaErrorContext): VenueError {
  const ex = ALPACA_EXCHANGE_ID;
  const isOrder = context.operation === 'order';
  const { make, transport } = venueErrorMaker({ exchangeId: ex, isOrder, redact: context.redact, cause: scrubbedCause(error, context.redact) });

  if (error instanceof FetchError) {
    const cause = error.cause as Error | undefined;
    const timedOut = cause?.name === 'TimeoutError' || cause?.name === 'AbortError';
    return transport(timedOut ? 'no answer in time' : 'network error');
  }
  if (!(error instanceof ApiError)) {
    const name = error instanceof Error ? error.name : typeof error;
    return isOrder ? make('unknown_outcome', `${ex} order call failed unexpectedly (${name}); its outcome is unknown`) : make('temporary', `${ex} call failed unexpectedly (${name})`);
  }

  const status = error.status;
  const code = Number(error.code);
  const said = scrub(error.message) || `HTTP ${status}`;
  if (status === 429) {
    const wait = error.retryAfterMs !== undefined && error.retryAfterMs > 0 ? Math.round(error.retryAfterMs) : DEFAULT_ALPACA_RATE_LIMIT_WAIT_MS;
    return make('rate_limited', `${ex} is rate limiting us; retry in ${seconds(wait)}`, { retryAfterMs: wait });
  }
  if (status === 401) return make('authentication', `${ex} refused the API key: ${said}`);
  if (status >= 500) return transport(`HTTP ${status}`);
  if (code === INSUFFICIENT_CODE || /insufficient (buying power|qty|quantity|funds|balance)/i.test(said)) {
    return make('rejected', `${ex} rejected the order: ${said}`, { reason: 'insufficient_funds' });
  }
  if (/market (is )?(closed|not open)|outside (of )?(regular )?(market|trading) hours/i.test(said)) {
    return make('rejected', `${ex} refused the order: the market is closed (${said})`, { reason: 'market_closed' });
  }
  if (/client_order_id must be unique|duplicate/i.test(said)) {
    return make('rejected', `${ex} rejected the order: its client order id is already in use`, { reason: 'duplicate_order' });
  }
  if (status === 404 || /asset .* (not found|is not active|is not tradable)|could not find asset|invalid symbol/i.test(said)) {
    return make('rejected', `${ex} has no such market: ${said}`, { reason: 'bad_symbol' });
  }
  // Forbidden for another reason than funds: the key or the account may not do this.
  if (status === 403) {
    if (/pattern day trad/i.test(said)) return make('rejected', `${ex} rejected the order: ${said}`, { reason: 'other' });
    return make('authentication', `${ex} refused the request for this key: ${said}`);
  }
  // 400 / 422 and any other 4xx: refused outright, nothing was placed.
  return isOrder ? make('rejected', `${ex} rejected the order: ${said}`, { reason: 'invalid_order' }) : make('rejected', `${ex} refused the request: ${said}`, { reason: 'other' });
}

// ---- helpers --------------------------------------------------------------------------------

/** A plain copy of the SDK error for logs: the original holds the whole Response object. */
function scrubbedCause(error: unknown, secrets: readonly string[] | undefined): Error {
  if (!(error instanceof Error)) return new Error(redact(scrub(String(error), 500), secrets));
  const status = error instanceof ApiError ? ` (HTTP ${error.status}${error.code !== undefined ? `, code ${String(error.code)}` : ''})` : '';
  const inner = error instanceof FetchError && error.cause instanceof Error ? `: ${error.cause.name} ${error.cause.message}` : '';
  const cause = new Error(redact(scrub(`${error.message}${status}${inner}`, 500), secrets));
  cause.name = error.name;
  return cause;
}
