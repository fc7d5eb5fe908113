// Seeds realised P&L straight into a test database: users, runs with fills, and copy masters,
// follows and copy trades, as the trading and copy-trading code would have left them.
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/client.ts';

export interface FeeSeed {
  user(name: string): Promise<string>;
  /** A running strategy run of `userId`. */
  run(userId: string, mode: 'paper' | 'live'): Promise<string>;
  /** A sell fill that realised `pnl` (net of fees) at `at`; returns the fill id. */
  fill(runId: string, pnl: string, at: string): Promise<string>;
  /** Publishes `runId` as a master with `code`. */
  master(runId: string, ownerId: string, code: string): Promise<string>;
  follow(masterId: string, followerId: string, mode: 'paper' | 'live'): Promise<string>;
  /** A copy of a new master fill, realising `pnl` for the follower; completed at `at`. */
  copyTrade(followId: string, masterRunId: string, pnl: string, at: string, status?: string): Promise<void>;
}

export function feeSeed(db: Db): FeeSeed {
  const seqs = new Map<string, number>();
  return {
    async user(name) {
      return (await db.user.create({ data: { displayName: name } })).id;
    },
    async run(userId, mode) {
      const seq = (seqs.get(userId) ?? 0) + 1;
      seqs.set(userId, seq);
      const run = await db.tradingRun.create({
        data: { userId, seq, mode, strategy: 'dca', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '1000.00', params: {}, startedAt: new Date('2026-01-01T00:00:00Z') },
      });
      return run.id;
    },
    async fill(runId, pnl, at) {
      const clientOrderId = `t-${randomUUID()}`;
      const order = await db.runOrder.create({
        data: { runId, clientOrderId, tag: 'tp', attempt: 0, side: 'sell', type: 'limit', price: '50000', qty: '0.01', filledQty: '0.01', status: 'filled' },
      });
      const fill = await db.runFill.create({
        data: { runId, orderId: order.id, tradeId: clientOrderId, side: 'sell', price: '50000', qty: '0.01', fee: '0.5', realizedPnl: pnl, executedAt: new Date(at), delivered: true },
      });
      return fill.id;
    },
    async master(runId, ownerId, code) {
      return (await db.copyMaster.create({ data: { code, runId, userId: ownerId, publishedAt: new Date('2026-01-01T00:00:00Z') } })).id;
    },
    async follow(masterId, followerId, mode) {
      const follow = await db.copyFollow.create({
        data: { masterId, userId: followerId, mode, capitalUsd: '1000.00', ...(mode === 'live' ? { credentialLabel: 'main' } : {}), startedAt: new Date('2026-01-01T00:00:00Z') },
      });
      return follow.id;
    },
    async copyTrade(followId, masterRunId, pnl, at, status = 'filled') {
      const masterFillId = await this.fill(masterRunId, '0', at);
      await db.copyTrade.create({
        data: {
          followId,
          masterFillId,
          clientOrderId: `c-${randomUUID()}`,
          side: 'sell',
          qty: '0.01',
          filledQty: status === 'filled' ? '0.01' : '0',
          price: '50000',
          masterPrice: '50000',
          realizedPnl: pnl,
          status,
          signalAt: new Date(at),
          completedAt: new Date(at),
        },
      });
    },
  };
}
