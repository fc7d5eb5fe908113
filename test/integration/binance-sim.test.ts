// The Binance-spot simulator on its own, spoken to with raw signed HTTP: the protocol details
// the ccxt venue tests rely on without seeing (signature over query + body, the timestamp
// window, balance locking, the candle cursor and its fill rules, fault injection).
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { BinanceSpotSim, SIM_FEE_RATE } from '../sim/binance-spot.ts';

const START = 5000;
let sim: BinanceSpotSim;
let eth: CandleSeries;

beforeAll(async () => {
  const loaded = await loadCandlesCsv(projectPath('../shared/data/candles/ETH_USDT-5m.csv'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  eth = loaded.series;
  sim = await BinanceSpotSim.start([{ base: 'ETH', quote: 'USDT', candles: eth, startIndex: START }]);
});
afterAll(async () => {
  await sim?.close();
});

const sign = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest('hex');

/** A signed request the way Binance documents it: params in the query, the body, or split across both. */
async function signed(
  method: string,
  path: string,
  key: { apiKey: string; secret: string },
  params: Record<string, string | number>,
  options: { inBody?: string[]; timestamp?: number; signature?: string } = {},
): Promise<{ status: number; body: any }> {
  const all = { ...params, timestamp: options.timestamp ?? sim.serverTime() };
  const bodyKeys = new Set(options.inBody ?? []);
  const query = new URLSearchParams(Object.entries(all).filter(([k]) => !bodyKeys.has(k)).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const body = new URLSearchParams(Object.entries(all).filter(([k]) => bodyKeys.has(k)).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const signature = options.signature ?? sign(key.secret, query + body);
  const withSig = body ? { q: query, b: `${body}&signature=${signature}` } : { q: `${query}&signature=${signature}`, b: '' };
  const res = await fetch(`${sim.baseUrl}${path}?${withSig.q}`, {
    method,
    headers: { 'X-MBX-APIKEY': key.apiKey, ...(withSig.b ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    ...(withSig.b ? { body: withSig.b } : {}),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

let accounts = 0;
function newAccount(balances: Record<string, number> = { USDT: 10_000, ETH: 1 }) {
  const key = { apiKey: `sim-key-${++accounts}`, secret: `sim-secret-${accounts}` };
  sim.addAccount({ ...key, balances });
  return key;
}

describe('binance spot simulator', () => {
  it('checks the signature over query string + body, the api key and the timestamp window', async () => {
    const key = newAccount();
    // Binance's "mixed" example: part of the params in the query, the rest (and the signature) in the body.
    const mixed = await signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: '2000.00' }, { inBody: ['quantity', 'price', 'timestamp'] });
    expect(mixed.status).toBe(200);
    expect(mixed.body).toMatchObject({ symbol: 'ETHUSDT', status: 'NEW', origQty: '0.01000000', price: '2000.00000000', fills: [] });

    const wrong = await signed('GET', '/api/v3/account', key, {}, { signature: sign('not-the-secret', 'x') });
    expect(wrong).toEqual({ status: 400, body: { code: -1022, msg: 'Signature for this request is not valid.' } });
    const unknown = await signed('GET', '/api/v3/account', { apiKey: 'who', secret: key.secret }, {});
    expect(unknown).toEqual({ status: 401, body: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } });
    const late = await signed('GET', '/api/v3/account', key, {}, { timestamp: sim.serverTime() - 6000 });
    expect(late).toEqual({ status: 400, body: { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' } });
    const early = await signed('GET', '/api/v3/account', key, {}, { timestamp: sim.serverTime() + 1500 });
    expect(early.body.code).toBe(-1021);
    expect((await signed('GET', '/api/v3/account', key, { recvWindow: 10_000 }, { timestamp: sim.serverTime() - 6000 })).status).toBe(200);

    sim.clockOffsetMs = -30_000;
    try {
      const skewed = await signed('GET', '/api/v3/account', key, {}, { timestamp: Date.now() });
      expect(skewed.body.code).toBe(-1021);
      const time = (await (await fetch(`${sim.baseUrl}/api/v3/time`)).json()) as { serverTime: number };
      expect(Date.now() - time.serverTime).toBeGreaterThan(29_000);
    } finally {
      sim.clockOffsetMs = 0;
    }
  });

  it('locks funds for resting limits, releases them on cancel, and enforces filters, duplicates and balance', async () => {
    const key = newAccount({ USDT: 1000, ETH: 0.5 });
    const buy = await signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.2', price: '2000.00', newClientOrderId: 'b-1' });
    expect(buy.status).toBe(200);
    expect(sim.balances(key.apiKey).USDT).toEqual({ free: 1000 - 400 * (1 + SIM_FEE_RATE), locked: 400 * (1 + SIM_FEE_RATE) });
    const sell = await signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side: 'SELL', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.3', price: '3000.00', newClientOrderId: 's-1' });
    expect(sell.status).toBe(200);
    expect(sim.balances(key.apiKey).ETH).toEqual({ free: 0.2, locked: 0.3 });

    const duplicate = await signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: '2000.00', newClientOrderId: 'b-1' });
    expect(duplicate).toEqual({ status: 400, body: { code: -2010, msg: 'Duplicate order sent.' } });
    const order = (params: Record<string, string>) => signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', ...params });
    expect((await order({ quantity: '0.01', price: '2000.005' })).body).toEqual({ code: -1013, msg: 'Filter failure: PRICE_FILTER' });
    expect((await order({ quantity: '0.000015', price: '2000.00' })).body).toEqual({ code: -1013, msg: 'Filter failure: LOT_SIZE' });
    expect((await order({ quantity: '0.002', price: '2000.00' })).body).toEqual({ code: -1013, msg: 'Filter failure: NOTIONAL' });
    expect((await order({ quantity: '0.3', price: '2000.00' })).body).toEqual({ code: -2010, msg: 'Account has insufficient balance for requested action.' });

    const cancel = await signed('DELETE', '/api/v3/order', key, { symbol: 'ETHUSDT', origClientOrderId: 'b-1' });
    expect(cancel.body).toMatchObject({ origClientOrderId: 'b-1', status: 'CANCELED' });
    expect(sim.balances(key.apiKey).USDT).toEqual({ free: 1000, locked: 0 });
    expect((await signed('DELETE', '/api/v3/order', key, { symbol: 'ETHUSDT', origClientOrderId: 'b-1' })).body).toEqual({ code: -2011, msg: 'Unknown order sent.' });
    expect((await signed('GET', '/api/v3/order', key, { symbol: 'ETHUSDT', origClientOrderId: 'nope' })).body).toEqual({ code: -2013, msg: 'Order does not exist.' });
    // A closed order's client id may be used again.
    expect((await order({ quantity: '0.01', price: '2000.00', newClientOrderId: 'b-1' })).status).toBe(200);
    expect(sim.openOrders(key.apiKey).map((o) => o.clientOrderId).sort()).toEqual(['b-1', 's-1']);
  });

  it('serves klines up to the cursor; advanceCandle fills resting limits at the limit or at a gapped open', async () => {
    const klines = async (params: string) => (await (await fetch(`${sim.baseUrl}/api/v3/klines?symbol=ETHUSDT&interval=5m&${params}`)).json()) as unknown[][];
    const before = sim.cursorTime('ETHUSDT');
    expect(before).toBe(eth.time[START]);
    const recent = await klines('limit=3');
    expect(recent.map((k) => k[0])).toEqual([eth.time[START - 2], eth.time[START - 1], eth.time[START]]);
    expect(await klines(`startTime=${eth.time[START]! + 1}`)).toEqual([]);
    expect(sim.price('ETH/USDT')).toBe(eth.close[START]);

    // Find the next candle that dips at least 2 ticks below the current price.
    let i = START + 1;
    while (eth.low[i]! > eth.close[i - 1]! - 0.5 || eth.open[i]! < eth.low[i]! + 0.2) i++;
    while (sim.cursorTime('ETHUSDT') < eth.time[i - 1]!) expect(sim.advanceCandle('ETHUSDT')).toBe(true);
    const key = newAccount({ USDT: 10_000, ETH: 1 });
    const place = async (id: string, side: 'BUY' | 'SELL', price: number) =>
      (await signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side, type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: price.toFixed(2), newClientOrderId: id })).body;
    const limit = Math.round((eth.low[i]! + 0.1) * 100) / 100; // reached by the low, below the open
    const deep = Math.round(eth.close[i - 1]! * 0.5 * 100) / 100; // never reached
    expect((await place('hit', 'BUY', limit)).status).toBe('NEW');
    expect((await place('deep', 'BUY', deep)).status).toBe('NEW');
    expect(sim.advanceCandle('ETHUSDT')).toBe(true);
    expect(sim.cursorTime('ETHUSDT')).toBe(eth.time[i]);
    expect(sim.price('ETHUSDT')).toBe(eth.close[i]);
    const byId = () => new Map(sim.orders(key.apiKey).map((o) => [o.clientOrderId, o]));
    expect(byId().get('hit')).toMatchObject({ status: 'FILLED', executedQty: 0.01, cummulativeQuoteQty: Math.round(limit * 1e6) / 1e8 });
    expect(byId().get('deep')?.status).toBe('NEW');

    // A gap: the price is moved $10 under the next open, a sell rests $5 under that open, and
    // the candle opens through it: filled at the (better) open, not at the limit.
    const next = eth.open[i + 1]!;
    sim.setPrice('ETHUSDT', next - 10);
    expect((await place('gap', 'SELL', next - 5)).status).toBe('NEW');
    expect(sim.advanceCandle('ETHUSDT')).toBe(true);
    expect(byId().get('gap')).toMatchObject({ status: 'FILLED', cummulativeQuoteQty: Math.round(next * 1e6) / 1e8 });
    const trade = sim.trades(key.apiKey).find((t) => t.orderId === byId().get('hit')!.orderId)!;
    expect(trade).toMatchObject({ price: limit, qty: 0.01, isBuyer: true, isMaker: true, commissionAsset: 'USDT' });
    expect(trade.commission).toBeCloseTo(limit * 0.01 * SIM_FEE_RATE, 8);
    expect((await klines('limit=1'))[0]![0]).toBe(eth.time[i + 1]);

    // myTrades: by order, by fromId, and the 24 h window rule.
    const mine = await signed('GET', '/api/v3/myTrades', key, { symbol: 'ETHUSDT' });
    expect(mine.body.map((t: { id: number }) => t.id)).toEqual(sim.trades(key.apiKey).map((t) => t.id));
    expect(mine.body[0]).toMatchObject({ symbol: 'ETHUSDT', orderId: trade.orderId, price: limit.toFixed(8), isBuyer: true, isMaker: true });
    expect((await signed('GET', '/api/v3/myTrades', key, { symbol: 'ETHUSDT', fromId: trade.id + 1 })).body.every((t: { id: number }) => t.id > trade.id)).toBe(true);
    expect((await signed('GET', '/api/v3/myTrades', key, { symbol: 'ETHUSDT', startTime: 0, endTime: 2 * 86_400_000 })).body.code).toBe(-1127);
  });

  it('autoAdvance moves the cursor on a timer until stopped', async () => {
    const from = sim.cursorTime('ETHUSDT');
    sim.autoAdvance('ETH/USDT', 10);
    await new Promise((resolve) => setTimeout(resolve, 80));
    sim.stopAutoAdvance();
    const advanced = (sim.cursorTime('ETHUSDT') - from) / eth.timeframeMs;
    expect(advanced).toBeGreaterThanOrEqual(3);
    const stoppedAt = sim.cursorTime('ETHUSDT');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(sim.cursorTime('ETHUSDT')).toBe(stoppedAt);
    expect(sim.price('ETHUSDT')).toBe(eth.close[eth.time.indexOf(stoppedAt)]);
  });

  it('injects faults per path and method: sequences with headers, HTML bodies, hangs, and applied-then-failed orders', async () => {
    sim.failSequence('/api/v3/ticker/price', [
      { status: 429, body: { code: -1003, msg: 'Too many requests.' }, headers: { 'retry-after': '3' } },
      { status: 418, body: { code: -1003, msg: 'Banned.' }, headers: { 'retry-after': '120' } },
    ]);
    const first = await fetch(`${sim.baseUrl}/api/v3/ticker/price?symbol=ETHUSDT`);
    expect([first.status, first.headers.get('retry-after')]).toEqual([429, '3']);
    const second = await fetch(`${sim.baseUrl}/api/v3/ticker/price?symbol=ETHUSDT`);
    expect([second.status, second.headers.get('retry-after')]).toEqual([418, '120']);
    const third = await fetch(`${sim.baseUrl}/api/v3/ticker/price?symbol=ETHUSDT`);
    expect(await third.json()).toEqual({ symbol: 'ETHUSDT', price: sim.price('ETHUSDT').toFixed(8) });

    sim.failNext('GET /api/v3/exchangeInfo', 502, '<html>502 Bad Gateway</html>');
    const html = await fetch(`${sim.baseUrl}/api/v3/exchangeInfo`);
    expect([html.status, html.headers.get('content-type'), await html.text()]).toEqual([502, 'text/html', '<html>502 Bad Gateway</html>']);

    sim.hangNext('/api/v3/ping');
    await expect(fetch(`${sim.baseUrl}/api/v3/ping`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(sim.callsTo('/api/v3/ping').at(-1)?.fault).toBe('hang');

    const key = newAccount();
    sim.applyThenFailNext('POST /api/v3/order', 503);
    const lost = await signed('POST', '/api/v3/order', key, { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: '1000.00', newClientOrderId: 'lost' });
    expect(lost).toEqual({ status: 503, body: null });
    expect(sim.openOrders(key.apiKey).map((o) => o.clientOrderId)).toEqual(['lost']);
    expect(sim.pendingFaults('POST /api/v3/order')).toBe(0);
  });
});
