// Fee accrual on a real database: live realised P&L over several periods against the high-water
// mark, paper never charged, once per subject and period (re-runs and concurrent runs), copy-
// trading fees per follow, the notices in the outbox, and the scheduled job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accrueFees, type FeeDeps } from '../../src/app/fees.ts';
import { Decimal } from '../../src/domain/fees.ts';
import { feeAccrualJob, FEE_ACCRUAL_JOB } from '../../src/jobs/fee-accrual.ts';
import { JobScheduler } from '../../src/jobs/scheduler.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { feeSeed, type FeeSeed } from '../support/fee-seed.ts';

let database: MigratedDatabase;
let deps: FeeDeps;
let seed: FeeSeed;

const DAY = ['2026-02-01T00:10:00.000Z', '2026-02-02T00:10:00.000Z', '2026-02-03T00:10:00.000Z', '2026-02-04T00:10:00.000Z', '2026-02-05T00:10:00.000Z'].map((d) => new Date(d));

beforeAll(async () => {
  database = await createMigratedDatabase({}, { poolSize: 8 });
  deps = { ...database.deps, fees: { performancePct: 10, copyMasterPct: 5, copyPlatformPct: 2 } };
  seed = feeSeed(database.db);
});
afterAll(async () => {
  await database?.drop();
});

const accrualsOf = (kind: 'performance' | 'copy', subjectId: string) =>
  database.db.feeAccrual.findMany({ where: { kind, subjectId }, orderBy: { periodEnd: 'asc' } });
const fixed = (d: { toString(): string }, places = 2) => new Decimal(d.toString()).toFixed(places);

