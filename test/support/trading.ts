// The trading side as main.ts composes it (supervisor, shared market data, paper and ccxt
// venues) on a test database, plus a chat harness whose commands reach it.
import { composeTrading, type Trading, type TradingSettings } from '../../src/compose-trading.ts';
import type { RunEvent } from '../../src/execution/run-events.ts';
import type { MarketFeed, MarketKey } from '../../src/market-data/feed.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createChatHarness, type ChatHarness } from './chat.ts';
import type { MigratedDatabase } from './database.ts';

export interface TradingHarness {
  readonly trading: Trading;
  readonly chat: ChatHarness;
  readonly vault: Vault;
  readonly events: RunEvent[];
  readonly logLines: string[];
  close(): Promise<void>;
}

export async function createTradingHarness(
  database: MigratedDatabase,
  options: {
    settings?: Partial<TradingSettings>;
    defaultExchange?: string;
    paperFirstDays?: number;
    adminTelegramIds?: string[];
    replicaId?: string;
  } = {},
): Promise<TradingHarness> {
  const vault = await Vault.create({ key: await generateMasterKey() });
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  const events: RunEvent[] = [];
  const settings: TradingSettings = {
    exchangeApiUrl: null,
    replay: null,
    orderConcurrency: 3,
    orderRateIntervalMs: 0,
    replace: { timeoutMs: 600_000, slippagePct: 0.003, maxRetries: 3 },
    guard: SEED_GUARD_LIMITS,
    tickMs: 60_000,
    pollMs: 25,
    ...options.settings,
  };
  const trading = composeTrading({ app: database.deps, vault, clock: database.clock, logger, settings, replicaId: options.replicaId ?? `test-${Math.random().toString(36).slice(2, 8)}`, onEvent: (e) => events.push(e) });
  const chat = await createChatHarness(database, {
    vault,
    logger,
    ...(options.adminTelegramIds ? { adminTelegramIds: options.adminTelegramIds } : {}),
    trading: {
      control: trading.supervisor,
      settings: { defaultExchange: options.defaultExchange ?? (settings.replay ? 'replay' : 'binance'), paperFirstDays: options.paperFirstDays ?? 7 },
      guardDefaults: settings.guard,
      verifyKeys: (ref) => trading.verifyKeys(ref),
    },
  });
  return { trading, chat, vault, events, logLines, close: () => trading.close() };
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until the feed has taken the last candle it will get for `key` (nothing new for 150 ms):
 * a candle received after a test moves the clock would count as fresh data.
 */
export async function feedSettled(feed: Pick<MarketFeed, 'lastReceivedAt'>, key: MarketKey): Promise<void> {
  let seen = feed.lastReceivedAt(key);
  await eventually(
    async () => {
      await new Promise((r) => setTimeout(r, 150));
      const now = feed.lastReceivedAt(key);
      const stable = now === seen;
      seen = now;
      return stable ? true : undefined;
    },
    5_000,
    'the feed to settle',
  );
}
