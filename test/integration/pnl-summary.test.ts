// The daily/weekly P&L summary job on a real database: due at the user's hour in their own time
// zone (set with /alerts), once per local day however often the job runs, weekly on the local
// Monday, figures equal to the fills, nothing for users without runs, and mutes applied by the
// dispatcher.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertDispatcher, type AlertChannel } from '../../src/alerts/dispatcher.ts';
import type { RenderedReply } from '../../src/chat/pipeline.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { pnlSummaryJob, queuePnlSummaries } from '../../src/jobs/pnl-summary.ts';
import { JobScheduler } from '../../src/jobs/scheduler.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
let chat: ChatHarness;
const logger = createLogger({ level: 'silent' });
const T = (iso: string) => new Date(iso);
const MIN = 60_000;
let personSeq = 9000;

beforeAll(async () => {
  database = await createMigratedDatabase();
  chat = await createChatHarness(database);
});
afterAll(async () => {
  await database?.drop();
});

const text = (r: RenderedReply | null) => r?.text ?? '';

/** A Telegram user who set their summary time with /alerts. */
async function user(settings: { timezone?: string; hour?: number; weeklyOn?: boolean; dailyOff?: boolean } = {}) {
  const person: Person = { platform: 'telegram', id: String(++personSeq) };
  await chat.say(person, '/start');
  if (settings.timezone) expect(text(await chat.say(person, `/alerts timezone ${settings.timezone}`))).toContain('Time zone:');
  if (settings.hour !== undefined) expect(text(await chat.say(person, `/alerts hour ${settings.hour}`))).toContain('P&L summaries now arrive at');
  if (settings.weeklyOn) await chat.say(person, '/alerts weekly_summary on');
  if (settings.dailyOff) await chat.say(person, '/alerts daily_summary off');
  const identity = await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: person.id } } });
  return { person, userId: identity.userId };
}

// Runs, orders and fills as the run ledger stores them (the same shape as test/integration/pnl.test.ts).
let runSeq = 0;
async function addRun(userId: string, data: { mode: 'paper' | 'live'; capital: number; startedAt: string; stoppedAt?: string }) {
  const run = await database.db.tradingRun.create({
    data: {
      userId,
      seq: ++runSeq,
      mode: data.mode,
      strategy: 'dca',
      exchange: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      capitalUsd: data.capital.toFixed(2),
      params: {},
      status: data.stoppedAt ? 'stopped' : 'running',
      startedAt: T(data.startedAt),
      stoppedAt: data.stoppedAt ? T(data.stoppedAt) : null,
      ...(data.stoppedAt ? { stopReason: 'user' } : {}),
    },
  });
  return run.id;
}

