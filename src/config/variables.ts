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

/** Comma-separated BASE/QUOTE pairs ("BTC/USDT, ETH/USDT"), upper-cased and de-duplicated. */
const symbolList = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9]{1,20}\/[A-Za-z0-9]{1,20}(\s*,\s*[A-Za-z0-9]{1,20}\/[A-Za-z0-9]{1,20})*$/)
  .transform((v) => [...new Set(v.split(',').map((s) => s.trim().toUpperCase()))])
  .pipe(z.array(z.string()).max(500));

/** A Discord id (snowflake): 17 to 20 digits. */
const snowflake = z.string().trim().regex(/^\d{17,20}$/);

/** Five or six cron fields; node-cron checks the values when the job is scheduled. */
const cronExpression = z.string().trim().regex(/^(\S+\s+){4,5}\S+$/);

/** COMMUNITY_ACCESS: JSON, tier id → the Discord roles and Telegram chats it grants. */
const communityMap = z
  .string()
  .trim()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(/^[a-z0-9_-]{1,32}$/),
      z
        .object({
          discordRoles: z.array(snowflake).max(25).default([]),
          telegramChats: z.array(z.string().regex(/^-?\d{1,20}$/)).max(25).default([]),
          inherit: z.boolean().default(true),
        })
        .strict(),
    ),
  );

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

/**
 * MARKET_DATA: `exchange`, `replay` (every file in REPLAY_DIR) or `replay:<csv>[@speed]`. The file
 * name must say the symbol and timeframe (`BTC_USDT-5m.csv`): the candles carry neither. The speed
 * is the last `@number`, so a path may itself contain `@`.
 */
