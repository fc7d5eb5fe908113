import { describe, expect, it } from 'vitest';
import { RunLedger, type LedgerFill, type LedgerState } from '../../src/execution/run-ledger.ts';
import { clientOrderId } from '../../src/execution/client-order-id.ts';
import type { Fill, OrderIntent } from '../../src/engine/types.ts';
import type { MarketRules } from '../../src/exchange/venue.ts';
import type { CandleView } from '../../src/market-data/candles.ts';

const RUN = '3f2a9c1e-7b4d-4e21-9a0f-5c6d7e8f9a0b';
const RULES: MarketRules = { symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', tickSize: 0.01, lotSize: 0.00001, minQty: 0.00001, minNotional: 5 };
const NOW = Date.parse('2026-01-01T00:00:00Z');
const CANDLE: CandleView = { time: NOW, open: 30_000, high: 30_100, low: 29_900, close: 30_000, volume: 10 };

const state = (overrides: Partial<LedgerState> = {}): LedgerState => ({
  base: 0,
  quote: 1_000,
  costBasis: 0,
  realizedPnl: 0,
  orders: [],
  attempts: new Map(),
  ...overrides,
});
const ledgerWith = (overrides: Partial<LedgerState> = {}) => new RunLedger({ runId: RUN, rules: RULES, feeReservePct: 0.1 }, state(overrides));

const buy = (tag: string, price: number, qty: number, type: 'limit' | 'market' = 'limit'): OrderIntent => ({ kind: 'place', tag, side: 'buy', type, price, qty });
const sell = (tag: string, price: number, qty: number, type: 'limit' | 'market' = 'limit'): OrderIntent => ({ kind: 'place', tag, side: 'sell', type, price, qty });

let tradeSeq = 0;
const fill = (clientId: string, price: number, qty: number, fee: number, extra: Partial<LedgerFill> = {}): LedgerFill => ({
  clientOrderId: clientId,
  tradeId: `T${++tradeSeq}`,
  price,
  qty,
  fee,
  liquidity: 'maker',
  time: NOW + tradeSeq,
  ...extra,
});
const settle = (ledger: RunLedger): Fill[] => {
  const told: Fill[] = [];
  ledger.matchCandle(CANDLE, (f) => void told.push(f));
  return told;
};
/** Places and accepts a limit order; returns its client id. */
const placeAccepted = (ledger: RunLedger, intent: OrderIntent): string => {
  expect(ledger.submit(intent, NOW, 30_000)).toBeNull();
  const [action] = ledger.drainOutbound();
  expect(action?.kind).toBe('place');
  ledger.orderAccepted(action!.order.clientOrderId);
  return action!.order.clientOrderId;
};

describe('run ledger: placing orders', () => {
  it('rounds a limit buy to the tick (down) and lot (down), locks price × qty × (1 + reserve) and queues one place', () => {
    const ledger = ledgerWith({ quote: 2_000 });
    expect(ledger.submit(buy('base', 30_000.019, 0.0333339), NOW, 30_010)).toBeNull();
    const actions = ledger.drainOutbound();
    expect(actions).toHaveLength(1);
    const [action] = actions;
    expect(action!.kind).toBe('place');
    expect(action!.order).toMatchObject({
      clientOrderId: clientOrderId(RUN, 'base', 1),
      tag: 'base',
      side: 'buy',
      type: 'limit',
      price: 30_000.01,
      qty: 0.03333,
      filledQty: 0,
      placedAt: NOW,
      attempt: 1,
      state: 'pending',
    });
    const locked = 30_000.01 * 0.03333 * 1.001;
    expect(action!.order.locked).toBeCloseTo(locked, 9);
    expect(ledger.position.quote).toBe(2_000);
    expect(ledger.position.freeQuote).toBeCloseTo(2_000 - locked, 9);
    expect(ledger.openOrders).toHaveLength(1);
    expect(ledger.deployed).toBeCloseTo(locked, 9);
    // Drained: a second drain is empty.
    expect(ledger.drainOutbound()).toEqual([]);
  });

  it('rounds a limit sell price up to the tick and locks the base', () => {
    const ledger = ledgerWith({ base: 0.02, costBasis: 600, quote: 0 });
    expect(ledger.submit(sell('tp', 30_500.001, 0.0150009), NOW, 30_000)).toBeNull();
    const [action] = ledger.drainOutbound();
    expect(action!.order).toMatchObject({ price: 30_500.01, qty: 0.015, locked: 0.015 });
    expect(ledger.position.freeBase).toBeCloseTo(0.005, 12);
    expect(ledger.position.base).toBe(0.02);
  });

  it('locks an extra 2% on market buys for the price moving before the fill, at the reference price', () => {
    const ledger = ledgerWith();
    expect(ledger.submit(buy('mkt', 0, 0.01, 'market'), NOW, 30_000)).toBeNull();
    const [action] = ledger.drainOutbound();
    expect(action!.order.price).toBe(30_000);
    expect(action!.order.locked).toBeCloseTo(300 * 1.001 * 1.02, 9);
  });

  it("refuses to place a leg whose tag is already open ('duplicate_leg')", () => {
    const ledger = ledgerWith();
    placeAccepted(ledger, buy('base', 30_000, 0.001));
    expect(ledger.submit(buy('base', 29_000, 0.001), NOW, 30_000)).toBe('duplicate_leg');
    expect(ledger.drainOutbound()).toEqual([]);
    expect(ledger.openOrders).toHaveLength(1);
  });

  it("refuses a buy the run's free quote cannot cover ('insufficient_funds'), reserve included", () => {
    const ledger = ledgerWith({ quote: 300 });
    // 0.01 × 30000 = 300, plus the 0.1% reserve = 300.30 > 300.
    expect(ledger.submit(buy('base', 30_000, 0.01), NOW, 30_000)).toBe('insufficient_funds');
    expect(ledger.drainOutbound()).toEqual([]);
    expect(ledger.position.freeQuote).toBe(300);
    // Quote already held back by another order counts too.
    const l2 = ledgerWith({ quote: 1_000 });
    placeAccepted(l2, buy('a', 30_000, 0.02)); // locks 600.60
    expect(l2.submit(buy('b', 30_000, 0.0134), NOW, 30_000)).toBe('insufficient_funds'); // needs 402.40
    expect(l2.submit(buy('b', 30_000, 0.0133), NOW, 30_000)).toBeNull(); // needs 399.40
  });

  it("refuses a sell of more base than is free ('insufficient_funds')", () => {
    const ledger = ledgerWith({ base: 0.01, costBasis: 300 });
    expect(ledger.submit(sell('tp', 31_000, 0.01001), NOW, 30_000)).toBe('insufficient_funds');
    placeAccepted(ledger, sell('tp', 31_000, 0.006));
    expect(ledger.submit(sell('tp2', 31_000, 0.005), NOW, 30_000)).toBe('insufficient_funds');
  });

  it("refuses orders below the minimum notional or quantity, without using an attempt", () => {
    const ledger = ledgerWith();
    expect(ledger.submit(buy('base', 30_000, 0.0001), NOW, 30_000)).toBe('below_min_notional'); // 3 USDT
    expect(ledger.submit(buy('base', 30_000, 0.000001), NOW, 30_000)).toBe('qty_too_small'); // rounds to 0
    expect(ledger.submit(buy('base', 0.001, 1), NOW, 30_000)).toBe('invalid_price'); // rounds to 0
    expect(ledger.drainOutbound()).toEqual([]);
    expect(ledger.submit(buy('base', 30_000, 0.00017), NOW, 30_000)).toBeNull(); // 5.10 USDT
    expect(ledger.drainOutbound()[0]!.order.attempt).toBe(1);
  });

  it("answers 'unknown_leg' to a cancel or replace of a tag that is not open", () => {
    const ledger = ledgerWith();
    expect(ledger.submit({ kind: 'cancel', tag: 'nope' }, NOW, 30_000)).toBe('unknown_leg');
    expect(ledger.submit({ kind: 'replace', tag: 'nope', price: 1, qty: 1 }, NOW, 30_000)).toBe('unknown_leg');
  });

  it('replaces a leg: cancel(old) then place(new, attempt 2); the old one stays live until the exchange closes it', () => {
    const ledger = ledgerWith();
    const oldId = placeAccepted(ledger, buy('g1', 29_000, 0.01)); // locks 290.29
    expect(ledger.submit({ kind: 'replace', tag: 'g1', price: 28_900.009, qty: 0.01 }, NOW + 60_000, 29_500)).toBeNull();
    const actions = ledger.drainOutbound();
    expect(actions.map((a) => [a.kind, a.order.clientOrderId])).toEqual([
      ['cancel', oldId],
      ['place', clientOrderId(RUN, 'g1', 2)],
    ]);
    expect(actions[1]!.order).toMatchObject({ side: 'buy', type: 'limit', price: 28_900, qty: 0.01, attempt: 2, placedAt: NOW + 60_000, state: 'pending' });

    expect(ledger.openOrders.map((o) => [o.tag, o.attempt, o.price])).toEqual([['g1', 2, 28_900]]);
    expect(ledger.liveOrders.map((o) => [o.clientOrderId, o.state])).toEqual([
      [oldId, 'canceling'],
      [clientOrderId(RUN, 'g1', 2), 'pending'],
    ]);
    // Both locks hold until the exchange confirms the cancel.
    expect(ledger.position.freeQuote).toBeCloseTo(1_000 - 290.29 - 289.289, 9);

    // A late "accepted" for the old order does not revive it.
    ledger.orderAccepted(oldId);
    expect(ledger.liveOrders[0]!.state).toBe('canceling');

    const closed = ledger.orderClosed(oldId);
    expect(closed?.clientOrderId).toBe(oldId);
    expect(ledger.liveOrders.map((o) => o.clientOrderId)).toEqual([clientOrderId(RUN, 'g1', 2)]);
    expect(ledger.position.freeQuote).toBeCloseTo(1_000 - 289.289, 9);
    expect(ledger.orderClosed(oldId)).toBeNull();

    // The next replace is attempt 3.
    ledger.orderAccepted(clientOrderId(RUN, 'g1', 2));
    ledger.submit({ kind: 'replace', tag: 'g1', price: 28_800, qty: 0.01 }, NOW, 29_000);
    expect(ledger.drainOutbound()[1]!.order.clientOrderId).toBe(clientOrderId(RUN, 'g1', 3));
  });

  it('tracks accepted and unknown states, but leaves a cancelling order cancelling', () => {
    const ledger = ledgerWith();
    ledger.submit(buy('a', 30_000, 0.001), NOW, 30_000);
    const id = ledger.drainOutbound()[0]!.order.clientOrderId;
    ledger.orderUnknown(id);
    expect(ledger.liveOrders[0]!.state).toBe('unknown');
    ledger.orderAccepted(id);
    expect(ledger.liveOrders[0]!.state).toBe('open');
    ledger.submit({ kind: 'cancel', tag: 'a' }, NOW, 30_000);
    ledger.orderUnknown(id);
    expect(ledger.liveOrders[0]!.state).toBe('canceling');
    expect(ledger.openOrders).toHaveLength(0);
  });
});

describe('run ledger: fills and P&L', () => {
  it('settles a partial fill then the rest, releases the lock, and realises average-cost P&L on the sell', () => {
    const ledger = ledgerWith({ quote: 1_000 });
    const buyId = placeAccepted(ledger, buy('base', 30_000, 0.01)); // locks 300.30

    // 40% fills (fee 0.1% = 0.12): nothing changes until the next step settles it.
    expect(ledger.receiveFill(fill(buyId, 30_000, 0.004, 0.12))).toBe(true);
    expect(ledger.hasPendingFills()).toBe(true);
    expect(ledger.position.base).toBe(0);
    let told = settle(ledger);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ tag: 'base', side: 'buy', price: 30_000, qty: 0.004, fee: 0.12, liquidity: 'maker', complete: false });
    expect(ledger.hasPendingFills()).toBe(false);
    expect(ledger.position.base).toBeCloseTo(0.004, 12);
    expect(ledger.position.quote).toBeCloseTo(1_000 - 120 - 0.12, 9);
    expect(ledger.liveOrders[0]!.locked).toBeCloseTo(300.3 * 0.6, 9); // 180.18 left for 0.006
    expect(ledger.liveOrders[0]!.filledQty).toBeCloseTo(0.004, 12);
    expect(ledger.position.freeQuote).toBeCloseTo(879.88 - 180.18, 9);
    expect(ledger.deployed).toBeCloseTo(120.12 + 180.18, 9);

    // The rest: the order completes and leaves the book with no lock.
    ledger.receiveFill(fill(buyId, 30_000, 0.006, 0.18));
    told = settle(ledger);
    expect(told.map((f) => f.complete)).toEqual([true]);
    expect(ledger.liveOrders).toHaveLength(0);
    expect(ledger.position.base).toBeCloseTo(0.01, 12);
    expect(ledger.position.quote).toBeCloseTo(699.7, 9);
    expect(ledger.position.freeQuote).toBeCloseTo(699.7, 9);
    expect(ledger.deployed).toBeCloseTo(300.3, 9); // cost basis, fees included: 30030/BTC
    const settledBuys = ledger.drainSettled();
    expect(settledBuys.map((s) => [s.complete, s.realizedPnl])).toEqual([
      [false, 0],
      [true, 0],
    ]);

    // Sell in two parts at 31000. Average cost = 300.30 / 0.01 = 30030 per BTC.
    const sellId = placeAccepted(ledger, sell('tp', 31_000, 0.01));
    expect(ledger.position.freeBase).toBeCloseTo(0, 12);
    ledger.receiveFill(fill(sellId, 31_000, 0.004, 0.124));
    told = settle(ledger);
    // 124 − 0.124 − 0.004 × 30030 (= 120.12) = 3.756
    const [first] = ledger.drainSettled();
    expect(first!.realizedPnl).toBeCloseTo(3.756, 9);
    expect(first!.complete).toBe(false);
    expect(ledger.realizedPnl).toBeCloseTo(3.756, 9);
    expect(ledger.deployed).toBeCloseTo(300.3 - 120.12, 9);
    expect(ledger.position.freeBase).toBeCloseTo(0, 12); // 0.006 held, 0.006 still locked

    ledger.receiveFill(fill(sellId, 31_000, 0.006, 0.186));
    told = settle(ledger);
    expect(told).toMatchObject([{ tag: 'tp', side: 'sell', qty: 0.006, complete: true }]);
    // 186 − 0.186 − 0.006 × 30030 (= 180.18) = 5.634
    expect(ledger.drainSettled()[0]!.realizedPnl).toBeCloseTo(5.634, 9);
    expect(ledger.realizedPnl).toBeCloseTo(9.39, 9); // 310 − 0.31 − 300.30
    expect(ledger.position.base).toBeCloseTo(0, 12);
    expect(ledger.position.quote).toBeCloseTo(1_000 + 9.39, 9);
    expect(ledger.equity(31_000)).toBeCloseTo(1_009.39, 9);
    expect(ledger.deployed).toBe(0);
    expect(ledger.liveOrders).toHaveLength(0);
  });

  it('averages the cost over buys at different prices', () => {
    const ledger = ledgerWith({ quote: 2_000 });
    const a = placeAccepted(ledger, buy('so1', 30_000, 0.01));
    const b = placeAccepted(ledger, buy('so2', 29_000, 0.02));
    ledger.receiveFill(fill(a, 30_000, 0.01, 0.3));
    ledger.receiveFill(fill(b, 29_000, 0.02, 0.58));
    expect(settle(ledger).map((f) => f.tag)).toEqual(['so1', 'so2']);
    // Cost: 300.30 + 580.58 = 880.88 for 0.03 BTC → 29362.6667 per BTC.
    expect(ledger.deployed).toBeCloseTo(880.88, 9);
    const s = placeAccepted(ledger, sell('tp', 29_800, 0.015));
    ledger.receiveFill(fill(s, 29_800, 0.015, 0.447));
    settle(ledger);
    // 447 − 0.447 − 0.015 × 29362.6667 (= 440.44) = 6.113
    expect(ledger.realizedPnl).toBeCloseTo(6.113, 9);
    expect(ledger.deployed).toBeCloseTo(440.44, 9);
  });

  it('shows a loss as negative realised P&L', () => {
    const ledger = ledgerWith({ base: 0.01, costBasis: 300.3, quote: 0 });
    const s = placeAccepted(ledger, sell('sl', 29_000, 0.01));
    ledger.receiveFill(fill(s, 29_000, 0.01, 0.29));
    settle(ledger);
    expect(ledger.realizedPnl).toBeCloseTo(290 - 0.29 - 300.3, 9); // −10.59
  });

  it('ignores a trade id it has already seen, and fills of orders that are not its own', () => {
    const ledger = ledgerWith();
    const id = placeAccepted(ledger, buy('base', 30_000, 0.01));
    const f = fill(id, 30_000, 0.004, 0.12);
    expect(ledger.receiveFill(f)).toBe(true);
    expect(ledger.receiveFill({ ...f })).toBe(false);
    settle(ledger);
    expect(ledger.receiveFill({ ...f })).toBe(false); // still known after settling
    expect(settle(ledger)).toEqual([]);
    expect(ledger.position.base).toBeCloseTo(0.004, 12);

    expect(ledger.receiveFill(fill('ait-someoneelse0-base-1', 30_000, 0.004, 0.12))).toBe(false);
    expect(ledger.hasPendingFills()).toBe(false);

    // Trades restored from the database count as seen.
    ledger.rememberTrades(['T-restored']);
    expect(ledger.receiveFill(fill(id, 30_000, 0.001, 0.03, { tradeId: 'T-restored' }))).toBe(false);
  });

  it('settles every queued fill before telling the strategy about any of them', () => {
    const ledger = ledgerWith({ quote: 2_000 });
    const a = placeAccepted(ledger, buy('a', 30_000, 0.01));
    const b = placeAccepted(ledger, buy('b', 29_000, 0.01));
    ledger.receiveFill(fill(a, 30_000, 0.01, 0.3));
    ledger.receiveFill(fill(b, 29_000, 0.01, 0.29));
    const seen: number[] = [];
    ledger.matchCandle(CANDLE, () => void seen.push(ledger.position.base));
    expect(seen).toHaveLength(2);
    for (const base of seen) expect(base).toBeCloseTo(0.02, 12);
  });

  it('still settles a fill for an order being cancelled (the cancel raced the fill)', () => {
    const ledger = ledgerWith();
    const id = placeAccepted(ledger, buy('base', 30_000, 0.01));
    expect(ledger.submit({ kind: 'cancel', tag: 'base' }, NOW, 30_000)).toBeNull();
    expect(ledger.drainOutbound().map((a) => [a.kind, a.order.clientOrderId])).toEqual([['cancel', id]]);
    expect(ledger.openOrders).toHaveLength(0);
    expect(ledger.liveOrders.map((o) => o.state)).toEqual(['canceling']);

    expect(ledger.receiveFill(fill(id, 30_000, 0.004, 0.12))).toBe(true);
    const told = settle(ledger);
    expect(told).toMatchObject([{ tag: 'base', side: 'buy', qty: 0.004, complete: false }]);
    expect(ledger.position.base).toBeCloseTo(0.004, 12);
    expect(ledger.position.quote).toBeCloseTo(879.88, 9);
  });

  it('orderClosed with a fill still queued keeps the order until that fill settles, then drops it and its lock', () => {
    const ledger = ledgerWith();
    const id = placeAccepted(ledger, buy('base', 30_000, 0.01));
    ledger.receiveFill(fill(id, 30_000, 0.004, 0.12));
    const closed = ledger.orderClosed(id);
    expect(closed?.state).toBe('canceling');
    expect(ledger.liveOrders).toHaveLength(1);
    expect(ledger.openOrders).toHaveLength(0);
    settle(ledger);
    expect(ledger.liveOrders).toHaveLength(0);
    expect(ledger.position.base).toBeCloseTo(0.004, 12);
    expect(ledger.position.freeQuote).toBeCloseTo(879.88, 9); // the unfilled 0.006's lock is released
    expect(ledger.deployed).toBeCloseTo(120.12, 9);
  });

  it('orderClosed without fills drops the order and releases its lock at once', () => {
    const ledger = ledgerWith();
    const id = placeAccepted(ledger, buy('base', 30_000, 0.01));
    expect(ledger.position.freeQuote).toBeCloseTo(699.7, 9);
    expect(ledger.orderClosed(id)?.clientOrderId).toBe(id);
    expect(ledger.liveOrders).toHaveLength(0);
    expect(ledger.position.freeQuote).toBe(1_000);
    expect(ledger.orderClosed('not-ours')).toBeNull();
  });
});

