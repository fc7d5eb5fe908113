// Scale-out: two service processes share one f.database. Each run is leased to one replica; when
// that replica dies, the other takes its runs over (reconciling first) and they carry on with no
// duplicate orders on the exchange.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveGridRunFixture, liveServiceEnv, type LiveRunFixture } from '../support/live-service.ts';
import { startService, type RunningService } from '../support/service.ts';
import { eventually } from '../support/trading.ts';

const LEGS = 8;
let f: LiveRunFixture;

beforeAll(async () => {
  f = await liveGridRunFixture(LEGS);
}, 60_000);
afterAll(async () => {
  await f?.close();
});

const env = (name = 'data') => liveServiceEnv(f, name, { RUN_LEASE_MS: '3000' });

const replicaOf = (service: RunningService) => String(service.logs().find((l) => l.msg === 'service started')?.replica);
const ownerOfRun = async () => (await f.database.db.tradingRun.findUniqueOrThrow({ where: { id: f.runId } })).ownerId;

describe('two replicas', () => {
  it('a run lives on one replica; when it dies the other takes over without duplicating orders', async () => {
    const a = await startService(env('a'));
    f.services.push(a);
    await eventually(async () => ((await ownerOfRun()) === replicaOf(a) ? true : undefined), 15_000, 'replica A to own the run');
    const b = await startService(env('b'));
    f.services.push(b);
    // A places the grid; B, holding no lease on it, stays out.
    await eventually(async () => {
      if ((await f.database.db.runOrder.count({ where: { runId: f.runId, status: 'open' } })) >= LEGS - 2) return true;
      f.sim.advanceCandle('BTC/USDT');
      return undefined;
    }, 30_000, 'the grid placed by A');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ownerOfRun()).toBe(replicaOf(a));
    expect(b.logs().some((l) => l.msg === 'claimed runs')).toBe(false);
    const placedByA = f.sim.orders(f.apiKey).length;

    expect(await a.stop('SIGKILL')).toBeNull();
    await eventually(async () => ((await ownerOfRun()) === replicaOf(b) ? true : undefined), 10_000, 'replica B to take the run over');
    // B carries on: new candles are stepped (and the run stays consistent with the exchange).
    const before = (await f.database.db.tradingRun.findUniqueOrThrow({ where: { id: f.runId } })).lastCandleAt!.getTime();
    await eventually(async () => {
      const run = await f.database.db.tradingRun.findUniqueOrThrow({ where: { id: f.runId } });
      if (run.lastCandleAt!.getTime() > before) return true;
      f.sim.advanceCandle('BTC/USDT');
      await new Promise((r) => setTimeout(r, 200));
      return undefined;
    }, 20_000, 'B to step the run');
    const ids = f.sim.orders(f.apiKey).map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(placedByA);
    // Once B's step settles, the database and the exchange agree order by order.
    await eventually(async () => {
      const open = await f.database.db.runOrder.findMany({ where: { runId: f.runId, status: 'open' } });
      const onExchange = f.sim.openOrders(f.apiKey).map((o) => o.clientOrderId).sort();
      return JSON.stringify(onExchange) === JSON.stringify(open.map((o) => o.clientOrderId).sort()) ? true : undefined;
    }, 10_000, 'the database to match the exchange');
    expect(await b.stop('SIGTERM')).toBe(0);
    // A clean stop gives the lease back at once.
    expect(await ownerOfRun()).toBeNull();
  }, 120_000);
});
