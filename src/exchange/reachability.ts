// Why an exchange could not be reached, in a few plain words for the person at the keyboard. The
// venue error and its (already scrubbed) cause carry the transport's own words; only the class of
// failure is kept, never host names, URLs or ports.
import { findExchange } from '../domain/exchanges.ts';
import { isVenueError } from './venue.ts';

const REASONS: readonly (readonly [RegExp, string])[] = [
  [/\b(ENOTFOUND|EAI_AGAIN)\b/, 'its address could not be looked up: no internet access?'],
  [/\bECONNREFUSED\b/, 'the connection was refused'],
  [/\b(ENETUNREACH|EHOSTUNREACH|ENETDOWN)\b/, 'no network route to it'],
  [/\b(ETIMEDOUT|ESOCKETTIMEDOUT)\b|no answer in time|timed? ?out/i, 'it did not answer in time'],
  [/\b(ECONNRESET|EPIPE)\b|socket hang up/i, 'the connection was dropped'],
  [/\b(CERT_|UNABLE_TO_VERIFY|SELF_SIGNED)\w*/, 'its TLS certificate was not accepted'],
  [/HTTP 5\d\d/, 'it answered with a server error'],
];

export function unreachableReason(error: unknown): string {
  if (isVenueError(error) && error.kind === 'rate_limited') return 'it is limiting requests from this machine';
  if (isVenueError(error) && error.kind === 'banned') return "it is refusing this machine's address for a while";
  const text = messageChain(error);
  return REASONS.find(([pattern]) => pattern.test(text))?.[1] ?? 'no usable answer';
}

/** "Binance" for binance; the id itself for exchanges the project does not list. */
export const exchangeDisplayName = (exchange: string): string => findExchange(exchange)?.name ?? exchange;

function messageChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    parts.push(current.message, String((current as NodeJS.ErrnoException).code ?? ''));
    current = current.cause ?? (isVenueError(current) ? current.details.cause : undefined);
  }
  return parts.join('\n');
}
