// Crash-only recovery of a live run: the service is killed with SIGKILL while it is placing a
// grid on the (simulated) exchange, then started again. Afterwards the exchange must hold no
// duplicate orders and the database must agree with the exchange, order by order.
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
const LEGS = 12;

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
  dir = await mkdtemp(join(tmpdir(), 'ait-crash-'));

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

const env = () =>
  serviceEnv({
    DATABASE_URL: database.url,
    DATA_DIR: join(dir, 'data'),
    CLIENT_MASTER_KEY: MASTER_KEY,
    EXCHANGE_API_URL: sim.baseUrl,
    MARKET_POLL_MS: '100',
    // Slow, one at a time: the kill lands in the middle of the placement.
    ORDER_CONCURRENCY: '1',
    ORDER_RATE_INTERVAL_MS: '300',
    CONSOLE_CHAT: 'off',
  });

describe('SIGKILL while placing a grid', () => {
  it('leaves no duplicate on the exchange, and the database matches the exchange after a restart', async () => {
    const first = await startService(env());
    services.push(first);
    // Close candles until the run starts placing, then kill it a few orders in.
    await eventually(() => {
      if (sim.orders(API_KEY).length >= 3) return true;
      sim.advanceCandle('BTC/USDT');
      return undefined;
    }, 30_000, 'the first orders on the exchange');
    expect(await first.stop('SIGKILL')).toBeNull();
    const placedBeforeKill = sim.orders(API_KEY).length;
    const rows = await database.db.runOrder.findMany({ where: { runId } });
    // The whole step's orders were written (pending) before any was sent; only some reached the exchange.
    expect(rows.length).toBeGreaterThanOrEqual(LEGS - 2);
    expect(placedBeforeKill).toBeLessThan(rows.length);
    expect(rows.filter((r) => r.status === 'pending' || r.status === 'unknown').length).toBeGreaterThan(0);

    const second = await startService(env());
    services.push(second);
    const settled = await eventually(async () => {
      const now = await database.db.runOrder.findMany({ where: { runId } });
      const exchange = sim.openOrders(API_KEY);
      return now.every((r) => r.status === 'open') && exchange.length === now.length ? now : undefined;
    }, 30_000, 'every order open on the exchange');

    const onExchange = sim.orders(API_KEY);
    const ids = onExchange.map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length); // no duplicates, ever
    expect(ids.sort()).toEqual(settled.map((r) => r.clientOrderId).sort());
    for (const row of settled) {
      const remote = onExchange.find((o) => o.clientOrderId === row.clientOrderId)!;
      expect(Number(row.price)).toBeCloseTo(remote.price, 8);
      expect(Number(row.qty)).toBeCloseTo(remote.origQty, 8);
      expect(row.exchangeOrderId).toBe(String(remote.orderId));
    }
    expect(second.logs().some((l) => l.msg === 'run supervisor started' && l.runs === 1)).toBe(true);
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 90_000);
});
