// Crash-only recovery of a live run: the service is killed with SIGKILL while it is placing a
// grid on the (simulated) exchange, then started again. Afterwards the exchange must hold no
// duplicate orders and the database must agree with the exchange, order by order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveGridRunFixture, liveServiceEnv, type LiveRunFixture } from '../support/live-service.ts';
import { startService } from '../support/service.ts';
import { eventually } from '../support/trading.ts';

const LEGS = 12;
let f: LiveRunFixture;

beforeAll(async () => {
  f = await liveGridRunFixture(LEGS);
}, 60_000);
afterAll(async () => {
  await f?.close();
});

// Slow, one at a time: the kill lands in the middle of the placement.
const env = (name = 'data') => liveServiceEnv(f, name, { ORDER_CONCURRENCY: '1', ORDER_RATE_INTERVAL_MS: '300' });

describe('SIGKILL while placing a grid', () => {
  it('leaves no duplicate on the exchange, and the database matches the exchange after a restart', async () => {
    const first = await startService(env());
    f.services.push(first);
    // Close candles until the run starts placing, then kill it a few orders in.
    await eventually(() => {
      if (f.sim.orders(f.apiKey).length >= 3) return true;
      f.sim.advanceCandle('BTC/USDT');
      return undefined;
    }, 30_000, 'the first orders on the exchange');
    expect(await first.stop('SIGKILL')).toBeNull();
    const placedBeforeKill = f.sim.orders(f.apiKey).length;
    const rows = await f.database.db.runOrder.findMany({ where: { runId: f.runId } });
    // The whole step's orders were written (pending) before any was sent; only some reached the exchange.
    expect(rows.length).toBeGreaterThanOrEqual(LEGS - 2);
    expect(placedBeforeKill).toBeLessThan(rows.length);
    expect(rows.filter((r) => r.status === 'pending' || r.status === 'unknown').length).toBeGreaterThan(0);

    const second = await startService(env());
    f.services.push(second);
    const settled = await eventually(async () => {
      const now = await f.database.db.runOrder.findMany({ where: { runId: f.runId } });
      const exchange = f.sim.openOrders(f.apiKey);
      return now.every((r) => r.status === 'open') && exchange.length === now.length ? now : undefined;
    }, 30_000, 'every order open on the exchange');

    const onExchange = f.sim.orders(f.apiKey);
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
