// Text of venue error messages, shared by the vendor adapters (ccxt, Alpaca): vendor messages may
// carry signed URLs, HTML error pages or our own credentials, and none of that may reach a user
// or a log.

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