describe('performance fees', () => {
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    alice = await seed.user('alice');
    bob = await seed.user('bob');
    const live = await seed.run(alice, 'live');
    const paper = await seed.run(alice, 'paper');
    const bobPaper = await seed.run(bob, 'paper');
    // Alice's live P&L at each period end: 1000, 400 (a loss), 900 (recovering), 900 (no trades), 1200.
    await seed.fill(live, '600.25', '2026-01-31T10:00:00Z');
    await seed.fill(live, '399.75', '2026-02-01T00:10:00Z'); // exactly at the period end: counted
    await seed.fill(live, '-600', '2026-02-01T09:00:00Z');
    await seed.fill(live, '500', '2026-02-02T23:00:00Z');
    await seed.fill(live, '300.004', '2026-02-04T12:00:00Z');
    await seed.fill(live, '-0.004', '2026-02-04T13:00:00Z');
    // After the last period end: in nobody's fees yet.
    await seed.fill(live, '10000', '2026-02-05T00:10:00.001Z');
    // Paper profit is not money.
    await seed.fill(paper, '5000', '2026-01-31T12:00:00Z');
    await seed.fill(bobPaper, '7000', '2026-01-31T12:00:00Z');
  });

  it('charges each new high of live realised P&L once, nothing for the loss or its recovery, and never paper', async () => {
    for (const periodEnd of DAY) await accrueFees(deps, periodEnd);
    const rows = await accrualsOf('performance', alice);
    // No row for the period whose P&L did not change.
    expect(rows.map((r) => r.periodEnd.toISOString())).toEqual([DAY[0], DAY[1], DAY[2], DAY[4]].map((d) => d!.toISOString()));
    expect(rows.map((r) => [fixed(r.cumulativePnlUsd, 3), fixed(r.hwmBeforeUsd, 3), fixed(r.hwmAfterUsd, 3), fixed(r.gainUsd, 3), fixed(r.platformFeeUsd)])).toEqual([
      ['1000.000', '0.000', '1000.000', '1000.000', '100.00'],
      ['400.000', '1000.000', '1000.000', '0.000', '0.00'],
      ['900.000', '1000.000', '1000.000', '0.000', '0.00'],
      ['1200.000', '1000.000', '1200.000', '200.000', '20.00'],
    ]);
    expect(rows.every((r) => r.userId === alice && r.masterUserId === null && fixed(r.masterFeeUsd) === '0.00')).toBe(true);
    // The fees add up to 10% of the highest live P&L, to the cent.
    const total = rows.reduce((sum, r) => sum.plus(r.platformFeeUsd.toString()), new Decimal(0));
    expect(total.toFixed(2)).toBe(new Decimal('1200').times('0.1').toFixed(2));
    expect(await database.db.feeAccrual.count({ where: { userId: bob } })).toBe(0);

    const notices = await database.db.alertOutbox.findMany({ where: { userId: alice }, orderBy: { createdAt: 'asc' } });
    expect(notices.map((n) => n.alertType)).toEqual(['license', 'license']);
    expect(notices.map((n) => n.eventId).sort()).toEqual([`fee:performance:${alice}:${DAY[0]!.toISOString()}:payer`, `fee:performance:${alice}:${DAY[4]!.toISOString()}:payer`].sort());
    const texts = notices.map((n) => n.text).join('\n');
    expect(texts).toContain('Performance fee $100');
    expect(texts).toContain('Performance fee $20');
    expect(texts).toContain('new high of $1,200');
  });

  it('accruing a period again, or an earlier one, writes nothing and charges nothing', async () => {
    const before = await database.db.feeAccrual.count();
    const again = await accrueFees(deps, DAY[4]!);
    const earlier = await accrueFees(deps, DAY[2]!);
    expect(await database.db.feeAccrual.count()).toBe(before);
    expect(again.performance).toMatchObject({ accrued: 0, alreadyAccrued: 1, platformFees: '0.00' });
    expect(earlier.performance).toMatchObject({ accrued: 0, alreadyAccrued: 1 });
    expect(await database.db.alertOutbox.count({ where: { userId: alice } })).toBe(2);
  });

  it('concurrent accruals of the same period (replicas racing) charge each subject once', async () => {
    const users = await Promise.all(['carol', 'dan', 'erin'].map((n) => seed.user(n)));
    for (const [i, user] of users.entries()) {
      const run = await seed.run(user, 'live');
      await seed.fill(run, `${(i + 1) * 111}.115`, '2026-02-05T20:00:00Z');
    }
    const periodEnd = new Date('2026-02-06T00:10:00.000Z');
    const results = await Promise.all(Array.from({ length: 4 }, () => accrueFees(deps, periodEnd)));
    expect(results.flatMap((r) => r.failures)).toEqual([]);
    // Alice's post-period fill of 10000 is in this period too: four subjects, each accrued by exactly one call.
    expect(results.reduce((n, r) => n + r.performance.accrued, 0)).toBe(4);
    expect(results.reduce((n, r) => n + r.performance.alreadyAccrued, 0)).toBe(12);
    for (const [i, user] of users.entries()) {
      const rows = await accrualsOf('performance', user);
      expect(rows).toHaveLength(1);
      // 10% of 111.115 = 11.1115 → 11.11; of 222.115 → 22.21 (22.2115); of 333.115 → 33.31 (33.3115).
      expect(fixed(rows[0]!.platformFeeUsd)).toBe(['11.11', '22.21', '33.31'][i]);
      expect(await database.db.alertOutbox.count({ where: { userId: user } })).toBe(1);
    }
    const aliceRows = await accrualsOf('performance', alice);
    expect(fixed(aliceRows.at(-1)!.platformFeeUsd)).toBe('1000.00');
  });
});

