// REST API v1, part 2: status and trade pushes from self-hosted bots (stored, read back from the
// database) and the per-license rate limits, GCRA in Postgres on the injected test clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_RATE_LIMITS, pruneRateLimits, takeRateLimit } from '../../src/app/api-rate-limit.ts';
import { normalizeBotSymbol } from '../../src/app/bot-reports.ts';
import { startApiHarness, type ApiHarness, type Bot } from '../support/api-v1.ts';

let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness();
  // A scan for the scanner's rate limit to return 200 for.
  const now = api.database.clock.now();
  await api.database.db.scannerScan.create({
    data: {
      takenAt: new Date(now.getTime() - 24 * 3_600_000),
      nextScanAt: new Date(now.getTime() + 3_600_000),
      exchange: 'binance',
      timeframe: '5m',
      lookbackDays: 7,
      rankings: [{ symbol: 'BTC/USDT', composite_score: 40, daily_roi_pct: 0.3, cycles_per_day: 2, friendly_regime_pct: 55, max_drawdown_pct: 3, quote_volume_24h: 1e9 }],
      failures: [],
      candles: 1,
      durationMs: 1,
    },
  });
});
afterAll(async () => {
  await api?.close();
});

const clock = () => api.database.clock;
const statusUrl = (b: Bot, customerId = b.customerId) => `/v1/data/${customerId}/status`;
const tradeUrl = (b: Bot, customerId = b.customerId) => `/v1/data/${customerId}/trade`;

const statusBody = () => ({
  bot_version: '2.4.1',
  equity_usd: 10_234.56,
  timestamp: clock().now().toISOString(),
  uptime_s: 3600,
  open_positions: [
    { symbol: 'HYPEUSDT', qty: '123.456789012345', avg_price: 24.1234, capital_usd: '2978.12' },
    { symbol: 'eth/usdc', qty: -0.5, avg_price: '3100.5', capital_usd: 1550.25 },
  ],
  active_deals: 2,
});

let tradeSeq = 0;
const tradeBody = (overrides: Record<string, unknown> = {}) => ({
  trade_id: `t-${++tradeSeq}`,
  symbol: 'HYPE/USDT',
  side: 'sell',
  price: '25.4',
  qty: 10.5,
  fee: '0.0267',
  realized_pnl_usd: '13.02',
  executed_at: new Date(clock().now().getTime() - 60_000).toISOString(),
  ...overrides,
});

