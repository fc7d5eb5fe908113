// The environment is parsed exactly once, here, into a frozen typed Config.
// Nothing else in the service reads process.env.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { variables, type VariableName, type VariableSpec } from './variables.ts';
import { dollars, type Cents } from '../kernel/money.ts';
import type { CommunityMap } from '../domain/community.ts';

export interface Config {
  readonly logLevel: string;
  readonly http: { readonly host: string; readonly port: number };
  readonly database:
    | { readonly kind: 'external'; readonly url: string }
    | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number };
  readonly dataDir: string;
  readonly pool: {
    /** Applied at start-up when set; otherwise the stored cap stays. */
    readonly capOverride: Cents | null;
    readonly holdTtlMs: number;
    readonly hardOveragePct: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly publicBaseUrl: string;
  /** Raw CLIENT_MASTER_KEY; null means "generate one under dataDir". */
  readonly masterKey: string | null;
  readonly chat: {
    readonly telegram: {
      readonly token: string;
      readonly apiRoot: string;
      readonly webhook: { readonly url: string; readonly secret: string } | null;
    } | null;
    readonly adminIds: { readonly telegram: readonly string[]; readonly discord: readonly string[] };
    readonly rateLimit: { readonly burst: number; readonly perMinute: number };
    readonly console: 'auto' | 'on' | 'off';
    readonly discord: DiscordConfig | null;
  };
  /** Gated roles and groups by tier; null when COMMUNITY_ACCESS is unset. */
  readonly community: {
    readonly tiers: CommunityMap;
    readonly reconcileCron: string;
    readonly telegramInviteTtlMs: number;
  } | null;
  readonly execution: {
    readonly defaultExchange: string;
    readonly exchangeApiUrl: string | null;
    /** Replay reads every file of `dir`, or the one `file` (MARKET_DATA=replay:<file>[@speed]). */
    readonly marketData:
      | { readonly kind: 'exchange' }
      | { readonly kind: 'replay'; readonly source: { readonly dir: string } | { readonly file: string }; readonly speed: number };
    /** Candle poll interval; null: derived from the timeframe. */
    readonly marketPollMs: number | null;
    readonly runLeaseMs: number;
    readonly orderConcurrency: number;
    readonly orderRateIntervalMs: number;
    readonly replace: { readonly timeoutMs: number; readonly slippagePct: number; readonly maxRetries: number };
    readonly guard: {
      readonly maxRunLossUsd: number;
      readonly maxGlobalDrawdownUsd: number;
      readonly maxDailyLossUsd: number;
      readonly maxApiErrorsPerMin: number;
      readonly staleTickerMs: number;
      readonly blackSwanMovePct: number;
    };
    readonly paperFirstDays: number;
    /** LIVE_TRADING=off: paper only (a canary deployment). */
    readonly liveTrading: boolean;
  };
  /** Stripe; null: no payments (admins issue licenses). */
  readonly billing: { readonly secretKey: string; readonly webhookSecret: string; readonly apiBase: string | null } | null;
  /** The coin scanner and its mitigations at scale (src/app/scanner.ts). */
  readonly scanner: ScannerConfig;
  /** Self-hosted bot packages served by /v1/updates. */
  readonly botReleasesDir: string;
  /** Bearer token of the admin HTTP endpoints; null turns them off. */
  readonly adminApiToken: string | null;
  /** The equities venue (Alpaca's official SDK). */
  readonly alpaca: {
    readonly apiUrl: string;
    readonly dataUrl: string;
    /** The service's own key for stock data and the market clock (ALPACA_KEY_ID / ALPACA_SECRET_KEY); null when unset. */
    readonly serviceCredentials: { readonly keyId: string; readonly secret: string } | null;
  };
  /** The multi-asset router (src/app/allocation.ts). */
  readonly router: { readonly cron: string; readonly cryptoExchange: string; readonly cryptoSymbol: string; readonly equityIndexSymbol: string };
  /** Order submission across all accounts on one exchange, in tier priority order. */
  readonly executionLanes: { readonly concurrency: number; readonly intervalMs: number };
  /** Copy trading between members. */
  readonly copy: { readonly masterMinTier: string; readonly pollMs: number };
  /** Performance and copy-trading fees (percentages) and when they are computed. */
  readonly fees: { readonly performancePct: number; readonly copyMasterPct: number; readonly copyPlatformPct: number; readonly cron: string };
  /** Where every log entry is also POSTed (LOG_INGEST_WEBHOOK); null: stdout only. */
  readonly logIngestWebhook: string | null;
  /** Values to scrub from every log line wherever they appear. */
  readonly secretValues: readonly string[];
}

