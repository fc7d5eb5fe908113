// Checks what a user typed into the key form before anything is encrypted. Every message
// names the field and the rule, never the value: people paste secrets into the wrong field.
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { EXCHANGES, findExchange, type ExchangeInfo } from './exchanges.ts';

export const DEFAULT_LABEL = 'default';

/**
 * Authenticated with each ciphertext (not stored), binding it to its owner row: the same bytes
 * copied under another user, exchange or label fail to decrypt.
 */
export const credentialAssociatedData = (userId: string, exchange: string, label: string): string =>
  `${userId}:${exchange}:${label}`;

export interface CredentialInput {
  readonly exchange: string;
  readonly label?: string | null;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly passphrase?: string | null;
}

export interface ValidCredentials {
  readonly exchange: ExchangeInfo;
  readonly label: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly passphrase: string | null;
}

// Exchange keys are printable ASCII. Secrets may span lines (Coinbase's are PEM private keys).
const API_KEY = /^[\x21-\x7e]{16,256}$/;
const API_SECRET = /^[\x20-\x7e\r\n]{16,4096}$/;
const PASSPHRASE = /^[\x20-\x7e]{1,128}$/;
const LABEL = /^[a-z0-9][a-z0-9 _.-]{0,31}$/;

export function parseExchange(idOrName: string): Result<ExchangeInfo> {
  const exchange = findExchange(idOrName);
  return exchange ? ok(exchange) : err(appError('unknown_exchange', { supported: EXCHANGES.map((e) => e.id) }));
}

export function parseLabel(label: string | null | undefined): Result<string> {
  const value = (label ?? '').trim().toLowerCase() || DEFAULT_LABEL;
  if (LABEL.test(value)) return ok(value);
  return err(
    appError('invalid_credentials_input', { field: 'label' }, 'A label has 1 to 32 letters, digits, spaces, dots, dashes or underscores.'),
  );
}

const invalid = (field: string, message: string) => err(appError('invalid_credentials_input', { field }, message));

export function validateCredentialInput(input: CredentialInput): Result<ValidCredentials> {
  const exchange = parseExchange(input.exchange);
  if (!exchange.ok) return exchange;
  const label = parseLabel(input.label);
  if (!label.ok) return label;
  const apiKey = input.apiKey.trim();
  const apiSecret = input.apiSecret.trim();
  const passphrase = input.passphrase?.trim() || null;

  if (!API_KEY.test(apiKey)) {
    return invalid('apiKey', 'The API key should be 16 to 256 characters with no spaces. Copy it again exactly as the exchange shows it.');
  }
  if (!API_SECRET.test(apiSecret)) {
    return invalid('apiSecret', 'The API secret should be 16 to 4096 plain characters. Copy it again exactly as the exchange shows it.');
  }
  if (apiKey === apiSecret) return invalid('apiSecret', 'The API key and the secret are the same: paste each into its own field.');
  if (exchange.value.needsPassphrase && !passphrase) {
    return err(appError('passphrase_required', { exchange: exchange.value.id }));
  }
  if (!exchange.value.needsPassphrase && passphrase) {
    return invalid('passphrase', `${exchange.value.name} API keys have no passphrase: leave that field empty.`);
  }
  if (passphrase && !PASSPHRASE.test(passphrase)) {
    return invalid('passphrase', 'The passphrase should be 1 to 128 plain characters.');
  }
  return ok({ exchange: exchange.value, label: label.value, apiKey, apiSecret, passphrase });
}
