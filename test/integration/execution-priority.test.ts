// Execution priority end to end: 40 live grid runs of users on four tiers (starter, pro, elite,
// whale) see the same candle at once and all send their orders through the real ccxt client to
// the Binance simulator, through one saturated exchange lane (one call at a time, 220 ms apart).
// The simulator's order arrival sequence must be ordered by the tiers' execution priority and
// spaced by the lane's interval. Also: /tiers shows each tier's priority in words.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeCredentials } from '../../src/app/credentials.ts';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import { startRun } from '../../src/app/runs.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { composeTrading, type Trading } from '../../src/compose-trading.ts';
import { priorityRank, type ExecutionPriority } from '../../src/domain/execution-priority.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { systemClock } from '../../src/kernel/clock.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { ServiceMetrics } from '../../src/metrics/service-metrics.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';
import { createChatHarness } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { gate } from '../support/fake-timers.ts';
import { eventually } from '../support/trading.ts';

// Above an order's round trip here (ccxt's own per-client limiter holds each order ~200 ms after
// the run's sync calls), so the lane's interval, not the round trip, sets the pace.
const LANE_INTERVAL_MS = 220;
const TIERS = [
  { tier: 'starter', priority: 'normal' },
  { tier: 'pro', priority: 'high' },
  { tier: 'elite', priority: 'very_high' },
  { tier: 'whale', priority: 'dedicated' },
] as const;
const USERS_PER_TIER = 10;

let database: MigratedDatabase;
let sim: BinanceSpotSim;
let trading: Trading;
let metrics: ServiceMetrics;
/** Each user's simulator key, with their tier's priority. */
const accounts: { userId: string; apiKey: string; priority: ExecutionPriority }[] = [];

/** Sums a gauge's or histogram count's samples by priority. */
async function byPriority(metric: string, sample?: string): Promise<Record<string, number>> {
  const values = (await metrics.registry.getSingleMetric(metric)!.get()).values;
  const sums: Record<string, number> = {};
  for (const v of values) {
    if (sample && (v as { metricName?: string }).metricName !== sample) continue;
    const p = String(v.labels.priority);
    sums[p] = (sums[p] ?? 0) + v.value;
  }
  return sums;
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  const btc = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
  if (!btc.ok) throw new Error('candles missing');
  sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: btc.series, startIndex: 400 }]);
  database = await createMigratedDatabase({}, { poolSize: 10 });
  // Real time: the lane's interval is waited out with real sleeps, and measured at the simulator.
  const deps = { ...database.deps, clock: systemClock };
  const vault = await Vault.create({ key: await generateMasterKey() });
  const price = sim.price('BTC/USDT');
  // Interleaved, starter first, so that neither creation nor candle delivery order is the priority order.
  for (let i = 0; i < USERS_PER_TIER; i++) {
    for (const { tier, priority } of TIERS) {
      const identity = await resolveIdentity(deps, { platform: 'telegram', externalId: `${tier}-${i}`, username: `${tier}${i}` });
      const issued = await issueLicense(deps, { tier, actor: { type: 'admin', id: 'test' } });
      if (!issued.ok) throw new Error(issued.error.code);
      const activated = await activateLicense(deps, { key: issued.value.key, identity });
      if (!activated.ok) throw new Error(activated.error.code);
      const apiKey = `K${randomBytes(16).toString('hex')}`;
      const apiSecret = `S${randomBytes(24).toString('hex')}`;
      sim.addAccount({ apiKey, secret: apiSecret, balances: { USDT: 10_000, BTC: 0 } });
      const stored = await storeCredentials({ ...deps, vault }, { userId: identity.userId, exchange: 'binance', apiKey, apiSecret });
      if (!stored.ok) throw new Error(stored.error.code);
      await database.db.exchangeCredential.updateMany({ where: { userId: identity.userId }, data: { verifiedAt: new Date() } });
      const run = await startRun(
        { ...deps, runSettings: { defaultExchange: 'binance', paperFirstDays: 0 } },
        {
          userId: identity.userId,
          mode: 'live',
          // One level 10% below the price, the other 5% above: the next candle places one buy.
          spec: { strategy: 'grid', symbol: 'BTC/USDT', capitalUsd: 1_000, params: { count: '1', lower: (price * 0.9).toFixed(2), upper: (price * 1.05).toFixed(2) } },
          actor: { type: 'user', id: identity.userId },
        },
      );
      if (!run.ok) throw new Error(run.error.message);
      accounts.push({ userId: identity.userId, apiKey, priority });
    }
  }
  metrics = new ServiceMetrics();
  trading = composeTrading({
    app: deps,
    vault,
    clock: systemClock,
    logger: createLogger({ level: 'silent' }),
    metrics,
    replicaId: `test-${randomUUID().slice(0, 8)}`,
    settings: {
      exchangeApiUrl: sim.baseUrl,
      replay: null,
      // One order per account: the lane alone decides who goes when (the account's own spacing
      // inside the lane is a unit test's).
      orderConcurrency: 3,
      orderRateIntervalMs: 250,
      // Aging far beyond the drain time: this test is about priority alone.
      executionLanes: { concurrency: 1, intervalMs: LANE_INTERVAL_MS, agingMs: 600_000 },
      // Every run steps at once (a step includes sending its orders), so all of them queue in the lane.
      maxConcurrentSteps: 64,
      replace: { timeoutMs: 600_000, slippagePct: 0.003, maxRetries: 3 },
      guard: SEED_GUARD_LIMITS,
      tickMs: 60_000,
      pollMs: 25,
    },
  });
}, 60_000);

