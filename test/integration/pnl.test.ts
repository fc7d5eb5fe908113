// /pnl and /trades on a real database: exact figures for realized and unrealized P&L, fees, ROI,
// cycles and drawdown, paper and live apart, periods in the user's time zone, one user's runs never
// in another's report, the equity chart as a PNG and the CSV export parsed back.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TradingServices } from '../../commands/types.ts';
import { CSV_HEADER, pnlReport, recentTrades, startOfLocalDay, tradesCsv, type ModePnl } from '../../src/app/pnl.ts';
import type { LiveRunStatus } from '../../src/app/runs.ts';
import { ConsoleChat } from '../../src/chat/console/console-chat.ts';
import type { RenderedReply } from '../../src/chat/pipeline.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { ok } from '../../src/kernel/result.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const alice: Person = { platform: 'telegram', id: '8101', username: 'alice' };
const bob: Person = { platform: 'telegram', id: '8102', username: 'bob' };
const carol: Person = { platform: 'telegram', id: '8103', username: 'carol' };

const NOW = '2026-03-10T12:00:00.000Z';
const T = (iso: string) => new Date(iso);

let database: MigratedDatabase;
let chat: ChatHarness;
let aliceId = '';
let bobId = '';
/** What RunControl.liveStatus answers (runs loaded on "this replica"). */
const live = new Map<string, LiveRunStatus>();
const runIds: Record<string, string> = {};

const text = (r: RenderedReply | null) => r?.text ?? '';

