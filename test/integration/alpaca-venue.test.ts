// The equities venue through Alpaca's real SDK against the Alpaca simulator on 127.0.0.1: asset
// rules, fractional orders by client order id, fills from account activities, balances, how
// every fault becomes a VenueError, market hours (a closed market places nothing), and stock
// candles for the market-data service and the router.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlpacaCandleSource } from '../../src/exchange/alpaca/alpaca-candle-source.ts';
import { DEFAULT_ALPACA_RATE_LIMIT_WAIT_MS } from '../../src/exchange/alpaca/alpaca-errors.ts';
import { AlpacaVenue } from '../../src/exchange/alpaca/alpaca-venue.ts';
import { MarketHours, MarketHoursVenue } from '../../src/exchange/market-hours-venue.ts';
import { VenueError, type OrderRequest } from '../../src/exchange/venue.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import type { CandleView } from '../../src/market-data/candles.ts';
import { AlpacaSim } from '../sim/alpaca-api.ts';
import { venueFailure } from '../support/results.ts';

const HOUR = 3_600_000;
const MIN5 = 300_000;
let sim: AlpacaSim;
/** 5-minute AAPL bars over the last two days, the newest one forming now. */
let aaplBars: CandleView[];

beforeAll(async () => {
  sim = await AlpacaSim.start({
    assets: [
      { symbol: 'AAPL', fractionable: true },
      { symbol: 'BRK', fractionable: false },
      { symbol: 'TINY', fractionable: true, minOrderSize: '0.05', minTradeIncrement: '0.001', priceIncrement: '0.0001' },
      { symbol: 'OLD', tradable: false, status: 'inactive' },
    ],
  });
  const first = Math.floor((Date.now() - 48 * HOUR) / MIN5) * MIN5;
  aaplBars = [];
  for (let t = first, i = 0; t <= Date.now(); t += MIN5, i++) {
    const close = 190 + Math.sin(i / 7) * 2;
    aaplBars.push({ time: t, open: close - 0.1, high: close + 0.3, low: close - 0.4, close, volume: 1000 + i });
  }
  sim.addBars('AAPL', '5Min', aaplBars);
  sim.addBars('BRK', '5Min', [{ time: first, open: 400, high: 401, low: 399, close: 400, volume: 10 }]);
  sim.setPrice('AAPL', 200);
  sim.setPrice('BRK', 400);
  sim.setMarketOpen(true, { nextOpen: Date.now() + 24 * HOUR, nextClose: Date.now() + 6 * HOUR });
});
afterAll(async () => {
  await sim?.close();
});

interface TestAccount {
  readonly keyId: string;
  readonly secret: string;
  readonly venue: AlpacaVenue;
}

let accounts = 0;
function account(options: { cash?: number; positions?: Record<string, number>; tradingBlocked?: boolean; timeoutMs?: number; secret?: string } = {}): TestAccount {
  const keyId = `PK${++accounts}${randomBytes(8).toString('hex').toUpperCase()}`;
  const secret = `s${randomBytes(20).toString('hex')}`;
  sim.addAccount({ keyId, secret, cash: options.cash ?? 10_000, ...(options.positions ? { positions: options.positions } : {}), ...(options.tradingBlocked ? { tradingBlocked: true } : {}) });
  const venue = new AlpacaVenue({ apiUrl: sim.baseUrl, dataUrl: sim.baseUrl, credentials: { keyId, secret: options.secret ?? secret }, timeoutMs: options.timeoutMs ?? 2000 });
  return { keyId, secret, venue };
}


const marketBuy = (clientOrderId: string, qty: number, symbol = 'AAPL/USD'): OrderRequest => ({ clientOrderId, symbol, side: 'buy', type: 'market', price: 0, qty });
const limit = (clientOrderId: string, side: 'buy' | 'sell', price: number, qty: number): OrderRequest => ({ clientOrderId, symbol: 'AAPL/USD', side, type: 'limit', price, qty });
const lastOrderPost = () => sim.callsTo('POST', '/v2/orders').at(-1);

