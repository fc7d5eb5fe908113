// The account facts the risk engine reads every step, loaded in one query and cached per user:
// the numbers must be those the definitions give (realizedDrawdown over the user's sells, in
// order; today's sells; the other active runs' capital; the best tier; overrides), and the
// cache must stay equal to a fresh load after this process's own sells.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import { AccountFactsCache, factsForRun, loadUserAccountFacts } from '../../src/app/run-risk.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { realizedDrawdown } from '../../src/engine/risk/guards.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
let userId: string;
const runs: Record<string, string> = {};
let seq = 0;

async function addRun(key: string, mode: 'paper' | 'live', capital: number, status: 'running' | 'stopped') {
  const run = await database.db.tradingRun.create({
    data: { userId, seq: ++seq, mode, strategy: 'grid', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', capitalUsd: capital.toFixed(2), params: {}, status, startedAt: new Date('2026-03-01T00:00:00Z') },
  });
  runs[key] = run.id;
}

let fillSeq = 0;
async function addSell(runKey: string, realized: number, at: string, delivered = true) {
  const runId = runs[runKey]!;
  const n = ++fillSeq;
  const order = await database.db.runOrder.create({
    data: { runId, clientOrderId: `facts-${n}`, tag: `s${n}`, attempt: 1, side: 'sell', type: 'limit', price: '100', qty: '1', filledQty: '1', status: 'filled' },
  });
  await database.db.runFill.create({
    data: { runId, orderId: order.id, tradeId: `t${n}`, side: 'sell', price: '100', qty: '1', fee: '0', realizedPnl: String(realized), executedAt: new Date(at), delivered },
  });
}

beforeAll(async () => {
  database = await createMigratedDatabase();
  database.clock.set('2026-03-10T15:00:00Z');
  const identity = await resolveIdentity(database.deps, { platform: 'console', externalId: 'facts', username: null });
  userId = identity.userId;
  for (const tier of ['starter', 'pro']) {
    const issued = await issueLicense(database.deps, { tier, actor: { type: 'admin', id: 'test' } });
    if (!issued.ok) throw new Error(issued.error.code);
    const activated = await activateLicense(database.deps, { key: issued.value.key, identity });
    if (!activated.ok) throw new Error(activated.error.code);
  }
  await addRun('a', 'paper', 1_000, 'running');
  await addRun('b', 'paper', 2_500, 'running');
  await addRun('old', 'paper', 9_000, 'stopped');
  await addRun('live', 'live', 700, 'running');
});
afterAll(async () => {
  await database?.drop();
});

describe('account facts', () => {
  it('match their definitions: best tier, other active runs, today, drawdown in order, per mode', async () => {
    const paperSells: [string, number, string][] = [
      ['a', 40, '2026-03-08T10:00:00Z'],
      ['old', 25, '2026-03-08T11:00:00Z'],
      ['b', -70, '2026-03-09T09:00:00Z'], // the peak was 65; now -5
      ['a', 30, '2026-03-10T01:00:00Z'],
      ['b', -12.5, '2026-03-10T14:00:00Z'],
    ];
    for (const [run, pnl, at] of paperSells) await addSell(run, pnl, at);
    await addSell('a', 1_000, '2026-03-10T14:30:00Z', false); // not delivered: not counted
    await addSell('live', -400, '2026-03-10T12:00:00Z'); // the other mode

    const facts = await loadUserAccountFacts(database.deps, SEED_GUARD_LIMITS, userId, 'paper');
    expect(facts.tierMaxCapitalUsd).toBe(25_000);
    expect([...facts.activeRunCapital].sort()).toEqual([[runs.a, 1_000], [runs.b, 2_500]].sort());
    expect(facts.dailyRealizedPnlUsd).toBeCloseTo(30 - 12.5, 9);
    expect(facts.realizedDrawdownUsd).toBeCloseTo(realizedDrawdown(paperSells.map(([, pnl]) => pnl)), 9);
    expect(facts.realizedDrawdownUsd).toBeCloseTo(65 - (40 + 25 - 70 + 30 - 12.5), 9);
    expect(facts.globalKill).toBe(false);
    expect(facts.limits).toEqual(SEED_GUARD_LIMITS);
    expect(facts.executionPriority).toBe('high'); // pro's, not starter's
    expect(factsForRun(facts, runs.a!).otherRunsCapitalUsd).toBe(2_500);

    const live = await loadUserAccountFacts(database.deps, SEED_GUARD_LIMITS, userId, 'live');
    expect(live.dailyRealizedPnlUsd).toBe(-400);
    expect(live.realizedDrawdownUsd).toBe(400);
    expect([...live.activeRunCapital.keys()]).toEqual([runs.live]);
  });

  it('reads the kill switch and the tier and user overrides', async () => {
    await database.db.killSwitch.create({ data: { scope: 'global', engaged: true, updatedAt: new Date() } });
    await database.db.tier.update({ where: { id: 'pro' }, data: { limits: { guard: { maxRunLossUsd: 300 } } } });
    await database.db.user.update({ where: { id: userId }, data: { limits: { guard: { maxApiErrorsPerMin: 3 } } } });
    const facts = await loadUserAccountFacts(database.deps, SEED_GUARD_LIMITS, userId, 'paper');
    expect(facts.globalKill).toBe(true);
    expect(facts.limits).toEqual({ ...SEED_GUARD_LIMITS, maxRunLossUsd: 300, maxApiErrorsPerMin: 3 });
  });

  it('the cache answers from memory within its TTL, and after recordRealized equals a fresh load', async () => {
    const cache = new AccountFactsCache(database.deps, SEED_GUARD_LIMITS, 60_000);
    const run = { id: runs.a!, userId, mode: 'paper' as const };
    const before = await cache.forRun(run);

    // Another replica's sell: not seen until the TTL passes.
    await addSell('b', -20, '2026-03-10T15:00:00Z');
    expect(await cache.forRun(run)).toEqual(before);

    // This process's own sell: applied at once, and equal to what the database now says.
    // (A minute apart: the drawdown depends on their order.)
    await addSell('a', 55, '2026-03-10T15:01:00Z');
    cache.recordRealized(run, -20, new Date('2026-03-10T15:00:00Z'));
    cache.recordRealized(run, 55, new Date('2026-03-10T15:01:00Z'));
    const fresh = factsForRun(await loadUserAccountFacts(database.deps, SEED_GUARD_LIMITS, userId, 'paper'), run.id);
    const cached = await cache.forRun(run);
    expect(cached.dailyRealizedPnlUsd).toBeCloseTo(fresh.dailyRealizedPnlUsd, 9);
    expect(cached.realizedDrawdownUsd).toBeCloseTo(fresh.realizedDrawdownUsd, 9);

    // A run opening: the entry is dropped and the next read sees it.
    await addRun('c', 'paper', 400, 'running');
    cache.invalidate(userId);
    expect((await cache.forRun(run)).otherRunsCapitalUsd).toBe(2_900);
  });

  it('gives the execution priority of the best active tier from the cache, and normal without a license', async () => {
    const cache = new AccountFactsCache(database.deps, SEED_GUARD_LIMITS, 60_000);
    expect(await cache.executionPriority({ userId, mode: 'live' })).toBe('high');
    await database.db.tier.update({ where: { id: 'pro' }, data: { executionPriority: 'very_high' } });
    expect(await cache.executionPriority({ userId, mode: 'live' })).toBe('high'); // within the TTL
    cache.invalidate(userId);
    expect(await cache.executionPriority({ userId, mode: 'live' })).toBe('very_high');
    const unlicensed = await resolveIdentity(database.deps, { platform: 'console', externalId: 'no-license', username: null });
    expect(await cache.executionPriority({ userId: unlicensed.userId, mode: 'live' })).toBe('normal');
  });
});