let orderSeq = 0;
async function addFill(runId: string, f: { side: 'buy' | 'sell'; price: number; qty: number; fee: number; realized: number; at: string }) {
  const n = ++orderSeq;
  const order = await database.db.runOrder.create({
    data: { runId, clientOrderId: `sum-${n}`, tag: `${f.side}-${n}`, attempt: 1, side: f.side, type: 'limit', price: String(f.price), qty: String(f.qty), filledQty: String(f.qty), status: 'filled' },
  });
  await database.db.runFill.create({
    data: {
      runId,
      orderId: order.id,
      tradeId: `t-${n}`,
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

/** Runs the job for one slot, as the scheduler would hand it over (the clock follows). */
async function runAt(iso: string | Date) {
  const at = new Date(iso);
  if (at > database.clock.now()) database.clock.set(at);
  return queuePnlSummaries(database.deps, at, logger);
}

const summariesOf = (userId: string) =>
  database.db.alertOutbox.findMany({ where: { userId, alertType: { in: ['daily_summary', 'weekly_summary'] } }, orderBy: { id: 'asc' } });

describe('/alerts sets when summaries come', () => {
  it('validates the time zone (IANA names, any case) and the hour', async () => {
    const { person, userId } = await user();
    expect(text(await chat.say(person, '/alerts'))).toContain('P&L summaries at 20:00 UTC');
    expect(text(await chat.say(person, '/alerts timezone Mars/Olympus_Mons'))).toBe(
      'That is not a time zone I know. Use an IANA name such as `Europe/Berlin`, `America/New_York`, `Asia/Tokyo` or `UTC`.',
    );
    expect(text(await chat.say(person, '/alerts timezone +05:30'))).toContain('not a time zone I know');
    expect(text(await chat.say(person, '/alerts timezone asia/tokyo'))).toContain('Time zone: *Asia/Tokyo*. P&L summaries arrive at 20:00 Asia/Tokyo');
    expect(text(await chat.say(person, '/alerts hour 24'))).toContain('whole hour from 0 to 23');
    expect(text(await chat.say(person, '/alerts hour nine'))).toContain('whole hour from 0 to 23');
    expect(text(await chat.say(person, '/alerts hour 9'))).toBe('P&L summaries now arrive at *09:00 Asia/Tokyo*.');
    expect(text(await chat.say(person, '/alerts hour'))).toContain('09:00 Asia/Tokyo');
    expect(text(await chat.say(person, '/alerts fills maybe'))).toContain('state must be on or off');
    expect(text(await chat.say(person, '/alerts fills off'))).toBe('Alerts for every order fill: *off*.');
    expect(await database.db.user.findUniqueOrThrow({ where: { id: userId } })).toMatchObject({ timezone: 'Asia/Tokyo', summaryHour: 9 });
  });
});

describe('P&L summary job', () => {
  it('queues the daily summary with the figures of the fills of the previous local day, paper and live apart', async () => {
    const { userId } = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    // Tokyo is UTC+9: Monday 9 March, local, is 2026-03-08T15:00Z to 2026-03-09T15:00Z.
    const paper = await addRun(userId, { mode: 'paper', capital: 1000, startedAt: '2026-03-01T00:00:00Z' });
    await addFill(paper, { side: 'buy', price: 60000, qty: 0.01, fee: 0.55, realized: 0, at: '2026-03-08T14:00:00Z' }); // Sunday, local
    await addFill(paper, { side: 'buy', price: 60000, qty: 0.01, fee: 0.6, realized: 0, at: '2026-03-08T16:00:00Z' });
    await addFill(paper, { side: 'sell', price: 62000, qty: 0.005, fee: 0.31, realized: 9.89, at: '2026-03-09T10:00:00Z' });
    await addFill(paper, { side: 'sell', price: 63000, qty: 0.005, fee: 0.32, realized: 14.5, at: '2026-03-09T16:00:00Z' }); // Tuesday, local
    await database.db.runEquitySnapshot.createMany({
      data: [
        { runId: paper, at: T('2026-03-09T14:30:00Z'), equity: '1020', realizedPnl: '9.89', price: '61000' }, // the day's last
        { runId: paper, at: T('2026-03-09T20:00:00Z'), equity: '1100', realizedPnl: '24.39', price: '63000' }, // after it
      ],
    });
    const live = await addRun(userId, { mode: 'live', capital: 500, startedAt: '2026-03-05T00:00:00Z', stoppedAt: '2026-03-09T12:00:00Z' });
    await addFill(live, { side: 'buy', price: 3000, qty: 0.1, fee: 0.3, realized: 0, at: '2026-03-09T01:00:00Z' });
    await addFill(live, { side: 'sell', price: 2960, qty: 0.1, fee: 0.296, realized: -4.596, at: '2026-03-09T11:00:00Z' });

    // 00:00 UTC on Tuesday 10 March is 09:00 in Tokyo.
    await runAt('2026-03-10T00:00:00Z');
    const rows = await summariesOf(userId);
    expect(rows.map((r) => r.eventId)).toEqual([`summary:daily:${userId}:2026-03-10`]); // Tuesday: no weekly
    const row = rows[0]!;
    expect(row).toMatchObject({ alertType: 'daily_summary', priority: 8, status: 'pending' });
    const payload = row.payload as { since: string; until: string; modes: { mode: string; runs: number; realized: number; unrealized: number; fees: number; trades: number }[] };
    expect(payload.since).toBe('2026-03-08T15:00:00.000Z');
    expect(payload.until).toBe('2026-03-09T14:59:59.999Z');
    expect(payload.modes.map((m) => m.mode)).toEqual(['paper', 'live']);
    const [p, l] = payload.modes as [(typeof payload.modes)[0], (typeof payload.modes)[0]];
    expect(p.runs).toBe(1);
    expect(p.trades).toBe(2);
    expect(p.realized).toBeCloseTo(9.89, 9);
    expect(p.fees).toBeCloseTo(0.91, 9);
    expect(p.unrealized).toBeCloseTo(10.11, 9); // 1020 − 1000 − 9.89 at the day's end
    expect(l.trades).toBe(2);
    expect(l.realized).toBeCloseTo(-4.596, 9);
    expect(l.fees).toBeCloseTo(0.596, 9);
    expect(l.unrealized).toBe(0);
    expect(row.text).toBe(
      [
        '📊 Daily P&L for Mon 9 Mar 2026 (Asia/Tokyo)',
        '🧪 Paper (1 run): realized +$9.89 · unrealized +$10.11 · fees $0.91 · 2 trades',
        '💰 Live (1 run): realized -$4.60 · unrealized +$0.00 · fees $0.60 · 2 trades',
        'Details: /pnl',
      ].join('\n'),
    );
  });

  it('a user at 09:00 in Tokyo gets exactly one summary a day, in the slots of 00:00–00:45 UTC and at no other time', async () => {
    const { userId } = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    await addRun(userId, { mode: 'paper', capital: 1000, startedAt: '2026-03-10T03:00:00Z' });
    const newRowsAt: string[] = [];
    // Every 15-minute slot of a day, from 12:00 UTC on the 10th to 11:45 UTC on the 11th.
    const start = T('2026-03-10T12:00:00Z').getTime();
    for (let i = 0; i < 96; i++) {
      const slot = new Date(start + i * 15 * MIN);
      const before = (await summariesOf(userId)).length;
      await runAt(slot);
      if ((await summariesOf(userId)).length > before) newRowsAt.push(slot.toISOString());
    }
    expect(newRowsAt).toEqual(['2026-03-11T00:00:00.000Z']);
    expect((await summariesOf(userId)).map((r) => r.eventId)).toEqual([`summary:daily:${userId}:2026-03-11`]);

    // Any slot of the hour sends it when the earlier ones were missed; the next hour does not.
    for (const [notYet, inTheHour, nextHour] of [
      ['2026-03-11T23:45:00Z', '2026-03-12T00:15:00Z', '2026-03-12T01:00:00Z'], // 08:45, 09:15, 10:00 in Tokyo
      ['2026-03-12T23:45:00Z', '2026-03-13T00:30:00Z', '2026-03-13T01:00:00Z'],
      ['2026-03-13T23:45:00Z', '2026-03-14T00:45:00Z', '2026-03-14T01:00:00Z'],
    ]) {
      for (const slot of [notYet!, inTheHour!, nextHour!]) {
        const before = (await summariesOf(userId)).length;
        await runAt(slot);
        expect((await summariesOf(userId)).length - before, slot).toBe(slot === inTheHour ? 1 : 0);
      }
    }
    expect((await summariesOf(userId)).map((r) => r.eventId)).toEqual(
      ['11', '12', '13', '14'].map((d) => `summary:daily:${userId}:2026-03-${d}`),
    );
  });

  it('running the job again in the same slot, or in a later slot of the hour, queues nothing new', async () => {
    const { userId } = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    await addRun(userId, { mode: 'live', capital: 800, startedAt: '2026-03-14T00:00:00Z' });
    const first = await runAt('2026-03-15T00:00:00Z');
    expect(first.queued).toBeGreaterThanOrEqual(1);
    // Twice in the same slot (as two replicas would, if both got past the scheduler), then later slots.
    const again = await Promise.all([runAt('2026-03-15T00:00:00Z'), runAt('2026-03-15T00:00:00Z')]);
    await runAt('2026-03-15T00:15:00Z');
    await runAt('2026-03-15T00:45:00Z');
    expect(again.map((r) => r.queued)).toEqual([0, 0]);
    expect((await summariesOf(userId)).map((r) => r.eventId)).toEqual([`summary:daily:${userId}:2026-03-15`]);
  });

  it('as a scheduled job: one run per slot across replicas, the outcome sums it up', async () => {
    const { userId } = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    await addRun(userId, { mode: 'paper', capital: 100, startedAt: '2026-03-15T00:00:00Z' });
    const a = new JobScheduler({ db: database.db, clock: database.clock, logger, replicaId: 'a' });
    const b = new JobScheduler({ db: database.db, clock: database.clock, logger, replicaId: 'b' });
    a.register(pnlSummaryJob(database.deps, logger));
    b.register(pnlSummaryJob(database.deps, logger));
    database.clock.set('2026-03-16T00:00:05Z');
    const results = await Promise.all([a.runSlot('pnl-summary', T('2026-03-16T00:00:05Z')), b.runSlot('pnl-summary', T('2026-03-16T00:00:05Z'))]);
    expect(results.map((r) => r.status).sort()).toEqual(['ran', 'taken']);
    const ran = results.find((r) => r.status === 'ran');
    expect(ran && ran.status === 'ran' && ran.outcome).toMatch(/^\d+ users? due, \d+ summar(y|ies) queued$/);
    expect((await summariesOf(userId)).map((r) => r.eventId)).toContain(`summary:daily:${userId}:2026-03-16`);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('the weekly summary comes on the local Monday only, with the 7 days before it', async () => {
    const tokyo = await user({ timezone: 'Asia/Tokyo', hour: 9, weeklyOn: true });
    // 20:00 on Monday in Los Angeles is 03:00 UTC on Tuesday (daylight saving time from 8 March).
    const la = await user({ timezone: 'America/Los_Angeles', hour: 20, weeklyOn: true });
    for (const u of [tokyo, la]) {
      const run = await addRun(u.userId, { mode: 'paper', capital: 1000, startedAt: '2026-03-16T00:00:00Z' });
      await addFill(run, { side: 'sell', price: 100, qty: 1, fee: 0.1, realized: 2, at: '2026-03-18T12:00:00Z' });
      await addFill(run, { side: 'sell', price: 100, qty: 1, fee: 0.1, realized: 3, at: '2026-03-21T12:00:00Z' });
    }
    // Every hour from Tuesday 17 March to Wednesday 25 March, UTC (Tuesday evening in Los Angeles onwards).
    for (let t = T('2026-03-17T04:00:00Z').getTime(); t <= T('2026-03-25T12:00:00Z').getTime(); t += 60 * MIN) await runAt(new Date(t));

    const weekly = async (userId: string) => (await summariesOf(userId)).filter((r) => r.alertType === 'weekly_summary');
    const tokyoWeekly = await weekly(tokyo.userId);
    expect(tokyoWeekly.map((r) => r.eventId)).toEqual([`summary:weekly:${tokyo.userId}:2026-03-23`]);
    // Queued in the slot (next_attempt_at is the job's clock then).
    expect(tokyoWeekly[0]!.nextAttemptAt.toISOString()).toBe('2026-03-23T00:00:00.000Z');
    expect(tokyoWeekly[0]!.priority).toBe(9);
    const laWeekly = await weekly(la.userId);
    expect(laWeekly.map((r) => r.eventId)).toEqual([`summary:weekly:${la.userId}:2026-03-23`]);
    expect(laWeekly[0]!.nextAttemptAt.toISOString()).toBe('2026-03-24T03:00:00.000Z');
    for (const row of [...tokyoWeekly, ...laWeekly]) {
      const modes = (row.payload as { modes: { realized: number; fees: number; trades: number }[] }).modes;
      expect(modes).toHaveLength(1);
      expect(modes[0]!.trades).toBe(2);
      expect(modes[0]!.realized).toBeCloseTo(5, 9);
      expect(modes[0]!.fees).toBeCloseTo(0.2, 9);
      expect(row.text).toMatch(/^📊 Weekly P&L, /);
    }
    expect(tokyoWeekly[0]!.text).toContain('Weekly P&L, Mon 16 Mar 2026 – Sun 22 Mar 2026 (Asia/Tokyo)');
    // And one daily summary per local day.
    const laDaily = (await summariesOf(la.userId)).filter((r) => r.alertType === 'daily_summary').map((r) => r.eventId.slice(-10));
    expect(laDaily).toEqual(['2026-03-17', '2026-03-18', '2026-03-19', '2026-03-20', '2026-03-21', '2026-03-22', '2026-03-23', '2026-03-24']);
  });

  it('a user without runs in the period gets nothing', async () => {
    const none = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    const old = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    await addRun(old.userId, { mode: 'paper', capital: 1000, startedAt: '2026-03-01T00:00:00Z', stoppedAt: '2026-03-20T00:00:00Z' });
    // Friday 27 March in Tokyo: the run stopped a week before the day reported.
    await runAt('2026-03-27T00:00:00Z');
    expect(await summariesOf(none.userId)).toEqual([]);
    expect(await summariesOf(old.userId)).toEqual([]);
  });

  it('a user who muted daily summaries is not sent them (the dispatcher applies the switch)', async () => {
    const muted = await user({ timezone: 'Asia/Tokyo', hour: 9, dailyOff: true });
    const listening = await user({ timezone: 'Asia/Tokyo', hour: 9 });
    for (const u of [muted, listening]) await addRun(u.userId, { mode: 'paper', capital: 1000, startedAt: '2026-03-26T00:00:00Z' });
    await runAt('2026-03-28T00:00:00Z');

    const sent: { chatId: string; text: string }[] = [];
    const channel: AlertChannel = { send: async (chatId, text) => void sent.push({ chatId, text }), classify: () => ({}), perChatPerSecond: 1000, overallPerSecond: 1000 };
    // Its own clock, a step ahead on every reading, so pacing never waits.
    let ms = T('2026-03-28T00:00:01Z').getTime();
    const dispatcher = new AlertDispatcher({ db: database.db, clock: { now: () => new Date((ms += 1000)) }, logger, replicaId: 'summary-test', channels: { telegram: channel }, batchSize: 1000 });
    await dispatcher.runOnce();

    expect(sent.filter((s) => s.chatId === muted.person.id)).toEqual([]);
    expect((await summariesOf(muted.userId)).map((r) => r.status)).toEqual(['muted']);
    expect(sent.filter((s) => s.chatId === listening.person.id).map((s) => s.text.split('\n')[0])).toEqual(['📊 Daily P&L for Fri 27 Mar 2026 (Asia/Tokyo)']);
  });
});