export interface ScannerConfig {
  /** Null: the default universe (or, replaying, the replayed symbols). */
  readonly symbols: readonly string[] | null;
  readonly exchange: string;
  readonly cron: string;
  readonly lookbackDays: number;
  readonly topN: number;
  readonly rotationThresholdPct: number;
  readonly staggerMs: number;
  readonly jitterPct: number;
  readonly maxCoinSharePct: number;
  readonly footprintAlertPct: number;
}

export interface DiscordConfig {
  /** Null: HTTP interactions only, answered without REST (no registration, roles or DMs). */
  readonly token: string | null;
  readonly applicationId: string | null;
  /** Ed25519 key that signs HTTP interactions; null turns POST /discord/interactions off. */
  readonly publicKey: string | null;
  readonly guildId: string | null;
  readonly apiRoot: string;
  readonly gateway: boolean;
  readonly adminRoleId: string | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const schema = z.object(
  Object.fromEntries(Object.entries(variables).map(([name, spec]) => [name, spec.schema])) as {
    [K in VariableName]: (typeof variables)[K]['schema'];
  },
);

type Parsed = z.infer<typeof schema>;

function describeProblem(name: VariableName, raw: string | undefined): string {
  const spec: VariableSpec = variables[name];
  const shown = spec.secret || raw === undefined ? '' : ` (got ${JSON.stringify(raw)})`;
  return `${name} must be ${spec.expected}${shown}`;
}

/** Parses an environment (normally process.env) or throws ConfigError naming each bad variable. */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const input = Object.fromEntries(Object.keys(variables).map((name) => [name, env[name]]));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0]) as VariableName))];
    throw new ConfigError(names.map((name) => describeProblem(name, env[name])));
  }
  const problems = crossChecks(parsed.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(toConfig(parsed.data));
}

/** Rules that involve more than one variable. */
function crossChecks(v: Parsed): string[] {
  const problems: string[] = [];
  if (v.STRIPE_SECRET_KEY && !v.STRIPE_WEBHOOK_SECRET) problems.push('STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY (Developers → Webhooks → your endpoint → Signing secret)');
  if (v.DISCORD_BOT_TOKEN && !v.DISCORD_APPLICATION_ID) problems.push('DISCORD_APPLICATION_ID must be set with DISCORD_BOT_TOKEN (developer portal → General Information → Application ID)');
  if (!v.ALPACA_KEY_ID !== !v.ALPACA_SECRET_KEY) problems.push('ALPACA_KEY_ID and ALPACA_SECRET_KEY are set together (the key id and its secret from the Alpaca dashboard)');
  if (v.DISCORD_ADMIN_ROLE_ID && !v.DISCORD_GUILD_ID) problems.push('DISCORD_ADMIN_ROLE_ID needs DISCORD_GUILD_ID (the server the role belongs to)');
  const community = v.COMMUNITY_ACCESS ?? {};
  if (Object.values(community).some((t) => t.discordRoles.length > 0) && !(v.DISCORD_GUILD_ID && v.DISCORD_BOT_TOKEN)) {
    problems.push('COMMUNITY_ACCESS names Discord roles: set DISCORD_BOT_TOKEN and DISCORD_GUILD_ID too');
  }
  if (Object.values(community).some((t) => t.telegramChats.length > 0) && !v.TELEGRAM_BOT_TOKEN) {
    problems.push('COMMUNITY_ACCESS names Telegram chats: set TELEGRAM_BOT_TOKEN too');
  }
  return problems;
}

