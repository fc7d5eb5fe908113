// Scheduled jobs: each slot runs once across replicas (two JobSchedulers with their own
// connection pools on one database), failures are recorded, stop() waits; and the jobs
// themselves against real rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placePurchaseHold } from '../../src/app/pool-holds.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createDb, type Db } from '../../src/db/client.ts';
import { inboundCleanupJob } from '../../src/jobs/inbound-cleanup.ts';
import { poolHoldExpiryJob } from '../../src/jobs/pool-hold-expiry.ts';
import { JobScheduler, type JobDefinition } from '../../src/jobs/scheduler.ts';
import { findStaleRuns, staleRunsJob } from '../../src/jobs/stale-runs.ts';
import { createLogger, type Logger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { value } from '../support/results.ts';

let database: MigratedDatabase;
/** Replica B's own connection pool, as a second process would have. */
let dbB: Db;
let lines: Record<string, unknown>[] = [];
let logger: Logger;
let counter = 0;

const MIN = 60_000;
const DAY = 86_400_000;

beforeAll(async () => {
  database = await createMigratedDatabase({}, { poolSize: 5 });
  dbB = createDb(database.url, { poolSize: 5 });
  logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
});
afterAll(async () => {
  await dbB?.$disconnect();
  await database?.drop();
});

const replica = (replicaId: string, db: Db = database.db, extra: { pruneEveryMs?: number } = {}) =>
  new JobScheduler({ db, clock: database.clock, logger, replicaId, ...extra });

const rowsOf = (job: string) => database.db.scheduledJobRun.findMany({ where: { job }, orderBy: { slot: 'asc' } });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const newUser = async () => (await resolveIdentity(database.deps, { platform: 'telegram', externalId: `sched-${++counter}` })).userId;

describe('JobScheduler: once per slot', () => {
  it('two replicas racing on the same 20 slots run each slot exactly once', async () => {
    const invocations: { replica: string; slot: string }[] = [];
    const job = (who: string): JobDefinition => ({
      name: 'race',
      cron: '* * * * *',
      run: async (slot) => {
        invocations.push({ replica: who, slot: slot.toISOString() });
        await sleep(5);
        return `ran by ${who}`;
      },
    });
    const a = replica('replica-a');
    const b = replica('replica-b', dbB);
    a.register(job('replica-a'));
    b.register(job('replica-b'));

    const base = Date.parse('2026-03-01T10:00:00.000Z');
    const slots = Array.from({ length: 20 }, (_, i) => new Date(base + i * MIN));
    // Every slot, both replicas at once, all slots at the same time: 40 claims in flight.
    const results = await Promise.all(slots.flatMap((slot) => [a.runSlot('race', slot), b.runSlot('race', slot)]));

    expect(invocations).toHaveLength(20);
    expect(new Set(invocations.map((i) => i.slot)).size).toBe(20);
    expect(results.filter((r) => r.status === 'ran')).toHaveLength(20);
    expect(results.filter((r) => r.status === 'taken')).toHaveLength(20);
    for (let i = 0; i < 20; i++) {
      // Exactly one of the pair (a, b) for slot i ran.
      expect([results[2 * i]!.status, results[2 * i + 1]!.status].sort()).toEqual(['ran', 'taken']);
    }

    const rows = await rowsOf('race');
    expect(rows.map((r) => r.slot.toISOString())).toEqual(slots.map((s) => s.toISOString()));
    for (const row of rows) {
      expect(row.finishedAt).toEqual(database.clock.now());
      expect(row.outcome).toBe(`ran by ${row.replica}`);
      expect(invocations).toContainEqual({ replica: row.replica, slot: row.slot.toISOString() });
    }
  });

  it('a replica whose timer fires late, or after the winner finished, finds the slot taken', async () => {
    let runs = 0;
    const job: JobDefinition = { name: 'late', cron: '*/5 * * * *', run: async () => `run ${++runs}` };
    const a = replica('replica-a');
    const b = replica('replica-b', dbB);
    a.register(job);
    b.register(job);

    // A five-field expression fires on whole minutes: 300 ms and 900 ms late are the same slot.
    const first = await a.runSlot('late', new Date('2026-03-01T10:05:00.300Z'));
    const second = await b.runSlot('late', new Date('2026-03-01T10:05:00.900Z'));
    expect(first).toEqual({ status: 'ran', slot: new Date('2026-03-01T10:05:00.000Z'), outcome: 'run 1', failed: false });
    expect(second).toEqual({ status: 'taken', slot: new Date('2026-03-01T10:05:00.000Z') });
    expect(runs).toBe(1);

    // A six-field expression has second resolution: the next second is a new slot.
    const perSecond: JobDefinition = { name: 'late-seconds', cron: '* * * * * *', run: async (slot) => slot.toISOString() };
    a.register(perSecond);
    b.register(perSecond);
    expect(a.slotFor('late-seconds', new Date('2026-03-01T10:05:07.800Z'))).toEqual(new Date('2026-03-01T10:05:07.000Z'));
    expect((await a.runSlot('late-seconds', new Date('2026-03-01T10:05:07.100Z'))).status).toBe('ran');
    expect((await b.runSlot('late-seconds', new Date('2026-03-01T10:05:07.700Z'))).status).toBe('taken');
    expect((await b.runSlot('late-seconds', new Date('2026-03-01T10:05:08.000Z'))).status).toBe('ran');
    expect((await rowsOf('late-seconds')).map((r) => [r.slot.toISOString(), r.replica, r.outcome])).toEqual([
      ['2026-03-01T10:05:07.000Z', 'replica-a', '2026-03-01T10:05:07.000Z'],
      ['2026-03-01T10:05:08.000Z', 'replica-b', '2026-03-01T10:05:08.000Z'],
    ]);
  });

  it('a failing job records its error and is logged; the next slot still runs', async () => {
    let calls = 0;
    const a = replica('replica-a');
    a.register({
      name: 'flaky',
      cron: '* * * * *',
      run: async () => {
        calls++;
        if (calls === 1) throw new Error('boom for AIT-ABCD-EFGH-JKLM');
        return 'fine';
      },
    });
    lines = [];
    const failed = await a.runSlot('flaky', new Date('2026-03-01T11:00:00Z'));
    const next = await a.runSlot('flaky', new Date('2026-03-01T11:01:00Z'));

    expect(failed).toEqual({ status: 'ran', slot: new Date('2026-03-01T11:00:00Z'), outcome: 'error: boom for AIT-****-****-JKLM', failed: true });
    expect(next).toEqual({ status: 'ran', slot: new Date('2026-03-01T11:01:00Z'), outcome: 'fine', failed: false });
    expect(calls).toBe(2);
    const rows = await rowsOf('flaky');
    expect(rows.map((r) => [r.slot.toISOString(), r.outcome, r.finishedAt !== null])).toEqual([
      ['2026-03-01T11:00:00.000Z', 'error: boom for AIT-****-****-JKLM', true],
      ['2026-03-01T11:01:00.000Z', 'fine', true],
    ]);
    const errors = lines.filter((l) => l.level === 'error' && l.msg === 'scheduled job failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ job: 'flaky', replica: 'replica-a', slot: '2026-03-01T11:00:00.000Z' });
    expect(JSON.stringify(errors[0])).not.toContain('AIT-ABCD-EFGH');
  });

  it('with the database unreachable nothing runs and nothing throws', async () => {
    const down = createDb('postgresql://nobody:nothing@127.0.0.1:1/none', { poolSize: 1 });
    try {
      let runs = 0;
      const s = replica('replica-down', down);
      s.register({ name: 'unreachable', cron: '* * * * *', run: async () => `run ${++runs}` });
      const result = await s.runSlot('unreachable', new Date('2026-03-01T11:00:00Z'));
      expect(result.status).toBe('claim_failed');
      expect(runs).toBe(0);
      expect(await rowsOf('unreachable')).toEqual([]);
    } finally {
      await down.$disconnect();
    }
  });

  it('prunes rows older than 30 days, at most once per pruneEveryMs per replica', async () => {
    const now = database.clock.now().getTime();
    const insert = (job: string, ageMs: number) =>
      database.db.scheduledJobRun.create({ data: { job, slot: new Date(now - ageMs), replica: 'old', startedAt: new Date(now - ageMs) } });
    await insert('ancient', 40 * DAY);
    await insert('ancient', 30 * DAY + MIN);
    await insert('recent', 29 * DAY);

    const s = replica('replica-p', database.db, { pruneEveryMs: 6 * 3_600_000 });
    s.register({ name: 'pruner', cron: '* * * * *', run: async () => 'ok' });
    await s.runSlot('pruner', new Date('2026-03-01T12:00:00Z')); // first run on this replica prunes
    expect(await rowsOf('ancient')).toHaveLength(0);
    expect(await rowsOf('recent')).toHaveLength(1);

    await insert('ancient', 31 * DAY);
    await s.runSlot('pruner', new Date('2026-03-01T12:01:00Z')); // too soon: no prune
    expect(await rowsOf('ancient')).toHaveLength(1);

    database.clock.advance(6 * 3_600_000);
    await s.runSlot('pruner', new Date('2026-03-01T18:00:00Z'));
    expect(await rowsOf('ancient')).toHaveLength(0);
    // 29 days + 6 h: still inside the retention.
    expect(await rowsOf('recent')).toHaveLength(1);
  });

  it('register validates the expression and time zone; the time zone defaults to UTC', async () => {
    const s = replica('replica-v');
    const noop = async () => 'ok';
    expect(() => s.register({ name: 'bad-cron', cron: 'every day', run: noop })).toThrow('invalid cron expression');
    expect(() => s.register({ name: 'bad-tz', cron: '0 20 * * *', timezone: 'Mars/Olympus', run: noop })).toThrow('unknown time zone');
    s.register({ name: 'kolkata', cron: '0 20 * * *', timezone: 'Asia/Kolkata', run: noop });
    s.register({ name: 'utc', cron: '0 20 * * *', run: noop });
    expect(() => s.register({ name: 'utc', cron: '* * * * *', run: noop })).toThrow('already registered');
    expect(s.jobNames).toEqual(['kolkata', 'utc']);

    expect(s.nextRun('kolkata')).toBeNull(); // not started
    s.start();
    try {
      const kolkata = s.nextRun('kolkata')!;
      const utc = s.nextRun('utc')!;
      // 20:00 in India (UTC+5:30) is 14:30 UTC.
      expect([kolkata.getUTCHours(), kolkata.getUTCMinutes(), kolkata.getUTCSeconds()]).toEqual([14, 30, 0]);
      expect([utc.getUTCHours(), utc.getUTCMinutes(), utc.getUTCSeconds()]).toEqual([20, 0, 0]);
    } finally {
      await s.stop();
    }
    expect(s.nextRun('utc')).toBeNull();
  });
});

describe('JobScheduler: real cron timers', () => {
  it('two started replicas on an every-second expression run each fired slot once', async () => {
    const invocations: { replica: string; slot: string }[] = [];
    const job = (who: string): JobDefinition => ({
      name: 'tick',
      cron: '* * * * * *',
      run: async (slot) => {
        invocations.push({ replica: who, slot: slot.toISOString() });
        await sleep(50);
        return `tick by ${who}`;
      },
    });
    const a = replica('replica-a');
    const b = replica('replica-b', dbB);
    a.register(job('replica-a'));
    b.register(job('replica-b'));
    lines = [];
    a.start();
    b.start();
    await sleep(2_500);
    await Promise.all([a.stop(), b.stop()]);
    const ranAtStop = invocations.length;

    expect(ranAtStop).toBeGreaterThanOrEqual(2);
    expect(new Set(invocations.map((i) => i.slot)).size).toBe(ranAtStop);
    for (const i of invocations) expect(i.slot).toMatch(/\.000Z$/);

    const rows = await rowsOf('tick');
    expect(rows).toHaveLength(ranAtStop);
    expect(rows.map((r) => ({ replica: r.replica, slot: r.slot.toISOString() })).sort(bySlot)).toEqual([...invocations].sort(bySlot));
    for (const row of rows) {
      expect(row.finishedAt).not.toBeNull();
      expect(row.outcome).toBe(`tick by ${row.replica}`);
    }
    // Both replicas really competed: the loser of a slot logs that it found it claimed.
    const taken = lines.filter((l) => l.msg === 'slot already claimed' && l.job === 'tick');
    expect(taken.length).toBeGreaterThanOrEqual(1);
    for (const t of taken) expect(invocations.map((i) => i.slot)).toContain(t.slot);

    // Stopped means stopped: no further slots.
    await sleep(1_200);
    expect(invocations).toHaveLength(ranAtStop);
  });

  it('stop() waits for a running job to finish and record its outcome', async () => {
    let started = 0;
    let finished = 0;
    const s = replica('replica-s');
    s.register({
      name: 'slow',
      cron: '* * * * * *',
      run: async () => {
        started++;
        await sleep(600);
        finished++;
        return 'slow done';
      },
    });
    s.start();
    await until(() => started === 1, 3_000, 'the slow job to start');
    await s.stop();
    expect(finished).toBe(1);
    expect(started).toBe(1);
    const rows = await rowsOf('slow');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ replica: 'replica-s', outcome: 'slow done' });
    expect(rows[0]!.finishedAt).not.toBeNull();
  });
});