describe('AlpacaVenue against the Alpaca simulator', () => {
  it("maps Alpaca's assets to market rules: fractionable, whole shares, reported increments; refuses what it cannot trade", async () => {
    const { venue } = account();
    expect(await venue.market('AAPL/USD')).toEqual({ symbol: 'AAPL/USD', base: 'AAPL', quote: 'USD', tickSize: 0.01, lotSize: 1e-9, minQty: 1e-9, minNotional: 1 });
    expect(await venue.market('BRK/USD')).toEqual({ symbol: 'BRK/USD', base: 'BRK', quote: 'USD', tickSize: 0.01, lotSize: 1, minQty: 1, minNotional: 0 });
    expect(await venue.market('TINY/USD')).toEqual({ symbol: 'TINY/USD', base: 'TINY', quote: 'USD', tickSize: 0.0001, lotSize: 0.001, minQty: 0.05, minNotional: 1 });
    const calls = sim.callsTo('GET', '/v2/assets/AAPL').length;
    await venue.market('AAPL/USD');
    expect(sim.callsTo('GET', '/v2/assets/AAPL').length).toBe(calls); // loaded once
    for (const symbol of ['NOPE/USD', 'AAPL/EUR', 'OLD/USD']) {
      const refused = await venueFailure(venue.market(symbol));
      expect([symbol, refused.kind, refused.reason]).toEqual([symbol, 'rejected', 'bad_symbol']);
    }
  });

  it('places a fractional market order with our client order id as a day order; it fills and shows in fetchOrder and fetchMyTrades', async () => {
    const a = account();
    const since = Date.now() - 1000;
    const order = await a.venue.placeOrder(marketBuy('ait-aaaaaaaaaaaa-base-1', 0.123456789));
    expect(lastOrderPost()?.body).toEqual({ symbol: 'AAPL', qty: '0.123456789', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'ait-aaaaaaaaaaaa-base-1' });
    expect(lastOrderPost()?.keyId).toBe(a.keyId);
    const [inSim] = sim.orders(a.keyId);
    expect(order).toMatchObject({ clientOrderId: 'ait-aaaaaaaaaaaa-base-1', exchangeOrderId: inSim!.id, symbol: 'AAPL/USD', side: 'buy', type: 'market', price: 200, qty: 0.123456789, filledQty: 0.123456789, status: 'filled' });

    expect(await a.venue.fetchOrder('AAPL/USD', 'ait-aaaaaaaaaaaa-base-1')).toEqual({ ...order, updatedAt: expect.any(Number) });
    expect(sim.callsTo('GET', '/v2/orders:by_client_order_id').at(-1)?.query).toEqual({ client_order_id: 'ait-aaaaaaaaaaaa-base-1' });
    expect(await a.venue.fetchOrder('AAPL/USD', 'never-placed')).toBeNull();

    const trades = await a.venue.fetchMyTrades('AAPL/USD', since);
    expect(trades).toEqual([
      { tradeId: expect.stringMatching(/^\d{17}::/), exchangeOrderId: inSim!.id, clientOrderId: null, symbol: 'AAPL/USD', side: 'buy', price: 200, qty: 0.123456789, fee: 0, feeCurrency: 'USD', liquidity: 'taker', time: expect.any(Number) },
    ]);
    expect(sim.callsTo('GET', '/v2/account/activities/FILL').at(-1)?.query).toMatchObject({ direction: 'asc', page_size: '100' });
    expect(await a.venue.fetchMyTrades('AAPL/USD', trades[0]!.time + 1)).toEqual([]);
    expect(await a.venue.fetchMyTrades('BRK/USD', since)).toEqual([]);

    const balances = await a.venue.fetchBalance();
    expect(balances.total.USD).toBeCloseTo(10_000 - 200 * 0.123456789, 6);
    expect(balances.total.AAPL).toBeCloseTo(0.123456789, 9);
  });

  it('fetchMyTrades pages through more than 100 fills by page token', async () => {
    const a = account({ cash: 1_000_000 });
    const since = Date.now() - 1000;
    for (let i = 0; i < 105; i += 15) await Promise.all(Array.from({ length: Math.min(15, 105 - i) }, (_, j) => a.venue.placeOrder(marketBuy(`bulk-${i + j}`, 0.01))));
    const trades = await a.venue.fetchMyTrades('AAPL/USD', since);
    expect(trades).toHaveLength(105);
    expect(new Set(trades.map((t) => t.tradeId)).size).toBe(105);
    const pages = sim.callsTo('GET', '/v2/account/activities/FILL').slice(-2);
    expect(pages[0]!.query.page_token).toBeUndefined();
    // The next page starts after the last activity of the first (Alpaca's cursor).
    expect(trades.map((t) => t.tradeId)).toContain(pages[1]!.query.page_token);
  });

  it('rests a limit order, lists it as open, fills it when the price reaches it, and cancels by client order id', async () => {
    const a = account({ positions: { AAPL: 2 } });
    const buy = await a.venue.placeOrder(limit('ait-bbbbbbbbbbbb-so1-1', 'buy', 180.5, 1.5));
    expect(lastOrderPost()?.body).toMatchObject({ type: 'limit', limit_price: '180.5', qty: '1.5', time_in_force: 'day' });
    expect(buy).toMatchObject({ status: 'open', price: 180.5, filledQty: 0 });
    const sell = await a.venue.placeOrder(limit('ait-bbbbbbbbbbbb-tp-1', 'sell', 230, 2));
    expect((await a.venue.fetchOpenOrders('AAPL/USD')).map((o) => o.clientOrderId)).toEqual(['ait-bbbbbbbbbbbb-so1-1', 'ait-bbbbbbbbbbbb-tp-1']);
    expect(sim.callsTo('GET', '/v2/orders').at(-1)?.query).toMatchObject({ status: 'open', symbols: 'AAPL', direction: 'asc' });
    const balances = await a.venue.fetchBalance();
    expect(balances.free.USD).toBeCloseTo(10_000 - 180.5 * 1.5, 6); // held by the open buy
    expect(balances.free.AAPL).toBe(0); // held by the open sell
    expect(balances.total.AAPL).toBe(2);

    sim.setPrice('AAPL', 180);
    expect(await a.venue.fetchOrder('AAPL/USD', 'ait-bbbbbbbbbbbb-so1-1')).toMatchObject({ status: 'filled', filledQty: 1.5, price: 180.5 });
    const canceled = await a.venue.cancelOrder('AAPL/USD', 'ait-bbbbbbbbbbbb-tp-1');
    expect(canceled).toMatchObject({ clientOrderId: 'ait-bbbbbbbbbbbb-tp-1', exchangeOrderId: sell.exchangeOrderId, status: 'canceled', filledQty: 0 });
    expect(sim.callsTo('DELETE', `/v2/orders/${sell.exchangeOrderId}`)).toHaveLength(1);
    // Already final: nothing to cancel, its state is reported; unknown: null.
    expect(await a.venue.cancelOrder('AAPL/USD', 'ait-bbbbbbbbbbbb-so1-1')).toMatchObject({ status: 'filled' });
    expect(sim.callsTo('DELETE', `/v2/orders/${buy.exchangeOrderId}`)).toHaveLength(0);
    expect(await a.venue.cancelOrder('AAPL/USD', 'never-placed')).toBeNull();
    expect(await a.venue.fetchOpenOrders('AAPL/USD')).toEqual([]);
    sim.setPrice('AAPL', 200);
  });

  it('reports the last trade as the ticker, and key permissions from the account (Alpaca keys cannot withdraw)', async () => {
    const a = account();
    const ticker = await a.venue.fetchTicker('AAPL/USD');
    expect(ticker.last).toBe(200);
    expect(sim.callsTo('GET', '/v2/stocks/AAPL/trades/latest').at(-1)?.query).toEqual({ feed: 'iex' });
    expect(await a.venue.keyPermissions()).toEqual({ canTrade: true, canWithdraw: false });
    const blocked = account({ tradingBlocked: true });
    expect(await blocked.venue.keyPermissions()).toEqual({ canTrade: false, canWithdraw: false });
    const refused = await venueFailure(blocked.venue.placeOrder(marketBuy('blocked-1', 1)));
    expect(refused.kind).toBe('authentication');
  });

  it('insufficient buying power or shares are rejected insufficient_funds; bad orders invalid_order; a reused client order id duplicate_order', async () => {
    const a = account({ cash: 100 });
    const poor = await venueFailure(a.venue.placeOrder(marketBuy('poor-1', 1)));
    expect([poor.kind, poor.reason, poor.message]).toEqual(['rejected', 'insufficient_funds', 'alpaca rejected the order: insufficient buying power']);
    const short = await venueFailure(a.venue.placeOrder(limit('short-1', 'sell', 250, 1)));
    expect([short.kind, short.reason]).toEqual(['rejected', 'insufficient_funds']);
    const fraction = await venueFailure(a.venue.placeOrder(marketBuy('brk-1', 0.5, 'BRK/USD')));
    expect([fraction.kind, fraction.reason, fraction.message]).toEqual(['rejected', 'invalid_order', 'alpaca rejected the order: asset BRK is not fractionable']);
    const tiny = await venueFailure(a.venue.placeOrder(marketBuy('tiny-1', 0.001)));
    expect([tiny.reason, tiny.message]).toEqual(['invalid_order', 'alpaca rejected the order: cost basis must be >= 1']);
    await a.venue.placeOrder(marketBuy('once-1', 0.01));
    const again = await venueFailure(a.venue.placeOrder(marketBuy('once-1', 0.01)));
    expect([again.kind, again.reason]).toEqual(['rejected', 'duplicate_order']);
  });

  it('unknown key and wrong secret are authentication failures, and no message carries a credential', async () => {
    const wrongSecret = account({ secret: 'not-the-secret-0123456789' });
    const forbidden = await venueFailure(wrongSecret.venue.fetchBalance());
    expect([forbidden.kind, forbidden.message]).toEqual(['authentication', 'alpaca refused the request for this key: forbidden']);
    const stranger = new AlpacaVenue({ apiUrl: sim.baseUrl, dataUrl: sim.baseUrl, credentials: { keyId: 'PKUNKNOWNKEY1234', secret: 'whatever-secret-5678' } });
    const unknown = await venueFailure(stranger.placeOrder(marketBuy('x-1', 1)));
    expect([unknown.kind, unknown.message]).toEqual(['authentication', 'alpaca refused the API key: request is not authorized']);
    for (const error of [forbidden, unknown]) {
      const texts = [error.message, String(error), (error.cause as Error).message];
      for (const secret of ['PKUNKNOWNKEY1234', 'whatever-secret-5678', wrongSecret.keyId, wrongSecret.secret, 'not-the-secret-0123456789']) {
        expect(texts.filter((t) => t.includes(secret))).toEqual([]);
      }
    }
  });

  it('429 is rate_limited with the Retry-After wait; without one, a minute', async () => {
    const a = account();
    sim.failNext('GET /v2/account', 429, { code: 42910000, message: 'rate limit exceeded' }, 1, { 'Retry-After': '7' });
    const limited = await venueFailure(a.venue.fetchBalance());
    expect([limited.kind, limited.retryAfterMs, limited.message]).toEqual(['rate_limited', 7000, 'alpaca is rate limiting us; retry in 7 s']);
    sim.failNext('POST /v2/orders', 429);
    const order = await venueFailure(a.venue.placeOrder(marketBuy('rl-1', 0.01)));
    expect([order.kind, order.retryAfterMs]).toEqual(['rate_limited', DEFAULT_ALPACA_RATE_LIMIT_WAIT_MS]);
    expect(sim.orders(a.keyId)).toEqual([]); // refused, not placed, and not retried by the SDK
    expect(sim.callsTo('POST', '/v2/orders').filter((c) => c.body?.client_order_id === 'rl-1')).toHaveLength(1);
  });

  it('a 5xx or a timeout on submit leaves the outcome unknown (the order may exist: it is found by client order id); on a read it is temporary', async () => {
    const a = account({ timeoutMs: 300 });
    sim.applyThenFailNext('POST /v2/orders', 502);
    const bad = await venueFailure(a.venue.placeOrder(marketBuy('ait-cccccccccccc-base-1', 0.05)));
    expect([bad.kind, bad.message]).toEqual(['unknown_outcome', 'alpaca did not confirm the order (HTTP 502); its outcome is unknown until reconciled by client order id']);
    expect(await a.venue.fetchOrder('AAPL/USD', 'ait-cccccccccccc-base-1')).toMatchObject({ status: 'filled', filledQty: 0.05 });

    sim.hangNext('POST /v2/orders');
    const slow = await venueFailure(a.venue.placeOrder(marketBuy('ait-cccccccccccc-base-2', 0.05)));
    expect([slow.kind, slow.message]).toEqual(['unknown_outcome', 'alpaca did not confirm the order (no answer in time); its outcome is unknown until reconciled by client order id']);
    expect(await a.venue.fetchOrder('AAPL/USD', 'ait-cccccccccccc-base-2')).toBeNull();

    sim.failNext('GET /v2/orders', 503, { code: 50010000, message: 'internal server error' });
    const read = await venueFailure(a.venue.fetchOpenOrders('AAPL/USD'));
    expect([read.kind, read.message]).toEqual(['temporary', 'alpaca is unavailable (HTTP 503); try again shortly']);
    // The SDK retries no read either: the caller's own policy decides.
    expect(sim.callsTo('GET', '/v2/orders').filter((c) => c.keyId === a.keyId)).toHaveLength(1);
  });
});

