// LIVE_TRADING=off (the paper-only deployment `npm run deploy:paper` starts): every live start
// passes planRun (/live, then /ack through startRun), and it refuses with its own code; paper is
// untouched, and with the switch on the same user gets past it to the next check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import { planRun, startRun, type RunDeps, type StartRunInput } from '../../src/app/runs.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { parseConfig } from '../../src/config/config.ts';
import { claimRun, claimRuns } from '../../src/execution/run-leases.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
let userId: string;

beforeAll(async () => {
  database = await createMigratedDatabase();
  const identity = await resolveIdentity(database.deps, { platform: 'console', externalId: 'canary', username: null });
  userId = identity.userId;
  const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  const activated = await activateLicense(database.deps, { key: issued.value.key, identity });
  if (!activated.ok) throw new Error(activated.error.code);
});
afterAll(async () => {
  await database?.drop();
});

const deps = (liveTrading: boolean): RunDeps => ({
  ...database.deps,
  runSettings: { defaultExchange: 'binance', paperFirstDays: 0, liveTrading: parseConfig({ LIVE_TRADING: liveTrading ? 'on' : 'off' }).execution.liveTrading },
});
const start = (mode: 'paper' | 'live'): StartRunInput => ({
  userId,
  mode,
  spec: { strategy: 'dca', symbol: 'BTC/USDT', capitalUsd: 500, params: {} },
  actor: { type: 'user', id: userId },
});

describe('LIVE_TRADING', () => {
  it('off: live runs are refused with live_trading_off and a message naming paper; paper runs start', async () => {
    const planned = await planRun(deps(false), start('live'));
    expect(planned.ok).toBe(false);
    if (planned.ok) return;
    expect(planned.error.code).toBe('live_trading_off');
    expect(planned.error.message).toContain('paper only');
    const started = await startRun(deps(false), start('live'));
    expect(!started.ok && started.error.code).toBe('live_trading_off');
    expect(await database.db.tradingRun.count({ where: { mode: 'live' } })).toBe(0);

    expect((await planRun(deps(false), start('paper'))).ok).toBe(true);
  });

  it('off: the replica never claims a live run already in the database (a paper-only deploy leaves it to a live replica)', async () => {
    const row = (seq: number, mode: 'paper' | 'live') => ({
      userId,
      seq,
      mode,
      strategy: 'dca',
      exchange: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      capitalUsd: '500',
      params: {},
      startedAt: database.clock.now(),
    });
    const live = await database.db.tradingRun.create({ data: row(901, 'live') });
    const paper = await database.db.tradingRun.create({ data: row(902, 'paper') });
    const lease = { replicaId: 'paper-only', leaseMs: 30_000, now: database.clock.now(), modes: ['paper'] as const };
    expect(await claimRun(database.db, live.id, lease)).toBe(false);
    expect(await claimRuns(database.db, { ...lease, limit: 100 })).toEqual([paper.id]);
    expect((await database.db.tradingRun.findUniqueOrThrow({ where: { id: live.id } })).ownerId).toBeNull();
    // A replica that may trade live takes it.
    expect(await claimRuns(database.db, { replicaId: 'live', leaseMs: 30_000, now: database.clock.now(), limit: 100 })).toEqual([live.id]);
    await database.db.tradingRun.deleteMany({ where: { id: { in: [live.id, paper.id] } } });
  });

  it('on (the default): the same user passes the switch and meets the next check (no exchange keys yet)', async () => {
    expect(parseConfig({}).execution.liveTrading).toBe(true);
    const planned = await planRun(deps(true), start('live'));
    expect(!planned.ok && planned.error.code).toBe('live_keys_missing');
  });
});