describe('POST /v1/data/{customer_id}/status', () => {
  it('stores the report with exact decimals and BASE/QUOTE symbols', async () => {
    const b = await api.bot();
    const body = statusBody();
    const response = await api.call('POST', statusUrl(b), b.key, body);
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ received_at: clock().now().toISOString() });

    const rows = await api.database.db.botStatusReport.findMany({ where: { licenseId: b.licenseId } });
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.receivedAt).toEqual(clock().now());
    expect(row.botVersion).toBe('2.4.1');
    expect(row.equityUsd.toFixed(2)).toBe('10234.56');
    expect(row.positions).toEqual([
      { symbol: 'HYPE/USDT', qty: '123.456789012345', avg_price: '24.1234', capital_usd: '2978.12' },
      { symbol: 'ETH/USDC', qty: '-0.5', avg_price: '3100.5', capital_usd: '1550.25' },
    ]);
    expect(row.payload).toMatchObject({ bot_version: '2.4.1', equity_usd: '10234.56', uptime_s: 3600, active_deals: 2, timestamp: body.timestamp });
  });

  it('another customer id is 403; an unknown or malformed one is 404', async () => {
    const [a, b, c] = [await api.bot(), await api.bot(), await api.bot()];
    const foreign = await api.call('POST', statusUrl(a, b.customerId), a.key, statusBody());
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error).toBe('not_your_customer_id');
    const unknown = await api.call('POST', statusUrl(b, 'c_AAAAAAAAAAAAAAAAAAAAAA'), b.key, statusBody());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toBe('customer_not_found');
    const malformed = await api.call('POST', statusUrl(c, 'not-a-customer'), c.key, statusBody());
    expect(malformed.statusCode).toBe(404);
    expect(malformed.json().error).toBe('customer_not_found');
    expect(await api.database.db.botStatusReport.count({ where: { licenseId: { in: [a.licenseId, b.licenseId, c.licenseId] } } })).toBe(0);
  });

  it('a bad body is 400 with every problem by field name', async () => {
    const b = await api.bot();
    const response = await api.call('POST', statusUrl(b), b.key, {
      equity_usd: -5,
      timestamp: new Date(clock().now().getTime() + 10 * 60_000).toISOString(),
      open_positions: [{ symbol: 'BTCXYZ', qty: '1', avg_price: 'abc', capital_usd: 1 }],
      extra: true,
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.error).toBe('bad_request');
    expect(body.problems).toEqual(
      expect.arrayContaining([
        { field: 'bot_version', message: 'is required' },
        { field: 'equity_usd', message: 'must not be negative' },
        { field: 'open_positions.0.symbol', message: expect.stringContaining('BTC/USDT') },
        { field: 'open_positions.0.avg_price', message: 'must be a decimal number like 12.5' },
        { field: 'extra', message: 'is not a known field' },
      ]),
    );
    expect(body.problems).toHaveLength(5);
    expect(body.message).toContain('equity_usd');

    // Only a body that is otherwise valid has its times checked against the clock.
    clock().advance(60_000);
    const future = await api.call('POST', statusUrl(b), b.key, { ...statusBody(), timestamp: new Date(clock().now().getTime() + 6 * 60_000).toISOString() });
    expect(future.statusCode).toBe(400);
    expect(future.json().problems).toEqual([{ field: 'timestamp', message: expect.stringContaining('5 minutes in the future') }]);
    expect(await api.database.db.botStatusReport.count({ where: { licenseId: b.licenseId } })).toBe(0);
  });

  it('a body that is not an object is 400', async () => {
    const b = await api.bot();
    const response = await api.call('POST', statusUrl(b), b.key, [1, 2]);
    expect(response.statusCode).toBe(400);
    expect(response.json().problems).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
  });
});

