// An equity paper run end to end, as main.ts composes it: `/paper dca AAPL/USD … exchange=alpaca`
// through chat, stock bars from the Alpaca simulator (through the real SDK) into the shared
// market-data service, the paper exchange behind the market-hours decorator, the run engine and
// its risk gates, on a real database. While the market is closed the run places nothing and its
// owner is told once, naming the opening; a night without bars does not stop the run as stale
// data; once the market opens the run buys.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import type { CandleView } from '../../src/market-data/candles.ts';
import { AlpacaSim } from '../sim/alpaca-api.ts';
import type { Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { createTradingHarness, eventually, type TradingHarness } from '../support/trading.ts';

const MIN5 = 300_000;
const alice: Person = { platform: 'telegram', id: '9301', username: 'alice' };
const serviceKey = { keyId: `PKSERVICE${randomBytes(6).toString('hex').toUpperCase()}`, secret: randomBytes(20).toString('hex') };

let database: MigratedDatabase;
let sim: AlpacaSim;
let h: TradingHarness;
let start: number;
let opensAt: number;
/** Bars end here and resume at gapEnd: the night, when nothing trades. */
let gapStart: number;
let gapEnd: number;
const text = (r: { text: string } | null) => r?.text ?? '';

beforeAll(async () => {
  database = await createMigratedDatabase();
  start = database.clock.now().getTime(); // 2026-03-01T12:00Z, on the 5-minute grid
  opensAt = start + 2 * 3_600_000;
  gapStart = start + 40 * 60_000;
  gapEnd = start + 100 * 60_000;
  sim = await AlpacaSim.start({ now: () => database.clock.now().getTime(), assets: [{ symbol: 'AAPL', fractionable: true }] });
  sim.addDataKey(serviceKey.keyId, serviceKey.secret);
  sim.setSessions([{ open: opensAt, close: opensAt + 6.5 * 3_600_000 }]);
  const bars: CandleView[] = [];
  for (let t = start - 3 * 3_600_000, i = 0; t <= opensAt + 3_600_000; t += MIN5, i++) {
    if (t >= gapStart && t < gapEnd) continue;
    const close = 200 + Math.sin(i / 3) * 0.4;
    bars.push({ time: t, open: close - 0.05, high: close + 0.2, low: close - 0.2, close, volume: 500 });
  }
  sim.addBars('AAPL', '5Min', bars);

  h = await createTradingHarness(database, {
    settings: { alpaca: { apiUrl: sim.baseUrl, dataUrl: sim.baseUrl, serviceCredentials: serviceKey }, tickMs: 50 },
  });
  await h.trading.supervisor.start();
  const issued = await issueLicense(database.deps, { tier: 'starter', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await h.chat.say(alice, `/activate ${issued.value.key}`))).toContain('activated');
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
  await database?.drop();
});

/** Moves the clock one candle and waits until the run has stepped on every bar closed by then. */
async function candle(runId: string): Promise<void> {
  database.clock.advance(MIN5);
  const now = database.clock.now().getTime();
  const due = now - MIN5;
  if (due >= gapStart && due < gapEnd) return;
  await eventually(() => (h.trading.supervisor.liveStatus(runId)?.lastCandleTime ?? -1) >= due, 10_000, `the candle at ${new Date(due).toISOString()}`);
}

describe('an equity paper run on Alpaca', () => {
  it('refuses an unknown exchange and a stock Alpaca does not list, naming the problem', async () => {
    expect(text(await h.chat.say(alice, '/paper dca AAPL/USD 500 exchange=nasdaq'))).toContain("'nasdaq' is not an exchange");
    expect(text(await h.chat.say(alice, '/paper dca NOPE/USD 500 exchange=alpaca'))).toContain('no market NOPE/USD');
    expect(await database.db.tradingRun.count()).toBe(0);
  });

  it('holds orders while the market is closed (one message naming the opening), survives a night without bars, and buys once it opens', async () => {
    const started = text(await h.chat.say(alice, '/paper dca AAPL/USD 500 exchange=alpaca sma_period=5 trend_slope_lookback=0 atr_period=3'));
    expect(started).toContain('Paper run #1 started');
    expect(started).toContain('from Alpaca (stocks)');
    const run = await database.db.tradingRun.findFirstOrThrow();
    expect([run.exchange, run.symbol, run.mode]).toEqual(['alpaca', 'AAPL/USD', 'paper']);
    expect(run.params).not.toHaveProperty('exchange');
    // Opened and subscribed, and the feed has loaded its history: new candles from here on reach the run.
    await eventually(() => h.trading.supervisor.liveStatus(run.id) !== null && h.trading.feed.feedHealth().some((f) => f.key === 'alpaca:AAPL/USD:5m'), 10_000, 'the run to open');
    await eventually(() => sim.callsTo('GET', '/v2/stocks/AAPL/bars').some((c) => c.query.sort === 'asc'), 10_000, 'the feed to poll past its history');

    // Closed: pre-market bars arrive and the strategy wants to buy, but nothing is placed.
    while (database.clock.now().getTime() < gapStart + MIN5) await candle(run.id);
    const refusals = () => h.events.filter((e) => e.type === 'risk_refused' && e.run.id === run.id);
    await eventually(() => refusals().length > 0, 5_000, 'the market-closed refusal');
    // The night: no bars at all for an hour, far past STALE_TICKER_MS, with the supervisor ticking.
    database.clock.advance(gapEnd - database.clock.now().getTime());
    await new Promise((resolve) => setTimeout(resolve, 400));
    while (database.clock.now().getTime() + MIN5 < opensAt) await candle(run.id);

    expect(await database.db.runOrder.count({ where: { runId: run.id } })).toBe(0);
    expect((await database.db.tradingRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('running');
    expect(refusals().map((e) => e.type === 'risk_refused' && e.refusal)).toEqual(['market_closed']);
    const when = `${new Date(opensAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const guardAlerts = await database.db.alertOutbox.findMany({ where: { userId: run.userId, alertType: 'guards' } });
    expect(guardAlerts.map((a) => [a.eventId, a.text])).toEqual([
      [`risk:${run.id}:market_closed:${opensAt}`, `🧪 Paper run #1 (dca AAPL/USD): an order was held back by the risk engine: The stock market is closed: orders wait until it opens at ${when}.`],
    ]);

    const clockReadsWhileClosed = sim.callsTo('GET', '/v2/clock').length;

    // Open: the candle that closes at the opening is stepped in an open market, and the run buys at market.
    await candle(run.id);
    expect(database.clock.now().getTime()).toBe(opensAt);
    const orders = await eventually(async () => {
      const rows = await database.db.runOrder.findMany({ where: { runId: run.id }, orderBy: { createdAt: 'asc' } });
      return rows.length > 0 ? rows : undefined;
    }, 10_000, 'the base order');
    expect(orders[0]).toMatchObject({ tag: 'base', side: 'buy', type: 'market' });
    for (const order of orders) expect(order.createdAt.getTime()).toBeGreaterThanOrEqual(opensAt);
    // The fill reaches the strategy (and the database) at the next step, and its take-profit follows.
    await candle(run.id);
    const fill = await eventually(() => database.db.runFill.findFirst({ where: { runId: run.id } }).then((f) => f ?? undefined), 10_000, 'the base fill');
    expect(Number(fill.qty)).toBeGreaterThan(0);
    expect(Number(fill.qty) % 1).not.toBe(0); // a fractional share
    expect(Number(fill.fee)).toBe(0); // commission-free
    expect(await database.db.runOrder.findFirst({ where: { runId: run.id, tag: 'tp' } })).toMatchObject({ side: 'sell', type: 'limit' });
    expect(refusals()).toHaveLength(1);
    // Stock data and the market clock were read with the service's key, never without one.
    const dataCalls = sim.calls.filter((c) => c.path === '/v2/stocks/AAPL/bars' || c.path === '/v2/clock');
    expect(dataCalls.length).toBeGreaterThan(0);
    expect(dataCalls.filter((c) => c.keyId !== serviceKey.keyId)).toEqual([]);
    // The clock is cached (until the opening, or 30 minutes): two hours closed took a handful of reads, not one per step.
    expect(clockReadsWhileClosed).toBeGreaterThanOrEqual(1);
    expect(clockReadsWhileClosed).toBeLessThanOrEqual(5);
  });
});
