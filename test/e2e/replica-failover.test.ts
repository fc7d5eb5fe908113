// Scale-out: two service processes share one database. Each run is leased to one replica; when
// that replica dies, the other takes its runs over (reconciling first) and they carry on with no
// duplicate orders on the exchange.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeCredentials } from '../../src/app/credentials.ts';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import { startRun } from '../../src/app/runs.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { startService, serviceEnv, type RunningService } from '../support/service.ts';
import { eventually } from '../support/trading.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const API_KEY = `K${randomBytes(16).toString('hex')}`;
const API_SECRET = `S${randomBytes(24).toString('hex')}`;
const LEGS = 8;

let sim: BinanceSpotSim;
let database: MigratedDatabase;
let dir: string;
let runId: string;
const services: RunningService[] = [];

beforeAll(async () => {
  const btc = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
  if (!btc.ok) throw new Error('candles missing');
  sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: btc.series, startIndex: 400 }]);
  sim.addAccount({ apiKey: API_KEY, secret: API_SECRET, balances: { USDT: 20_000, BTC: 0 } });
  database = await createMigratedDatabase();
  dir = await mkdtemp(join(tmpdir(), 'ait-replicas-'));

  // A member with a license, verified keys (sealed under the service's master key) and a live grid run.
  const deps = { ...database.deps, clock: { now: () => new Date() } };
  const identity = await resolveIdentity(deps, { platform: 'telegram', externalId: '4242', username: 'crash' });
  const issued = await issueLicense(deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  const activated = await activateLicense(deps, { key: issued.value.key, identity });
  if (!activated.ok) throw new Error(activated.error.code);
  const vault = await Vault.create(await loadMasterKey({ configured: MASTER_KEY, dataDir: dir, logger: createLogger({ level: 'silent' }) }));
  const stored = await storeCredentials({ ...deps, vault }, { userId: identity.userId, exchange: 'binance', apiKey: API_KEY, apiSecret: API_SECRET });
  if (!stored.ok) throw new Error(stored.error.code);
  await database.db.exchangeCredential.updateMany({ where: { userId: identity.userId }, data: { verifiedAt: new Date() } });
  const price = sim.price('BTC/USDT');
  const run = await startRun(
    { ...deps, runSettings: { defaultExchange: 'binance', paperFirstDays: 0 } },
    {
      userId: identity.userId,
      mode: 'live',
      // Every level below the price: the first candle places LEGS buy orders.
      spec: { strategy: 'grid', symbol: 'BTC/USDT', capitalUsd: 10_000, params: { count: String(LEGS), lower: (price * 0.8).toFixed(2), upper: (price * 1.02).toFixed(2) } },
      actor: { type: 'user', id: identity.userId },
    },
  );
  if (!run.ok) throw new Error(run.error.message);
  runId = run.value.id;
}, 60_000);

afterAll(async () => {
  sim?.stopAutoAdvance();
  for (const s of services) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL');
  await sim?.close();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = (name: string) =>
  serviceEnv({
    DATABASE_URL: database.url,
    DATA_DIR: join(dir, name),
    CLIENT_MASTER_KEY: MASTER_KEY,
    EXCHANGE_API_URL: sim.baseUrl,
    MARKET_POLL_MS: '100',
    RUN_LEASE_MS: '3000',
    CONSOLE_CHAT: 'off',
  });

const replicaOf = (service: RunningService) => String(service.logs().find((l) => l.msg === 'service started')?.replica);
const ownerOfRun = async () => (await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } })).ownerId;

describe('two replicas', () => {
  it('a run lives on one replica; when it dies the other takes over without duplicating orders', async () => {
    const a = await startService(env('a'));
    services.push(a);
    await eventually(async () => ((await ownerOfRun()) === replicaOf(a) ? true : undefined), 15_000, 'replica A to own the run');
    const b = await startService(env('b'));
    services.push(b);
    // A places the grid; B, holding no lease on it, stays out.
    await eventually(async () => {
      if ((await database.db.runOrder.count({ where: { runId, status: 'open' } })) >= LEGS - 2) return true;
      sim.advanceCandle('BTC/USDT');
      return undefined;
    }, 30_000, 'the grid placed by A');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ownerOfRun()).toBe(replicaOf(a));
    expect(b.logs().some((l) => l.msg === 'claimed runs')).toBe(false);
    const placedByA = sim.orders(API_KEY).length;

    expect(await a.stop('SIGKILL')).toBeNull();
    await eventually(async () => ((await ownerOfRun()) === replicaOf(b) ? true : undefined), 10_000, 'replica B to take the run over');
    // B carries on: new candles are stepped (and the run stays consistent with the exchange).
    const before = (await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } })).lastCandleAt!.getTime();
    await eventually(async () => {
      const run = await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } });
      if (run.lastCandleAt!.getTime() > before) return true;
      sim.advanceCandle('BTC/USDT');
      await new Promise((r) => setTimeout(r, 200));
      return undefined;
    }, 20_000, 'B to step the run');
    const ids = sim.orders(API_KEY).map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(placedByA);
    const open = await database.db.runOrder.findMany({ where: { runId, status: 'open' } });
    expect(sim.openOrders(API_KEY).map((o) => o.clientOrderId).sort()).toEqual(open.map((o) => o.clientOrderId).sort());
    expect(await b.stop('SIGTERM')).toBe(0);
    // A clean stop gives the lease back at once.
    expect(await ownerOfRun()).toBeNull();
  }, 120_000);
});
