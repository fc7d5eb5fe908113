// Every environment variable the service reads, in one place: its schema, what a valid
// value looks like, and its documentation (the README table mirrors this list; a test
// keeps them in step).
import { z } from 'zod';

/** Treat `VAR=` (empty) as unset, as env files and compose files commonly produce it. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const decimalIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(min).max(max));

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  })
  .transform((v) => v.replace(/\/+$/, ''));

/** Comma-separated numeric ids ("123, 456"). */
const idList = z
  .string()
  .trim()
  .regex(/^\d+(\s*,\s*\d+)*$/)
  .transform((v) => v.split(',').map((id) => id.trim()));

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const url = new URL(v);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  });

export interface VariableSpec {
  readonly schema: z.ZodType;
  /** What a valid value looks like, for the error line. */
  readonly expected: string;
  /** Default as shown to people (README). */
  readonly defaultText: string;
  readonly description: string;
  /** Secret values are never echoed in errors and are scrubbed from logs. */
  readonly secret?: boolean;
}

export const variables = {
  LOG_LEVEL: {
    schema: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])).default('info'),
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    defaultText: 'info',
    description: 'Minimum level of the JSON logs written to stdout.',
  },
  HTTP_HOST: {
    schema: optional(z.string().trim().min(1)).default('127.0.0.1'),
    expected: 'an interface address such as 127.0.0.1 or 0.0.0.0',
    defaultText: '127.0.0.1',
    description: 'Address the HTTP server listens on (the container image sets 0.0.0.0).',
  },
  HTTP_PORT: {
    schema: optional(intIn(0, 65535)).default(8080),
    expected: 'a TCP port from 0 to 65535 (0 picks a free port)',
    defaultText: '8080',
    description: 'Port of the HTTP server (`/health`, `/v1/pool/status`).',
  },
  DATABASE_URL: {
    schema: optional(postgresUrl),
    expected: 'a postgres:// or postgresql:// connection URL',
    defaultText: '_(unset: embedded PostgreSQL)_',
    description:
      'PostgreSQL to use. When unset, the service starts its own embedded PostgreSQL under `DATA_DIR/postgres`.',
    secret: true,
  },
  DATA_DIR: {
    schema: optional(z.string().trim().min(1)).default('./.data'),
    expected: 'a directory path',
    defaultText: './.data',
    description: 'Where local state lives (the embedded database and its credentials).',
  },
  EMBEDDED_PG_PORT: {
    schema: optional(intIn(0, 65535)).default(0),
    expected: 'a TCP port from 0 to 65535 (0 picks a free port)',
    defaultText: '0 (a free port)',
    description: 'Port of the embedded PostgreSQL; only used when `DATABASE_URL` is unset.',
  },
  POOL_CAP_USD: {
    schema: optional(decimalIn(0, 1e12)),
    expected: 'a dollar amount such as 2500000',
    defaultText: '_(unset: keep the stored cap; the first migration stores 2500000)_',
    description:
      'Global cap of reserved capital. When set, it is applied at start-up (and audited); when unset, the cap stored in the database stays.',
  },
  POOL_HOLD_TTL_MINUTES: {
    schema: optional(intIn(1, 7 * 24 * 60)).default(30),
    expected: 'whole minutes from 1 to 10080',
    defaultText: '30',
    description: 'How long a purchase or upgrade reservation holds pool capital before it lapses unpaid.',
  },
  POOL_HARD_OVERAGE_PCT: {
    schema: optional(decimalIn(0, 100)).default(10),
    expected: 'a percentage from 0 to 100',
    defaultText: '10',
    description:
      'Over-cap enforcement: committed capital above the cap by less than this is a warning (soft); at or beyond it, new runs and scanner access are blocked (hard).',
  },
  PUBLIC_BASE_URL: {
    schema: optional(httpUrl),
    expected: 'an http:// or https:// URL',
    defaultText: 'http://localhost:`HTTP_PORT`',
    description: 'Public address of this service, used in links sent to users (the one-time exchange key form).',
  },
  CLIENT_MASTER_KEY: {
    schema: optional(z.string().min(16)),
    expected: 'a 32-byte key in base64 or hex, or a passphrase of at least 16 characters',
    defaultText: '_(unset: a key generated once under `DATA_DIR`)_',
    description:
      'Master key that encrypts exchange API keys at rest. When unset, one is generated on first start and kept in `DATA_DIR/master.key` (owner-only), with a warning: set it explicitly in production.',
    secret: true,
  },
  TELEGRAM_BOT_TOKEN: {
    schema: optional(z.string().trim().regex(/^\d+:[A-Za-z0-9_-]{20,}$/)),
    expected: 'a bot token from @BotFather, like 123456:ABC-DEF...',
    defaultText: '_(unset: no Telegram bot)_',
    description: 'Telegram bot token. Without it the Telegram adapter is off.',
    secret: true,
  },
  TELEGRAM_API_ROOT: {
    schema: optional(httpUrl).default('https://api.telegram.org'),
    expected: 'an http:// or https:// URL',
    defaultText: 'https://api.telegram.org',
    description: 'Bot API server (tests point it at a local simulator; a self-hosted Bot API server works too).',
  },
  TELEGRAM_WEBHOOK_URL: {
    schema: optional(httpUrl),
    expected: 'the public https:// URL Telegram should post updates to',
    defaultText: '_(unset: long polling)_',
    description:
      'Webhook mode: Telegram posts updates to this URL (its path is served by this service). Unset means long polling.',
  },
  TELEGRAM_WEBHOOK_SECRET: {
    schema: optional(z.string().regex(/^[A-Za-z0-9_-]{16,256}$/)),
    expected: '16 to 256 characters of A-Z, a-z, 0-9, _ and -',
    defaultText: '_(derived from the bot token)_',
    description: 'Secret Telegram sends with every webhook update; requests without it are rejected.',
    secret: true,
  },
  ADMIN_TELEGRAM_IDS: {
    schema: optional(idList).default([]),
    expected: 'comma-separated numeric Telegram user ids',
    defaultText: '_(none)_',
    description: 'Telegram users allowed to run /admin commands.',
  },
  ADMIN_DISCORD_IDS: {
    schema: optional(idList).default([]),
    expected: 'comma-separated numeric Discord user ids',
    defaultText: '_(none)_',
    description: 'Discord users allowed to run /admin commands.',
  },
  CHAT_RATE_BURST: {
    schema: optional(intIn(1, 1000)).default(8),
    expected: 'a whole number from 1 to 1000',
    defaultText: '8',
    description: 'Per-user chat rate limit: how many commands may arrive back to back.',
  },
  CHAT_RATE_PER_MINUTE: {
    schema: optional(intIn(1, 6000)).default(30),
    expected: 'a whole number from 1 to 6000',
    defaultText: '30',
    description: 'Per-user chat rate limit: sustained commands per minute.',
  },
  CONSOLE_CHAT: {
    schema: optional(z.enum(['auto', 'on', 'off'])).default('auto'),
    expected: 'auto, on or off',
    defaultText: 'auto',
    description:
      'Console chat on the terminal, as a local admin. `auto`: on when no chat token is set and stdin is a terminal.',
  },
  SHUTDOWN_TIMEOUT_MS: {
    schema: optional(intIn(100, 120_000)).default(10_000),
    expected: 'milliseconds from 100 to 120000',
    defaultText: '10000',
    description: 'How long a graceful shutdown may take before the process exits anyway.',
  },
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof variables;
