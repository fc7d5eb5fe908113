// License keys: AIT-XXXX-XXXX-XXXX. Eleven random characters and one check character, drawn
// from 31 symbols that cannot be confused when read aloud or retyped (no 0/O, 1/I/L). With a
// prime-sized alphabet, a position-weighted sum mod 31 catches every single-character typo and
// every swap of two neighbouring characters before any database lookup.
import { createHash, randomInt } from 'node:crypto';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';

export const KEY_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const PREFIX = 'AIT';
const BODY_LENGTH = 12;
const N = KEY_ALPHABET.length; // 31, prime

/** A syntactically valid key in canonical form (upper case, dashed). */
export type LicenseKey = string & { readonly __brand: 'LicenseKey' };

function checkCharacter(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) sum += (i + 1) * KEY_ALPHABET.indexOf(payload[i]!);
  // Weight 12 for the check character itself: the full weighted sum is 0 mod 31.
  const check = (N - ((sum * inverseOf12) % N)) % N;
  return KEY_ALPHABET[check]!;
}
// (check * 12 + sum) ≡ 0 (mod 31)  =>  check ≡ -sum * 12^-1; 12 * 13 = 156 = 5*31 + 1.
const inverseOf12 = 13;

function format(body: string): LicenseKey {
  return `${PREFIX}-${body.slice(0, 4)}-${body.slice(4, 8)}-${body.slice(8, 12)}` as LicenseKey;
}

export function generateLicenseKey(random: (max: number) => number = randomInt): LicenseKey {
  let payload = '';
  for (let i = 0; i < BODY_LENGTH - 1; i++) payload += KEY_ALPHABET[random(N)];
  return format(payload + checkCharacter(payload));
}

/** Accepts any case, spaces and dashes; rejects anything that is not a well-formed key. */
export function parseLicenseKey(input: string): Result<LicenseKey> {
  const compact = input.toUpperCase().replace(/[\s-]/g, '');
  const body = compact.startsWith(PREFIX) ? compact.slice(PREFIX.length) : '';
  const invalid = err(appError('invalid_license_format'));
  if (body.length !== BODY_LENGTH) return invalid;
  for (const ch of body) if (!KEY_ALPHABET.includes(ch)) return invalid;
  if (checkCharacter(body.slice(0, -1)) !== body.at(-1)) return invalid;
  return ok(format(body));
}

/** What the database stores instead of the key. Keys carry ~54 random bits, so a fast hash suffices. */
export function hashLicenseKey(key: LicenseKey): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export const keyLast4 = (key: LicenseKey): string => key.slice(-4);

/** How a key is shown after issue: enough to tell keys apart, useless to an attacker. */
export const maskedKey = (last4: string): string => `AIT-****-****-${last4}`;