describe('run ledger: stop, flatten, snapshot', () => {
  it('cancelAll queues a cancel for every open order and none for those already cancelling', () => {
    const ledger = ledgerWith({ quote: 2_000, base: 0.01, costBasis: 300 });
    const a = placeAccepted(ledger, buy('a', 29_000, 0.01));
    const b = placeAccepted(ledger, buy('b', 28_000, 0.01));
    const c = placeAccepted(ledger, sell('c', 31_000, 0.01));
    ledger.submit({ kind: 'cancel', tag: 'b' }, NOW, 30_000);
    expect(ledger.drainOutbound().map((x) => x.order.clientOrderId)).toEqual([b]);
    ledger.cancelAll();
    const actions = ledger.drainOutbound();
    expect(actions.map((x) => [x.kind, x.order.clientOrderId])).toEqual([
      ['cancel', a],
      ['cancel', c],
    ]);
    expect(ledger.openOrders).toHaveLength(0);
    expect(ledger.liveOrders.map((o) => o.state)).toEqual(['canceling', 'canceling', 'canceling']);
  });

  it('flatten queues a market sell of the free base, rounded to the lot', () => {
    const ledger = ledgerWith({ base: 0.0123456, costBasis: 370, quote: 0 });
    expect(ledger.flatten(NOW, 31_000)).toBeNull();
    const actions = ledger.drainOutbound();
    expect(actions).toHaveLength(1);
    expect(actions[0]!.kind).toBe('place');
    expect(actions[0]!.order).toMatchObject({ tag: 'flatten', side: 'sell', type: 'market', price: 31_000, qty: 0.01234, attempt: 1 });
    expect(actions[0]!.order.clientOrderId).toBe(clientOrderId(RUN, 'flatten', 1));
  });

  it('flatten sells only the base not locked in sell orders', () => {
    const ledger = ledgerWith({ base: 0.01, costBasis: 300, quote: 0 });
    placeAccepted(ledger, sell('tp', 31_000, 0.004));
    ledger.flatten(NOW, 30_000);
    expect(ledger.drainOutbound()[0]!.order.qty).toBeCloseTo(0.006, 12);
  });

  it('flatten does nothing when what is held is worth less than the minimum notional', () => {
    const ledger = ledgerWith({ base: 0.00015, costBasis: 4.5, quote: 0 }); // 4.65 USDT at 31000
    expect(ledger.flatten(NOW, 31_000)).toBeNull();
    expect(ledger.drainOutbound()).toEqual([]);
    expect(ledgerWith({ base: 0 }).flatten(NOW, 31_000)).toBeNull();
  });

  it('deployed is the cost basis plus what open buys hold back (sells do not count)', () => {
    const ledger = ledgerWith({ base: 0.01, costBasis: 300.3, quote: 1_000 });
    expect(ledger.deployed).toBeCloseTo(300.3, 9);
    placeAccepted(ledger, buy('so1', 29_000, 0.01)); // 290.29
    placeAccepted(ledger, sell('tp', 31_000, 0.01));
    expect(ledger.deployed).toBeCloseTo(300.3 + 290.29, 9);
  });

  it('equity marks the base at the given price', () => {
    const ledger = ledgerWith({ base: 0.02, costBasis: 600, quote: 400 });
    expect(ledger.equity(30_500)).toBeCloseTo(400 + 610, 9);
  });

  it('snapshotState round-trips into a new ledger with the same position, orders and attempts', () => {
    const ledger = ledgerWith({ quote: 2_000 });
    const a = placeAccepted(ledger, buy('a', 30_000, 0.01));
    placeAccepted(ledger, buy('b', 29_000, 0.01));
    ledger.submit({ kind: 'replace', tag: 'b', price: 28_500, qty: 0.01 }, NOW, 30_000);
    ledger.drainOutbound();
    ledger.receiveFill(fill(a, 30_000, 0.004, 0.12));
    settle(ledger);
    const snap = ledger.snapshotState();
    expect(snap.attempts.get('b')).toBe(2);

    const restored = new RunLedger({ runId: RUN, rules: RULES, feeReservePct: 0.1 }, snap);
    expect(restored.position).toEqual(ledger.position);
    expect(restored.openOrders).toEqual(ledger.openOrders);
    expect(restored.liveOrders).toEqual(ledger.liveOrders);
    expect(restored.deployed).toBeCloseTo(ledger.deployed, 9);
    expect(restored.realizedPnl).toBe(ledger.realizedPnl);
    // The snapshot is a copy: changing the original ledger afterwards does not touch it.
    ledger.orderClosed(a);
    expect(restored.liveOrders).toHaveLength(3);
    // Attempts carry over: the next replace of 'b' is attempt 3.
    restored.orderAccepted(clientOrderId(RUN, 'b', 2));
    restored.submit({ kind: 'replace', tag: 'b', price: 28_400, qty: 0.01 }, NOW, 30_000);
    expect(restored.drainOutbound().map((x) => x.order.clientOrderId)).toEqual([clientOrderId(RUN, 'b', 2), clientOrderId(RUN, 'b', 3)]);
    // Settling on the restored ledger continues the same books.
    restored.receiveFill(fill(a, 30_000, 0.006, 0.18));
    settle(restored);
    expect(restored.position.base).toBeCloseTo(0.01, 12);
    // Cost of 0.01 BTC plus the three buy locks still held: b#1 (cancelling), b#2 (cancelling), b#3.
    expect(restored.deployed).toBeCloseTo(300.3 + (29_000 + 28_500 + 28_400) * 0.01 * 1.001, 9);
  });
});

