// Structured JSON logs. Secrets are removed twice: by key name (pino redact) and, as a
// backstop for secrets that end up inside messages or error texts, by value just before
// a line is written.
import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LogShipper } from './log-shipper.ts';

export type { Logger };

const SECRET_KEYS = [
  'apiKey',
  'api_key',
  'apiSecret',
  'api_secret',
  'secret',
  'passphrase',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'botToken',
  'licenseKey',
  'license_key',
  'authorization',
  'Authorization',
  'cookie',
  '"x-mbx-apikey"',
  '"stripe-signature"',
];

/** Every secret key at the top level and up to two objects deep, plus request headers. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export const REDACTED = '[redacted]';

/**
 * License keys look like AIT-XXXX-XXXX-XXXX (people also type them without dashes, or with
 * spaces); keep the last group so support can still tell them apart.
 */
const LICENSE_KEY_PATTERN = /\bAIT[-\s]?[A-Z0-9]{4}[-\s]?[A-Z0-9]{4}[-\s]?([A-Z0-9]{4})\b/gi;

/**
 * Telegram invite links (t.me/+…, t.me/joinchat/…): whoever holds one can join a gated group,
 * so they belong only in the message to their owner.
 */
const INVITE_LINK_PATTERN = /\b(t(?:elegram)?\.me\/(?:\+|%2B|joinchat\/))[A-Za-z0-9_-]{6,}/gi;

export function scrubSecrets(line: string, secretValues: readonly string[]): string {
  let out = line.replace(LICENSE_KEY_PATTERN, 'AIT-****-****-$1').replace(INVITE_LINK_PATTERN, `$1${REDACTED}`);
  for (const secret of secretValues) {
    out = out.split(secret).join(REDACTED);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) out = out.split(escaped).join(REDACTED);
  }
  return out;
}

export interface LoggerSettings {
  level: string;
  /** Secret values known from configuration (tokens, passwords); scrubbed wherever they appear. */
  secretValues?: readonly string[];
  destination?: DestinationStream;
  /** Also hands every line, scrubbed like the local one, to this shipper (LOG_INGEST_WEBHOOK). */
  shipper?: LogShipper;
}

export function createLogger(settings: LoggerSettings): Logger {
  // Very short values would scrub innocent text; config validation requires real secrets to be longer.
  const secretValues = (settings.secretValues ?? []).filter((s) => s.length >= 6);
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: 'ait', pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: (line) => scrubSecrets(line, secretValues) },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  if (!settings.shipper) return settings.destination ? pino(options, settings.destination) : pino(options);
  // streamWrite scrubs before the line reaches the destination, so both copies are the same text.
  const local = settings.destination ?? pino.destination(1);
  const shipper = settings.shipper;
  // The shipper reports its own troubles through a logger that writes locally only.
  shipper.reportTo(pino(options, local).child({ component: 'log-shipper' }));
  const both: DestinationStream = {
    write(line: string) {
      local.write(line);
      try {
        shipper.write(line);
      } catch {
        // Shipping is best effort; the local line is written whatever happens to it.
      }
    },
  };
  return pino(options, both);
}
