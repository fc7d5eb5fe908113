// Copy trading end to end: real live master runs driven by the run supervisor on the
// Binance-protocol simulator (through ccxt), their fills nudging the mirror as main.ts wires it,
// followers copying through their own accounts; a follower's failures and refusals never touch
// the master, and the master's kill switch or a tripped guard stops the follows and sells their copies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followMaster } from '../../src/app/copy-trading.ts';
import { startRun } from '../../src/app/runs.ts';
import { runOrderPrefix } from '../../src/execution/client-order-id.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';
import { copyTradingPeople, replyText as text, type CopyMember } from '../support/copy-trading.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { createTradingHarness, eventually, type TradingHarness, feedSettled } from '../support/trading.ts';

let database: MigratedDatabase;
let sim: BinanceSpotSim;
let h: TradingHarness;
let people: ReturnType<typeof copyTradingPeople>;
const MASTER_CAPITAL = 10_000;
const LOT = 0.00001;
const share = (qty: number, capital: number) => Math.floor((Math.round(qty / LOT) * capital) / MASTER_CAPITAL) * LOT;
const runDeps = () => ({ ...database.deps, runSettings: { defaultExchange: 'binance', paperFirstDays: 0 } });

/** Closes a candle every 300 ms until `check` passes (a run syncs its fills at each candle). */
async function candlesUntil<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  let last = 0;
  return eventually(async () => {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - last > 300) {
      last = Date.now();
      sim.advanceCandle('BTC/USDT');
    }
    return undefined;
  }, timeoutMs, what);
}

/**
 * An elite member's live grid run of $10,000, published. `range` is [lower, upper, count] as
 * fractions of the price: its buy legs sit below the price, each take-profit one step above.
 */
async function liveMaster(range: readonly [number, number, number], limits?: object): Promise<{ owner: CopyMember; runId: string; code: string }> {
  const owner = await people.member('elite', { balances: { USDT: 20_000, BTC: 0 } });
  await database.db.exchangeCredential.updateMany({ where: { userId: owner.userId }, data: { verifiedAt: new Date() } });
  if (limits) await database.db.user.update({ where: { id: owner.userId }, data: { limits } });
  const p = sim.price('BTC/USDT');
  const run = await startRun(runDeps(), {
    userId: owner.userId,
    mode: 'live',
    spec: { strategy: 'grid', symbol: 'BTC/USDT', capitalUsd: MASTER_CAPITAL, params: { count: String(range[2]), lower: (p * range[0]).toFixed(2), upper: (p * range[1]).toFixed(2) } },
    actor: { type: 'user', id: owner.userId },
  });
  if (!run.ok) throw new Error(run.error.message);
  await h.trading.supervisor.wake(run.value.id);
  const code = /\*(M-[A-Z0-9]{6})\*/.exec(text(await h.chat.say(owner.person, '/master publish 1')))?.[1];
  if (!code) throw new Error('not published');
  return { owner, runId: run.value.id, code };
}

const masterFills = (runId: string) => database.db.runFill.findMany({ where: { runId }, orderBy: { executedAt: 'asc' } });
const copiesOf = async (userId: string, code: string) => {
  const follow = await people.followOf(userId, code);
  return database.db.copyTrade.findMany({ where: { followId: follow.id }, include: { masterFill: true } });
};

beforeAll(async () => {
  const btc = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
  if (!btc.ok) throw new Error('candles missing');
  sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: btc.series, startIndex: 400 }]);
  database = await createMigratedDatabase({}, { poolSize: 10 });
  // The simulator's trades carry wall-clock times; the service's clock starts there too.
  database.clock.set(new Date());
  h = await createTradingHarness(database, { settings: { exchangeApiUrl: sim.baseUrl, tickMs: 100, copyPollMs: 50, accountFactsTtlMs: 0 }, paperFirstDays: 0 });
  people = copyTradingPeople({ database, sim: () => sim, h: () => h, firstId: 6600 });
  await h.trading.supervisor.start();
  h.trading.copy.start();
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
  await database?.drop();
});

