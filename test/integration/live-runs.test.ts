// Live runs through the real ccxt client against the Binance-spot simulator: key verification,
// the two-step confirmation, grid placement, fault handling (unknown outcomes reconciled without
// duplicates, rejections, rate limits and bans) and guards that stop a run.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import type { Person } from '../support/chat.ts';
import { createTradingHarness, eventually, type TradingHarness, feedSettled } from '../support/trading.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

let database: MigratedDatabase;
let h: TradingHarness;
let sim: BinanceSpotSim;
const text = (r: { text: string } | null) => r?.text ?? '';
const userIdOf = async (p: Person) =>
  (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;
const runOf = async (p: Person, seq: number) => database.db.tradingRun.findUniqueOrThrow({ where: { userId_seq: { userId: await userIdOf(p), seq } } });

let people = 0;
/** A licensed member with keys stored for a fresh simulator account. */
async function member(options: { balances?: Record<string, number>; canWithdraw?: boolean; registered?: boolean } = {}) {
  const person: Person = { platform: 'telegram', id: String(9000 + ++people), username: `m${people}` };
  const apiKey = `K${randomBytes(16).toString('hex')}`;
  const secret = `S${randomBytes(24).toString('hex')}`;
  if (options.registered !== false) {
    sim.addAccount({ apiKey, secret, balances: options.balances ?? { USDT: 10_000, BTC: 0 }, canWithdraw: options.canWithdraw ?? false });
  }
  const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await h.chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  expect(text(await h.chat.say(person, `/keys set binance ${apiKey} ${secret}`))).toContain('keys saved');
  return { person, apiKey, secret };
}

/** Goes through /live, the button and the typed phrase. */
async function goLive(person: Person, spec: string): Promise<string> {
  const ask = await h.chat.say(person, `/live new ${spec}`);
  expect(text(ask)).toContain('Live trading uses real money');
  expect(text(await h.chat.press(person, ask, 'Continue'))).toContain('/ack I ACKNOWLEDGE RISK');
  return text(await h.chat.say(person, '/ack I ACKNOWLEDGE RISK'));
}

const nextCandle = () => sim.advanceCandle('BTC/USDT');

/**
 * Closes a candle every 300 ms until `check` passes: a run sees its first candle only once one
 * closes after its subscription's history was loaded, and each candle is one sync.
 */
async function candlesUntil<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  let last = 0;
  return eventually(async () => {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - last > 300) {
      last = Date.now();
      nextCandle();
    }
    return undefined;
  }, timeoutMs, what);
}

beforeAll(async () => {
  const btc = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
  if (!btc.ok) throw new Error('candles missing');
  sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: btc.series, startIndex: 400 }]);
  database = await createMigratedDatabase();
  h = await createTradingHarness(database, { settings: { exchangeApiUrl: sim.baseUrl, tickMs: 100 }, paperFirstDays: 0 });
  await h.trading.supervisor.start();
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
  await database?.drop();
});

