// The live venue through the real ccxt client against the Binance-spot simulator on 127.0.0.1:
// rules, orders by client order id, fills and trades, and how every fault becomes a VenueError.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CcxtCandleSource } from '../../src/exchange/ccxt/ccxt-candle-source.ts';
import { CcxtVenue } from '../../src/exchange/ccxt/ccxt-venue.ts';
import { DEFAULT_RATE_LIMIT_WAIT_MS } from '../../src/exchange/ccxt/translate-error.ts';
import { VenueError, type OrderRequest } from '../../src/exchange/venue.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { BinanceSpotSim, SIM_FEE_RATE } from '../sim/binance-spot.ts';
import { venueFailure } from '../support/results.ts';

const ETH_START = 5000;
let sim: BinanceSpotSim;
let eth: CandleSeries;
const venues: CcxtVenue[] = [];

beforeAll(async () => {
  const [ethCsv, solCsv] = await Promise.all([
    loadCandlesCsv(projectPath('../shared/data/candles/ETH_USDT-5m.csv')),
    loadCandlesCsv(projectPath('../shared/data/candles/SOL_USDT-5m.csv')),
  ]);
  if (!ethCsv.ok || !solCsv.ok) throw new Error('candles missing');
  eth = ethCsv.series;
  sim = await BinanceSpotSim.start([
    { base: 'ETH', quote: 'USDT', candles: eth, startIndex: ETH_START },
    { base: 'SOL', quote: 'USDT', candles: solCsv.series, filters: { tickSize: 0.001, stepSize: 0.01, minQty: 0.05, minNotional: 10 } },
  ]);
});
afterAll(async () => {
  await Promise.all(venues.map((v) => v.close()));
  await sim?.close();
});

interface TestAccount {
  readonly apiKey: string;
  readonly secret: string;
  readonly venue: CcxtVenue;
}

let accountCount = 0;
function account(options: { balances?: Record<string, number>; canWithdraw?: boolean; canTrade?: boolean; timeoutMs?: number; secret?: string } = {}): TestAccount {
  const apiKey = `k${++accountCount}${randomBytes(12).toString('hex')}`;
  const secret = `s${randomBytes(24).toString('hex')}`;
  sim.addAccount({ apiKey, secret, balances: options.balances ?? { USDT: 10_000, ETH: 2 }, canWithdraw: options.canWithdraw ?? false, canTrade: options.canTrade ?? true });
  const venue = new CcxtVenue({ exchange: 'binance', apiUrl: sim.baseUrl, credentials: { apiKey, apiSecret: options.secret ?? secret }, timeoutMs: options.timeoutMs ?? 2000 });
  venues.push(venue);
  return { apiKey, secret, venue };
}


const tick = (x: number) => Math.round(x * 100) / 100;
const limitBuy = (clientOrderId: string, price: number, qty: number): OrderRequest => ({ clientOrderId, symbol: 'ETH/USDT', side: 'buy', type: 'limit', price: tick(price), qty });

/** Every signature the sim has received. */
const allSignatures = () => sim.calls.map((c) => c.query.signature ?? c.body.signature).filter((s): s is string => typeof s === 'string');

function expectClean(error: VenueError, ...secrets: string[]): void {
  const texts = [error.message, String(error), (error.cause as Error | undefined)?.message ?? ''];
  const signatures = allSignatures();
  expect(signatures.length).toBeGreaterThan(0);
  for (const text of texts) {
    expect(secrets.filter((secret) => text.includes(secret))).toEqual([]);
    expect(text).not.toMatch(/signature=|\?timestamp|[0-9a-f]{64}/i);
    expect(signatures.filter((signature) => text.includes(signature))).toEqual([]);
  }
  expect(error.message.length).toBeLessThan(200);
}

