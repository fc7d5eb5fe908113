// Scanner rotations end to end: a scan's verdict planned per DCA run (staggered per customer),
// then carried out by the every-minute pass through the real run supervisor on replayed candles:
// a suggestion alert, or (opted in) the run stopped and restarted on the better coin; a run
// holding a position waits; a newer scan supersedes an older pending verdict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import type { RunDeps } from '../../src/app/runs.ts';
import { FLAT_RECHECK_MS, processDueRotations } from '../../src/app/scanner-rotations.ts';
import { planRotations } from '../../src/app/scanner-scan.ts';
import { DEFAULT_SCANNER_POLICY, toScanView, type RankingItem, type ScannerPolicy, type ScanView } from '../../src/app/scanner.ts';
import { staggerOffsetMs } from '../../src/domain/scanner-mitigations.ts';
import { scannerRotationJob } from '../../src/jobs/scanner.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadReplaySeries } from '../../src/market-data/replay-source.ts';
import type { Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { createTradingHarness, eventually, type TradingHarness } from '../support/trading.ts';

/** One 5-minute candle per second of test clock. */
const SPEED = 300;
const REPLAY_START = 200;
/** A one-minute release window keeps the candles revealed before a release below the DCA warm-up (99). */
const policy: ScannerPolicy = { ...DEFAULT_SCANNER_POLICY, staggerMs: 60_000 };

const alice: Person = { platform: 'telegram', id: '8301', username: 'alice' }; // suggestions
const bob: Person = { platform: 'telegram', id: '8302', username: 'bob' }; // auto-rotation, flat
const carol: Person = { platform: 'telegram', id: '8303', username: 'carol' }; // auto-rotation, in a deal

let database: MigratedDatabase;
let h: TradingHarness;
let runDeps: RunDeps;
let series: Awaited<ReturnType<typeof loadReplaySeries>>;
let t0: number;

const text = (r: { text: string } | null) => r?.text ?? '';
const userIdOf = async (p: Person) =>
  (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;
const runOf = async (p: Person, seq: number) => database.db.tradingRun.findUniqueOrThrow({ where: { userId_seq: { userId: await userIdOf(p), seq } } });

/** A customer id (the real format) whose stable offset in the policy's window lies in [lo, hi]. */
function customerIdWithOffset(tag: string, lo: number, hi: number): string {
  for (let i = 0; i < 1_000_000; i++) {
    const id = `c_${`${tag}${i}`.padEnd(22, 'x')}`;
    const offset = staggerOffsetMs(id, policy.staggerMs);
    if (offset >= lo && offset <= hi) return id;
  }
  throw new Error(`no customer id with an offset in [${lo}, ${hi}]`);
}
const customers = {
  alice: customerIdWithOffset('rotA', 10_000, 25_000),
  bob: customerIdWithOffset('rotB', 35_000, 50_000),
  // Released within the same second as the scan: no candle is revealed before it is due.
  carol: customerIdWithOffset('rotC', 100, 900),
};

const item = (symbol: string, score: number): RankingItem => ({
  symbol,
  composite_score: score,
  daily_roi_pct: score / 100,
  cycles_per_day: 2,
  friendly_regime_pct: 75,
  max_drawdown_pct: 3.5,
  quote_volume_24h: 50_000_000,
});
/** SOL beats BTC by 50%; ETH is within 20% of SOL. */
const SCORES = [item('SOL/USDT', 60), item('ETH/USDT', 52), item('BTC/USDT', 40)];

async function insertScan(rankings: readonly RankingItem[]): Promise<ScanView> {
  const takenAt = database.clock.now();
  return toScanView(
    await database.db.scannerScan.create({
      data: { takenAt, nextScanAt: new Date(takenAt.getTime() + 4 * 3_600_000), exchange: 'replay', timeframe: '5m', lookbackDays: 7, rankings: rankings as unknown as object[], failures: [], candles: 6048, durationMs: 5 },
    }),
  );
}

/** The open time of the newest candle the replay shows now. */
const visibleCandleTime = (symbol: string) => series.get(symbol)!.time[REPLAY_START + Math.floor(((database.clock.now().getTime() - t0) * SPEED) / 300_000)]!;

/** Waits until the run has stepped through every candle visible now. */
async function caughtUp(runId: string, symbol: string): Promise<void> {
  const target = visibleCandleTime(symbol);
  await eventually(() => h.trading.supervisor.liveStatus(runId)?.lastCandleTime === target || undefined, 15_000, `run ${runId} to reach ${target}`);
}

/** Net base quantity × last price, from the run's fills (what the rotation pass judges by). */
async function positionUsd(runId: string): Promise<number> {
  const fills = await database.db.runFill.findMany({ where: { runId }, orderBy: { executedAt: 'asc' } });
  const net = fills.reduce((sum, f) => sum + (f.side === 'buy' ? Number(f.qty) : -Number(f.qty)), 0);
  return Math.abs(net) * Number(fills.at(-1)?.price ?? 0);
}

async function licensed(person: Person, customerId: string): Promise<string> {
  const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await h.chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  const userId = await userIdOf(person);
  await database.db.user.update({ where: { id: userId }, data: { customerId } });
  return userId;
}

beforeAll(async () => {
  database = await createMigratedDatabase();
  series = await loadReplaySeries(projectPath('../shared/data/candles'), ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'], { timeframe: '5m' });
  t0 = database.clock.now().getTime(); // the replay starts counting here
  h = await createTradingHarness(database, { settings: { replay: { series, speed: SPEED } } });
  await h.trading.supervisor.start();
  runDeps = { ...database.deps, runSettings: { defaultExchange: 'replay', paperFirstDays: 7 } };
  await licensed(alice, customers.alice);
  await licensed(bob, customers.bob);
  await licensed(carol, customers.carol);
});
afterAll(async () => {
  await h?.close();
  await database?.drop();
});

describe('scanner rotations', () => {
  let scan1: ScanView;

  it('plans one rotation per DCA run a better coin beats by the threshold, due at each customer\'s release', async () => {
    expect(text(await h.chat.say(alice, '/paper dca BTC/USDT 1000'))).toContain('Paper run #1 started');
    expect(text(await h.chat.say(alice, '/paper grid BTC/USDT 1000 count=10'))).toContain('Paper run #2 started');
    expect(text(await h.chat.say(alice, '/paper dca ETH/USDT 1000'))).toContain('Paper run #3 started');
    expect(text(await h.chat.say(bob, '/paper dca BTC/USDT 1500 tp_range=0.8,2.0'))).toContain('Paper run #1 started');
    expect(text(await h.chat.say(bob, '/scanner autorotate on'))).toContain('Auto-rotation *on*');

    scan1 = await insertScan(SCORES);
    expect(await planRotations(database.deps, policy, scan1)).toBe(2);
    const rows = await database.db.scannerRotation.findMany({ where: { scanId: scan1.id }, orderBy: { dueAt: 'asc' } });
    const [aliceDca, bobDca] = [await runOf(alice, 1), await runOf(bob, 1)];
    expect(rows.map((r) => ({ runId: r.runId, from: r.fromSymbol, to: r.toSymbol, fromScore: Number(r.fromScore), toScore: Number(r.toScore), action: r.action, status: r.status, dueAt: r.dueAt }))).toEqual([
      { runId: aliceDca.id, from: 'BTC/USDT', to: 'SOL/USDT', fromScore: 40, toScore: 60, action: 'suggest', status: 'pending', dueAt: new Date(scan1.takenAt.getTime() + staggerOffsetMs(customers.alice, policy.staggerMs)) },
      { runId: bobDca.id, from: 'BTC/USDT', to: 'SOL/USDT', fromScore: 40, toScore: 60, action: 'rotate', status: 'pending', dueAt: new Date(scan1.takenAt.getTime() + staggerOffsetMs(customers.bob, policy.staggerMs)) },
    ]);
    // Never the grid run, nor the DCA run on ETH (SOL is only 15% better); planning twice adds nothing.
    expect(await database.db.scannerRotation.count({ where: { runId: { in: [(await runOf(alice, 2)).id, (await runOf(alice, 3)).id] } } })).toBe(0);
    expect(await planRotations(database.deps, policy, scan1)).toBe(0);
    expect(await database.db.scannerRotation.count()).toBe(2);
  });

  it('does nothing before a rotation is due, then suggests the move to the user who did not opt in', async () => {
    const job = scannerRotationJob(runDeps, h.trading.supervisor);
    expect(await processDueRotations(runDeps, h.trading.supervisor)).toEqual({ suggested: 0, stopping: 0, rotated: 0, waiting: 0, skipped: 0 });
    expect(await job.run(database.clock.now())).toBe('nothing due');

    database.clock.set(new Date(scan1.takenAt.getTime() + staggerOffsetMs(customers.alice, policy.staggerMs)));
    expect(await job.run(database.clock.now())).toBe('1 suggested');
    const aliceId = await userIdOf(alice);
    const row = await database.db.scannerRotation.findFirstOrThrow({ where: { userId: aliceId } });
    expect(row).toMatchObject({ status: 'suggested', processedAt: database.clock.now(), newRunId: null });
    const alert = await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: `rotation:${row.id}` } });
    expect(alert).toMatchObject({ userId: aliceId, alertType: 'scanner', priority: 5, status: 'pending' });
    expect(alert.text).toContain('SOL/USDT scores 60.0 against 40.0 for BTC/USDT');
    expect(alert.text).toContain('/stop 1, then /paper dca SOL/USDT 1000');
    expect(alert.text).toContain('/scanner autorotate on');
    expect((await runOf(alice, 1)).status).toBe('running'); // a suggestion changes nothing
    // Bob's is not due yet.
    expect(await database.db.scannerRotation.count({ where: { userId: await userIdOf(bob), status: 'pending' } })).toBe(1);
    expect(await job.run(database.clock.now())).toBe('nothing due');
  });

  it('rotates an opted-in flat run: stops it and starts the same strategy, mode, capital and settings on the better coin', async () => {
    const old = await runOf(bob, 1);
    database.clock.set(new Date(scan1.takenAt.getTime() + staggerOffsetMs(customers.bob, policy.staggerMs)));
    await caughtUp(old.id, 'BTC/USDT'); // < 99 candles seen: still in the regime warm-up, no deal
    expect(await database.db.runFill.count({ where: { runId: old.id } })).toBe(0);

    const row = await eventually(async () => {
      await processDueRotations(runDeps, h.trading.supervisor);
      const r = await database.db.scannerRotation.findFirstOrThrow({ where: { runId: old.id } });
      return r.status === 'rotated' ? r : undefined;
    }, 15_000, 'the rotation to finish');
    const stopped = await runOf(bob, 1);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'rotation', stopDetail: 'rotating to SOL/USDT' });
    const successor = await runOf(bob, 2);
    expect(row.newRunId).toBe(successor.id);
    expect(row.processedAt).toEqual(database.clock.now());
    expect(successor).toMatchObject({ status: 'running', mode: 'paper', strategy: 'dca', exchange: 'replay', symbol: 'SOL/USDT', timeframe: '5m', params: { tp_range: '0.8,2.0' } });
    expect(Number(successor.capitalUsd)).toBe(1500);
    await eventually(() => h.trading.supervisor.liveStatus(successor.id) !== null || undefined, 10_000, 'the new run to be loaded');
    expect(h.trading.supervisor.liveStatus(old.id)).toBeNull();

    const done = await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: `rotation:${row.id}:done` } });
    expect(done.alertType).toBe('scanner');
    expect(done.text).toBe('🔄 Scanner: rotated run #1 from BTC/USDT to SOL/USDT (score 60.0 vs 40.0): it continues as run #2.');
    const audits = await database.db.auditEntry.findMany({ where: { entityId: { in: [old.id, successor.id] } }, orderBy: { id: 'asc' } });
    expect(audits.filter((a) => a.actorType === 'system').map((a) => [a.action, a.actorId, a.entityId])).toEqual([
      ['run.stop_requested', 'scanner', old.id],
      ['run.started', 'scanner', successor.id],
    ]);
    // Done is done: another pass leaves it alone.
    expect(await processDueRotations(runDeps, h.trading.supervisor)).toEqual({ suggested: 0, stopping: 0, rotated: 0, waiting: 0, skipped: 0 });
    expect(await database.db.tradingRun.count({ where: { userId: old.userId } })).toBe(2);
  });

  it('an opted-in run holding a position waits for its deal to close; a newer scan supersedes what is still pending', async () => {
    // To a whole replay second, so Carol's release (< 1 s after a scan) reveals no candle.
    database.clock.set(new Date(t0 + Math.ceil((database.clock.now().getTime() - t0) / 1000) * 1000));
    expect(text(await h.chat.say(carol, '/scanner autorotate on'))).toContain('Auto-rotation *on*');
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 1000'))).toContain('Paper run #1 started');
    const run = await runOf(carol, 1);
    // Reveal candles ten at a time until the DCA has bought.
    await eventually(async () => {
      database.clock.advance(10_000);
      await caughtUp(run.id, 'BTC/USDT');
      return (await database.db.runFill.count({ where: { runId: run.id, side: 'buy' } })) > 0 || undefined;
    }, 40_000, 'a DCA buy');
    await caughtUp(run.id, 'BTC/USDT');
    await new Promise((r) => setTimeout(r, 200)); // the last step's writes
    expect(await positionUsd(run.id)).toBeGreaterThan(1);

    const scan2 = await insertScan(SCORES);
    // Alice's DCA run is still on BTC (she was only told); Bob's is on SOL now; Carol's is new.
    expect(await planRotations(database.deps, policy, scan2)).toBe(2);
    const carolRow = await database.db.scannerRotation.findUniqueOrThrow({ where: { scanId_runId: { scanId: scan2.id, runId: run.id } } });
    expect(carolRow).toMatchObject({ action: 'rotate', toSymbol: 'SOL/USDT', status: 'pending' });

    database.clock.set(carolRow.dueAt); // the same replay second: no new candle
    expect(visibleCandleTime('BTC/USDT')).toBe(h.trading.supervisor.liveStatus(run.id)?.lastCandleTime);
    expect(await processDueRotations(runDeps, h.trading.supervisor)).toEqual({ suggested: 0, stopping: 0, rotated: 0, waiting: 1, skipped: 0 });
    const waiting = await database.db.scannerRotation.findUniqueOrThrow({ where: { id: carolRow.id } });
    expect(waiting).toMatchObject({ status: 'pending', detail: 'waiting for the open deal to close', processedAt: null, newRunId: null });
    expect(waiting.dueAt).toEqual(new Date(database.clock.now().getTime() + FLAT_RECHECK_MS));
    expect((await runOf(carol, 1)).status).toBe('running');
    // Not due again until then.
    expect(await processDueRotations(runDeps, h.trading.supervisor)).toEqual({ suggested: 0, stopping: 0, rotated: 0, waiting: 0, skipped: 0 });

    // A newer scan replaces the verdicts not acted on yet (Carol's and Alice's of scan 2).
    database.clock.advance(1_000);
    const scan3 = await insertScan([item('SOL/USDT', 70), item('ETH/USDT', 60), item('BTC/USDT', 40)]); // ETH still within 20%
    expect(await planRotations(database.deps, policy, scan3)).toBe(2);
    const scan2Rows = await database.db.scannerRotation.findMany({ where: { scanId: scan2.id } });
    expect(scan2Rows.map((r) => r.userId).sort()).toEqual([await userIdOf(alice), run.userId].sort());
    for (const r of scan2Rows) expect(r).toMatchObject({ status: 'skipped', detail: 'superseded by a newer scan', processedAt: database.clock.now() });
    const scan3Rows = await database.db.scannerRotation.findMany({ where: { scanId: scan3.id } });
    expect(scan3Rows.map((r) => [r.runId, r.status, Number(r.toScore)]).sort()).toEqual(
      [[(await runOf(alice, 1)).id, 'pending', 70], [run.id, 'pending', 70]].sort(),
    );
    // Alice's suggestion of scan 1 was acted on, so it stays as it was.
    expect(await database.db.scannerRotation.findFirstOrThrow({ where: { scanId: scan1.id, userId: await userIdOf(alice) } })).toMatchObject({ status: 'suggested' });

    // A scan that no longer sees a better coin retires the pending verdicts instead of leaving
    // Carol's waiting rotation to fire later on stale advice.
    database.clock.advance(1_000);
    const scan4 = await insertScan([item('BTC/USDT', 60), item('SOL/USDT', 62), item('ETH/USDT', 55)]);
    expect(await planRotations(database.deps, policy, scan4)).toBe(0);
    for (const r of await database.db.scannerRotation.findMany({ where: { scanId: scan3.id } })) {
      expect(r).toMatchObject({ status: 'skipped', detail: 'the newer scan no longer recommends a move' });
    }
    expect(await database.db.scannerRotation.count({ where: { status: 'pending' } })).toBe(0);
  });
});