describe('market hours', () => {
  it('a closed market refuses orders without any reaching Alpaca, naming when it opens; cancels and reads still work; it trades again once open', async () => {
    const clock = new TestClock(new Date(Date.now()));
    const a = account({ positions: { AAPL: 1 } });
    const resting = await a.venue.placeOrder(limit('ait-dddddddddddd-tp-1', 'sell', 260, 1));
    const opensAt = clock.now().getTime() + 2 * HOUR;
    sim.setMarketOpen(false, { nextOpen: opensAt, nextClose: opensAt + 6.5 * HOUR });
    const venue = new MarketHoursVenue(a.venue, new MarketHours(a.venue, clock));
    const posts = sim.callsTo('POST', '/v2/orders').length;

    const closed = await venueFailure(venue.placeOrder(marketBuy('ait-dddddddddddd-base-1', 0.1)));
    const when = `${new Date(opensAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    expect([closed.kind, closed.reason, closed.message]).toEqual(['rejected', 'market_closed', `The stock market is closed: orders wait until it opens at ${when}.`]);
    await venueFailure(venue.placeOrder(marketBuy('ait-dddddddddddd-base-2', 0.1)));
    expect(sim.callsTo('POST', '/v2/orders').length).toBe(posts);
    expect(sim.callsTo('GET', '/v2/clock').filter((c) => c.keyId === a.keyId)).toHaveLength(1); // cached until it opens
    expect(await venue.marketSession()).toMatchObject({ open: false, opensAt });

    expect(await venue.fetchBalance()).toMatchObject({ total: { USD: 10_000, AAPL: 1 } });
    expect(await venue.cancelOrder('AAPL/USD', 'ait-dddddddddddd-tp-1')).toMatchObject({ exchangeOrderId: resting.exchangeOrderId, status: 'canceled' });

    sim.setMarketOpen(true, { nextOpen: opensAt + 24 * HOUR, nextClose: opensAt + 6.5 * HOUR });
    clock.set(new Date(opensAt));
    const placed = await venue.placeOrder(marketBuy('ait-dddddddddddd-base-3', 0.1));
    expect(placed.status).toBe('filled');
    expect(await venue.marketSession()).toEqual({ open: true, since: opensAt, opensAt: opensAt + 24 * HOUR, closesAt: opensAt + 6.5 * HOUR });
    expect(sim.callsTo('GET', '/v2/clock').filter((c) => c.keyId === a.keyId)).toHaveLength(2);
  });

  it('a failed clock read is not cached and leaves as a VenueError', async () => {
    const clock = new TestClock(new Date(Date.now()));
    const a = account();
    const hours = new MarketHours(a.venue, clock);
    sim.failNext('GET /v2/clock', 500, { code: 50010000, message: 'internal server error' });
    const failed = await venueFailure(hours.session());
    expect(failed.kind).toBe('temporary');
    expect((await hours.session()).open).toBe(true);
  });
});

describe('AlpacaCandleSource', () => {
  const source = (credentials: { keyId: string; secret: string } | null = { keyId: 'DATAKEY1', secret: 'data-secret-1' }) =>
    new AlpacaCandleSource({ dataUrl: sim.baseUrl, credentials, clock: { now: () => new Date() } });

  beforeAll(() => sim.addDataKey('DATAKEY1', 'data-secret-1'));

  it('serves the newest bars oldest first, then pages forward from a start time, as the SDK asks for them', async () => {
    const candles = await source().fetchCandles('AAPL/USD', '5m', undefined, 100);
    expect(candles).toEqual(aaplBars.slice(-100));
    const newest = sim.callsTo('GET', '/v2/stocks/AAPL/bars').at(-1)!;
    expect(newest.keyId).toBe('DATAKEY1');
    expect(newest.query).toMatchObject({ timeframe: '5Min', limit: '100', sort: 'desc', feed: 'iex', adjustment: 'raw' });
    expect(Date.parse(newest.query.start!)).toBeLessThan(aaplBars.at(-100)!.time);

    const from = aaplBars[10]!.time;
    const page = await source().fetchCandles('AAPL', '5m', from, 20);
    expect(page).toEqual(aaplBars.slice(10, 30));
    expect(sim.callsTo('GET', '/v2/stocks/AAPL/bars').at(-1)!.query).toMatchObject({ start: new Date(from).toISOString(), sort: 'asc', limit: '20' });
    expect(await source().fetchCandles('AAPL/USD', '5m', aaplBars.at(-1)!.time + MIN5, 20)).toEqual([]);
  });

  it('refuses timeframes Alpaca has no bars for, symbols in other currencies, and wrong keys', async () => {
    const month = await venueFailure(source().fetchCandles('AAPL/USD', '2d', undefined, 10));
    expect([month.kind, month.message]).toEqual(['rejected', 'alpaca has no 2d bars: use 1m to 59m, 1h to 23h, 1d or 1w']);
    expect((await venueFailure(source().fetchCandles('AAPL/EUR', '5m', undefined, 10))).reason).toBe('bad_symbol');
    const anonymous = await venueFailure(source(null).fetchCandles('AAPL/USD', '5m', undefined, 10));
    expect(anonymous.kind).toBe('authentication');
    expect(sim.callsTo('GET', '/v2/stocks/AAPL/bars').at(-1)!.keyId).toBeNull();
    sim.failNext('GET /v2/stocks/AAPL/bars', 429, { code: 42910000, message: 'rate limit exceeded' }, 1, { 'Retry-After': '3' });
    const limited = await venueFailure(source().fetchCandles('AAPL/USD', '5m', undefined, 10));
    expect([limited.kind, limited.retryAfterMs]).toEqual(['rate_limited', 3000]);
  });
});