describe('CcxtVenue against the Binance spot simulator', () => {
  it('maps exchangeInfo filters to market rules, loads markets once, and refuses unknown symbols', async () => {
    const { venue } = account();
    expect(await venue.market('ETH/USDT')).toEqual({ symbol: 'ETH/USDT', base: 'ETH', quote: 'USDT', tickSize: 0.01, lotSize: 0.00001, minQty: 0.00001, minNotional: 5 });
    const before = sim.callsTo('/api/v3/exchangeInfo').length;
    expect(await venue.market('SOL/USDT')).toEqual({ symbol: 'SOL/USDT', base: 'SOL', quote: 'USDT', tickSize: 0.001, lotSize: 0.01, minQty: 0.05, minNotional: 10 });
    expect(sim.callsTo('/api/v3/exchangeInfo').length).toBe(before);
    const unknown = await venueFailure(venue.market('DOGE/USDT'));
    expect([unknown.kind, unknown.reason, unknown.message]).toEqual(['rejected', 'bad_symbol', 'binance has no market DOGE/USDT']);
  });

  it('places, fetches and cancels a limit order by client order id; balances follow', async () => {
    const a = account();
    const price = tick(sim.price('ETHUSDT') * 0.9);
    const placed = await a.venue.placeOrder(limitBuy('grid-1-buy-0', price, 0.5));
    const [inSim] = sim.openOrders(a.apiKey);
    expect(inSim).toMatchObject({ clientOrderId: 'grid-1-buy-0', side: 'BUY', type: 'LIMIT', price, origQty: 0.5, status: 'NEW' });
    expect(sim.callsTo('/api/v3/order', 'POST').at(-1)?.body).toMatchObject({ newClientOrderId: 'grid-1-buy-0', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.5', price: price.toFixed(2) });
    expect(placed).toMatchObject({ clientOrderId: 'grid-1-buy-0', exchangeOrderId: String(inSim!.orderId), symbol: 'ETH/USDT', side: 'buy', type: 'limit', price, qty: 0.5, filledQty: 0, status: 'open' });
    expect(placed.updatedAt).toBe(inSim!.time);

    expect(await a.venue.fetchOrder('ETH/USDT', 'grid-1-buy-0')).toEqual(placed);
    expect(sim.callsTo('/api/v3/order', 'GET').at(-1)?.query.origClientOrderId).toBe('grid-1-buy-0');
    expect((await a.venue.fetchOpenOrders('ETH/USDT')).map((o) => o.clientOrderId)).toEqual(['grid-1-buy-0']);
    const locked = Math.round(price * 0.5 * (1 + SIM_FEE_RATE) * 1e8) / 1e8;
    const balances = await a.venue.fetchBalance();
    expect(balances.free.USDT).toBeCloseTo(10_000 - locked, 6);
    expect(balances.total.USDT).toBeCloseTo(10_000, 6);

    const canceled = await a.venue.cancelOrder('ETH/USDT', 'grid-1-buy-0');
    expect(canceled).toMatchObject({ clientOrderId: 'grid-1-buy-0', exchangeOrderId: placed.exchangeOrderId, status: 'canceled', filledQty: 0 });
    expect(sim.orders(a.apiKey)[0]!.status).toBe('CANCELED');
    expect((await a.venue.fetchOrder('ETH/USDT', 'grid-1-buy-0'))?.status).toBe('canceled');
    expect(await a.venue.cancelOrder('ETH/USDT', 'grid-1-buy-0')).toBeNull(); // -2011: no longer open
    expect(await a.venue.fetchOrder('ETH/USDT', 'never-placed')).toBeNull(); // -2013
    expect(await a.venue.cancelOrder('ETH/USDT', 'never-placed')).toBeNull();
    expect((await a.venue.fetchBalance()).free.USDT).toBe(10_000);
  });

  it('fills a market order at once and reports it in fetchMyTrades (no client id, exchange order id set)', async () => {
    const a = account();
    const price = sim.price('ETHUSDT');
    const since = sim.serverTime() - 1000;
    const order = await a.venue.placeOrder({ clientOrderId: 'dca-1-base', symbol: 'ETH/USDT', side: 'buy', type: 'market', price: 0, qty: 0.25 });
    expect(order).toMatchObject({ clientOrderId: 'dca-1-base', type: 'market', status: 'filled', qty: 0.25, filledQty: 0.25, price });
    expect(sim.callsTo('/api/v3/order', 'POST').at(-1)?.body).toMatchObject({ type: 'MARKET', quantity: '0.25' });
    const trades = await a.venue.fetchMyTrades('ETH/USDT', since);
    expect(trades).toHaveLength(1);
    expect(trades[0]).toEqual({
      tradeId: String(sim.trades(a.apiKey)[0]!.id),
      exchangeOrderId: order.exchangeOrderId,
      clientOrderId: null,
      symbol: 'ETH/USDT',
      side: 'buy',
      price,
      qty: 0.25,
      fee: Math.round(price * 0.25 * SIM_FEE_RATE * 1e8) / 1e8,
      feeCurrency: 'USDT',
      liquidity: 'taker',
      time: sim.trades(a.apiKey)[0]!.time,
    });
    expect(await a.venue.fetchMyTrades('ETH/USDT', trades[0]!.time + 1)).toEqual([]);
    const balances = await a.venue.fetchBalance();
    expect(balances.free.ETH).toBeCloseTo(2.25, 8);
    expect(balances.free.USDT).toBeCloseTo(10_000 - price * 0.25 * (1 + SIM_FEE_RATE), 6);
  });

  it('a resting limit filled by setPrice shows up in fetchMyTrades with its exchange order id', async () => {
    const a = account();
    const since = sim.serverTime() - 1000;
    const price = tick(sim.price('ETHUSDT') * 1.01);
    const sell = await a.venue.placeOrder({ clientOrderId: 'grid-2-sell-3', symbol: 'ETH/USDT', side: 'sell', type: 'limit', price, qty: 0.4 });
    expect(sell.status).toBe('open');
    expect(await a.venue.fetchMyTrades('ETH/USDT', since)).toEqual([]);
    sim.setPrice('ETHUSDT', price + 0.5);
    const trades = await a.venue.fetchMyTrades('ETH/USDT', since);
    expect(trades.map((t) => [t.exchangeOrderId, t.clientOrderId, t.side, t.price, t.qty, t.liquidity])).toEqual([[sell.exchangeOrderId, null, 'sell', price, 0.4, 'maker']]);
    expect(trades[0]!.fee).toBeCloseTo(price * 0.4 * SIM_FEE_RATE, 8);
    expect(await a.venue.fetchOrder('ETH/USDT', 'grid-2-sell-3')).toMatchObject({ status: 'filled', filledQty: 0.4, exchangeOrderId: sell.exchangeOrderId });
    expect(await a.venue.fetchOpenOrders('ETH/USDT')).toEqual([]);
  });

  it('fetchMyTrades pages past one response (Binance: 1000 trades) by trade id', async () => {
    const a = account({ balances: { USDT: 1_000_000, ETH: 0 } });
    // 1005 market buys sent raw (ccxt's rate limiter would make this slow).
    const buy = async (i: number) => {
      const query = new URLSearchParams({ symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01', newClientOrderId: `bulk-${i}`, timestamp: String(sim.serverTime()) }).toString();
      const signature = createHmac('sha256', a.secret).update(query).digest('hex');
      const res = await fetch(`${sim.baseUrl}/api/v3/order?${query}&signature=${signature}`, { method: 'POST', headers: { 'X-MBX-APIKEY': a.apiKey } });
      expect(res.status).toBe(200);
    };
    const since = sim.serverTime() - 1000;
    for (let i = 0; i < 1005; i += 67) await Promise.all(Array.from({ length: Math.min(67, 1005 - i) }, (_, j) => buy(i + j)));
    const trades = await a.venue.fetchMyTrades('ETH/USDT', since);
    expect(trades).toHaveLength(1005);
    expect(trades.map((t) => t.tradeId)).toEqual(sim.trades(a.apiKey).map((t) => String(t.id)));
    const pages = sim.callsTo('/api/v3/myTrades').slice(-2);
    expect(pages.map((c) => [c.query.startTime, c.query.fromId])).toEqual([[String(since), undefined], [undefined, String(Number(trades[999]!.tradeId) + 1)]]);
  });

  it('reports the market price and time from the 24h ticker', async () => {
    const { venue } = account();
    const before = sim.serverTime();
    const ticker = await venue.fetchTicker('ETH/USDT');
    expect(ticker.last).toBe(sim.price('ETHUSDT'));
    expect(ticker.time).toBeGreaterThanOrEqual(before);
    expect(ticker.time).toBeLessThanOrEqual(sim.serverTime());
    expect(sim.callsTo('/api/v3/ticker/24hr').at(-1)?.query).toEqual({ symbol: 'ETHUSDT' });
  });

  it('keyPermissions reads the key restrictions (withdrawal and trading flags)', async () => {
    const withdraws = account({ canWithdraw: true });
    expect(await withdraws.venue.keyPermissions()).toEqual({ canTrade: true, canWithdraw: true });
    const readOnly = account({ canWithdraw: false, canTrade: false });
    expect(await readOnly.venue.keyPermissions()).toEqual({ canTrade: false, canWithdraw: false });
    expect(sim.callsTo('/sapi/v1/account/apiRestrictions').length).toBe(2);
    const refused = await venueFailure(readOnly.venue.placeOrder(limitBuy('ro-1', sim.price('ETHUSDT') * 0.9, 0.01)));
    expect([refused.kind, refused.message]).toEqual(['authentication', 'binance refused the API key: This account may not place or cancel orders.']);
  });

  it('wrong secret and unknown key are authentication failures, and no message leaks a secret or signature', async () => {
    const wrong = account({ secret: 'definitely-not-the-secret-0123456789' });
    const bad = await venueFailure(wrong.venue.fetchBalance());
    expect([bad.kind, bad.message]).toEqual(['authentication', 'binance refused the API key: Signature for this request is not valid.']);
    expectClean(bad, wrong.apiKey, wrong.secret, 'definitely-not-the-secret-0123456789');
    const badOrder = await venueFailure(wrong.venue.placeOrder(limitBuy('x-1', 2000, 0.01)));
    expect(badOrder.kind).toBe('authentication');

    const unknown = new CcxtVenue({ exchange: 'binance', apiUrl: sim.baseUrl, credentials: { apiKey: 'no-such-key-123', apiSecret: 'whatever-secret-456' } });
    venues.push(unknown);
    const refused = await venueFailure(unknown.fetchOpenOrders('ETH/USDT'));
    expect([refused.kind, refused.message]).toEqual(['authentication', 'binance refused the API key: Invalid API-key, IP, or permissions for action.']);
    expectClean(refused, 'no-such-key-123', 'whatever-secret-456');

    // ccxt turns -2015 into DDoSProtection once the instance has authenticated successfully
    // (a Binance temporary-ban quirk); a revoked key must still read as authentication.
    const revoked = account();
    await revoked.venue.fetchBalance();
    sim.failNext('GET /api/v3/account', 401, { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' });
    expect((await venueFailure(revoked.venue.fetchBalance())).kind).toBe('authentication');
  });

  it('clock skew (-1021) is temporary, and the venue resynchronises so the next call succeeds', async () => {
    const a = account();
    await a.venue.market('ETH/USDT');
    sim.clockOffsetMs = 60_000;
    try {
      const timeCalls = sim.callsTo('/api/v3/time').length;
      const skew = await venueFailure(a.venue.fetchBalance());
      expect([skew.kind, skew.message]).toEqual(['temporary', "binance refused the request timestamp: our clock is out of step with the exchange's"]);
      expect(sim.callsTo('/api/v3/time').length).toBe(timeCalls + 1);
      expect((await a.venue.fetchBalance()).free.USDT).toBe(10_000);
      const placed = await a.venue.placeOrder(limitBuy('after-skew', sim.price('ETHUSDT') * 0.9, 0.01));
      expect(placed.status).toBe('open');
    } finally {
      sim.clockOffsetMs = 0;
    }
  });

  it('429 is rate_limited with Retry-After (default without it); a 429-then-418 sequence ends banned', async () => {
    const a = account();
    await a.venue.market('ETH/USDT');
    sim.failNext('GET /api/v3/openOrders', 429, { code: -1003, msg: 'Too much request weight used; current limit is 6000 request weight per 1 MINUTE.' }, 1, { 'retry-after': '7' });
    const limited = await venueFailure(a.venue.fetchOpenOrders('ETH/USDT'));
    expect([limited.kind, limited.retryAfterMs, limited.message]).toEqual(['rate_limited', 7000, 'binance is rate limiting us; retry in 7 s']);
    sim.failNext('POST /api/v3/order', 429, { code: -1015, msg: 'Too many new orders; current limit is 100 orders per 10 SECOND.' });
    const orders = await venueFailure(a.venue.placeOrder(limitBuy('rl-1', 2000, 0.01)));
    expect([orders.kind, orders.retryAfterMs]).toEqual(['rate_limited', DEFAULT_RATE_LIMIT_WAIT_MS]);
    expect(sim.openOrders(a.apiKey)).toEqual([]);

    sim.failSequence('GET /api/v3/account', [
      { status: 429, body: { code: -1003, msg: 'Too many requests.' }, headers: { 'retry-after': '2' } },
      { status: 418, body: { code: -1003, msg: 'Way too much request weight used; IP banned until 1767225600000.' }, headers: { 'retry-after': '300' } },
    ]);
    expect((await venueFailure(a.venue.fetchBalance())).kind).toBe('rate_limited');
    const banned = await venueFailure(a.venue.fetchBalance());
    expect([banned.kind, banned.retryAfterMs, banned.message]).toEqual(['banned', 300_000, 'binance has banned this IP for 300 s (HTTP 418 after rate limiting)']);
  });

  it('a 5xx on an order that was applied is unknown_outcome, and fetchOrder by client id finds the order', async () => {
    const a = account();
    await a.venue.market('ETH/USDT');
    sim.applyThenFailNext('POST /api/v3/order', 502, '<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>');
    const lost = await venueFailure(a.venue.placeOrder(limitBuy('grid-3-buy-1', sim.price('ETHUSDT') * 0.9, 0.1)));
    expect([lost.kind, lost.message]).toEqual(['unknown_outcome', 'binance did not confirm the order (HTTP 502); its outcome is unknown until reconciled by client order id']);
    expectClean(lost, a.apiKey, a.secret);
    const [held] = sim.openOrders(a.apiKey);
    expect(held?.clientOrderId).toBe('grid-3-buy-1');
    expect(await a.venue.fetchOrder('ETH/USDT', 'grid-3-buy-1')).toMatchObject({ clientOrderId: 'grid-3-buy-1', exchangeOrderId: String(held!.orderId), status: 'open' });

    // A JSON 5xx (Binance -1000, "unknown error") on a cancel: unknown as well.
    sim.failNext('DELETE /api/v3/order', 500, { code: -1000, msg: 'An unknown error occured while processing the request.' });
    expect((await venueFailure(a.venue.cancelOrder('ETH/USDT', 'grid-3-buy-1'))).kind).toBe('unknown_outcome');
    expect(sim.openOrders(a.apiKey)).toHaveLength(1);
  });

  it('an order call that never gets an answer is unknown_outcome after the timeout; the order is on the exchange', async () => {
    const a = account({ timeoutMs: 300 });
    await a.venue.market('ETH/USDT');
    sim.applyThenFailNext('POST /api/v3/order', 'hang');
    const started = Date.now();
    const lost = await venueFailure(a.venue.placeOrder(limitBuy('grid-4-buy-2', sim.price('ETHUSDT') * 0.9, 0.1)));
    expect(Date.now() - started).toBeLessThan(2000);
    expect([lost.kind, lost.message]).toEqual(['unknown_outcome', 'binance did not confirm the order (no answer in time); its outcome is unknown until reconciled by client order id']);
    expectClean(lost, a.apiKey, a.secret);
    expect((await a.venue.fetchOrder('ETH/USDT', 'grid-4-buy-2'))?.status).toBe('open');
  });

  it('reads that fail with a 5xx (JSON or HTML) or time out are temporary, and their messages carry no signed URL', async () => {
    const a = account({ timeoutMs: 300 });
    await a.venue.market('ETH/USDT');
    sim.failNext('GET /api/v3/openOrders', 503, '<html><body>503 Service Temporarily Unavailable</body></html>');
    const html = await venueFailure(a.venue.fetchOpenOrders('ETH/USDT'));
    expect([html.kind, html.message]).toEqual(['temporary', 'binance is unavailable (HTTP 503); try again shortly']);
    expect((html.cause as Error).message).toContain('/api/v3/openOrders');
    expectClean(html, a.apiKey, a.secret);
    sim.failNext('GET /api/v3/account', 500, { code: -1000, msg: 'An unknown error occured while processing the request.' });
    expect((await venueFailure(a.venue.fetchBalance())).kind).toBe('temporary');
    sim.hangNext('GET /api/v3/order');
    const timeout = await venueFailure(a.venue.fetchOrder('ETH/USDT', 'whatever'));
    expect([timeout.kind, timeout.message]).toEqual(['temporary', 'binance is unavailable (no answer in time); try again shortly']);
    expectClean(timeout, a.apiKey, a.secret);
    const down = new CcxtVenue({ exchange: 'binance', apiUrl: 'http://127.0.0.1:9', timeoutMs: 500 });
    venues.push(down);
    expect((await venueFailure(down.market('ETH/USDT'))).kind).toBe('temporary');
  });

  it('insufficient balance, a duplicate client order id and a filter failure are rejections with their reasons', async () => {
    const a = account({ balances: { USDT: 100, ETH: 0 } });
    const price = sim.price('ETHUSDT') * 0.9;
    const poor = await venueFailure(a.venue.placeOrder(limitBuy('big-1', price, 1)));
    expect([poor.kind, poor.reason, poor.message]).toEqual(['rejected', 'insufficient_funds', 'binance rejected the order: insufficient balance']);
    const sellPoor = await venueFailure(a.venue.placeOrder({ clientOrderId: 'big-2', symbol: 'ETH/USDT', side: 'sell', type: 'market', price: 0, qty: 0.01 }));
    expect(sellPoor.reason).toBe('insufficient_funds');

    await a.venue.placeOrder(limitBuy('dup-1', price, 0.01));
    const dup = await venueFailure(a.venue.placeOrder(limitBuy('dup-1', price, 0.01)));
    expect([dup.kind, dup.reason, dup.message]).toEqual(['rejected', 'duplicate_order', 'binance rejected the order: its client order id is already in use']);
    expect(sim.orders(a.apiKey).filter((o) => o.clientOrderId === 'dup-1')).toHaveLength(1);

    const small = await venueFailure(a.venue.placeOrder(limitBuy('small-1', price, 0.001)));
    expect([small.kind, small.reason, small.message]).toEqual(['rejected', 'invalid_order', 'binance rejected the order: Filter failure: NOTIONAL']);
    const huge = await venueFailure(a.venue.placeOrder(limitBuy('huge-1', 1000, 9001)));
    expect([huge.kind, huge.reason, huge.message]).toEqual(['rejected', 'invalid_order', 'binance rejected the order: Filter failure: LOT_SIZE']);
    expect(sim.orders(a.apiKey).map((o) => o.clientOrderId)).toEqual(['dup-1']);
  });
});

describe('CcxtCandleSource', () => {
  it('serves public candles up to the simulator cursor and translates failures as reads', async () => {
    const source = new CcxtCandleSource({ exchange: 'binance', apiUrl: sim.baseUrl, timeoutMs: 2000 });
    try {
      const cursor = sim.cursorTime('ETHUSDT');
      const last = eth.time.indexOf(cursor);
      const recent = await source.fetchCandles('ETH/USDT', '5m', undefined, 3);
      expect(recent.map((c) => c.time)).toEqual([eth.time[last - 2], eth.time[last - 1], eth.time[last]]);
      expect(recent[2]).toEqual({ time: eth.time[last], open: eth.open[last], high: eth.high[last], low: eth.low[last], close: eth.close[last], volume: eth.volume[last] });
      const since = await source.fetchCandles('ETH/USDT', '5m', eth.time[100], 2);
      expect(since.map((c) => c.close)).toEqual([eth.close[100], eth.close[101]]);
      const unknown = await venueFailure(source.fetchCandles('DOGE/USDT', '5m', undefined, 3));
      expect([unknown.kind, unknown.reason]).toEqual(['rejected', 'bad_symbol']);
      sim.failNext('GET /api/v3/klines', 429, { code: -1003, msg: 'Too many requests.' }, 1, { 'retry-after': '5' });
      const limited = await venueFailure(source.fetchCandles('ETH/USDT', '5m', undefined, 3));
      expect([limited.kind, limited.retryAfterMs]).toEqual(['rate_limited', 5000]);
      sim.failNext('GET /api/v3/klines', 502, '<html>502 Bad Gateway</html>');
      expect((await venueFailure(source.fetchCandles('ETH/USDT', '5m', undefined, 3))).kind).toBe('temporary');
    } finally {
      await source.close();
    }
  });
});
