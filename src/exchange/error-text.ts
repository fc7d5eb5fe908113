// Text of venue error messages, shared by the vendor adapters (ccxt, Alpaca): vendor messages may
// carry signed URLs, HTML error pages or our own credentials, and none of that may reach a user
// or a log.
import { VenueError, type RejectionReason, type VenueFailureKind } from './venue.ts';

/** "60 s", "1.5 s". */
export const seconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);

/** Drops query strings (signatures, timestamps), HTML bodies and long hex runs; caps the length. */
export function scrub(text: string, max = 160): string {
  const cleaned = text
    .replace(/(https?:\/\/[^\s?#]+)[?#]\S*/g, '$1')
    .replace(/\bsignature=[^&\s]*/gi, 'signature=…')
    .replace(/\b[0-9a-f]{32,}\b/gi, '…')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > max ? `${cleaned.slice(0, max - 3)}...` : cleaned;
}

/** Replaces every secret (API key, secret, passphrase) in `text` with ***. */
export function redact(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const secret of secrets ?? []) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/**
 * The two constructors every adapter's translation needs: `make` (message redacted, the vendor
 * error kept as a scrubbed cause) and `transport` for a call that got no answer — an order's
 * outcome is then unknown until reconciled by client order id, a read can simply be retried.
 */
export function venueErrorMaker(context: { readonly exchangeId: string; readonly isOrder: boolean; readonly redact: readonly string[] | undefined; readonly cause: Error }) {
  const { exchangeId: ex, isOrder } = context;
  const make = (kind: VenueFailureKind, message: string, extra: { reason?: RejectionReason; retryAfterMs?: number } = {}) =>
    new VenueError(kind, redact(message, context.redact), { exchangeId: ex, ...extra, cause: context.cause });
  const transport = (what: string) =>
    isOrder
      ? make('unknown_outcome', `${ex} did not confirm the order (${what}); its outcome is unknown until reconciled by client order id`)
      : make('temporary', `${ex} is unavailable (${what}); try again shortly`);
  return { make, transport };
}