function toConfig(v: Parsed): Config {
  const dataDir = v.DATA_DIR;
  const secretValues: string[] = [];
  if (v.DATABASE_URL) {
    const password = decodeURIComponent(new URL(v.DATABASE_URL).password);
    if (password) secretValues.push(password);
  }
  for (const secret of [v.CLIENT_MASTER_KEY, v.TELEGRAM_BOT_TOKEN, v.TELEGRAM_WEBHOOK_SECRET, v.ADMIN_API_TOKEN, v.DISCORD_BOT_TOKEN, v.STRIPE_SECRET_KEY, v.STRIPE_WEBHOOK_SECRET, v.ALPACA_KEY_ID, v.ALPACA_SECRET_KEY, v.LOG_INGEST_WEBHOOK]) {
    if (secret) secretValues.push(secret);
  }
  const telegramToken = v.TELEGRAM_BOT_TOKEN;
  return {
    logLevel: v.LOG_LEVEL,
    http: { host: v.HTTP_HOST, port: v.HTTP_PORT },
    database: v.DATABASE_URL
      ? { kind: 'external', url: v.DATABASE_URL }
      : { kind: 'embedded', dataDir: `${dataDir}/postgres`, port: v.EMBEDDED_PG_PORT },
    dataDir,
    pool: {
      capOverride: v.POOL_CAP_USD === undefined ? null : dollars(v.POOL_CAP_USD),
      holdTtlMs: v.POOL_HOLD_TTL_MINUTES * 60_000,
      hardOveragePct: v.POOL_HARD_OVERAGE_PCT,
    },
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    publicBaseUrl: v.PUBLIC_BASE_URL ?? `http://localhost:${v.HTTP_PORT}`,
    masterKey: v.CLIENT_MASTER_KEY ?? null,
    chat: {
      telegram: telegramToken
        ? {
            token: telegramToken,
            apiRoot: v.TELEGRAM_API_ROOT,
            webhook: v.TELEGRAM_WEBHOOK_URL
              ? { url: v.TELEGRAM_WEBHOOK_URL, secret: v.TELEGRAM_WEBHOOK_SECRET ?? deriveWebhookSecret(telegramToken) }
              : null,
          }
        : null,
      adminIds: { telegram: v.ADMIN_TELEGRAM_IDS, discord: v.ADMIN_DISCORD_IDS },
      rateLimit: { burst: v.CHAT_RATE_BURST, perMinute: v.CHAT_RATE_PER_MINUTE },
      console: v.CONSOLE_CHAT,
      discord:
        v.DISCORD_BOT_TOKEN || v.DISCORD_PUBLIC_KEY
          ? {
              token: v.DISCORD_BOT_TOKEN ?? null,
              applicationId: v.DISCORD_APPLICATION_ID ?? null,
              publicKey: v.DISCORD_PUBLIC_KEY ?? null,
              guildId: v.DISCORD_GUILD_ID ?? null,
              apiRoot: v.DISCORD_API_ROOT,
              gateway: v.DISCORD_GATEWAY === 'on' && Boolean(v.DISCORD_BOT_TOKEN),
              adminRoleId: v.DISCORD_ADMIN_ROLE_ID ?? null,
            }
          : null,
    },
    community: v.COMMUNITY_ACCESS
      ? { tiers: v.COMMUNITY_ACCESS, reconcileCron: v.COMMUNITY_RECONCILE_CRON, telegramInviteTtlMs: v.TELEGRAM_INVITE_TTL_MINUTES * 60_000 }
      : null,
    execution: {
      defaultExchange: v.DEFAULT_EXCHANGE,
      exchangeApiUrl: v.EXCHANGE_API_URL ?? null,
      marketData:
        v.MARKET_DATA.kind === 'replay'
          ? { kind: 'replay', source: v.MARKET_DATA.file ? { file: v.MARKET_DATA.file } : { dir: v.REPLAY_DIR }, speed: v.MARKET_DATA.speed ?? v.REPLAY_SPEED }
          : { kind: 'exchange' },
      marketPollMs: v.MARKET_POLL_MS ?? null,
      runLeaseMs: v.RUN_LEASE_MS,
      orderConcurrency: v.ORDER_CONCURRENCY,
      orderRateIntervalMs: v.ORDER_RATE_INTERVAL_MS,
      replace: { timeoutMs: v.REPLACE_TIMEOUT_MS, slippagePct: v.REPLACE_SLIPPAGE_PCT, maxRetries: v.REPLACE_MAX_RETRIES },
      guard: {
        maxRunLossUsd: v.MAX_RUN_LOSS_USD,
        maxGlobalDrawdownUsd: v.MAX_GLOBAL_DRAWDOWN_USD,
        maxDailyLossUsd: v.MAX_DAILY_LOSS_USD,
        maxApiErrorsPerMin: v.MAX_API_ERRORS_PER_MIN,
        staleTickerMs: v.STALE_TICKER_MS,
        blackSwanMovePct: v.BLACK_SWAN_MOVE_PCT,
      },
      paperFirstDays: v.PAPER_FIRST_DAYS,
      liveTrading: v.LIVE_TRADING === 'on',
    },
    billing:
      v.STRIPE_SECRET_KEY && v.STRIPE_WEBHOOK_SECRET
        ? { secretKey: v.STRIPE_SECRET_KEY, webhookSecret: v.STRIPE_WEBHOOK_SECRET, apiBase: v.STRIPE_API_BASE ?? null }
        : null,
    scanner: {
      symbols: v.SCANNER_SYMBOLS ?? null,
      exchange: v.SCANNER_EXCHANGE ?? v.DEFAULT_EXCHANGE,
      cron: v.SCANNER_CRON,
      lookbackDays: v.SCANNER_LOOKBACK_DAYS,
      topN: v.SCANNER_TOP_N,
      rotationThresholdPct: v.SCANNER_ROTATION_THRESHOLD_PCT,
      staggerMs: v.SCANNER_STAGGER_MINUTES * 60_000,
      jitterPct: v.SCANNER_JITTER_PCT,
      maxCoinSharePct: v.SCANNER_MAX_COIN_SHARE_PCT,
      footprintAlertPct: v.SCANNER_FOOTPRINT_ALERT_PCT,
    },
    botReleasesDir: v.BOT_RELEASES_DIR ?? `${dataDir}/releases`,
    adminApiToken: v.ADMIN_API_TOKEN ?? null,
    alpaca: {
      apiUrl: v.ALPACA_API_URL,
      dataUrl: v.ALPACA_DATA_URL,
      serviceCredentials: v.ALPACA_KEY_ID && v.ALPACA_SECRET_KEY ? { keyId: v.ALPACA_KEY_ID, secret: v.ALPACA_SECRET_KEY } : null,
    },
    router: {
      cron: v.ROUTER_CRON,
      cryptoExchange: v.ROUTER_CRYPTO_EXCHANGE ?? v.DEFAULT_EXCHANGE,
      cryptoSymbol: v.ROUTER_CRYPTO_SYMBOL,
      equityIndexSymbol: v.EQUITY_INDEX_SYMBOL,
    },
    executionLanes: { concurrency: v.EXCHANGE_ORDER_CONCURRENCY, intervalMs: v.EXCHANGE_ORDER_INTERVAL_MS },
    copy: { masterMinTier: v.COPY_MASTER_MIN_TIER, pollMs: v.COPY_POLL_MS },
    fees: { performancePct: v.PERFORMANCE_FEE_PCT, copyMasterPct: v.COPY_MASTER_FEE_PCT, copyPlatformPct: v.COPY_PLATFORM_FEE_PCT, cron: v.FEE_ACCRUAL_CRON },
    logIngestWebhook: v.LOG_INGEST_WEBHOOK ?? null,
    secretValues,
  };
}

/** Replicas sharing a bot token agree on the webhook secret without configuring one. */
function deriveWebhookSecret(token: string): string {
  return createHmac('sha256', token).update('telegram-webhook-secret').digest('base64url').slice(0, 48);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