afterAll(async () => {
  await trading?.close();
  await sim?.close();
  await database?.drop();
});

describe('execution priority on a saturated exchange lane', () => {
  it("submits higher tiers' orders first when every run is ready at once, one per interval", async () => {
    expect(await trading.supervisor.start()).toBe(TIERS.length * USERS_PER_TIER);
    // The feed has loaded the market's history (every run subscribed before) once it polls again.
    await eventually(() => sim.callsTo('/api/v3/klines').length >= 2, 5_000, 'the market feed to load');

    // Another sender (copy trading, say) holds the lane's only slot while the candle lands, so
    // every run's orders are waiting when the lane frees: the saturated case.
    const held = gate();
    const holding = trading.orderPacer({ userId: randomUUID(), exchange: 'binance', credentialLabel: null, mode: 'live', priority: 'normal' }).run(() => held.done);
    const ordersBefore = sim.callsTo('/api/v3/order', 'POST').length;
    sim.advanceCandle('BTC/USDT');
    const expected = TIERS.length * USERS_PER_TIER; // one buy per run
    const waiting = await eventually(
      async () => {
        const counts = await byPriority('ait_order_lane_waiting');
        return total(counts) === expected ? counts : undefined;
      },
      15_000,
      'every run to queue its orders',
    );
    expect(waiting).toEqual({ normal: USERS_PER_TIER, high: USERS_PER_TIER, very_high: USERS_PER_TIER, dedicated: USERS_PER_TIER });
    expect(await database.db.runOrder.count({ where: { status: 'pending' } })).toBe(expected);
    expect(sim.callsTo('/api/v3/order', 'POST').length).toBe(ordersBefore); // nothing overtook the held slot

    held.release();
    await holding;
    await eventually(async () => ((await database.db.runOrder.count({ where: { status: 'open' } })) === expected ? true : undefined), 15_000, 'every order open');

    // Arrival order at the exchange: the simulator numbers orders as they arrive.
    const arrived = accounts
      .flatMap((a) => sim.orders(a.apiKey).map((o) => ({ orderId: o.orderId, time: o.time, priority: a.priority })))
      .sort((x, y) => x.orderId - y.orderId);
    expect(arrived).toHaveLength(expected);
    const ranks = arrived.map((o) => priorityRank(o.priority));
    expect(ranks).toEqual([...ranks].sort((x, y) => y - x));
    expect(arrived.slice(0, USERS_PER_TIER).every((o) => o.priority === 'dedicated')).toBe(true);
    expect(arrived.slice(-USERS_PER_TIER).every((o) => o.priority === 'normal')).toBe(true);

    // The lane's budget held: one order at a time, one per interval. After the lane lets an order
    // go, ccxt's own per-client limiter holds it a little longer or shorter depending on the
    // account's earlier calls (tens of ms here), so single arrival gaps only show that no two
    // orders bunched up; over the whole sequence that jitter does not add up, and a lane that
    // ignored its interval would have left round-trip gaps (~195 ms, over a second short in all).
    const gaps = arrived.slice(1).map((o, i) => o.time - arrived[i]!.time);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(LANE_INTERVAL_MS / 2);
    const span = arrived.at(-1)!.time - arrived[0]!.time;
    expect(span).toBeGreaterThanOrEqual((expected - 1) * LANE_INTERVAL_MS - 60);

    // What the metrics saw: every order waited in the lane, by its priority; nothing waits now.
    expect(await byPriority('ait_order_lane_wait_seconds', 'ait_order_lane_wait_seconds_count')).toEqual({ normal: USERS_PER_TIER + 1, high: USERS_PER_TIER, very_high: USERS_PER_TIER, dedicated: USERS_PER_TIER });
    expect(total(await byPriority('ait_order_lane_waiting'))).toBe(0);
  }, 40_000);
});

describe('/tiers', () => {
  it("shows each tier's execution priority in words", async () => {
    const chat = await createChatHarness(database);
    const reply = await chat.say({ platform: 'telegram', id: '777' }, '/tiers');
    const lines = reply?.text.split('\n') ?? [];
    expect(lines.find((l) => l.includes('Starter'))).toMatch(/Starter .*\$5,000 .*Normal/);
    expect(lines.find((l) => l.includes('Trader'))).toMatch(/Normal/);
    expect(lines.find((l) => l.includes('Pro'))).toMatch(/Pro .*High/);
    expect(lines.find((l) => l.includes('Elite'))).toMatch(/Elite .*Very high/);
    expect(lines.find((l) => l.includes('Whale'))).toMatch(/Whale .*Dedicated/);
  });
});
