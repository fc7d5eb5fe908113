import { describe, expect, it } from 'vitest';
import { PaperExchange } from '../../src/exchange/sim/paper-exchange.ts';
import { VenueError, type MarketRules, type OrderRequest, type VenueOrder } from '../../src/exchange/venue.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import type { CandleView } from '../../src/market-data/candles.ts';

const SYMBOL = 'BTC/USDT';
const RULES: MarketRules = { symbol: SYMBOL, base: 'BTC', quote: 'USDT', tickSize: 0.01, lotSize: 0.00001, minQty: 0.00001, minNotional: 5 };
// Candle times are years before the clock on purpose: trades carry the exchange's (clock) time.
const CANDLE_T0 = Date.parse('2023-06-01T00:00:00Z');
const candle = (i: number, open: number, high: number, low: number, close: number): CandleView => ({ time: CANDLE_T0 + i * 60_000, open, high, low, close, volume: 12.5 });

const setup = (funds: { quote?: number; base?: number } = {}) => {
  const clock = new TestClock('2026-01-01T00:00:00.000Z');
  const paper = new PaperExchange({ rules: RULES, quote: funds.quote ?? 1_000, base: funds.base ?? 0, clock });
  return { clock, paper };
};
const limit = (clientOrderId: string, side: 'buy' | 'sell', price: number, qty: number): OrderRequest => ({ clientOrderId, symbol: SYMBOL, side, type: 'limit', price, qty });
const market = (clientOrderId: string, side: 'buy' | 'sell', qty: number): OrderRequest => ({ clientOrderId, symbol: SYMBOL, side, type: 'market', price: 0, qty });

async function venueError(promise: Promise<unknown>): Promise<VenueError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VenueError);
    return error as VenueError;
  }
  throw new Error('expected a VenueError');
}

describe('paper exchange: limit orders', () => {
  it('rests a limit buy and fills it on the first candle whose low reaches it, as one maker trade stamped with the clock', async () => {
    const { clock, paper } = setup();
    paper.observe(SYMBOL, candle(0, 30_050, 30_120, 29_980, 30_000));
    const placed = await paper.placeOrder(limit('ait-run-base-1', 'buy', 29_900, 0.01));
    expect(placed).toMatchObject({ clientOrderId: 'ait-run-base-1', exchangeOrderId: 'P-ait-run-base-1', status: 'open', filledQty: 0, price: 29_900, qty: 0.01 });
    const bal = await paper.fetchBalance();
    expect(bal.free.USDT).toBeCloseTo(1_000 - 29_900 * 0.01 * 1.001, 9); // maker fee held back
    expect(bal.total.USDT).toBe(1_000);

    clock.advance(60_000);
    paper.observe(SYMBOL, candle(1, 30_000, 30_080, 29_950, 30_010)); // low 29950: not reached
    expect(await paper.fetchMyTrades(SYMBOL, 0)).toEqual([]);
    expect((await paper.fetchOpenOrders(SYMBOL)).map((o) => o.clientOrderId)).toEqual(['ait-run-base-1']);

    clock.advance(60_000);
    const fillTime = clock.now().getTime();
    paper.observe(SYMBOL, candle(2, 30_000, 30_020, 29_850, 29_870)); // low 29850 reaches 29900
    const trades = await paper.fetchMyTrades(SYMBOL, 0);
    expect(trades).toHaveLength(1);
    expect(trades[0]).toMatchObject({
      exchangeOrderId: 'P-ait-run-base-1',
      clientOrderId: 'ait-run-base-1',
      symbol: SYMBOL,
      side: 'buy',
      price: 29_900,
      qty: 0.01,
      feeCurrency: 'USDT',
      liquidity: 'maker',
      time: fillTime,
    });
    expect(trades[0]!.fee).toBeCloseTo(0.299, 12); // 0.1% of 299
    expect(typeof trades[0]!.tradeId).toBe('string');

    const order = await paper.fetchOrder(SYMBOL, 'ait-run-base-1');
    expect(order).toMatchObject({ status: 'filled', filledQty: 0.01, updatedAt: fillTime });
    expect(await paper.fetchOpenOrders(SYMBOL)).toEqual([]);
    const after = await paper.fetchBalance();
    expect(after.total.USDT).toBeCloseTo(1_000 - 299 - 0.299, 9);
    expect(after.free.USDT).toBeCloseTo(after.total.USDT!, 9);
    expect(after.total.BTC).toBeCloseTo(0.01, 12);
  });

  it('fills a limit sell at the open when the candle gaps above it', async () => {
    const { paper } = setup({ quote: 0, base: 0.02 });
    paper.observe(SYMBOL, candle(0, 30_000, 30_050, 29_950, 30_000));
    await paper.placeOrder(limit('s1', 'sell', 30_200, 0.02));
    expect((await paper.fetchBalance()).free.BTC).toBeCloseTo(0, 12);
    paper.observe(SYMBOL, candle(1, 30_400, 30_500, 30_300, 30_450));
    const [trade] = await paper.fetchMyTrades(SYMBOL, 0);
    expect(trade).toMatchObject({ side: 'sell', price: 30_400, qty: 0.02, liquidity: 'maker' });
    expect(trade!.fee).toBeCloseTo(0.608, 12);
  });

  it('ignores candles of another market', async () => {
    const { paper } = setup();
    await paper.placeOrder(limit('b', 'buy', 29_900, 0.01));
    paper.observe('ETH/USDT', candle(0, 2_000, 2_010, 1_990, 2_000));
    expect(await paper.fetchMyTrades(SYMBOL, 0)).toEqual([]);
    expect(await paper.fetchTicker(SYMBOL)).toEqual({ last: 0, time: 0 });
  });
});