describe('POST /v1/data/{customer_id}/trade', () => {
  it('stores a trade once: a repeat answers duplicate:true and stores nothing', async () => {
    const b = await api.bot();
    const body = tradeBody({ symbol: 'hypeusdt' });
    const first = await api.call('POST', tradeUrl(b), b.key, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ trade_id: body.trade_id, duplicate: false });
    const again = await api.call('POST', tradeUrl(b), b.key, { ...body, price: '99' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ trade_id: body.trade_id, duplicate: true });

    const rows = await api.database.db.botTrade.findMany({ where: { licenseId: b.licenseId } });
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ tradeId: body.trade_id, symbol: 'HYPE/USDT', side: 'sell', executedAt: new Date(body.executed_at), receivedAt: clock().now() });
    expect([row.price.toString(), row.qty.toString(), row.fee.toString(), row.realizedPnl?.toString()]).toEqual(['25.4', '10.5', '0.0267', '13.02']);
  });

  it('the same trade id from another account is its own trade', async () => {
    const [a, b] = [await api.bot(), await api.bot()];
    const body = tradeBody();
    expect((await api.call('POST', tradeUrl(a), a.key, body)).statusCode).toBe(201);
    expect((await api.call('POST', tradeUrl(b), b.key, body)).statusCode).toBe(201);
  });

  it('optional fields default: no fee is 0, no realized P&L is null', async () => {
    const b = await api.bot();
    const { fee: _f, realized_pnl_usd: _p, ...body } = tradeBody({ side: 'buy' });
    expect((await api.call('POST', tradeUrl(b), b.key, body)).statusCode).toBe(201);
    const row = await api.database.db.botTrade.findFirstOrThrow({ where: { licenseId: b.licenseId } });
    expect(row.fee.toString()).toBe('0');
    expect(row.realizedPnl).toBeNull();
  });

  it('wrong customer 403, unknown 404, bad body 400 with field names', async () => {
    const [a, b] = [await api.bot(), await api.bot()];
    expect((await api.call('POST', tradeUrl(a, b.customerId), a.key, tradeBody())).json().error).toBe('not_your_customer_id');
    expect((await api.call('POST', tradeUrl(a, 'c_BBBBBBBBBBBBBBBBBBBBBB'), a.key, tradeBody())).statusCode).toBe(404);

    const bad = await api.call('POST', tradeUrl(a), a.key, {
      trade_id: 'has space',
      symbol: 'BTC',
      side: 'hold',
      price: 0,
      qty: '1e5',
      executed_at: 'yesterday',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems.map((p: { field: string }) => p.field).sort()).toEqual(['executed_at', 'price', 'qty', 'side', 'symbol', 'trade_id']);
    expect(bad.json().problems.find((p: { field: string }) => p.field === 'price').message).toBe('must be greater than 0');

    const future = await api.call('POST', tradeUrl(a), a.key, tradeBody({ executed_at: new Date(clock().now().getTime() + 5 * 60_000 + 1000).toISOString() }));
    expect(future.statusCode).toBe(400);
    expect(future.json().problems).toEqual([{ field: 'executed_at', message: expect.stringContaining('future') }]);
    expect(await api.database.db.botTrade.count({ where: { licenseId: { in: [a.licenseId, b.licenseId] } } })).toBe(0);
  });

  it('symbols: BASE/QUOTE or exchange-native with a known quote, longest quote first', () => {
    expect(normalizeBotSymbol('BTCUSDT')).toBe('BTC/USDT');
    expect(normalizeBotSymbol('ethbusd')).toBe('ETH/BUSD');
    expect(normalizeBotSymbol('SOLFDUSD')).toBe('SOL/FDUSD');
    expect(normalizeBotSymbol('ETHBTC')).toBe('ETH/BTC');
    expect(normalizeBotSymbol('1000PEPEUSDC')).toBe('1000PEPE/USDC');
    expect(normalizeBotSymbol('HYPE/USDT')).toBe('HYPE/USDT');
    expect(normalizeBotSymbol('USDT')).toBeNull();
    expect(normalizeBotSymbol('BTCXYZ')).toBeNull();
    expect(normalizeBotSymbol('BTC/USDT/X')).toBeNull();
    expect(normalizeBotSymbol('../etc/passwd')).toBeNull();
  });
});

