// Copy trading's mirror on a real database, with live followers on the Binance-protocol
// simulator through the real ccxt client and paper followers on the paper venue, as
// compose-trading wires them. Master fills are written as a run's step writes them (the master
// run itself is left alone here: copy-trading.test.ts drives real master runs); each test drives
// the mirror one pass at a time and checks the rows, the exchange's order log and the alerts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followMaster } from '../../src/app/copy-trading.ts';
import { Prisma } from '../../src/db/client.ts';
import { copyClientOrderId } from '../../src/execution/copy-mirror.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { createTradingHarness, type TradingHarness } from '../support/trading.ts';
import { copyTradingPeople, replyText, type CopyMember } from '../support/copy-trading.ts';
import { composeTrading, type Trading, type TradingSettings } from '../../src/compose-trading.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { createLogger } from '../../src/kernel/logger.ts';

let database: MigratedDatabase;
let sim: BinanceSpotSim;
let h: TradingHarness;
/** A second process on the same database (a replica, or the service after a restart). */
let second: Trading;
const secondLog: string[] = [];
const baseSettings = (): TradingSettings => ({ exchangeApiUrl: null, replay: null, orderConcurrency: 3, orderRateIntervalMs: 0, replace: { timeoutMs: 600_000, slippagePct: 0.003, maxRetries: 3 }, guard: SEED_GUARD_LIMITS });
const text = replyText;
const D = (v: string | number | Prisma.Decimal) => new (Prisma.Decimal.clone({ precision: 40 }))(v);
const MASTER_CAPITAL = 10_000;
/** The simulator's lot: quantities below are counted in lots so the expected sizes are exact. */
const LOT = 0.00001;
const lots = (qty: number) => Math.round(qty / LOT);
/** The proportional copy of `qty`, rounded down to the lot. */
const share = (qty: number, capital: number) => Math.floor((lots(qty) * capital) / MASTER_CAPITAL) * LOT;

/** The test clock keeps up with the simulator's (wall) clock, as a system clock would. */
const pass = async (trading: Trading = h.trading) => {
  database.clock.set(new Date());
  await trading.copy.runOnce();
};

type Member = CopyMember;
let member: ReturnType<typeof copyTradingPeople>['member'];
let follow: ReturnType<typeof copyTradingPeople>['follow'];

/** A master: an elite member with a running live grid run of $10,000, published. */
async function master(): Promise<{ member: Member; runId: string; code: string }> {
  const m = await member('elite');
  const run = await database.db.tradingRun.create({
    data: { userId: m.userId, seq: 1, mode: 'live', strategy: 'grid', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: MASTER_CAPITAL.toFixed(2), params: {}, credentialLabel: 'default', startedAt: new Date(Date.now() - 60_000) },
  });
  const reply = text(await h.chat.say(m.person, '/master publish 1'));
  const code = /\*(M-[A-Z0-9]{6})\*/.exec(reply)?.[1];
  if (!code) throw new Error(`not published: ${reply}`);
  return { member: m, runId: run.id, code };
}

let fillSeq = 0;
/** A master fill as the run's step writes it: the order and its delivered fill, `agoMs` before now. */
async function masterFill(runId: string, side: 'buy' | 'sell', qty: number, price: number, agoMs = 300) {
  const n = ++fillSeq;
  const order = await database.db.runOrder.create({
    data: { runId, clientOrderId: `seed-${n}-${runId.slice(0, 6)}`, tag: `s${n}`, attempt: 1, side, type: 'limit', price: price.toFixed(2), qty: qty.toFixed(8), filledQty: qty.toFixed(8), status: 'filled' },
  });
  return database.db.runFill.create({
    data: { runId, orderId: order.id, tradeId: `t${n}`, side, price: price.toFixed(2), qty: qty.toFixed(8), fee: (qty * price * 0.001).toFixed(8), realizedPnl: '0', executedAt: new Date(Date.now() - agoMs), delivered: true },
  });
}

const followOf = (userId: string, code: string) => database.db.copyFollow.findFirstOrThrow({ where: { userId, master: { code } } });
const copyOf = async (userId: string, code: string, masterFillId: string) => {
  const f = await followOf(userId, code);
  return database.db.copyTrade.findUniqueOrThrow({ where: { followId_masterFillId: { followId: f.id, masterFillId } } });
};
const alertsOf = (userId: string) => database.db.alertOutbox.findMany({ where: { userId, alertType: 'copy_trading' }, orderBy: { createdAt: 'asc' } });