describe('paper exchange: market orders', () => {
  it('refuses a market order before any candle has given a price', async () => {
    const { paper } = setup();
    const error = await venueError(paper.placeOrder(market('m1', 'buy', 0.001)));
    expect(error.kind).toBe('rejected');
    expect(error.reason).toBe('market_closed');
    expect(await paper.fetchMyTrades(SYMBOL, 0)).toEqual([]);
  });

  it('fills a market buy at once at the last close plus slippage, paying the taker fee', async () => {
    const { clock, paper } = setup();
    paper.observe(SYMBOL, candle(0, 29_950, 30_050, 29_900, 30_000));
    expect(await paper.fetchTicker(SYMBOL)).toEqual({ last: 30_000, time: CANDLE_T0 });
    clock.advance(5_000);
    const placed = await paper.placeOrder(market('m1', 'buy', 0.001));
    expect(placed).toMatchObject({ clientOrderId: 'm1', status: 'filled', filledQty: 0.001, updatedAt: clock.now().getTime() });
    const [trade] = await paper.fetchMyTrades(SYMBOL, 0);
    // 30000 × (1 + 0.05%) = 30015
    expect(trade).toMatchObject({ clientOrderId: 'm1', side: 'buy', price: 30_015, qty: 0.001, liquidity: 'taker', time: clock.now().getTime() });
    expect(trade!.fee).toBeCloseTo(0.030015, 12);
    expect(await paper.fetchOpenOrders(SYMBOL)).toEqual([]);
    const bal = await paper.fetchBalance();
    expect(bal.total.USDT).toBeCloseTo(1_000 - 30.015 - 0.030015, 9);
    expect(bal.total.BTC).toBeCloseTo(0.001, 12);
  });

  it('fills a market sell just below the close', async () => {
    const { paper } = setup({ quote: 0, base: 0.01 });
    paper.observe(SYMBOL, candle(0, 29_950, 30_050, 29_900, 30_000));
    await paper.placeOrder(market('m2', 'sell', 0.01));
    const [trade] = await paper.fetchMyTrades(SYMBOL, 0);
    expect(trade).toMatchObject({ side: 'sell', price: 29_985, qty: 0.01 });
  });
});

describe('paper exchange: refusals', () => {
  it("refuses an order the account cannot pay for: rejected / insufficient_funds, recorded as rejected", async () => {
    const { paper } = setup({ quote: 1_000 });
    const error = await venueError(paper.placeOrder(limit('big', 'buy', 30_000, 0.05))); // 1500 USDT
    expect(error.kind).toBe('rejected');
    expect(error.reason).toBe('insufficient_funds');
    expect(error.details.exchangeId).toBe('paper');
    expect((await paper.fetchOrder(SYMBOL, 'big'))?.status).toBe('rejected');
    expect(await paper.fetchOpenOrders(SYMBOL)).toEqual([]);
    expect((await paper.fetchBalance()).free.USDT).toBe(1_000);
    // Selling base the account does not have, too.
    const sellError = await venueError(paper.placeOrder(limit('s', 'sell', 31_000, 0.001)));
    expect(sellError.reason).toBe('insufficient_funds');
  });

  it('refuses a second order under a client id that is still open (duplicate_order), leaving the first untouched', async () => {
    const { paper } = setup();
    await paper.placeOrder(limit('dup', 'buy', 29_000, 0.01));
    const error = await venueError(paper.placeOrder(limit('dup', 'buy', 28_000, 0.02)));
    expect(error.kind).toBe('rejected');
    expect(error.reason).toBe('duplicate_order');
    expect(await paper.fetchOrder(SYMBOL, 'dup')).toMatchObject({ status: 'open', price: 29_000, qty: 0.01 });
    expect(await paper.fetchOpenOrders(SYMBOL)).toHaveLength(1);
  });

  it('refuses an order below the minimum notional as invalid_order', async () => {
    const { paper } = setup();
    const error = await venueError(paper.placeOrder(limit('tiny', 'buy', 30_000, 0.0001))); // 3 USDT
    expect(error.kind).toBe('rejected');
    expect(error.reason).toBe('invalid_order');
  });

  it('refuses any call about another symbol (rejected / bad_symbol)', async () => {
    const { paper } = setup();
    const eth = { ...limit('e', 'buy', 2_000, 0.1), symbol: 'ETH/USDT' };
    for (const call of [
      paper.placeOrder(eth),
      paper.cancelOrder('ETH/USDT', 'e'),
      paper.fetchOrder('ETH/USDT', 'e'),
      paper.fetchOpenOrders('ETH/USDT'),
      paper.fetchMyTrades('ETH/USDT', 0),
      paper.fetchTicker('ETH/USDT'),
      paper.market('ETH/USDT'),
    ]) {
      const error = await venueError(call);
      expect(error.kind).toBe('rejected');
      expect(error.reason).toBe('bad_symbol');
    }
    expect(await paper.market(SYMBOL)).toEqual(RULES);
    expect(await paper.keyPermissions()).toEqual({ canTrade: true, canWithdraw: false });
  });
});