const bySlot = (x: { slot: string }, y: { slot: string }) => x.slot.localeCompare(y.slot);

describe('jobs', () => {
  it('pool-hold expiry releases lapsed holds with reason "expired" and leaves live ones held', async () => {
    const deps = database.deps;
    const early = value(await placePurchaseHold(deps, { userId: await newUser(), tier: 'pro' }));
    const early2 = value(await placePurchaseHold(deps, { userId: await newUser(), tier: 'pro' }));
    database.clock.advance(20 * MIN);
    const later = value(await placePurchaseHold(deps, { userId: await newUser(), tier: 'pro' }));
    database.clock.advance(15 * MIN); // the early holds lapsed 5 minutes ago; the later one has 15 minutes left

    const s = replica('replica-j');
    s.register(poolHoldExpiryJob(deps));
    const result = await s.runSlot('pool-hold-expiry', database.clock.now());
    expect(result).toMatchObject({ status: 'ran', outcome: 'expired 2 holds', failed: false });

    const rows = await database.db.poolHold.findMany({ where: { id: { in: [early.id, early2.id, later.id] } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of [early.id, early2.id]) {
      expect(byId.get(id)).toMatchObject({ status: 'released', releaseReason: 'expired', releasedAt: database.clock.now() });
    }
    expect(byId.get(later.id)).toMatchObject({ status: 'held', releaseReason: null, releasedAt: null });
    const audit = await database.db.auditEntry.findMany({ where: { entityId: { in: [early.id, early2.id] }, action: 'pool_hold.released' } });
    expect(audit.map((a) => a.actorId)).toEqual(['hold-expiry', 'hold-expiry']);

    // Nothing left to do in the next slot.
    const again = await s.runSlot('pool-hold-expiry', new Date(database.clock.now().getTime() + 5 * MIN));
    expect(again).toMatchObject({ status: 'ran', outcome: 'expired 0 holds' });
  });

  it('stale-runs reports running runs that stopped stepping, by their timeframe, and changes nothing', async () => {
    const userId = await newUser();
    const now = database.clock.now().getTime();
    let seq = 0;
    const run = async (
      label: string,
      r: { timeframe: string; lastCandleAgo?: number; startedAgo?: number; status?: 'running' | 'stopped'; exchange?: string },
    ) =>
      (
        await database.db.tradingRun.create({
          data: {
            userId,
            seq: ++seq,
            mode: 'paper',
            strategy: 'grid',
            exchange: r.exchange ?? 'binance',
            symbol: `${label}/USDT`,
            timeframe: r.timeframe,
            capitalUsd: '1000',
            params: {},
            status: r.status ?? 'running',
            lastCandleAt: r.lastCandleAgo === undefined ? null : new Date(now - r.lastCandleAgo),
            startedAt: new Date(now - (r.startedAgo ?? 2 * DAY)),
          },
        })
      ).id;
    const stale1m = await run('STALE1M', { timeframe: '1m', lastCandleAgo: 20 * MIN }); // > 15 + 2×1 min
    await run('FRESH1M', { timeframe: '1m', lastCandleAgo: 10 * MIN });
    await run('FRESH1H', { timeframe: '1h', lastCandleAgo: 90 * MIN }); // a 1h candle run: within 2 h + 15 min
    const stale1h = await run('STALE1H', { timeframe: '1h', lastCandleAgo: 3 * 60 * MIN });
    const neverStepped = await run('NEVER5M', { timeframe: '5m', startedAgo: 25 * MIN }); // > 15 + 5 min, no candle yet
    await run('NEW5M', { timeframe: '5m', startedAgo: 18 * MIN });
    await run('STOPPED', { timeframe: '1m', lastCandleAgo: 5 * DAY, status: 'stopped' });
    await run('REPLAY', { timeframe: '1m', lastCandleAgo: 400 * DAY, exchange: 'replay' });

    const found = await findStaleRuns(database.deps);
    expect(found.map((r) => [r.id, r.symbol, r.sinceProgressMs])).toEqual([
      [stale1h, 'STALE1H/USDT', 180 * MIN],
      [neverStepped, 'NEVER5M/USDT', 25 * MIN],
      [stale1m, 'STALE1M/USDT', 20 * MIN],
    ]);
    // A tighter threshold catches the 1m run that is 10 minutes behind (> 5 + 2 min).
    expect((await findStaleRuns(database.deps, { thresholdMs: 5 * MIN })).map((r) => r.symbol)).toContain('FRESH1M/USDT');

    const s = replica('replica-j');
    s.register(staleRunsJob(database.deps, logger));
    lines = [];
    const result = await s.runSlot('stale-runs', database.clock.now());
    expect(result).toMatchObject({ status: 'ran', outcome: `3 stale runs: ${stale1h}, ${neverStepped}, ${stale1m}`, failed: false });
    const warnings = lines.filter((l) => l.level === 'warn' && l.msg === 'stale run: status running but not stepping');
    expect(warnings.map((w) => [w.runId, w.minutesSinceProgress])).toEqual([
      [stale1h, 180],
      [neverStepped, 25],
      [stale1m, 20],
    ]);
    // Report only: the runs are still running.
    const statuses = await database.db.tradingRun.findMany({ where: { id: { in: [stale1m, stale1h, neverStepped] } }, select: { status: true, stopReason: true } });
    expect(statuses).toEqual([
      { status: 'running', stopReason: null },
      { status: 'running', stopReason: null },
      { status: 'running', stopReason: null },
    ]);
  });

  it('inbound cleanup prunes week-old inbound updates, dead chat actions, old community syncs, spent rate limits, old bot reports and scans, keeps the rest', async () => {
    const now = database.clock.now().getTime();
    const ago = (ms: number) => new Date(now - ms);
    await database.db.inboundUpdate.createMany({
      data: [
        { platform: 'telegram', updateId: 'old-1', receivedAt: ago(8 * DAY) },
        { platform: 'discord', updateId: 'old-2', receivedAt: ago(30 * DAY) },
        { platform: 'telegram', updateId: 'six-days', receivedAt: ago(6 * DAY) },
        { platform: 'telegram', updateId: 'fresh', receivedAt: ago(0) },
      ],
    });
    const userId = await newUser();
    const action = (id: string, a: { createdAgo: number; expiresIn: number; usedAgo?: number }) => ({
      id,
      userId,
      command: 'stop',
      args: {},
      createdAt: ago(a.createdAgo),
      expiresAt: new Date(now + a.expiresIn),
      usedAt: a.usedAgo === undefined ? null : ago(a.usedAgo),
    });
    await database.db.chatAction.createMany({
      data: [
        action('used-8d', { createdAgo: 9 * DAY, expiresIn: 30 * DAY, usedAgo: 8 * DAY }),
        action('expired-8d', { createdAgo: 9 * DAY, expiresIn: -8 * DAY }),
        action('used-1d', { createdAgo: 9 * DAY, expiresIn: 30 * DAY, usedAgo: DAY }),
        action('expired-3d', { createdAgo: 9 * DAY, expiresIn: -3 * DAY }),
        action('long-lived', { createdAgo: 10 * DAY, expiresIn: DAY }),
      ],
    });

    const sync = (reason: string, createdAgo: number, processedAgo?: number) => ({
      userId,
      reason,
      createdAt: ago(createdAgo),
      nextAttemptAt: ago(createdAgo),
      processedAt: processedAgo === undefined ? null : ago(processedAgo),
    });
    await database.db.communitySyncRequest.createMany({
      data: [sync('processed-8d', 9 * DAY, 8 * DAY), sync('processed-1d', 9 * DAY, DAY), sync('pending-29d', 29 * DAY), sync('pending-20d', 20 * DAY)],
    });

    await database.db.apiRateLimit.createMany({ data: [{ key: 'spent', tat: ago(1) }, { key: 'still-limited', tat: new Date(now + 60_000) }] });
    const report = (receivedAgo: number) => ({ userId, licenseId: userId, receivedAt: ago(receivedAgo), botVersion: '2.4.1', equityUsd: '1000', positions: [], payload: {} });
    await database.db.botStatusReport.createMany({ data: [report(91 * DAY), report(89 * DAY)] });
    const scan = (takenAgo: number) => ({ takenAt: ago(takenAgo), nextScanAt: ago(takenAgo - DAY), exchange: 'binance', timeframe: '5m', lookbackDays: 30, rankings: [], failures: [], candles: 0, durationMs: 1 });
    await database.db.scannerScan.createMany({ data: [scan(31 * DAY), scan(29 * DAY)] });

    const s = replica('replica-j');
    s.register(inboundCleanupJob(database.deps, { batchSize: 1 })); // one row per statement: the batches loop
    const result = await s.runSlot('inbound-cleanup', database.clock.now());
    expect(result).toMatchObject({
      status: 'ran',
      outcome: 'pruned 2 inbound updates, 2 chat actions, 2 community syncs, 1 rate-limit buckets, 1 bot status reports, 1 scans',
      failed: false,
    });
    expect((await database.db.apiRateLimit.findMany()).map((r) => r.key)).toEqual(['still-limited']);
    expect((await database.db.botStatusReport.findMany()).map((r) => r.receivedAt)).toEqual([ago(89 * DAY)]);
    expect((await database.db.scannerScan.findMany()).map((r) => r.takenAt)).toEqual([ago(29 * DAY)]);
    expect((await database.db.communitySyncRequest.findMany({ orderBy: { reason: 'asc' } })).map((r) => r.reason)).toEqual(['pending-20d', 'processed-1d']);

    expect((await database.db.inboundUpdate.findMany({ orderBy: { updateId: 'asc' } })).map((u) => u.updateId)).toEqual(['fresh', 'six-days']);
    expect((await database.db.chatAction.findMany({ orderBy: { id: 'asc' } })).map((a) => a.id)).toEqual(['expired-3d', 'long-lived', 'used-1d']);

    const again = await s.runSlot('inbound-cleanup', new Date(database.clock.now().getTime() + DAY));
    expect(again).toMatchObject({ status: 'ran', outcome: expect.stringMatching(/^pruned 0 inbound updates, 0 chat actions, 0 community syncs, \d rate-limit buckets, 0 bot status reports, 0 scans$/) });
  });
});