describe('run ledger: fills around a cancel', () => {
  it('settles every queued fill of an order the exchange closed (none is lost)', () => {
    const ledger = ledgerWith();
    const id = placeAccepted(ledger, buy('b1', 30_000, 0.01));
    expect(ledger.receiveFill(fill(id, 30_000, 0.004, 0.12))).toBe(true);
    expect(ledger.receiveFill(fill(id, 30_000, 0.003, 0.09))).toBe(true);
    ledger.orderClosed(id);
    const told = settle(ledger);
    expect(told.map((f) => f.qty)).toEqual([0.004, 0.003]);
    expect(ledger.position.base).toBeCloseTo(0.007, 10);
    expect(ledger.position.quote).toBeCloseTo(1_000 - 210 - 0.21, 8);
    expect(ledger.liveOrders).toHaveLength(0);
    expect(ledger.position.freeQuote).toBeCloseTo(ledger.position.quote, 8);
  });

  it('keeps an order whose cancel is only requested until the exchange confirms it, accepting later fills', () => {
    const ledger = ledgerWith();
    const id = placeAccepted(ledger, buy('b1', 30_000, 0.01));
    expect(ledger.submit({ kind: 'cancel', tag: 'b1' }, NOW, 30_000)).toBeNull();
    ledger.drainOutbound();
    ledger.receiveFill(fill(id, 30_000, 0.004, 0.12));
    settle(ledger);
    expect(ledger.liveOrders.map((o) => o.clientOrderId)).toEqual([id]);
    expect(ledger.openOrders).toHaveLength(0);
    expect(ledger.receiveFill(fill(id, 30_000, 0.002, 0.06))).toBe(true);
    settle(ledger);
    expect(ledger.position.base).toBeCloseTo(0.006, 10);
    ledger.orderClosed(id);
    expect(ledger.liveOrders).toHaveLength(0);
  });
});