describe('paper exchange: cancel and queries', () => {
  it('cancel returns null for an unknown order and the canceled order for an open one, releasing its funds', async () => {
    const { paper } = setup();
    expect(await paper.cancelOrder(SYMBOL, 'nope')).toBeNull();
    await paper.placeOrder(limit('c1', 'buy', 29_000, 0.01));
    expect((await paper.fetchBalance()).free.USDT).toBeCloseTo(1_000 - 290.29, 9);
    const canceled = await paper.cancelOrder(SYMBOL, 'c1');
    expect(canceled).toMatchObject({ clientOrderId: 'c1', status: 'canceled', filledQty: 0 });
    expect((await paper.fetchBalance()).free.USDT).toBe(1_000);
    expect(await paper.fetchOpenOrders(SYMBOL)).toEqual([]);
    expect(await paper.cancelOrder(SYMBOL, 'c1')).toBeNull(); // already gone
    // A canceled order does not fill later.
    paper.observe(SYMBOL, candle(0, 29_500, 29_600, 28_000, 28_500));
    expect(await paper.fetchMyTrades(SYMBOL, 0)).toEqual([]);
    expect((await paper.fetchOrder(SYMBOL, 'c1'))?.status).toBe('canceled');
  });

  it('cancel returns null for an order that has already filled', async () => {
    const { paper } = setup();
    await paper.placeOrder(limit('f1', 'buy', 29_900, 0.01));
    paper.observe(SYMBOL, candle(0, 30_000, 30_000, 29_800, 29_850));
    expect(await paper.cancelOrder(SYMBOL, 'f1')).toBeNull();
    expect((await paper.fetchOrder(SYMBOL, 'f1'))?.status).toBe('filled');
  });

  it('fetchMyTrades(since) returns trades at or after `since`, oldest first', async () => {
    const { clock, paper } = setup({ quote: 2_000 });
    await paper.placeOrder(limit('a', 'buy', 29_900, 0.01));
    await paper.placeOrder(limit('b', 'buy', 29_500, 0.01));
    clock.advance(60_000);
    const tA = clock.now().getTime();
    paper.observe(SYMBOL, candle(0, 30_000, 30_000, 29_800, 29_850)); // fills a
    clock.advance(60_000);
    const tB = clock.now().getTime();
    paper.observe(SYMBOL, candle(1, 29_850, 29_900, 29_400, 29_600)); // fills b
    expect((await paper.fetchMyTrades(SYMBOL, 0)).map((t) => [t.clientOrderId, t.time])).toEqual([
      ['a', tA],
      ['b', tB],
    ]);
    expect((await paper.fetchMyTrades(SYMBOL, tA)).map((t) => t.clientOrderId)).toEqual(['a', 'b']);
    expect((await paper.fetchMyTrades(SYMBOL, tA + 1)).map((t) => t.clientOrderId)).toEqual(['b']);
    expect((await paper.fetchMyTrades(SYMBOL, tB + 1)).map((t) => t.clientOrderId)).toEqual([]);
  });
});