const marketDataSource = z
  .string()
  .trim()
  .transform((v, ctx) => {
    if (v === 'exchange') return { kind: 'exchange' as const };
    if (v === 'replay') return { kind: 'replay' as const, file: null, speed: null };
    const match = /^replay:(.+?)(?:@(\d+(?:\.\d+)?))?$/.exec(v);
    const file = match?.[1]?.trim();
    const speed = match?.[2] === undefined ? null : Number(match[2]);
    const name = file?.split(/[\\/]/).pop() ?? '';
    if (!file || !/^[A-Za-z0-9]+_[A-Za-z0-9]+-[1-9]\d*[smhdw](-.+)?\.csv$/i.test(name) || (speed !== null && !(speed >= 0.01 && speed <= 1_000_000))) {
      ctx.addIssue({ code: 'custom', message: 'not a market data source' });
      return z.NEVER;
    }
    return { kind: 'replay' as const, file, speed };
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
  LOG_INGEST_WEBHOOK: {
    // Kept exactly as given (no trailing-slash trimming): it is a webhook address, not an API root.
    schema: optional(
      z
        .string()
        .trim()
        .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol)),
    ),
    expected: 'an http(s) URL such as https://logs.example.com/ingest?token=...',
    defaultText: '_(unset: stdout only)_',
    description:
      'Also POST every JSON log entry here, as JSON arrays of up to 100 entries at least once a second. Logging never waits for it: while it is slow or down, up to 10000 entries wait (oldest dropped and counted beyond that). Treated as a secret: it may carry a token.',
    secret: true,
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
  DISCORD_BOT_TOKEN: {
    schema: optional(z.string().trim().regex(/^[A-Za-z0-9_.-]{50,100}$/)),
    expected: 'the bot token from the Discord developer portal (Bot → Reset Token)',
    defaultText: '_(unset: no Discord bot)_',
    description: 'Discord bot token: registers the slash commands, runs the gateway client, manages gated roles and sends DMs.',
    secret: true,
  },
  DISCORD_APPLICATION_ID: {
    schema: optional(snowflake),
    expected: 'the numeric application id from the Discord developer portal',
    defaultText: '_(required with `DISCORD_BOT_TOKEN`)_',
    description: 'Discord application id, under which the slash commands are registered.',
  },
  DISCORD_PUBLIC_KEY: {
    schema: optional(z.string().trim().regex(/^[0-9a-fA-F]{64}$/).transform((v) => v.toLowerCase())),
    expected: 'the 64 hex characters of the application public key',
    defaultText: '_(unset: no HTTP interactions endpoint)_',
    description:
      'Turns on `POST /discord/interactions`: Discord signs every request with this key (Ed25519); unsigned or tampered requests get 401.',
  },
  DISCORD_GUILD_ID: {
    schema: optional(snowflake),
    expected: 'a numeric Discord server (guild) id',
    defaultText: '_(unset: global commands, no gated roles)_',
    description:
      'The community server: slash commands are registered there (instantly) instead of globally, and gated roles are managed in it.',
  },
  DISCORD_API_ROOT: {
    schema: optional(httpUrl).default('https://discord.com/api'),
    expected: 'an http:// or https:// URL',
    defaultText: 'https://discord.com/api',
    description: 'Discord REST API root; the gateway address is looked up through it (tests point it at a local simulator).',
  },
  DISCORD_GATEWAY: {
    schema: optional(z.enum(['on', 'off'])).default('on'),
    expected: 'on or off',
    defaultText: 'on',
    description:
      '`off`: no gateway connection; interactions arrive only through `POST /discord/interactions` (replicas behind a load balancer). The token is still used for REST.',
  },
  DISCORD_ADMIN_ROLE_ID: {
    schema: optional(snowflake),
    expected: 'a numeric Discord role id',
    defaultText: '_(none)_',
    description: 'Members holding this role in `DISCORD_GUILD_ID` may run /admin commands, besides `ADMIN_DISCORD_IDS`.',
  },
  COMMUNITY_ACCESS: {
    schema: optional(communityMap),
    expected: 'JSON such as {"starter":{"discordRoles":["123"],"telegramChats":["-100456"]}}',
    defaultText: '_(unset: no gated community)_',
    description:
      'Tier id → Discord role ids and Telegram group/channel ids its members get. A tier also gets every lower tier\'s access unless it sets `"inherit": false`.',
  },
  COMMUNITY_RECONCILE_CRON: {
    schema: optional(cronExpression).default('*/15 * * * *'),
    expected: 'a cron expression such as */15 * * * *',
    defaultText: '*/15 * * * *',
    description: 'How often gated roles and group memberships are compared with licenses and drift is repaired.',
  },
  TELEGRAM_INVITE_TTL_MINUTES: {
    schema: optional(intIn(1, 7 * 24 * 60)).default(60),
    expected: 'whole minutes from 1 to 10080',
    defaultText: '60',
    description: 'Lifetime of the single-use Telegram invite links sent to members (`/community` sends fresh ones).',
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
  DEFAULT_EXCHANGE: {
    schema: optional(z.string().trim().regex(/^[a-z0-9]{2,32}$/)).default('binance'),
    expected: 'a ccxt exchange id such as binance',
    defaultText: 'binance',
    description: 'Exchange for market data and live runs when a command does not name one.',
  },
  EXCHANGE_API_URL: {
    schema: optional(httpUrl),
    expected: 'an http:// or https:// URL (scheme://host:port)',
    defaultText: "_(unset: the exchange's own API)_",
    description: 'Send every exchange API call (market data and orders) to this server instead: tests point it at a local simulator.',
  },
  MARKET_DATA: {
    schema: optional(marketDataSource).default({ kind: 'exchange' }),
    expected:
      'exchange, replay, or replay:<candle CSV>[@speed] such as replay:../shared/data/candles/BTC_USDT-5m.csv@60 (a file named BASE_QUOTE-timeframe.csv; speed from 0.01 to 1000000)',
    defaultText: 'exchange',
    description:
      '`exchange`: candles polled from the exchange, one poll per (symbol, timeframe) shared by every run. `replay`: candles replayed from the CSV files in `REPLAY_DIR` (demos, offline machines). `replay:<file>[@speed]`: one CSV file replayed (its name gives the symbol and timeframe, e.g. `BTC_USDT-5m.csv`), at `speed` or else `REPLAY_SPEED`; a relative path is read from the working directory.',
  },
  REPLAY_DIR: {
    schema: optional(z.string().trim().min(1)).default('../shared/data/candles'),
    expected: 'a directory of candle CSV files',
    defaultText: '../shared/data/candles',
    description: 'Where `MARKET_DATA=replay` reads candles (`timestamp_ms,open,high,low,close,volume`).',
  },
  REPLAY_SPEED: {
    schema: optional(decimalIn(0.01, 1_000_000)).default(60),
    expected: 'a speed factor from 0.01 to 1000000',
    defaultText: '60',
    description: 'Replay speed: 60 plays an hour of candles per minute.',
  },
  MARKET_POLL_MS: {
    schema: optional(intIn(50, 600_000)),
    expected: 'milliseconds from 50 to 600000',
    defaultText: '_(a sixth of the candle length, at most 10000)_',
    description: 'How often the shared market-data loop asks the exchange for new candles.',
  },
  RUN_LEASE_MS: {
    schema: optional(intIn(1_000, 600_000)).default(30_000),
    expected: 'milliseconds from 1000 to 600000',
    defaultText: '30000',
    description:
      'Several replicas share one database: each run is leased to one replica, renewed every third of this. When a replica dies, another takes its runs over once the lease lapses (at once if the dead process was on the same host).',
  },
  ORDER_CONCURRENCY: {
    schema: optional(intIn(1, 50)).default(3),
    expected: 'a whole number from 1 to 50',
    defaultText: '3',
    description: 'Per exchange account: at most this many order calls in flight.',
  },
  ORDER_RATE_INTERVAL_MS: {
    schema: optional(intIn(0, 60_000)).default(250),
    expected: 'milliseconds from 0 to 60000',
    defaultText: '250',
    description: 'Per exchange account: at least this long between two order submissions.',
  },
  REPLACE_TIMEOUT_MS: {
    schema: optional(intIn(1_000, 86_400_000)).default(600_000),
    expected: 'milliseconds from 1000 to 86400000',
    defaultText: '600000',
    description: 'Grid: re-place the nearest buy leg once it has been open this long (and the price has moved away).',
  },
  REPLACE_SLIPPAGE_PCT: {
    schema: optional(decimalIn(0, 0.5)).default(0.003),
    expected: 'a fraction from 0 to 0.5 (0.003 = 0.3%)',
    defaultText: '0.003',
    description: 'Grid: how far (a fraction) the price must have moved above the nearest buy leg before it is re-placed.',
  },
  REPLACE_MAX_RETRIES: {
    schema: optional(intIn(0, 100)).default(3),
    expected: 'a whole number from 0 to 100',
    defaultText: '3',
    description: 'Grid: at most this many re-placements per level.',
  },
  MAX_RUN_LOSS_USD: {
    schema: optional(decimalIn(0.01, 1e9)).default(200),
    expected: 'a dollar amount above 0',
    defaultText: '200',
    description: 'Guard: stop a run whose mark-to-market loss reaches this. Overridable per tier and per user (`limits.guard.maxRunLossUsd`).',
  },
  MAX_GLOBAL_DRAWDOWN_USD: {
    schema: optional(decimalIn(0.01, 1e9)).default(500),
    expected: 'a dollar amount above 0',
    defaultText: '500',
    description:
      "Guard: stop all of a user's runs of one mode when their realised drawdown (peak to now) reaches this; also blocks new entries (`limits.guard.maxGlobalDrawdownUsd`).",
  },
  MAX_DAILY_LOSS_USD: {
    schema: optional(decimalIn(0.01, 1e9)).default(250),
    expected: 'a dollar amount above 0',
    defaultText: '250',
    description: "Risk gate: no new entries once a user's realised loss since 00:00 UTC reaches this (`limits.guard.maxDailyLossUsd`).",
  },
  MAX_API_ERRORS_PER_MIN: {
    schema: optional(intIn(1, 10_000)).default(10),
    expected: 'a whole number from 1 to 10000',
    defaultText: '10',
    description: 'Guard: stop a run after this many exchange errors within a minute (`limits.guard.maxApiErrorsPerMin`).',
  },
  STALE_TICKER_MS: {
    schema: optional(intIn(1_000, 86_400_000)).default(300_000),
    expected: 'milliseconds from 1000 to 86400000',
    defaultText: '300000',
    description: 'Guard: stop a run whose market data is older than this; the execution gate refuses orders sooner (`limits.guard.staleTickerMs`).',
  },
  BLACK_SWAN_MOVE_PCT: {
    schema: optional(decimalIn(0.1, 100)).default(8),
    expected: 'a percentage from 0.1 to 100',
    defaultText: '8',
    description: 'Risk gate: no new entries after the price moved this much within the last 12 candles (`limits.guard.blackSwanMovePct`).',
  },
  PAPER_FIRST_DAYS: {
    schema: optional(intIn(0, 365)).default(7),
    expected: 'whole days from 0 to 365',
    defaultText: '7',
    description: 'Live trading is allowed only once the account started its first paper run at least this many days ago.',
  },
  LIVE_TRADING: {
    schema: optional(z.enum(['on', 'off'])).default('on'),
    expected: 'on or off',
    defaultText: 'on',
    description: 'off: this deployment trades paper only (`/live`, `/ack` and live follows are refused). `npm run deploy:paper` sets it; `npm run deploy:live` requires on.',
  },
  STRIPE_SECRET_KEY: {
    schema: optional(z.string().trim().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{10,}$/)),
    expected: 'a Stripe secret or restricted key such as sk_live_...',
    defaultText: '_(unset: no payments; admins issue licenses)_',
    description: 'Stripe API key: /buy and /upgrade open Stripe Checkout, /admin refund refunds.',
    secret: true,
  },
  STRIPE_WEBHOOK_SECRET: {
    schema: optional(z.string().trim().regex(/^whsec_[A-Za-z0-9+/=_-]{10,}$/)),
    expected: 'the signing secret of the webhook endpoint, whsec_...',
    defaultText: '_(required with `STRIPE_SECRET_KEY`)_',
    description: 'Signing secret of the `POST /webhooks/stripe` endpoint; events not signed with it get 400.',
    secret: true,
  },
  STRIPE_API_BASE: {
    schema: optional(httpUrl),
    expected: 'an http:// or https:// URL (scheme://host:port)',
    defaultText: "_(unset: Stripe's own API)_",
    description: 'Send Stripe API calls to this server instead (tests point it at a local simulator).',
  },
  ADMIN_API_TOKEN: {
    schema: optional(z.string().regex(/^[\x21-\x7e]{24,256}$/)),
    expected: 'at least 24 printable characters without spaces',
    defaultText: '_(unset: admin HTTP endpoints are off)_',
    description: 'Bearer token for the admin HTTP endpoints (`POST /admin/kill`, `/admin/clients`, `GET /v1/admin/revenue`).',
    secret: true,
  },
  SCANNER_SYMBOLS: {
    schema: optional(symbolList),
    expected: 'comma-separated BASE/QUOTE pairs such as BTC/USDT,ETH/USDT (at most 500)',
    defaultText: '_(unset: 20 large USDT pairs; with `MARKET_DATA=replay`, the replayed symbols)_',
    description: 'The coin scanner\'s universe: every pair is backtested with the adaptive DCA bot at each scan and ranked.',
  },
  SCANNER_EXCHANGE: {
    schema: optional(z.string().trim().regex(/^[a-z0-9]{2,32}$/)),
    expected: 'a ccxt exchange id such as binance',
    defaultText: '_(unset: `DEFAULT_EXCHANGE`)_',
    description: 'Exchange whose candles the scanner backtests.',
  },
  SCANNER_CRON: {
    schema: optional(cronExpression).default('0 */4 * * *'),
    expected: 'a cron expression such as 0 */4 * * *',
    defaultText: '0 */4 * * *',
    description: 'When the scanner runs (once across replicas); the seed scans every 4 hours.',
  },
  SCANNER_LOOKBACK_DAYS: {
    schema: optional(intIn(2, 365)).default(30),
    expected: 'whole days from 2 to 365',
    defaultText: '30',
    description: 'How many days of recent 5m candles each scan backtests per symbol.',
  },
  SCANNER_TOP_N: {
    schema: optional(intIn(1, 50)).default(10),
    expected: 'a whole number from 1 to 50',
    defaultText: '10',
    description: 'How many coins `/scanner` lists.',
  },
  SCANNER_ROTATION_THRESHOLD_PCT: {
    schema: optional(decimalIn(1, 500)).default(20),
    expected: 'a percentage from 1 to 500',
    defaultText: '20',
    description: "A DCA run is told to rotate (or rotated, if its owner opted in with `/scanner autorotate on`) when another coin's composite score beats its coin's by at least this much.",
  },
  SCANNER_STAGGER_MINUTES: {
    schema: optional(intIn(0, 240)).default(180),
    expected: 'whole minutes from 0 to 240',
    defaultText: '180',
    description: 'Staggered delivery: each customer sees a new scan (and gets its rotations) at a stable offset within this window after the scan.',
  },
  SCANNER_JITTER_PCT: {
    schema: optional(decimalIn(0, 20)).default(10),
    expected: 'a percentage from 0 to 20',
    defaultText: '10',
    description: "Per-customer parameter jitter: each customer's TP and deviation ranges are scaled by a stable factor between ±half this and ±this.",
  },
  SCANNER_MAX_COIN_SHARE_PCT: {
    schema: optional(decimalIn(1, 100)).default(40),
    expected: 'a percentage from 1 to 100',
    defaultText: '40',
    description: "Coin diversification: live runs and rotations may put at most this share of a customer's tier capital on one coin.",
  },
  SCANNER_FOOTPRINT_ALERT_PCT: {
    schema: optional(decimalIn(0.1, 1000)).default(20),
    expected: 'a percentage from 0.1 to 1000',
    defaultText: '20',
    description: "Admins are alerted when the service's total capital on a coin (live runs plus self-hosted bots' positions) exceeds this share of the coin's 24 h volume.",
  },
  BOT_RELEASES_DIR: {
    schema: optional(z.string().trim().min(1)),
    expected: 'a directory path',
    defaultText: '_(unset: `DATA_DIR/releases`)_',
    description: 'Self-hosted bot packages served by `/v1/updates`: files named `ait-bot-<version>.tar.gz` (the newest version is the latest).',
  },
  ALPACA_API_URL: {
    schema: optional(httpUrl).default('https://paper-api.alpaca.markets'),
    expected: 'an http(s) URL such as https://api.alpaca.markets',
    defaultText: '`https://paper-api.alpaca.markets` (paper trading)',
    description: "Alpaca's trading API (equities venue). Set `https://api.alpaca.markets` for real-money accounts.",
  },
  ALPACA_DATA_URL: {
    schema: optional(httpUrl).default('https://data.alpaca.markets'),
    expected: 'an http(s) URL such as https://data.alpaca.markets',
    defaultText: '`https://data.alpaca.markets`',
    description: "Alpaca's market data API (stock bars for equity runs and the router's index proxy).",
  },
  ALPACA_KEY_ID: {
    schema: optional(z.string().trim().regex(/^[A-Za-z0-9]{8,64}$/)),
    expected: 'an Alpaca API key id such as PK... (set together with ALPACA_SECRET_KEY)',
    defaultText: '_(unset: no stock data)_',
    description:
      "The service's own Alpaca API key (any account's; a paper account's will do): stock bars and the market clock for equity runs and the router's index proxy, which Alpaca serves only to a key. Users' own keys trade.",
    secret: true,
  },
  ALPACA_SECRET_KEY: {
    schema: optional(z.string().trim().regex(/^[\x21-\x7e]{16,256}$/)),
    expected: 'the secret of ALPACA_KEY_ID',
    defaultText: '_(unset)_',
    description: 'Secret of `ALPACA_KEY_ID`.',
    secret: true,
  },
  ROUTER_CRON: {
    schema: optional(cronExpression).default('20 * * * *'),
    expected: 'a cron expression with five or six fields',
    defaultText: '`20 * * * *` (hourly)',
    description: 'When the multi-asset router re-detects the market regime and re-allocates every licensed user.',
  },
  ROUTER_CRYPTO_EXCHANGE: {
    schema: optional(z.string().trim().regex(/^[a-z0-9]{2,30}$/)),
    expected: 'a ccxt exchange id such as binance',
    defaultText: '_(unset: `DEFAULT_EXCHANGE`)_',
    description: "Where the router reads its crypto candles.",
  },
  ROUTER_CRYPTO_SYMBOL: {
    schema: optional(z.string().trim().regex(/^[A-Za-z0-9]{1,20}\/[A-Za-z0-9]{1,20}$/).transform((s) => s.toUpperCase())).default('BTC/USDT'),
    expected: 'a BASE/QUOTE pair such as BTC/USDT',
    defaultText: '`BTC/USDT`',
    description: "The router's crypto market: its volatility and trend stand for crypto as a whole.",
  },
  EQUITY_INDEX_SYMBOL: {
    schema: optional(z.string().trim().regex(/^[A-Za-z.]{1,10}$/).transform((s) => s.toUpperCase())).default('SPY'),
    expected: 'a stock ticker such as SPY',
    defaultText: '`SPY`',
    description: "The router's equity index proxy, read from Alpaca's daily bars.",
  },
  EXCHANGE_ORDER_CONCURRENCY: {
    schema: optional(intIn(1, 500)).default(10),
    expected: 'a whole number from 1 to 500',
    defaultText: '10',
    description: 'Per exchange, across every account this service trades: at most this many order calls in flight. When more are ready, higher tiers go first.',
  },
  EXCHANGE_ORDER_INTERVAL_MS: {
    schema: optional(intIn(0, 60_000)).default(20),
    expected: 'milliseconds from 0 to 60000',
    defaultText: '20',
    description: 'Per exchange, across every account: at least this long between two order submissions (the service-wide request budget).',
  },
  COPY_MASTER_MIN_TIER: {
    schema: optional(z.string().trim().toLowerCase().regex(/^[a-z0-9_-]{1,40}$/)).default('pro'),
    expected: 'a tier id such as pro',
    defaultText: '`pro`',
    description: 'The lowest tier whose members may publish a run for others to copy.',
  },
  COPY_POLL_MS: {
    schema: optional(intIn(50, 60_000)).default(1_000),
    expected: 'milliseconds from 50 to 60000',
    defaultText: '1000',
    description: "How often copy trading looks for master fills not yet mirrored (a master's fill in this process is mirrored at once; this catches the rest).",
  },
  PERFORMANCE_FEE_PCT: {
    schema: optional(decimalIn(0, 50)).default(10),
    expected: 'a percentage from 0 to 50',
    defaultText: '10',
    description: "Performance fee: this share of a user's live realised profit above their high-water mark.",
  },
  COPY_MASTER_FEE_PCT: {
    schema: optional(decimalIn(0, 50)).default(5),
    expected: 'a percentage from 0 to 50',
    defaultText: '5',
    description: "Copy trading: the master earns this share of each follower's copied profit above its high-water mark.",
  },
  COPY_PLATFORM_FEE_PCT: {
    schema: optional(decimalIn(0, 50)).default(2),
    expected: 'a percentage from 0 to 50',
    defaultText: '2',
    description: "Copy trading: the platform's facilitation fee, this share of each follower's copied profit above its high-water mark.",
  },
  FEE_ACCRUAL_CRON: {
    schema: optional(cronExpression).default('10 0 * * *'),
    expected: 'a cron expression with five or six fields',
    defaultText: '`10 0 * * *` (daily, 00:10 UTC)',
    description: 'When performance and copy-trading fees are computed on realised P&L up to that moment.',
  },
  SHUTDOWN_TIMEOUT_MS: {
    schema: optional(intIn(100, 120_000)).default(10_000),
    expected: 'milliseconds from 100 to 120000',
    defaultText: '10000',
    description: 'How long a graceful shutdown may take before the process exits anyway.',
  },
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof variables;