describe('live runs on a Binance-protocol exchange', () => {
  it('refuses keys the exchange rejects and keys allowed to withdraw', async () => {
    const ghost = await member({ registered: false });
    expect(text(await h.chat.say(ghost.person, '/live new grid BTC/USDT 500'))).toContain('did not accept your API keys');
    const risky = await member({ canWithdraw: true });
    expect(text(await h.chat.say(risky.person, '/live new grid BTC/USDT 500'))).toContain('allowed to withdraw');
    const keys = await database.db.exchangeCredential.findMany({ where: { userId: { in: [await userIdOf(ghost.person), await userIdOf(risky.person)] } } });
    expect(keys.every((k) => k.verifiedAt === null)).toBe(true);
    expect(await database.db.tradingRun.count()).toBe(0);
  });

  it('starts only after the button and the typed phrase, then places the grid on the exchange', async () => {
    const { person, apiKey } = await member();
    expect(text(await h.chat.say(person, '/ack I ACKNOWLEDGE RISK'))).toContain('nothing to acknowledge');
    const ask = await h.chat.say(person, '/live new grid BTC/USDT 1000 count=10');
    expect(text(ask)).toContain('grid BTC/USDT with $1,000');
    const pressed = await h.chat.press(person, ask, 'Continue');
    expect(text(await h.chat.say(person, '/ack I acknowledge'))).toContain('not the phrase');
    expect(await database.db.tradingRun.count({ where: { mode: 'live' } })).toBe(0);
    expect(text(pressed)).toContain('/ack I ACKNOWLEDGE RISK');
    expect(text(await h.chat.say(person, '/ack i acknowledge   risk'))).toContain('Live run #1 started');
    expect(text(await h.chat.say(person, '/ack I ACKNOWLEDGE RISK'))).toContain('nothing to acknowledge'); // used once

    const run = await runOf(person, 1);
    expect(run.mode).toBe('live');
    const open = await candlesUntil(async () => {
      const rows = await database.db.runOrder.findMany({ where: { runId: run.id, status: 'open' } });
      return rows.length > 0 && rows.every((r) => r.exchangeOrderId) && sim.openOrders(apiKey).length === rows.length ? rows : undefined;
    }, 'grid legs on the exchange');
    const onExchange = sim.openOrders(apiKey).map((o) => o.clientOrderId).sort();
    expect(onExchange).toEqual(open.map((o) => o.clientOrderId).sort());
    expect(text(await h.chat.say(person, '/status 1'))).toContain('💰 LIVE');
  });

  it('an order whose answer is lost (5xx after the exchange applied it) is reconciled, never sent twice', async () => {
    const { person, apiKey } = await member();
    sim.applyThenFailNext('POST /api/v3/order', 502, '<html>502 Bad Gateway</html>');
    expect(await goLive(person, 'grid BTC/USDT 1000 count=8')).toContain('Live run #1 started');
    const run = await runOf(person, 1);
    await candlesUntil(async () => {
      const rows = await database.db.runOrder.findMany({ where: { runId: run.id } });
      return rows.length > 0 && rows.every((r) => r.status === 'open') && sim.openOrders(apiKey).length === rows.length ? true : undefined;
    }, 'every leg open, the lost one adopted');
    const ids = sim.orders(apiKey).map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(h.logLines.some((l) => l.includes('order outcome unknown'))).toBe(true);
  });

  it('insufficient balance rejects the order and tells the owner', async () => {
    const { person } = await member({ balances: { USDT: 30, BTC: 0 } });
    expect(await goLive(person, 'grid BTC/USDT 1000 count=8')).toContain('Live run #1 started');
    const run = await runOf(person, 1);
    const rejected = await candlesUntil(async () => {
      const rows = await database.db.runOrder.findMany({ where: { runId: run.id, status: 'rejected' } });
      return rows.length > 0 ? rows : undefined;
    }, 'a rejected order');
    expect(rejected[0]!.rejectReason).toBe('insufficient_funds');
    expect(h.events.some((e) => e.type === 'order_rejected' && e.run.id === run.id && e.reason === 'insufficient_funds')).toBe(true);
  });

  it('a 429 then a 418 pause the account, alert on the ban, and the orders still go out afterwards', async () => {
    const { person, apiKey } = await member();
    sim.failSequence('POST /api/v3/order', [
      { status: 429, body: { code: -1003, msg: 'Too many requests.' }, headers: { 'retry-after': '1' } },
      { status: 418, body: { code: -1003, msg: 'Way too many requests; IP banned.' }, headers: { 'retry-after': '1' } },
    ]);
    expect(await goLive(person, 'grid BTC/USDT 1000 count=6')).toContain('Live run #1 started');
    const run = await runOf(person, 1);
    await candlesUntil(async () => (h.events.some((e) => e.type === 'exchange_banned' && e.run.id === run.id) ? true : undefined), 'a ban alert');
    // The legs the ban held back are sent at a later sync, under their original client ids.
    database.clock.advance(2_000); // past Retry-After
    await candlesUntil(async () => {
      const rows = await database.db.runOrder.findMany({ where: { runId: run.id } });
      return rows.length > 0 && rows.every((r) => r.status === 'open' || r.status === 'filled') ? true : undefined;
    }, 'the held-back legs placed');
    const ids = sim.orders(apiKey).map((o) => o.clientOrderId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('an API error burst trips its guard: the run stops, its orders are cancelled and the reason is kept', async () => {
    const { person, apiKey } = await member();
    await database.db.user.update({ where: { id: await userIdOf(person) }, data: { limits: { guard: { maxApiErrorsPerMin: 3 } } } });
    expect(await goLive(person, 'grid BTC/USDT 1000 count=6')).toContain('Live run #1 started');
    const run = await runOf(person, 1);
    await candlesUntil(async () => ((await database.db.runOrder.count({ where: { runId: run.id, status: 'open' } })) > 0 ? true : undefined), 'legs placed');
    // Faults are per path, not per account: every run's sync meets them, but only this run's
    // limit (3 a minute, against the default 10) is low enough to trip.
    sim.failNext('GET /api/v3/myTrades', 500, { code: -1000, msg: 'An unknown error occured while processing the request.' }, 1000);
    const stopped = await candlesUntil(async () => {
      const r = await runOf(person, 1);
      return r.status === 'stopped' ? r : undefined;
    }, 'the guard to stop the run');
    sim.clearFaults();
    expect(stopped.stopReason).toBe('guard:api_error_burst');
    expect(sim.openOrders(apiKey)).toHaveLength(0);
    expect(h.events.some((e) => e.type === 'guard_tripped' && e.run.id === run.id && e.guard === 'api_error_burst')).toBe(true);
  });

  it('stale market data trips its guard when no candle arrives in time', async () => {
    const { person, apiKey } = await member();
    await database.db.user.update({ where: { id: await userIdOf(person) }, data: { limits: { guard: { staleTickerMs: 60_000 } } } });
    expect(await goLive(person, 'grid BTC/USDT 1000 count=6')).toContain('Live run #1 started');
    const run = await runOf(person, 1);
    await candlesUntil(async () => ((await database.db.runOrder.count({ where: { runId: run.id, status: 'open' } })) > 0 ? true : undefined), 'legs placed');
    // Let the feed pick up the last candle closed above (polled every 25 ms) before time jumps:
    // received after the jump, it would count as fresh data.
    const key = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m' };
    await feedSettled(h.trading.feed, key);
    database.clock.advance(61_000);
    const stopped = await eventually(async () => {
      const r = await runOf(person, 1);
      return r.status === 'stopped' ? r : undefined;
    }, 15_000, 'the stale-data guard');
    expect(stopped.stopReason).toBe('guard:stale_ticker');
    expect(sim.openOrders(apiKey)).toHaveLength(0);
  });

  it('/kill flatten asks first, then cancels everything and sells what the run holds', async () => {
    const { person, apiKey } = await member({ balances: { USDT: 10_000, BTC: 0 } });
    expect(await goLive(person, 'dca BTC/USDT 1000')).toContain('Live run #1 started');
    const run = await runOf(person, 1);
    await candlesUntil(async () => ((await runOf(person, 1)).lastCandleAt ? true : undefined), 'the first candle');
    const ask = await h.chat.say(person, '/kill flatten');
    expect(text(ask)).toContain('sell their positions at market');
    expect((await runOf(person, 1)).status).toBe('running');
    expect(text(await h.chat.press(person, ask, 'Kill and flatten'))).toContain('Killed 1 run');
    const killed = await eventually(async () => {
      const r = await runOf(person, 1);
      return r.status === 'killed' ? r : undefined;
    }, 15_000, 'the run to be killed');
    expect(killed.flatten).toBe(true);
    expect(sim.openOrders(apiKey)).toHaveLength(0);
    expect(h.events.some((e) => e.type === 'run_stopped' && e.run.id === run.id && e.status === 'killed')).toBe(true);
  });
});
