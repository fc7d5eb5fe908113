// The environment is parsed exactly once, here, into a frozen typed Config.
// Nothing else in the service reads process.env.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { variables, type VariableName, type VariableSpec } from './variables.ts';
import { dollars, type Cents } from '../kernel/money.ts';

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
  };
  readonly execution: {
    readonly defaultExchange: string;
    readonly exchangeApiUrl: string | null;
    readonly marketData: { readonly kind: 'exchange' } | { readonly kind: 'replay'; readonly dir: string; readonly speed: number };
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
  };
  /** Bearer token of the admin HTTP endpoints; null turns them off. */
  readonly adminApiToken: string | null;
  /** Values to scrub from every log line wherever they appear. */
  readonly secretValues: readonly string[];
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
  return deepFreeze(toConfig(parsed.data));
}

function toConfig(v: Parsed): Config {
  const dataDir = v.DATA_DIR;
  const secretValues: string[] = [];
  if (v.DATABASE_URL) {
    const password = decodeURIComponent(new URL(v.DATABASE_URL).password);
    if (password) secretValues.push(password);
  }
  for (const secret of [v.CLIENT_MASTER_KEY, v.TELEGRAM_BOT_TOKEN, v.TELEGRAM_WEBHOOK_SECRET, v.ADMIN_API_TOKEN]) {
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
    },
    execution: {
      defaultExchange: v.DEFAULT_EXCHANGE,
      exchangeApiUrl: v.EXCHANGE_API_URL ?? null,
      marketData: v.MARKET_DATA === 'replay' ? { kind: 'replay', dir: v.REPLAY_DIR, speed: v.REPLAY_SPEED } : { kind: 'exchange' },
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
    },
    adminApiToken: v.ADMIN_API_TOKEN ?? null,
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