describe('paper exchange: restore after a restart', () => {
  it('re-creates resting orders, partial fills included, that fill on a later candle with trade ids that never repeat', async () => {
    // Before the restart: one order filled, one still resting (its first part filled earlier).
    const before = setup({ quote: 2_000, base: 0.02 });
    await before.paper.placeOrder(limit('ait-r-a-1', 'buy', 29_900, 0.01));
    await before.paper.placeOrder(limit('ait-r-b-1', 'sell', 30_500, 0.01));
    before.clock.advance(60_000);
    before.paper.observe(SYMBOL, candle(0, 30_000, 30_100, 29_800, 29_900)); // fills a only
    const earlierTrades = await before.paper.fetchMyTrades(SYMBOL, 0);
    expect(earlierTrades.map((t) => t.clientOrderId)).toEqual(['ait-r-a-1']);

    // After the restart: a fresh paper account with the run's funds, and its resting orders.
    const clock = new TestClock('2026-01-01T01:00:00.000Z');
    const paper = new PaperExchange({ rules: RULES, quote: 2_000 - 299 - 0.299, base: 0.03, clock });
    const restored: VenueOrder[] = [
      { clientOrderId: 'ait-r-b-1', exchangeOrderId: 'P-ait-r-b-1', symbol: SYMBOL, side: 'sell', type: 'limit', price: 30_500, qty: 0.01, filledQty: 0, status: 'open', updatedAt: 0 },
      // Partially filled before: 0.004 of 0.01 (that trade was reported as ait-r-c-1's first part).
      { clientOrderId: 'ait-r-c-1', exchangeOrderId: 'P-ait-r-c-1', symbol: SYMBOL, side: 'buy', type: 'limit', price: 29_000, qty: 0.01, filledQty: 0.004, status: 'open', updatedAt: 0 },
    ];
    paper.restoreOrders(restored, 29_900, CANDLE_T0 + 60_000);
    expect(await paper.fetchTicker(SYMBOL)).toEqual({ last: 29_900, time: CANDLE_T0 + 60_000 });
    const open = await paper.fetchOpenOrders(SYMBOL);
    expect(open.map((o) => [o.clientOrderId, o.status, o.filledQty])).toEqual([
      ['ait-r-b-1', 'open', 0],
      ['ait-r-c-1', 'open', 0.004],
    ]);
    // Only the unfilled 0.006 of c holds quote back; b holds 0.01 BTC.
    const bal = await paper.fetchBalance();
    expect(bal.free.USDT).toBeCloseTo(2_000 - 299.299 - 29_000 * 0.006 * 1.001, 9);
    expect(bal.free.BTC).toBeCloseTo(0.02, 12);

    clock.advance(60_000);
    paper.observe(SYMBOL, candle(2, 29_900, 30_600, 28_900, 30_400)); // reaches both
    const trades = await paper.fetchMyTrades(SYMBOL, 0);
    expect(trades.map((t) => [t.clientOrderId, t.side, t.price, t.qty])).toEqual([
      ['ait-r-b-1', 'sell', 30_500, 0.01],
      ['ait-r-c-1', 'buy', 29_000, 0.006],
    ]);
    expect(trades.every((t) => t.time === clock.now().getTime())).toBe(true);
    expect(await paper.fetchOrder(SYMBOL, 'ait-r-c-1')).toMatchObject({ status: 'filled', filledQty: 0.01 });
    expect(await paper.fetchOrder(SYMBOL, 'ait-r-b-1')).toMatchObject({ status: 'filled', filledQty: 0.01 });
    expect(await paper.fetchOpenOrders(SYMBOL)).toEqual([]);

    const ids = [...earlierTrades, ...trades].map((t) => t.tradeId);
    expect(new Set(ids).size).toBe(ids.length);
    // The remaining part's trade differs from the one the first 0.004 of the same order produced
    // before the restart: the paper exchange's trade id for that part was taken at filledQty 0.004.
    const firstPart = new PaperExchange({ rules: RULES, quote: 1_000, base: 0, clock: new TestClock() });
    firstPart.restoreOrders([{ ...restored[1]!, qty: 0.004, filledQty: 0 }], 29_900, 0);
    firstPart.observe(SYMBOL, candle(1, 29_100, 29_200, 28_900, 29_000));
    const [firstPartTrade] = await firstPart.fetchMyTrades(SYMBOL, 0);
    expect(firstPartTrade?.qty).toBe(0.004);
    expect(trades[1]!.tradeId).not.toBe(firstPartTrade!.tradeId);
  });

  it('a restored order can be cancelled, releasing its funds', async () => {
    const { paper } = setup({ quote: 1_000 });
    paper.restoreOrders(
      [{ clientOrderId: 'r1', exchangeOrderId: 'P-r1', symbol: SYMBOL, side: 'buy', type: 'limit', price: 29_000, qty: 0.01, filledQty: 0, status: 'open', updatedAt: 0 }],
      29_500,
      CANDLE_T0,
    );
    expect((await paper.fetchBalance()).free.USDT).toBeCloseTo(1_000 - 290.29, 9);
    expect((await paper.cancelOrder(SYMBOL, 'r1'))?.status).toBe('canceled');
    expect((await paper.fetchBalance()).free.USDT).toBe(1_000);
    paper.observe(SYMBOL, candle(1, 29_100, 29_200, 28_000, 28_500));
    expect(await paper.fetchMyTrades(SYMBOL, 0)).toEqual([]);
  });
});
