// A live grid run ready for a service process to pick up: the Binance simulator with a funded
// account, a migrated database with a licensed member whose keys are sealed under the master key
// the service will be given (and already verified), and the run row itself.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeCredentials } from '../../src/app/credentials.ts';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import { startRun } from '../../src/app/runs.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { loadMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';
import { createMigratedDatabase, type MigratedDatabase } from './database.ts';
import { serviceEnv, type RunningService } from './service.ts';

export interface LiveRunFixture {
  readonly sim: BinanceSpotSim;
  readonly database: MigratedDatabase;
  readonly dir: string;
  readonly runId: string;
  readonly masterKey: string;
  readonly apiKey: string;
  /** Service processes started by the test: killed on close if still running. */
  readonly services: RunningService[];
  close(): Promise<void>;
}

/**
 * The environment of a service process on the fixture: its database, master key and exchange
 * simulator, its own data directory under the fixture's, fast candle polls, no console; `extra` adds to it.
 */
export function liveServiceEnv(f: LiveRunFixture, dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return serviceEnv({
    DATABASE_URL: f.database.url,
    DATA_DIR: join(f.dir, dataDir),
    CLIENT_MASTER_KEY: f.masterKey,
    EXCHANGE_API_URL: f.sim.baseUrl,
    MARKET_POLL_MS: '100',
    CONSOLE_CHAT: 'off',
    ...extra,
  });
}

/** `legs` grid levels, every one below the price, so the first candle places that many buys. */
export async function liveGridRunFixture(legs: number): Promise<LiveRunFixture> {
  const masterKey = randomBytes(32).toString('base64');
  const apiKey = `K${randomBytes(16).toString('hex')}`;
  const apiSecret = `S${randomBytes(24).toString('hex')}`;
  const btc = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
  if (!btc.ok) throw new Error('candles missing');
  const sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: btc.series, startIndex: 400 }]);
  sim.addAccount({ apiKey, secret: apiSecret, balances: { USDT: 20_000, BTC: 0 } });
  const database = await createMigratedDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'ait-live-'));

  const deps = { ...database.deps, clock: { now: () => new Date() } };
  const identity = await resolveIdentity(deps, { platform: 'telegram', externalId: '4242', username: 'live' });
  const issued = await issueLicense(deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  const activated = await activateLicense(deps, { key: issued.value.key, identity });
  if (!activated.ok) throw new Error(activated.error.code);
  const vault = await Vault.create(await loadMasterKey({ configured: masterKey, dataDir: dir, logger: createLogger({ level: 'silent' }) }));
  const stored = await storeCredentials({ ...deps, vault }, { userId: identity.userId, exchange: 'binance', apiKey, apiSecret });
  if (!stored.ok) throw new Error(stored.error.code);
  await database.db.exchangeCredential.updateMany({ where: { userId: identity.userId }, data: { verifiedAt: new Date() } });
  const price = sim.price('BTC/USDT');
  const run = await startRun(
    { ...deps, runSettings: { defaultExchange: 'binance', paperFirstDays: 0 } },
    {
      userId: identity.userId,
      mode: 'live',
      spec: { strategy: 'grid', symbol: 'BTC/USDT', capitalUsd: 10_000, params: { count: String(legs), lower: (price * 0.8).toFixed(2), upper: (price * 1.02).toFixed(2) } },
      actor: { type: 'user', id: identity.userId },
    },
  );
  if (!run.ok) throw new Error(run.error.message);
  const services: RunningService[] = [];
  return {
    sim,
    database,
    dir,
    runId: run.value.id,
    masterKey,
    apiKey,
    services,
    async close() {
      sim.stopAutoAdvance();
      for (const s of services) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
      await sim.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
