// The StepWriter group-commits run checkpoints, equity points and order updates: written in
// batches, several updates of one order merged in order, and a failed batch failing every
// caller in it (each run then reloads from the database) without blocking the batches after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveIdentity } from '../../src/app/users.ts';
import { StepWriter } from '../../src/execution/step-writer.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
const runIds: string[] = [];

beforeAll(async () => {
  database = await createMigratedDatabase();
  const { userId } = await resolveIdentity(database.deps, { platform: 'console', externalId: 'writer', username: null });
  for (let seq = 1; seq <= 5; seq++) {
    const run = await database.db.tradingRun.create({
      data: { userId, seq, mode: 'paper', strategy: 'grid', exchange: 'replay', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '1000', params: {}, status: 'running', startedAt: new Date() },
    });
    runIds.push(run.id);
  }
  await database.db.runOrder.createMany({
    data: ['w-1', 'w-2'].map((clientOrderId) => ({ runId: runIds[0]!, clientOrderId, tag: clientOrderId, attempt: 1, side: 'buy', type: 'limit', price: '100', qty: '1', status: 'pending' as const })),
  });
});
afterAll(async () => {
  await database?.drop();
});

describe('StepWriter', () => {
  it('writes checkpoints in batches and leaves what a checkpoint does not say', async () => {
    const writer = new StepWriter({ db: database.db, clock: database.clock, maxBatch: 2 });
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 5 * i));
    await Promise.all(runIds.map((runId, i) => writer.checkpoint({ runId, strategyStateJson: JSON.stringify({ step: i }), lastCandleAt: at(i) })));
    // Time only: the stored state stays.
    await writer.checkpoint({ runId: runIds[0]!, strategyStateJson: null, lastCandleAt: at(9) });
    const rows = await database.db.tradingRun.findMany({ where: { id: { in: runIds } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    runIds.forEach((id, i) => {
      expect(byId.get(id)!.strategyState).toEqual({ step: i });
      expect(byId.get(id)!.lastCandleAt).toEqual(i === 0 ? at(9) : at(i));
    });
  });

  it('merges updates of one order in a batch in their order, and writes equity points once', async () => {
    const writer = new StepWriter({ db: database.db, clock: database.clock });
    const point = { runId: runIds[0]!, at: new Date('2026-01-01T00:00:00Z'), equity: 1001.5, realizedPnl: 1.5, price: 100 };
    await Promise.all([
      writer.order({ clientOrderId: 'w-1', status: 'open', exchangeOrderId: 'x-1' }),
      writer.order({ clientOrderId: 'w-1', status: 'canceled' }),
      writer.order({ clientOrderId: 'w-2', status: 'rejected', rejectReason: 'min_notional' }),
      writer.equity(point),
      writer.equity(point),
    ]);
    const orders = await database.db.runOrder.findMany({ orderBy: { clientOrderId: 'asc' } });
    expect(orders.map((o) => [o.clientOrderId, o.status, o.exchangeOrderId, o.rejectReason])).toEqual([
      ['w-1', 'canceled', 'x-1', null],
      ['w-2', 'rejected', null, 'min_notional'],
    ]);
    const points = await database.db.runEquitySnapshot.findMany({ where: { runId: runIds[0]! } });
    expect(points.map((p) => Number(p.equity))).toEqual([1001.5]);
  });

  it('a failed batch rejects every write in it; the next batch goes through', async () => {
    const writer = new StepWriter({ db: database.db, clock: database.clock });
    const good = writer.checkpoint({ runId: runIds[1]!, strategyStateJson: '{"after":"failure"}', lastCandleAt: null });
    const bad = writer.checkpoint({ runId: 'not-a-uuid', strategyStateJson: null, lastCandleAt: null });
    await expect(bad).rejects.toThrow();
    await expect(good).rejects.toThrow();
    expect((await database.db.tradingRun.findUniqueOrThrow({ where: { id: runIds[1]! } })).strategyState).toEqual({ step: 1 });

    await writer.checkpoint({ runId: runIds[1]!, strategyStateJson: '{"after":"failure"}', lastCandleAt: null });
    await writer.flush();
    expect((await database.db.tradingRun.findUniqueOrThrow({ where: { id: runIds[1]! } })).strategyState).toEqual({ after: 'failure' });
  });
});