describe('copy trading with live master runs', () => {
  it('mirrors a master run’s fills as they happen; a follower’s failures and refusals never touch the master; the master’s /kill sells the copies', async () => {
    // Levels 0.80, 0.88, 0.96 and 1.04 × the price: the dip below fills the 0.96 leg only, and its
    // take-profit (at 1.04) stays out of reach, so the master still holds when it is killed.
    const { owner, runId, code } = await liveMaster([0.8, 1.04, 3]);
    const good = await people.member('pro');
    const capped = await people.member('pro');
    const revoked = await people.member('pro', { registered: false });
    expect(await people.follow(good, code, '5000 live')).toContain('Following');
    expect(await people.follow(capped, code, '2000 live')).toContain('Following');
    // Keys revoked after following (the follow was made while they worked).
    expect((await followMaster(runDeps(), { userId: revoked.userId, code, capitalUsd: 2000, mode: 'live' })).ok).toBe(true);
    // The capped follower's own live run lost $300 today: their $250 daily loss cap refuses buys.
    const own = await database.db.tradingRun.create({
      data: { userId: capped.userId, seq: 1, mode: 'live', strategy: 'dca', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '500.00', params: {}, status: 'stopped', startedAt: database.clock.now() },
    });
    const order = await database.db.runOrder.create({ data: { runId: own.id, clientOrderId: `loss-${own.id.slice(0, 8)}`, tag: 's1', attempt: 1, side: 'sell', type: 'market', price: '1', qty: '1', filledQty: '1', status: 'filled' } });
    await database.db.runFill.create({ data: { runId: own.id, orderId: order.id, tradeId: 'loss', side: 'sell', price: '1', qty: '1', fee: '0', realizedPnl: '-300', executedAt: database.clock.now(), delivered: true } });

    await candlesUntil(async () => ((await database.db.runOrder.count({ where: { runId, status: 'open' } })) >= 3 ? true : undefined), 'the master grid on the exchange');
    // The market dips through the grid's top buy leg: the master buys, and every follower's copy follows.
    sim.setPrice('BTC/USDT', Number((sim.price('BTC/USDT') * 0.955).toFixed(2)));
    const fills = await candlesUntil(async () => {
      const f = await masterFills(runId);
      if (f.length === 0) return undefined;
      const done = await Promise.all([good, capped, revoked].map(async (p) => (await copiesOf(p.userId, code)).filter((c) => c.status !== 'pending').length));
      return done.every((n) => n === f.length) ? f : undefined;
    }, 'master fills copied to every follower');

    const byFill = async (who: CopyMember) => new Map((await copiesOf(who.userId, code)).map((c) => [c.masterFillId, c]));
    const [goodCopies, cappedCopies, revokedCopies] = await Promise.all([byFill(good), byFill(capped), byFill(revoked)]);
    for (const fill of fills) {
      const g = goodCopies.get(fill.id)!;
      if (fill.side === 'buy') {
        expect(g).toMatchObject({ status: 'filled' });
        expect(Number(g.filledQty)).toBeCloseTo(share(Number(fill.qty), 5000), 10);
        expect(g.latencyMs).toBeGreaterThanOrEqual(0);
        expect(cappedCopies.get(fill.id)).toMatchObject({ status: 'refused', reason: 'daily_loss_cap' });
        expect(revokedCopies.get(fill.id)).toMatchObject({ status: 'failed', reason: 'keys_rejected' });
      }
    }
    expect(fills.some((f) => f.side === 'buy')).toBe(true);
    // Only the good follower's exchange account saw copies; the master's holds its own orders only.
    const goodOrders = sim.orders(good.apiKey);
    expect(goodOrders.length).toBe([...goodCopies.values()].filter((c) => c.status === 'filled').length);
    expect(sim.orders(capped.apiKey)).toHaveLength(0);
    expect(sim.orders(owner.apiKey).every((o) => o.clientOrderId.startsWith(runOrderPrefix(runId)))).toBe(true);
    // The master carries on untouched: running, no order refused, its grid still working.
    expect((await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe('running');
    expect(await database.db.runOrder.count({ where: { runId, status: 'rejected' } })).toBe(0);
    expect(h.events.some((e) => e.run.id === runId && (e.type === 'order_rejected' || e.type === 'risk_refused' || e.type === 'guard_tripped'))).toBe(false);
    expect((await people.copyAlerts(revoked.userId)).at(-1)?.text).toContain('the exchange refused a copy');
    expect(text(await h.chat.say(owner.person, '/followers'))).toMatch(/All copies: \d+ cop(y|ies) made \(\d+ refused, \d+ failed/);

    // The master's kill switch: the run stops (keeping its position), the copies are sold.
    const heldBefore = Number((await people.followOf(good.userId, code)).baseQty);
    expect(heldBefore).toBeCloseTo(share(Number(fills[0]!.qty), 5000), 10);
    expect(fills.map((f) => f.side)).toEqual(['buy']);
    expect(text(await h.chat.say(owner.person, '/kill'))).toContain('Killed 1 run');
    const stopped = await eventually(async () => {
      const f = await people.followOf(good.userId, code);
      return f.status === 'stopped' ? f : undefined;
    }, 15_000, 'the good follow to stop');
    expect(stopped.stopReason).toBe('master_killed');
    expect(Number(stopped.baseQty)).toBe(0);
    const sells = sim.orders(good.apiKey).filter((o) => o.side === 'SELL' && o.type === 'MARKET');
    expect(sells.at(-1)?.origQty).toBeCloseTo(heldBefore, 10);
    expect((await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe('killed');
    for (const p of [capped, revoked]) expect(await people.followOf(p.userId, code)).toMatchObject({ status: 'stopped', stopReason: 'master_killed' });
    expect((await people.copyAlerts(good.userId)).at(-1)?.text).toContain("stopped: the master's kill switch stopped the run. Sold the copies'");
    expect(await database.db.copyMaster.findUniqueOrThrow({ where: { code } })).toMatchObject({ status: 'stopped' });
  });

  it('a guard that stops the master’s run stops its follows and sells their copies', async () => {
    // The master's data may be at most a minute old (the followers keep the default five).
    const { runId, code } = await liveMaster([0.8, 1.04, 3], { guard: { staleTickerMs: 60_000 } });
    const follower = await people.member('pro');
    expect(await people.follow(follower, code, '5000 live')).toContain('Following');
    await candlesUntil(async () => ((await database.db.runOrder.count({ where: { runId, status: 'open' } })) >= 3 ? true : undefined), 'the master grid on the exchange');
    sim.setPrice('BTC/USDT', Number((sim.price('BTC/USDT') * 0.955).toFixed(2)));
    const copy = await candlesUntil(async () => {
      const c = await copiesOf(follower.userId, code);
      return c.length > 0 && c.every((x) => x.status === 'filled') ? c[0] : undefined;
    }, 'the master fill copied');
    // No more candles: once the feed has taken the last one, a minute passes without data.
    const key = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m' };
    await feedSettled(h.trading.feed, key);
    database.clock.advance(61_000);
    const run = await eventually(async () => {
      const r = await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } });
      return r.status === 'stopped' ? r : undefined;
    }, 15_000, 'the stale-data guard to stop the master run');
    expect(run.stopReason).toBe('guard:stale_ticker');
    const stopped = await eventually(async () => {
      const f = await people.followOf(follower.userId, code);
      return f.status === 'stopped' ? f : undefined;
    }, 15_000, 'the follow to stop');
    expect(stopped.stopReason).toBe('master_guard');
    expect(Number(stopped.baseQty)).toBe(0);
    expect(stopped.stopDetail).toContain('No market data for');
    const sells = sim.orders(follower.apiKey).filter((o) => o.side === 'SELL');
    expect(sells).toHaveLength(1);
    expect(sells[0]).toMatchObject({ type: 'MARKET', executedQty: Number(copy!.filledQty) });
    expect((await people.copyAlerts(follower.userId)).at(-1)?.text).toContain("stopped: a risk guard stopped the master's run");
  });
});