describe('rate limits', () => {
  /** Calls until refused; returns how many passed and the refusal. */
  async function exhaust(send: () => Promise<{ statusCode: number; headers: Record<string, unknown>; json(): any }>, max = 20) {
    for (let passed = 0; passed <= max; passed++) {
      const response = await send();
      if (response.statusCode === 429) return { passed, refused: response };
      expect(response.statusCode).toBeLessThan(400);
    }
    throw new Error('never limited');
  }

  it('status push: 1 per minute; Retry-After counts down from the stored tat; the next minute passes', async () => {
    const b = await api.bot();
    const send = () => api.call('POST', statusUrl(b), b.key, statusBody());
    const { passed, refused } = await exhaust(send);
    expect(passed).toBe(1);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.json()).toEqual({ error: 'rate_limited', message: 'Rate limit for this endpoint is 1 per minute; retry in 60 s.', retry_after_s: 60 });
    clock().advance(20_000);
    expect((await send()).headers['retry-after']).toBe('40');
    clock().advance(40_000);
    expect((await send()).statusCode).toBe(201);
    // Refused pushes stored nothing.
    expect(await api.database.db.botStatusReport.count({ where: { licenseId: b.licenseId } })).toBe(2);
  });

  it('trade push: a burst of 10, then one every 6 s', async () => {
    const b = await api.bot();
    const send = () => api.call('POST', tradeUrl(b), b.key, tradeBody());
    const { passed, refused } = await exhaust(send);
    expect(passed).toBe(10);
    expect(refused.headers['retry-after']).toBe('6');
    expect(refused.json().retry_after_s).toBe(6);
    clock().advance(5_000);
    expect((await send()).headers['retry-after']).toBe('1');
    clock().advance(1_000);
    expect((await send()).statusCode).toBe(201);
    expect((await send()).statusCode).toBe(429);
  });

  it('scanner, params and regimes: 1 per 5 minutes each, in separate buckets', async () => {
    const b = await api.bot();
    const urls = ['/v1/scanner/recommendation', '/v1/strategy/params', '/v1/strategy/regimes'];
    for (const url of urls) expect((await api.call('GET', url, b.key)).statusCode).toBe(200);
    for (const url of urls) {
      const refused = await api.call('GET', url, b.key);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('300');
    }
    clock().advance(5 * 60_000);
    for (const url of urls) expect((await api.call('GET', url, b.key)).statusCode).toBe(200);
  });

  it('heartbeat: 1 per hour', async () => {
    const b = await api.bot();
    const send = () => api.call('GET', '/v1/auth/heartbeat', b.key);
    const { passed, refused } = await exhaust(send);
    expect(passed).toBe(1);
    expect(refused.headers['retry-after']).toBe('3600');
    clock().advance(3_599_000);
    expect((await send()).headers['retry-after']).toBe('1');
    clock().advance(1_000);
    expect((await send()).statusCode).toBe(200);
  });

  it('limits are per license: one bot being limited does not limit another', async () => {
    const [a, b] = [await api.bot(), await api.bot()];
    expect((await api.call('GET', '/v1/auth/heartbeat', a.key)).statusCode).toBe(200);
    expect((await api.call('GET', '/v1/auth/heartbeat', a.key)).statusCode).toBe(429);
    expect((await api.call('GET', '/v1/auth/heartbeat', b.key)).statusCode).toBe(200);
  });

  it('concurrent requests cannot both take the last slot', async () => {
    const b = await api.bot();
    const results = await Promise.all(Array.from({ length: 8 }, () => takeRateLimit(api.database.deps, { licenseId: b.licenseId, group: 'status_push' })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('the table is the one place the limits are configured', () => {
    expect(API_RATE_LIMITS.status_push).toMatchObject({ count: 1, periodMs: 60_000 });
    expect(API_RATE_LIMITS.trade_push).toMatchObject({ count: 10, periodMs: 60_000 });
    expect(API_RATE_LIMITS.heartbeat).toMatchObject({ count: 1, periodMs: 3_600_000 });
  });

  it('pruneRateLimits deletes buckets past their tat and keeps live ones', async () => {
    const b = await api.bot();
    await takeRateLimit(api.database.deps, { licenseId: b.licenseId, group: 'status_push' }); // tat = now + 1 min
    await takeRateLimit(api.database.deps, { licenseId: b.licenseId, group: 'heartbeat' }); // tat = now + 1 h
    clock().advance(2 * 60_000);
    const before = await api.database.db.apiRateLimit.count();
    const pruned = await pruneRateLimits(api.database.deps);
    expect(pruned).toBeGreaterThan(0);
    expect(await api.database.db.apiRateLimit.count()).toBe(before - pruned);
    const left = await api.database.db.apiRateLimit.findMany({ where: { key: { startsWith: b.licenseId } } });
    expect(left.map((r) => r.key)).toEqual([`${b.licenseId}:heartbeat`]);
    expect((await api.database.db.apiRateLimit.findMany()).every((r) => r.tat > clock().now())).toBe(true);
    // A pruned bucket behaves as if never used.
    expect((await takeRateLimit(api.database.deps, { licenseId: b.licenseId, group: 'status_push' })).ok).toBe(true);
  });
});