async function userIdOf(p: Person): Promise<string> {
  await chat.say(p, '/start');
  return (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;
}

async function addRun(key: string, data: { userId: string; seq: number; mode: 'paper' | 'live'; strategy: string; symbol: string; capital: number; status: 'running' | 'stopped'; startedAt: string; stoppedAt?: string }) {
  const run = await database.db.tradingRun.create({
    data: {
      userId: data.userId,
      seq: data.seq,
      mode: data.mode,
      strategy: data.strategy,
      exchange: 'binance',
      symbol: data.symbol,
      timeframe: '5m',
      capitalUsd: data.capital.toFixed(2),
      params: {},
      status: data.status,
      startedAt: T(data.startedAt),
      stoppedAt: data.stoppedAt ? T(data.stoppedAt) : null,
      ...(data.status === 'stopped' ? { stopReason: 'user' } : {}),
    },
  });
  runIds[key] = run.id;
  return run.id;
}

let orderSeq = 0;
async function addOrder(runId: string, side: 'buy' | 'sell', price: number, qty: number) {
  const order = await database.db.runOrder.create({
    data: { runId, clientOrderId: `test-${++orderSeq}`, tag: `${side}-${orderSeq}`, attempt: 1, side, type: 'limit', price: String(price), qty: String(qty), filledQty: String(qty), status: 'filled' },
  });
  return order.id;
}

async function addFill(runId: string, orderId: string, f: { tradeId: string; side: 'buy' | 'sell'; price: number; qty: number; fee: number; realized: number; at: string }) {
  await database.db.runFill.create({
    data: {
      runId,
      orderId,
      tradeId: f.tradeId,
      side: f.side,
      price: String(f.price),
      qty: String(f.qty),
      fee: String(f.fee),
      realizedPnl: String(f.realized),
      executedAt: T(f.at),
      delivered: true,
    },
  });
}

async function addSnapshots(runId: string, rows: [at: string, equity: number, realized: number][]) {
  await database.db.runEquitySnapshot.createMany({
    data: rows.map(([at, equity, realized]) => ({ runId, at: T(at), equity: String(equity), realizedPnl: String(realized), price: '60000' })),
  });
}

const trading: TradingServices = {
  control: {
    wake: async () => undefined,
    checkMarket: async () => ok(undefined),
    liveStatus: (runId) => live.get(runId) ?? null,
  },
  settings: { defaultExchange: 'binance', paperFirstDays: 7 },
  guardDefaults: SEED_GUARD_LIMITS,
  verifyKeys: async () => ok({ canTrade: true, canWithdraw: false } as never),
};

beforeAll(async () => {
  database = await createMigratedDatabase();
  chat = await createChatHarness(database, { trading });
  aliceId = await userIdOf(alice);
  bobId = await userIdOf(bob);
  await userIdOf(carol);
  // New York: on 10 March 2026 daylight saving time has begun (UTC−4), so alice's day starts at 04:00 UTC.
  await database.db.user.update({ where: { id: aliceId }, data: { timezone: 'America/New_York' } });
  database.clock.set(NOW);

  // Alice #1: paper DCA, running since 1 March, capital 1000.
  const r1 = await addRun('a1', { userId: aliceId, seq: 1, mode: 'paper', strategy: 'dca', symbol: 'BTC/USDT', capital: 1000, status: 'running', startedAt: '2026-03-01T00:00:00Z' });
  const buy1 = await addOrder(r1, 'buy', 60000, 0.01);
  await addFill(r1, buy1, { tradeId: 't1', side: 'buy', price: 60000, qty: 0.01, fee: 0.6, realized: 0, at: '2026-03-05T10:00:00Z' });
  const sell1 = await addOrder(r1, 'sell', 62100, 0.005);
  // 02:00 UTC on the 10th is still the 9th in New York.
  await addFill(r1, sell1, { tradeId: 't2', side: 'sell', price: 62100, qty: 0.005, fee: 0.3105, realized: 9.8895, at: '2026-03-10T02:00:00Z' });
  const sell2 = await addOrder(r1, 'sell', 61200, 0.005);
  // One sell order filled in two parts: one cycle.
  await addFill(r1, sell2, { tradeId: 't3a', side: 'sell', price: 61200, qty: 0.002, fee: 0.1224, realized: 2.1576, at: '2026-03-10T05:00:00Z' });
  await addFill(r1, sell2, { tradeId: 't3b', side: 'sell', price: 61200, qty: 0.003, fee: 0.1836, realized: 3.2364, at: '2026-03-10T05:00:00Z' });
  const buy2 = await addOrder(r1, 'buy', 61000, 0.01);
  await addFill(r1, buy2, { tradeId: 't4', side: 'buy', price: 61000, qty: 0.01, fee: 0.61, realized: 0, at: '2026-03-10T06:00:00Z' });
  await addSnapshots(r1, [
    ['2026-03-02T00:00:00Z', 1000, 0],
    ['2026-03-05T12:00:00Z', 1010, 0],
    ['2026-03-06T12:00:00Z', 1050, 0], // the peak
    ['2026-03-07T12:00:00Z', 990, 0], // the trough: 60 below
    ['2026-03-08T12:00:00Z', 1030, 0],
    ['2026-03-09T12:00:00Z', 1040, 0],
    ['2026-03-10T11:00:00Z', 1025, 15.2835],
  ]);
  live.set(r1, { base: 0.01, quote: 415.7165, equity: 1025.7165, realizedPnl: 15.2835, openOrders: 1, regime: 0, lastClose: 61000, lastCandleTime: null });

  // Alice #2: live grid, ran 2–9 March, capital 500, one losing cycle.
  const r2 = await addRun('a2', { userId: aliceId, seq: 2, mode: 'live', strategy: 'grid', symbol: 'ETH/USDT', capital: 500, status: 'stopped', startedAt: '2026-03-02T00:00:00Z', stoppedAt: '2026-03-09T00:00:00Z' });
  const gBuy = await addOrder(r2, 'buy', 3000, 0.1);
  await addFill(r2, gBuy, { tradeId: 'g1', side: 'buy', price: 3000, qty: 0.1, fee: 0.3, realized: 0, at: '2026-03-03T00:00:00Z' });
  const gSell = await addOrder(r2, 'sell', 2960, 0.1);
  await addFill(r2, gSell, { tradeId: 'g2', side: 'sell', price: 2960, qty: 0.1, fee: 0.296, realized: -4.596, at: '2026-03-04T00:00:00Z' });
  await addSnapshots(r2, [
    ['2026-03-03T00:00:00Z', 500, 0],
    ['2026-03-04T00:00:00Z', 495.404, -4.596],
    ['2026-03-08T00:00:00Z', 495.404, -4.596],
  ]);

  // Alice #3: paper grid in February (inside the last 30 days only at its end).
  const r3 = await addRun('a3', { userId: aliceId, seq: 3, mode: 'paper', strategy: 'grid', symbol: 'BTC/USDT', capital: 2000, status: 'stopped', startedAt: '2026-02-01T00:00:00Z', stoppedAt: '2026-02-10T00:00:00Z' });
  const hBuy = await addOrder(r3, 'buy', 50000, 0.02);
  await addFill(r3, hBuy, { tradeId: 'h1', side: 'buy', price: 50000, qty: 0.02, fee: 1, realized: 0, at: '2026-02-05T00:00:00Z' });
  const hSell = await addOrder(r3, 'sell', 51000, 0.02);
  await addFill(r3, hSell, { tradeId: 'h2', side: 'sell', price: 51000, qty: 0.02, fee: 1.02, realized: 17.98, at: '2026-02-09T00:00:00Z' });
  await addSnapshots(r3, [
    ['2026-02-05T00:00:00Z', 2000, 0],
    ['2026-02-09T00:00:00Z', 2017.98, 17.98],
  ]);

  // Bob: a big winner that must never show up for alice, and a market name that needs CSV quoting.
  const b1 = await addRun('b1', { userId: bobId, seq: 1, mode: 'paper', strategy: 'dca', symbol: 'SOL/USDT', capital: 10000, status: 'running', startedAt: '2026-03-01T00:00:00Z' });
  const bSell = await addOrder(b1, 'sell', 200, 50);
  await addFill(b1, bSell, { tradeId: 'b1', side: 'sell', price: 200, qty: 50, fee: 5, realized: 1000, at: '2026-03-10T06:00:00Z' });
  await addSnapshots(b1, [['2026-03-09T00:00:00Z', 11000, 1000]]);
  const b2 = await addRun('b2', { userId: bobId, seq: 2, mode: 'live', strategy: 'grid', symbol: 'A,"B"/USDT', capital: 100, status: 'stopped', startedAt: '2026-03-05T00:00:00Z', stoppedAt: '2026-03-06T00:00:00Z' });
  const bBuy = await addOrder(b2, 'buy', 1.5, 10);
  await addFill(b2, bBuy, { tradeId: 'b2', side: 'buy', price: 1.5, qty: 10, fee: 0.00000015, realized: 0, at: '2026-03-05T01:00:00Z' });
});

afterAll(async () => {
  await database?.drop();
});

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
const mode = (modes: readonly ModePnl[], m: 'paper' | 'live') => modes.find((x) => x.mode === m);

describe('pnlReport', () => {
  it('last 7 days: paper and live apart, with exact figures', async () => {
    const result = await pnlReport(database.deps, aliceId, { period: 'week', now: T(NOW), liveStatus: (id) => live.get(id) ?? null });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const report = result.value;
    expect(report.since).toEqual(T('2026-03-03T12:00:00Z'));
    expect(report.modes.map((m) => m.mode)).toEqual(['paper', 'live']);

    const paper = mode(report.modes, 'paper')!;
    expect(paper.runs).toBe(1); // #3 stopped in February
    expect(paper.activeRuns).toBe(1);
    expect(paper.capital).toBe(1000);
    expect(paper.trades).toBe(5);
    expect(paper.cycles).toBe(2); // two sell orders, one of them filled in two parts
    expect(paper.realized).toBeCloseTo(15.2835, 9);
    expect(paper.fees).toBeCloseTo(1.8265, 9);
    expect(paper.unrealized).toBeCloseTo(10.433, 9); // 1025.7165 − 1000 − 15.2835
    expect(paper.total).toBeCloseTo(25.7165, 9);
    expect(paper.roiPct).toBeCloseTo(2.57165, 9);
    expect(paper.maxDrawdown).toBeCloseTo(60, 9);
    expect(paper.maxDrawdownPct).toBeCloseTo((60 / 1050) * 100, 9);
    expect(paper.bucketMs).toBe(30 * 60_000);
    // From the week's start (carried in from the snapshot of 2 March) to now (the live status).
    expect(paper.equity.map((p) => round6(p[1]))).toEqual([1000, 1010, 1050, 990, 1030, 1040, 1025, 1025.7165]);
    expect(paper.equity[0]![0]).toBe(T('2026-03-03T12:00:00Z').getTime());
    expect(paper.equity[1]![0]).toBe(T('2026-03-05T12:30:00Z').getTime()); // the end of the snapshot's half hour
    expect(paper.equity.at(-1)![0]).toBe(T(NOW).getTime());

    const liveMode = mode(report.modes, 'live')!;
    expect(liveMode).toMatchObject({ runs: 1, activeRuns: 0, capital: 500, trades: 1, cycles: 1, unrealized: 0 });
    expect(liveMode.realized).toBeCloseTo(-4.596, 9);
    expect(liveMode.fees).toBeCloseTo(0.296, 9); // the buy on the 3rd at 00:00 is before the window
    expect(liveMode.roiPct).toBeCloseTo(-0.9192, 9);
    expect(liveMode.maxDrawdown).toBeCloseTo(4.596, 9);
    expect(liveMode.maxDrawdownPct).toBeCloseTo(0.9192, 9);
    expect(liveMode.equity.map((p) => round6(p[1]))).toEqual([500, 495.404, 495.404, 495.404]);
  });

  it("today starts at 00:00 in the user's time zone", async () => {
    const ny = await pnlReport(database.deps, aliceId, { period: 'day', now: T(NOW) });
    if (!ny.ok) throw new Error(ny.error.code);
    expect(ny.value.timeZone).toBe('America/New_York');
    expect(ny.value.since).toEqual(T('2026-03-10T04:00:00Z'));
    expect(ny.value.modes.map((m) => m.mode)).toEqual(['paper']); // the live run stopped yesterday
    const paper = ny.value.modes[0]!;
    expect(paper.trades).toBe(3);
    expect(paper.realized).toBeCloseTo(5.394, 9);
    expect(paper.fees).toBeCloseTo(0.916, 9);
    expect(paper.cycles).toBe(1);
    // No live status given: the latest snapshot (11:00, equity 1025, realised 15.2835) values the position.
    expect(paper.unrealized).toBeCloseTo(9.7165, 9);
    expect(paper.equity.map((p) => round6(p[1]))).toEqual([1040, 1025, 1025]);

    await database.db.user.update({ where: { id: aliceId }, data: { timezone: 'UTC' } });
    try {
      const utc = await pnlReport(database.deps, aliceId, { period: 'day', now: T(NOW) });
      if (!utc.ok) throw new Error(utc.error.code);
      expect(utc.value.since).toEqual(T('2026-03-10T00:00:00Z'));
      expect(utc.value.modes[0]!.trades).toBe(4); // 02:00 UTC is today in UTC
      expect(utc.value.modes[0]!.realized).toBeCloseTo(15.2835, 9);
    } finally {
      await database.db.user.update({ where: { id: aliceId }, data: { timezone: 'America/New_York' } });
    }
  });

  it('local midnight across a DST change and in half-hour zones; unknown zones fall back to UTC', async () => {
    // 8 March 2026, New York: 00:00 was still EST (UTC−5); by noon UTC it is EDT.
    expect(startOfLocalDay(T('2026-03-08T12:00:00Z'), 'America/New_York')).toEqual(T('2026-03-08T05:00:00Z'));
    expect(startOfLocalDay(T('2026-03-10T20:00:00Z'), 'Asia/Kolkata')).toEqual(T('2026-03-10T18:30:00Z'));
    expect(startOfLocalDay(T('2026-03-10T03:00:00Z'), 'Europe/Berlin')).toEqual(T('2026-03-09T23:00:00Z'));
    await database.db.user.update({ where: { id: bobId }, data: { timezone: 'Mars/Olympus_Mons' } });
    const bad = await pnlReport(database.deps, bobId, { period: 'day', now: T(NOW) });
    expect(bad.ok && bad.value.timeZone).toBe('UTC');
    expect(bad.ok && bad.value.since).toEqual(T('2026-03-10T00:00:00Z'));
  });

  it('last 30 days includes the February run that ended inside it', async () => {
    const result = await pnlReport(database.deps, aliceId, { period: 'month', now: T(NOW), liveStatus: (id) => live.get(id) ?? null });
    if (!result.ok) throw new Error(result.error.code);
    const paper = mode(result.value.modes, 'paper')!;
    expect(paper).toMatchObject({ runs: 2, capital: 3000, trades: 6, cycles: 3 });
    expect(paper.realized).toBeCloseTo(33.2635, 9);
    expect(paper.fees).toBeCloseTo(2.8465, 9);
    expect(paper.roiPct).toBeCloseTo((43.6965 / 3000) * 100, 9);
    // The curve sums both runs: 2000 carried in for #3 plus 1000 of capital for #1, which had not started.
    expect(paper.equity[0]![1]).toBe(3000);
    expect(paper.maxDrawdown).toBeCloseTo(60, 9);
    expect(paper.maxDrawdownPct).toBeCloseTo((60 / 3067.98) * 100, 9);
    expect(paper.bucketMs).toBe(2 * 3_600_000);
  });

  it('all time, and one run', async () => {
    const all = await pnlReport(database.deps, aliceId, { period: 'all', now: T(NOW) });
    if (!all.ok) throw new Error(all.error.code);
    expect(all.value.since).toEqual(T('2026-02-01T00:00:00Z'));
    expect(mode(all.value.modes, 'paper')).toMatchObject({ trades: 7, cycles: 3 });
    expect(mode(all.value.modes, 'paper')!.fees).toBeCloseTo(3.8465, 9);
    expect(mode(all.value.modes, 'live')).toMatchObject({ trades: 2, cycles: 1 });

    const one = await pnlReport(database.deps, aliceId, { period: 'all', runSeq: 2, now: T(NOW) });
    if (!one.ok) throw new Error(one.error.code);
    expect(one.value.run?.seq).toBe(2);
    expect(one.value.modes.map((m) => m.mode)).toEqual(['live']);
    expect(one.value.modes[0]!.fees).toBeCloseTo(0.596, 9);

    const missing = await pnlReport(database.deps, aliceId, { period: 'all', runSeq: 9, now: T(NOW) });
    expect(!missing.ok && missing.error.code).toBe('run_not_found');
  });

  it("another user's runs never appear", async () => {
    const aliceAll = await pnlReport(database.deps, aliceId, { period: 'all', now: T(NOW) });
    if (!aliceAll.ok) throw new Error(aliceAll.error.code);
    const realized = aliceAll.value.modes.reduce((s, m) => s + m.realized, 0);
    expect(realized).toBeCloseTo(33.2635 - 4.596, 9); // bob's +1000 is not in it
    expect(aliceAll.value.modes.reduce((s, m) => s + m.capital, 0)).toBe(3500);

    // Bob's run #1 is his own, not alice's run #1.
    const bobOne = await pnlReport(database.deps, bobId, { period: 'all', runSeq: 1, now: T(NOW) });
    if (!bobOne.ok) throw new Error(bobOne.error.code);
    expect(bobOne.value.run?.symbol).toBe('SOL/USDT');
    expect(bobOne.value.modes[0]).toMatchObject({ capital: 10000, trades: 1, cycles: 1, realized: 1000 });

    const bobTrades = await recentTrades(database.deps, bobId, { limit: 50 });
    expect(bobTrades.ok && bobTrades.value.map((t) => t.symbol)).toEqual(['SOL/USDT', 'A,"B"/USDT']);
    const notHis = await tradesCsv(database.deps, bobId, { runSeq: 3 });
    expect(!notHis.ok && notHis.error.code).toBe('run_not_found');
  });
});

/** RFC 4180 parser: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(csv: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv[i]!;
    if (quoted) {
      if (c === '"' && csv[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && csv[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += c;
  }
  if (field !== '' || row.length) row.push(field), rows.push(row);
  return rows;
}

describe('/pnl', () => {
  it('/pnl week: both modes with their marks, and the equity chart as a PNG', async () => {
    const reply = await chat.say(alice, '/pnl week');
    expect(reply?.outcome).toBeUndefined();
    expect(reply?.text).toBe(
      [
        '*P&L — last 7 days*',
        '🧪 paper · 1 run (1 active) · capital $1,000.00',
        'Realized +$15.28 · unrealized +$10.43 · total +$25.72 (ROI +2.57%)',
        'Fees $1.83 · cycles 2 · trades 5 · max drawdown $60.00 (5.71%)',
        '',
        '💰 live · 1 run · capital $500.00',
        'Realized -$4.60 · unrealized +$0.00 · total -$4.60 (ROI -0.92%)',
        'Fees $0.30 · cycles 1 · trades 1 · max drawdown $4.60 (0.92%)',
      ].join('\n'),
    );
    const png = Buffer.from(reply!.image!.png);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.readUInt32BE(16)).toBe(800); // IHDR width
    expect(png.readUInt32BE(20)).toBe(400); // IHDR height
    expect(png.length).toBeGreaterThan(5_000);
    expect(reply!.image!.caption).toBe('Equity (🧪 paper, 💰 live), times in America/New_York');
  });

  it('/pnl day in the user time zone, /pnl 2 for one run, and the refusals', async () => {
    const today = text(await chat.say(alice, '/pnl day'));
    expect(today.split('\n')[0]).toBe('*P&L — today (since 00:00 America/New_York)*');
    expect(today).toContain('Realized +$5.39 · unrealized +$10.43 · total +$15.83 (ROI +1.58%)');
    expect(today).not.toContain('💰 live');

    const runTwo = text(await chat.say(alice, '/pnl 2'));
    expect(runTwo.split('\n')[0]).toBe('*P&L — run #2, all time*');
    expect(runTwo).toContain('Fees $0.60 · cycles 1 · trades 2');
    expect(runTwo).not.toContain('🧪 paper');

    expect(text(await chat.say(alice, '/pnl week 7'))).toBe('You have no run with that number. See /runs.');
    expect(text(await chat.say(alice, '/pnl year'))).toBe('Choose the period: `day`, `week`, `month` or `all`, e.g. `/pnl week`.');
    expect(text(await chat.say(alice, '/pnl week x'))).toBe('Give the run number, e.g. `/pnl week 3` (see /runs).');
    const none = await chat.say(carol, '/pnl');
    expect(none?.text).toBe('No runs yet. Start a paper run with /paper.');
    expect(text(await chat.say(carol, '/pnl day'))).toBe('You had no runs in this period (today (since 00:00 UTC)). Try `/pnl all`.');
    expect(none?.image).toBeUndefined();
  });

  it("bob's /pnl shows only his runs", async () => {
    const reply = text(await chat.say(bob, '/pnl all'));
    expect(reply).toContain('🧪 paper · 1 run (1 active) · capital $10,000.00');
    expect(reply).toContain('Realized +$1,000.00');
    expect(reply).toContain('💰 live · 1 run · capital $100.00');
    expect(reply).not.toContain('capital $1,000.00'); // alice's paper run is not there
    expect(reply).not.toMatch(/15\.28|4\.60/);
  });
});

describe('/trades', () => {
  it('/trades 5: the newest five fills across runs', async () => {
    const reply = text(await chat.say(alice, '/trades 5'));
    expect(reply.split('\n')).toEqual([
      '*Last 5 fills* (newest first)',
      '2026-03-10 06:00 UTC #1 🧪 paper BUY 0.01 BTC/USDT @ 61,000 · fee 0.61',
      '2026-03-10 05:00 UTC #1 🧪 paper SELL 0.003 BTC/USDT @ 61,200 · fee 0.1836 · P&L +$3.24',
      '2026-03-10 05:00 UTC #1 🧪 paper SELL 0.002 BTC/USDT @ 61,200 · fee 0.1224 · P&L +$2.16',
      '2026-03-10 02:00 UTC #1 🧪 paper SELL 0.005 BTC/USDT @ 62,100 · fee 0.3105 · P&L +$9.89',
      '2026-03-05 10:00 UTC #1 🧪 paper BUY 0.01 BTC/USDT @ 60,000 · fee 0.6',
    ]);
  });

  it('/trades of one run, the default count, and the refusals', async () => {
    const runTwo = text(await chat.say(alice, '/trades 10 2'));
    expect(runTwo.split('\n')).toEqual([
      '*Last 2 fills of run #2* (newest first)',
      '2026-03-04 00:00 UTC #2 💰 live SELL 0.1 ETH/USDT @ 2,960 · fee 0.296 · P&L -$4.60',
      '2026-03-03 00:00 UTC #2 💰 live BUY 0.1 ETH/USDT @ 3,000 · fee 0.3',
    ]);
    expect(text(await chat.say(alice, '/trades #3')).split('\n')).toHaveLength(3);
    expect(text(await chat.say(alice, '/trades')).split('\n')).toHaveLength(1 + 9);
    expect(text(await chat.say(alice, '/trades 51'))).toBe('Give how many fills (1–50) or `csv`, e.g. `/trades 5` or `/trades csv`.');
    expect(text(await chat.say(alice, '/trades 5 9'))).toBe('You have no run with that number. See /runs.');
    expect(text(await chat.say(carol, '/trades'))).toBe('No fills yet. Start a paper run with /paper.');
    expect(text(await chat.say(carol, '/trades csv'))).toBe('No fills yet.');
  });

  it('/trades csv sends a CSV file, oldest first, that parses back', async () => {
    const reply = await chat.say(alice, '/trades csv');
    expect(reply?.text).toBe('Your fills as CSV: 9 rows. Times in UTC, fees in the quote currency.');
    const file = reply!.file!;
    expect(file).toMatchObject({ name: 'trades-2026-03-10.csv', mime: 'text/csv', caption: '9 fills' });
    const rows = parseCsv(new TextDecoder().decode(file.bytes));
    expect(rows[0]!.join(',')).toBe(CSV_HEADER);
    expect(rows).toHaveLength(10);
    expect(rows[1]).toEqual(['2026-02-05T00:00:00.000Z', '3', 'paper', 'BTC/USDT', 'buy', '50000', '0.02', '1', '0']);
    expect(rows[2]).toEqual(['2026-02-09T00:00:00.000Z', '3', 'paper', 'BTC/USDT', 'sell', '51000', '0.02', '1.02', '17.98']);
    expect(rows.slice(1).map((r) => r[0]!)).toEqual(rows.slice(1).map((r) => r[0]!).toSorted());
    expect(rows.find((r) => r[4] === 'sell' && r[2] === 'live')).toEqual(['2026-03-04T00:00:00.000Z', '2', 'live', 'ETH/USDT', 'sell', '2960', '0.1', '0.296', '-4.596']);
    expect(rows.slice(1).map((r) => r[3])).not.toContain('SOL/USDT');
    const realized = rows.slice(1).reduce((s, r) => s + Number(r[8]), 0);
    expect(realized).toBeCloseTo(33.2635 - 4.596, 9);

    const runTwo = await chat.say(alice, '/trades csv 2');
    expect(runTwo!.file!.name).toBe('trades-run2-2026-03-10.csv');
    expect(parseCsv(new TextDecoder().decode(runTwo!.file!.bytes))).toHaveLength(3);
  });

  it('CSV fields with commas and quotes are quoted; tiny numbers stay in plain notation', async () => {
    const reply = await chat.say(bob, '/trades csv');
    const csv = new TextDecoder().decode(reply!.file!.bytes);
    expect(csv).toContain('"A,""B""/USDT"');
    const rows = parseCsv(csv);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual(['2026-03-05T01:00:00.000Z', '2', 'live', 'A,"B"/USDT', 'buy', '1.5', '10', '0.00000015', '0']);
    expect(rows[2]![3]).toBe('SOL/USDT');
  });

  it('caps the CSV and says so', async () => {
    const capped = await tradesCsv(database.deps, aliceId, { maxRows: 2 });
    if (!capped.ok) throw new Error(capped.error.code);
    expect(capped.value).toMatchObject({ rows: 2, truncated: true });
    // The newest two, oldest first.
    expect(parseCsv(capped.value.csv).slice(1).map((r) => r[0])).toEqual(['2026-03-10T05:00:00.000Z', '2026-03-10T06:00:00.000Z']);
  });
});

describe('console chat', () => {
  it('saves the CSV file next to the images and says where', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ait-console-files-'));
    const input = new PassThrough();
    const out = new PassThrough();
    let output = '';
    out.on('data', (c: Buffer) => (output += c.toString()));
    const consoleChat = new ConsoleChat({ pipeline: chat.pipeline, input, output: out, imageDir: dir, username: 'operator' });
    consoleChat.start();
    const type = async (line: string) => {
      const before = output.length;
      input.write(`${line}\n`);
      await new Promise((r) => setImmediate(r));
      await consoleChat.idle();
      return output.slice(before);
    };
    try {
      await type('/start');
      const { userId } = await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: 'console', externalId: 'local' } } });
      const run = await addRun('c1', { userId, seq: 1, mode: 'paper', strategy: 'grid', symbol: 'BTC/USDT', capital: 100, status: 'running', startedAt: '2026-03-09T00:00:00Z' });
      await addFill(run, await addOrder(run, 'sell', 60000, 0.001), { tradeId: 'c1', side: 'sell', price: 60000, qty: 0.001, fee: 0.06, realized: 1.25, at: '2026-03-09T01:00:00Z' });
      const said = await type('/trades csv');
      expect(said).toContain('Your fills as CSV: 1 row.');
      const saved = /\[file saved to (.+-trades-2026-03-10\.csv)\] 1 fill\n/.exec(said)?.[1];
      expect(saved?.startsWith(dir)).toBe(true);
      expect(await readFile(saved!, 'utf8')).toBe(`${CSV_HEADER}\r\n2026-03-09T01:00:00.000Z,1,paper,BTC/USDT,sell,60000,0.001,0.06,1.25\r\n`);
    } finally {
      consoleChat.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