describe('copy-trading fees', () => {
  it('charges each live follow 5% for the master and 2% for the platform above its own high-water mark', async () => {
    const mia = await seed.user('mia');
    const finn = await seed.user('finn');
    const fay = await seed.user('fay');
    const masterRun = await seed.run(mia, 'live');
    const master = await seed.master(masterRun, mia, 'MIA1');
    const liveFollow = await seed.follow(master, finn, 'live');
    const paperFollow = await seed.follow(master, fay, 'paper');
    await seed.copyTrade(liveFollow, masterRun, '200.10', '2026-03-01T01:00:00Z');
    await seed.copyTrade(liveFollow, masterRun, '999', '2026-03-01T02:00:00Z', 'failed'); // not a fill: ignored
    await seed.copyTrade(liveFollow, masterRun, '-50.10', '2026-03-02T01:00:00Z');
    await seed.copyTrade(liveFollow, masterRun, '100', '2026-03-03T01:00:00Z');
    await seed.copyTrade(paperFollow, masterRun, '1000', '2026-03-01T01:00:00Z');

    const periods = ['2026-03-02T00:10:00Z', '2026-03-03T00:10:00Z', '2026-03-04T00:10:00Z'].map((d) => new Date(d));
    for (const periodEnd of periods) await accrueFees(deps, periodEnd);

    const rows = await accrualsOf('copy', liveFollow);
    expect(rows.map((r) => [fixed(r.cumulativePnlUsd), fixed(r.gainUsd), fixed(r.masterFeeUsd), fixed(r.platformFeeUsd)])).toEqual([
      ['200.10', '200.10', '10.01', '4.00'], // 10.005 → 10.01; 4.002 → 4.00
      ['150.00', '0.00', '0.00', '0.00'],
      ['250.00', '49.90', '2.49', '1.00'], // due 12.50 and 5.00 on 250, less what was charged
    ]);
    expect(rows.every((r) => r.userId === finn && r.masterUserId === mia)).toBe(true);
    const sum = (key: 'masterFeeUsd' | 'platformFeeUsd') => rows.reduce((s, r) => s.plus(r[key].toString()), new Decimal(0)).toFixed(2);
    expect([sum('masterFeeUsd'), sum('platformFeeUsd')]).toEqual(['12.50', '5.00']);
    expect(await accrualsOf('copy', paperFollow)).toEqual([]);
    // The master's own fills realised nothing; the follower's copies are not his performance.
    expect(await database.db.feeAccrual.count({ where: { kind: 'performance', userId: { in: [mia, finn] } } })).toBe(0);

    const toFinn = await database.db.alertOutbox.findMany({ where: { userId: finn } });
    const toMia = await database.db.alertOutbox.findMany({ where: { userId: mia } });
    expect(toFinn).toHaveLength(2);
    expect(toMia).toHaveLength(2);
    expect(toFinn.map((n) => n.text).join('\n')).toContain('$10.01 to the master and $4 platform fee');
    expect(toMia.map((n) => n.text).join('\n')).toContain('You earned $2.49 as master of MIA1');
    expect(toMia.every((n) => !n.text.includes('finn'))).toBe(true);
  });
});

describe('the fee-accrual job', () => {
  it('accrues once per slot across replicas, with the slot as the period end', async () => {
    const gus = await seed.user('gus');
    const run = await seed.run(gus, 'live');
    await seed.fill(run, '50', '2026-03-09T12:00:00Z');
    const logger = createLogger({ level: 'silent' });
    const replicas = ['a', 'b'].map((id) => new JobScheduler({ db: database.db, clock: database.clock, logger, replicaId: `replica-${id}` }));
    for (const scheduler of replicas) scheduler.register(feeAccrualJob(deps, { cron: '10 0 * * *', logger }));
    const slot = new Date('2026-03-10T00:10:00.000Z');
    const results = await Promise.all(replicas.map((s) => s.runSlot(FEE_ACCRUAL_JOB, slot)));
    const ran = results.filter((r) => r.status === 'ran');
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ failed: false });
    expect(ran[0]!.status === 'ran' && ran[0]!.outcome).toMatch(/^performance: \d+ accrued \(\$5\.00\)/);
    const rows = await accrualsOf('performance', gus);
    expect(rows.map((r) => [r.periodEnd.toISOString(), fixed(r.platformFeeUsd)])).toEqual([[slot.toISOString(), '5.00']]);
    await Promise.all(replicas.map((s) => s.stop()));
  });
});