beforeAll(async () => {
  const btc = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
  if (!btc.ok) throw new Error('candles missing');
  sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: btc.series, startIndex: 400 }]);
  database = await createMigratedDatabase({}, { poolSize: 10 });
  database.clock.set(new Date());
  // Prices are reused for one poll interval: short here, where the price moves between passes.
  const settings = { exchangeApiUrl: sim.baseUrl, accountFactsTtlMs: 0, copyPollMs: 50 };
  h = await createTradingHarness(database, { settings, paperFirstDays: 0 });
  ({ member, follow } = copyTradingPeople({ database, sim: () => sim, h: () => h, firstId: 7700 }));
  // The same service in another process: same database, same master key, its own exchange clients.
  second = composeTrading({ app: database.deps, vault: h.vault, clock: database.clock, logger: createLogger({ level: 'debug', destination: { write: (l: string) => void secondLog.push(l) } }), settings: { ...baseSettings(), ...settings }, replicaId: 'second' });
});
afterAll(async () => {
  await h?.close();
  await second?.close();
  await sim?.close();
  await database?.drop();
});

describe('copy trading: the mirror', () => {
  it('copies each master fill in proportion to each follower’s capital, rounded down to the lot, with average cost and realised P&L', async () => {
    const { code, runId, member: owner } = await master();
    const a = await member('pro');
    const b = await member('trader');
    const c = await member('starter');
    expect(await follow(a, code, '2000 live')).toContain('Following');
    expect(await follow(b, code, '1234 live')).toContain('Following');
    expect(await follow(c, code, '777')).toContain('on paper');
    // The master hears about each join without learning who.
    const joined = (await alertsOf(owner.userId)).map((x) => x.text);
    expect(joined).toEqual(expect.arrayContaining([expect.stringContaining('A follower with $2,000.00 (live) joined'), expect.stringContaining('A follower with $777.00 (paper) joined')]));
    for (const f of [a, b, c]) expect(joined.join('\n')).not.toContain(f.person.username!);

    const p0 = sim.price('BTC/USDT');
    const buy1 = await masterFill(runId, 'buy', 0.1, Number((p0 * 0.999).toFixed(2)));
    await pass();
    const a1 = await copyOf(a.userId, code, buy1.id);
    const b1 = await copyOf(b.userId, code, buy1.id);
    const c1 = await copyOf(c.userId, code, buy1.id);
    expect([a1.status, b1.status, c1.status]).toEqual(['filled', 'filled', 'filled']);
    expect(Number(a1.filledQty)).toBeCloseTo(share(0.1, 2000), 10); // 0.02
    expect(Number(b1.filledQty)).toBeCloseTo(share(0.1, 1234), 10); // 0.01234
    expect(Number(c1.filledQty)).toBeCloseTo(share(0.1, 777), 10); // 0.00777
    // Through each follower's own account, once, as a market order with the copy's client id.
    const aOrders = sim.orders(a.apiKey);
    expect(aOrders).toHaveLength(1);
    expect(aOrders[0]).toMatchObject({ clientOrderId: copyClientOrderId(a1.followId, buy1.id), type: 'MARKET', side: 'BUY', origQty: share(0.1, 2000) });
    expect(sim.orders(owner.apiKey)).toHaveLength(0);
    const [aTrade] = sim.trades(a.apiKey);
    expect(Number(a1.price)).toBe(aTrade!.price);
    expect(Number(a1.fee)).toBeCloseTo(aTrade!.commission, 8);
    // Latency from the master's fill (300 ms before the pass) to the copy's fill on the exchange.
    expect(a1.latencyMs).toBeGreaterThanOrEqual(300);
    expect(a1.latencyMs).toBeLessThan(10_000);
    // The master bought 0.1% under the market: the follower paid about 10 bps more.
    expect(Number(a1.slippageBps)).toBeCloseTo(((aTrade!.price - Number(buy1.price)) / Number(buy1.price)) * 10_000, 3);
    expect(Number(a1.slippageBps)).toBeGreaterThan(0);

    // A second buy at a lower price, then the master sells half and the rest.
    sim.setPrice('BTC/USDT', Number((p0 * 0.98).toFixed(2)));
    const buy2 = await masterFill(runId, 'buy', 0.05, Number((p0 * 0.98).toFixed(2)));
    await pass();
    const aAfterBuys = await followOf(a.userId, code);
    const a2 = await copyOf(a.userId, code, buy2.id);
    expect(Number(aAfterBuys.baseQty)).toBeCloseTo(share(0.1, 2000) + share(0.05, 2000), 10);
    // Average cost: both buys' quote and fees.
    const cost = D(a1.filledQty).mul(a1.price!).add(a1.fee).add(D(a2.filledQty).mul(a2.price!)).add(a2.fee);
    expect(D(aAfterBuys.costUsd).toFixed(12)).toBe(cost.toFixed(12));

    sim.setPrice('BTC/USDT', Number((p0 * 1.02).toFixed(2)));
    const sell1 = await masterFill(runId, 'sell', 0.075, Number((p0 * 1.02).toFixed(2)));
    await pass();
    const a3 = await copyOf(a.userId, code, sell1.id);
    expect(a3.status).toBe('filled');
    expect(Number(a3.filledQty)).toBeCloseTo(share(0.075, 2000), 10);
    const held = D(aAfterBuys.baseQty);
    const expectedPnl = D(a3.filledQty).mul(a3.price!).sub(a3.fee).sub(cost.mul(a3.filledQty).div(held));
    expect(Number(a3.realizedPnl)).toBeCloseTo(expectedPnl.toNumber(), 9);
    expect(Number(a3.realizedPnl)).toBeGreaterThan(0);

    const sell2 = await masterFill(runId, 'sell', 0.075, Number((p0 * 1.02).toFixed(2)));
    await pass();
    const a4 = await copyOf(a.userId, code, sell2.id);
    const aFlat = await followOf(a.userId, code);
    expect(Number(aFlat.baseQty)).toBe(0);
    expect(Number(aFlat.costUsd)).toBe(0);
    // Realised P&L reconciles: the follow's total is the sum of its copies', to the last digit.
    const copies = await database.db.copyTrade.findMany({ where: { followId: aFlat.id, status: 'filled' } });
    expect(copies.reduce((s, t) => s.add(t.realizedPnl), D(0)).toFixed(12)).toBe(D(aFlat.realizedPnlUsd).toFixed(12));
    expect(D(a3.realizedPnl).add(a4.realizedPnl).add(cost).toFixed(12)).toBe(
      D(a3.filledQty).mul(a3.price!).sub(a3.fee).add(D(a4.filledQty).mul(a4.price!)).sub(a4.fee).toFixed(12),
    );
    // The paper follower's copies filled on the paper venue at the public price (with its slippage).
    const c4 = await copyOf(c.userId, code, sell2.id);
    expect(c4.status).toBe('filled');
    expect(Number(c4.price)).toBeLessThanOrEqual(sim.price('BTC/USDT'));
    expect(sim.orders(c.apiKey)).toHaveLength(0);
    // Followers are told about every copy, with its latency and slippage.
    const told = (await alertsOf(a.userId)).map((x) => x.text);
    expect(told.filter((t) => t.includes('💰 Live copy of'))).toHaveLength(4);
    expect(told[0]).toMatch(/bought 0\.02 at .* ms after the master, slippage \+\d/);

    // /follow and /followers show the numbers.
    const mine = text(await h.chat.say(a.person, '/follow'));
    expect(mine).toContain(code);
    expect(mine).toMatch(/4 copies made · latency \d[\d,]* ms avg, \d[\d,]* ms p95 · slippage [+-]\d+\.\d bps avg · realised \+\$/);
    const theirs = text(await h.chat.say(owner.person, `/followers ${code}`));
    expect(theirs).toContain('3 active followers with $4,011.00');
    expect(theirs).toMatch(/#1 💰 live \$2,000\.00 · active · 4 copies made/);
    expect(theirs).toMatch(/All copies: 12 copies made · latency \d/);
    expect(theirs).not.toContain(a.person.username!);
  });

  it('caps buys at max_capital and skips what no longer fits or is below the market minimum', async () => {
    const { code, runId } = await master();
    const d = await member('pro');
    const tiny = await member('starter');
    expect(await follow(d, code, '5000 max_capital=1000')).toContain('Following');
    expect(await follow(tiny, code, '10')).toContain('Following');
    const p = sim.price('BTC/USDT');
    // Proportionally 0.05 BTC (≈ $2,300) for the capped follower, 0.0001 BTC (≈ $4.60) for the tiny one.
    // Before any buy, a master sell finds nothing to copy.
    const early = await masterFill(runId, 'sell', 0.1, p);
    const buy = await masterFill(runId, 'buy', 0.1, p);
    await pass();
    expect(await copyOf(d.userId, code, early.id)).toMatchObject({ status: 'skipped', reason: 'nothing_held' });
    const capped = await copyOf(d.userId, code, buy.id);
    expect(capped.status).toBe('filled');
    // The cap leaves what $1,000 buys with room for fee and slippage.
    expect(Number(capped.qty)).toBeCloseTo(Math.floor(1000 / (p * 1.002) / LOT) * LOT, 10);
    expect(Number((await followOf(d.userId, code)).costUsd)).toBeLessThanOrEqual(1000);
    const small = await copyOf(tiny.userId, code, buy.id);
    expect(small).toMatchObject({ status: 'skipped', reason: 'below_minimum' });
    expect((await alertsOf(tiny.userId)).at(-1)?.text).toContain('below the market minimum');

    const again = await masterFill(runId, 'buy', 0.2, p);
    await pass();
    expect(await copyOf(d.userId, code, again.id)).toMatchObject({ status: 'skipped', reason: 'capital_cap' });
    // Twice the size is enough for the tiny follower's share (0.0002 BTC).
    expect(await copyOf(tiny.userId, code, again.id)).toMatchObject({ status: 'filled', filledQty: new Prisma.Decimal('0.0002') });
  });

  it('isolates followers: rejected keys, missing funds and a refusing gate fail or refuse only their own copies', async () => {
    const { code, runId, member: owner } = await master();
    const good = await member('pro');
    const revoked = await member('pro', { registered: false });
    const broke = await member('pro', { balances: { USDT: 30, BTC: 0 } });
    const capped = await member('pro');
    expect(await follow(good, code, '2000 live')).toContain('Following');
    expect(await follow(broke, code, '2000 live')).toContain('Following');
    expect(await follow(capped, code, '2000 live')).toContain('Following');
    // Keys that worked when they followed and were revoked since: written as the use-case would.
    const followed = await followMaster({ ...database.deps, runSettings: { defaultExchange: 'binance', paperFirstDays: 0 } }, { userId: revoked.userId, code, capitalUsd: 2000, mode: 'live' });
    expect(followed.ok).toBe(true);
    // The capped follower lost $300 today in a live run of their own: their daily loss cap ($250) is hit.
    const own = await database.db.tradingRun.create({
      data: { userId: capped.userId, seq: 1, mode: 'live', strategy: 'dca', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '500.00', params: {}, status: 'stopped', startedAt: new Date() },
    });
    const order = await database.db.runOrder.create({ data: { runId: own.id, clientOrderId: `loss-${own.id.slice(0, 8)}`, tag: 's1', attempt: 1, side: 'sell', type: 'market', price: '1', qty: '1', filledQty: '1', status: 'filled' } });
    await database.db.runFill.create({ data: { runId: own.id, orderId: order.id, tradeId: 'loss', side: 'sell', price: '1', qty: '1', fee: '0', realizedPnl: '-300', executedAt: database.clock.now(), delivered: true } });

    const masterRunBefore = await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } });
    const buy = await masterFill(runId, 'buy', 0.1, sim.price('BTC/USDT'));
    await pass();
    expect(await copyOf(good.userId, code, buy.id)).toMatchObject({ status: 'filled' });
    expect(await copyOf(revoked.userId, code, buy.id)).toMatchObject({ status: 'failed', reason: 'keys_rejected' });
    expect(await copyOf(broke.userId, code, buy.id)).toMatchObject({ status: 'failed', reason: 'insufficient_funds' });
    expect(await copyOf(capped.userId, code, buy.id)).toMatchObject({ status: 'refused', reason: 'daily_loss_cap' });
    expect((await alertsOf(revoked.userId)).at(-1)?.text).toContain('the exchange refused a copy');
    expect((await alertsOf(broke.userId)).at(-1)?.text).toContain('insufficient balance');
    expect((await alertsOf(capped.userId)).at(-1)?.text).toContain("Today's realized loss of $300.00 reached the $250.00 daily limit");
    expect(sim.orders(capped.apiKey)).toHaveLength(0);
    // The master's run, orders and account are as they were; its follows carry on.
    const masterRunAfter = await database.db.tradingRun.findUniqueOrThrow({ where: { id: runId } });
    expect(masterRunAfter).toEqual(masterRunBefore);
    expect(sim.orders(owner.apiKey)).toHaveLength(0);
    expect(await database.db.copyFollow.count({ where: { master: { code }, status: 'active' } })).toBe(4);
    // The next fill reaches the good follower as before.
    const buy2 = await masterFill(runId, 'buy', 0.05, sim.price('BTC/USDT'));
    await pass();
    expect(await copyOf(good.userId, code, buy2.id)).toMatchObject({ status: 'filled' });
  });

  it('copies each (follow, master fill) once with two mirrors racing, nudged and polling', async () => {
    const { code, runId } = await master();
    const followers = [await member('pro'), await member('pro'), await member('pro')];
    for (const f of followers) expect(await follow(f, code, '1500 live')).toContain('Following');
    const fills = [await masterFill(runId, 'buy', 0.1, sim.price('BTC/USDT')), await masterFill(runId, 'buy', 0.04, sim.price('BTC/USDT'))];
    database.clock.set(new Date());
    h.trading.copy.nudge(runId);
    second.copy.nudge(runId);
    await Promise.all([h.trading.copy.runOnce(), second.copy.runOnce(), h.trading.copy.runOnce(), second.copy.runOnce()]);
    await pass(second);
    for (const f of followers) {
      const follow = await followOf(f.userId, code);
      const rows = await database.db.copyTrade.findMany({ where: { followId: follow.id } });
      expect(rows.map((r) => r.status)).toEqual(['filled', 'filled']);
      const ids = sim.orders(f.apiKey).map((o) => o.clientOrderId);
      expect(ids.sort()).toEqual(fills.map((fill) => copyClientOrderId(follow.id, fill.id)).sort());
      expect(Number(follow.baseQty)).toBeCloseTo(share(0.1, 1500) + share(0.04, 1500), 10);
    }
  });

  it('reconciles a copy left pending by a crash by its client order id, never sending it twice', async () => {
    const { code, runId } = await master();
    const f = await member('pro');
    expect(await follow(f, code, '2000 live')).toContain('Following');
    // The exchange takes the order but the answer is lost; this process then "crashes".
    sim.applyThenFailNext('POST /api/v3/order', 502);
    const buy = await masterFill(runId, 'buy', 0.1, sim.price('BTC/USDT'));
    await pass();
    const pending = await copyOf(f.userId, code, buy.id);
    expect(pending.status).toBe('pending');
    expect(sim.orders(f.apiKey)).toHaveLength(1);
    // Another process (the restarted service) adopts it from the exchange.
    await pass(second);
    const adopted = await copyOf(f.userId, code, buy.id);
    expect(adopted.status).toBe('filled');
    expect(Number(adopted.filledQty)).toBeCloseTo(share(0.1, 2000), 10);
    expect(sim.orders(f.apiKey)).toHaveLength(1);
    expect(secondLog.some((l) => l.includes('adopted a pending copy'))).toBe(true);

    // A copy written as pending whose order never left (a crash between the row and the call):
    // once the grace period has passed it is failed, not sent.
    const sell = await masterFill(runId, 'sell', 0.1, sim.price('BTC/USDT'));
    const follow_ = await followOf(f.userId, code);
    const lostId = copyClientOrderId(follow_.id, sell.id);
    await database.db.copyTrade.create({
      data: { followId: follow_.id, masterFillId: sell.id, clientOrderId: lostId, side: 'sell', qty: '0.02', masterPrice: sell.price, status: 'pending', signalAt: sell.executedAt, submittedAt: new Date(Date.now() - 120_000) },
    });
    await pass(second);
    expect(await copyOf(f.userId, code, sell.id)).toMatchObject({ status: 'failed', reason: 'never_reached_exchange' });
    expect(sim.orders(f.apiKey).map((o) => o.clientOrderId)).not.toContain(lostId);
    expect(sim.orders(f.apiKey)).toHaveLength(1);
  });

  it('stops a follow whose copies lost max_loss and sells them; the other follower keeps copying', async () => {
    const { code, runId } = await master();
    const careful = await member('pro');
    const other = await member('pro');
    expect(await follow(careful, code, '2000 live max_loss=20')).toContain('Following');
    expect(await follow(other, code, '2000 live')).toContain('Following');
    const p = sim.price('BTC/USDT');
    await masterFill(runId, 'buy', 0.1, p);
    await pass();
    expect((await followOf(careful.userId, code)).status).toBe('active');
    // 0.02 BTC falling 3% loses about $27, past the $20 limit.
    sim.setPrice('BTC/USDT', Number((p * 0.97).toFixed(2)));
    await pass();
    const stopped = await followOf(careful.userId, code);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'max_loss' });
    expect(Number(stopped.baseQty)).toBe(0);
    expect(stopped.stopDetail).toMatch(/reaching your \$20\.00 limit\. Sold the copies' 0\.02 BTC/);
    const sells = sim.orders(careful.apiKey).filter((o) => o.side === 'SELL');
    expect(sells).toHaveLength(1);
    expect(sells[0]).toMatchObject({ type: 'MARKET', origQty: share(0.1, 2000) });
    expect(Number(stopped.realizedPnlUsd)).toBeLessThan(-20);
    // The close-out is a copy trade too, so its loss counts wherever copies' P&L does (copy fees).
    const trades = await database.db.copyTrade.findMany({ where: { followId: stopped.id }, orderBy: { createdAt: 'asc' } });
    expect(trades.map((t) => [t.kind, t.side, t.status])).toEqual([
      ['mirror', 'buy', 'filled'],
      ['close_out', 'sell', 'filled'],
    ]);
    expect(trades[1]).toMatchObject({ masterFillId: null, masterPrice: null, latencyMs: null });
    expect(trades.reduce((sum, t) => sum.add(t.realizedPnl), D(0)).toFixed(12)).toBe(D(stopped.realizedPnlUsd).toFixed(12));
    expect((await alertsOf(careful.userId)).at(-1)?.text).toContain('stopped: the copies reached your max_loss limit');
    const next = await masterFill(runId, 'buy', 0.05, sim.price('BTC/USDT'));
    await pass();
    expect(await copyOf(other.userId, code, next.id)).toMatchObject({ status: 'filled' });
    expect(await database.db.copyTrade.count({ where: { followId: stopped.id, masterFillId: next.id } })).toBe(0);
    expect(sim.trades(careful.apiKey)).toHaveLength(2);
  });

  it('/unfollow sells the copies (or keeps them) and tells the master; /kill stops the follower’s follows', async () => {
    const { code, runId, member: owner } = await master();
    const leaver = await member('pro');
    const keeper = await member('pro');
    const killer = await member('pro');
    for (const f of [leaver, keeper, killer]) expect(await follow(f, code, '2000 live')).toContain('Following');
    await masterFill(runId, 'buy', 0.1, sim.price('BTC/USDT'));
    await pass();
    expect(text(await h.chat.say(leaver.person, `/unfollow ${code}`))).toContain('being sold at market');
    expect(text(await h.chat.say(keeper.person, `/unfollow ${code.toLowerCase()} keep`))).toContain('stay in your exchange account');
    // A kill switch with no runs still stops the follows, and says so.
    expect(text(await h.chat.say(killer.person, '/kill'))).toContain('Stopped copying 1 master.');
    await pass();
    const left = await followOf(leaver.userId, code);
    expect(left).toMatchObject({ status: 'stopped', stopReason: 'unfollowed' });
    expect(Number(left.baseQty)).toBe(0);
    expect(sim.orders(leaver.apiKey).filter((o) => o.side === 'SELL')).toHaveLength(1);
    const kept = await followOf(keeper.userId, code);
    expect(kept).toMatchObject({ status: 'stopped', stopReason: 'unfollowed' });
    expect(Number(kept.baseQty)).toBeCloseTo(0.02, 10);
    expect(sim.orders(keeper.apiKey).filter((o) => o.side === 'SELL')).toHaveLength(0);
    // /kill without flatten stops the follow and, like runs, sells nothing.
    expect(await followOf(killer.userId, code)).toMatchObject({ status: 'stopped', stopReason: 'kill' });
    expect(sim.orders(killer.apiKey).filter((o) => o.side === 'SELL')).toHaveLength(0);
    const told = (await alertsOf(owner.userId)).map((x) => x.text);
    expect(told.filter((t) => t.includes('A follower with $2,000.00 (live) left'))).toHaveLength(2);
    expect(text(await h.chat.say(leaver.person, `/unfollow ${code}`))).toContain('You do not follow that master');
  });

  it('refuses bad /master and /follow requests with words a member can act on', async () => {
    const { code, member: owner } = await master();
    const trader = await member('trader');
    const starter = await member('starter');
    // Publishing needs the pro tier (COPY_MASTER_MIN_TIER) and a running run of one's own.
    await database.db.tradingRun.create({
      data: { userId: trader.userId, seq: 1, mode: 'paper', strategy: 'grid', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: '1000.00', params: {}, startedAt: new Date(Date.now() - 86_400_000) },
    });
    expect(text(await h.chat.say(trader.person, '/master publish 1'))).toContain('needs the Pro tier or higher');
    expect(text(await h.chat.say(owner.person, '/master publish 1'))).toContain(`already published as ${code}`);
    expect(text(await h.chat.say(owner.person, '/master publish 9'))).toContain('no run with that number');
    expect(text(await h.chat.say(owner.person, '/master publish'))).toContain('Say which run');
    expect(text(await h.chat.say(owner.person, '/master retire'))).toContain('must be one of publish, unpublish');
    expect(text(await h.chat.say(owner.person, '/master'))).toMatch(new RegExp(`${code}\\* — run #1 live grid BTC/USDT · active · \\d+ followers?`));
    // Following.
    expect(text(await h.chat.say(owner.person, `/follow ${code} 500`))).toContain('cannot follow your own run');
    expect(text(await h.chat.say(starter.person, '/follow M-ZZZZZZ 500'))).toContain('No published master matches');
    expect(text(await h.chat.say(starter.person, '/follow nonsense 500'))).toContain('No published master matches');
    expect(text(await h.chat.say(starter.person, `/follow ${code} lots`))).toContain('capital must be an amount of dollars');
    expect(text(await h.chat.say(starter.person, `/follow ${code}`))).toContain('Say how much capital');
    expect(text(await h.chat.say(starter.person, `/follow ${code} 500 max_loss=-3`))).toContain('max_loss must be an amount of dollars');
    expect(text(await h.chat.say(starter.person, `/follow ${code} 500 turbo`))).toContain("'turbo' is not an option");
    expect(text(await h.chat.say(starter.person, `/follow ${code} 500 paper live`))).toContain('say paper or live once');
    // Starter: $5,000 minus the 10% reserve leaves $4,500.
    const tooMuch = text(await h.chat.say(starter.person, `/follow ${code} 4600`));
    expect(tooMuch).toContain('Your tier has $4,500.00 left for paper trading');
    expect(text(await h.chat.say(starter.person, `/follow ${code} 4000`))).toContain('Following');
    // The follow's capital counts against new runs and follows like a run's.
    expect(text(await h.chat.say(starter.person, '/paper grid BTC/USDT 600'))).toContain('$500.00');
    expect(text(await h.chat.say(starter.person, `/follow ${code} 100`))).toContain('You already follow');
    expect(text(await h.chat.say(trader.person, `/follow ${code} 100 live keys=spare`))).toContain('add them with /keys add');
    expect(await database.db.copyFollow.count({ where: { userId: { in: [trader.userId, owner.userId] } } })).toBe(0);
    // Unpublishing stops the follows and tells the followers.
    expect(text(await h.chat.say(owner.person, `/master unpublish ${code}`))).toContain('1 follow stopped');
    expect(await followOf(starter.userId, code)).toMatchObject({ status: 'stopped', stopReason: 'master_unpublished' });
    expect((await alertsOf(starter.userId)).at(-1)?.text).toContain('stopped: the master stopped publishing the run');
    expect(text(await h.chat.say(starter.person, `/follow ${code} 100`))).toContain('No published master matches');
    expect(text(await h.chat.say(starter.person, '/followers'))).toContain('You have published no run');
  });
});
