// The pool must never be oversold: 200 reservations race for a nearly full pool, from two
// separate connection pools (as two replicas would), and exactly the ones that fit succeed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor, type AppDeps } from '../../src/app/deps.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import { setPoolCap } from '../../src/app/pool.ts';
import { placePurchaseHold } from '../../src/app/pool-holds.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createDb, type Db } from '../../src/db/client.ts';
import { dollars } from '../../src/kernel/money.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const admin = systemActor('test');
let database: MigratedDatabase;
let secondReplica: Db;

beforeAll(async () => {
  database = await createMigratedDatabase({}, { poolSize: 10 });
  secondReplica = createDb(database.url, { poolSize: 10 });
});

afterAll(async () => {
  await secondReplica?.$disconnect();
  await database?.drop();
});

async function sqlTotals(db: Db) {
  const [row] = await db.$queryRaw<{ cap: string; committed: string; held: string }[]>`
    SELECT (SELECT cap_usd FROM capacity_pool)::text AS cap,
           (SELECT COALESCE(SUM(capital_usd), 0) FROM licenses WHERE status <> 'revoked')::text AS committed,
           (SELECT COALESCE(SUM(amount_usd), 0) FROM pool_holds WHERE status = 'held')::text AS held`;
  return { cap: Number(row!.cap), committed: Number(row!.committed), held: Number(row!.held) };
}

describe('capacity pool under concurrent reservations', () => {
  it('200 concurrent Pro reservations at a nearly full pool: exactly the ones that fit succeed', async () => {
    const { deps } = database;
    // Fill the pool to $2,300,000 of $2,500,000 committed: $200,000 left, room for exactly 8 Pro ($25,000).
    await setPoolCap(deps, dollars(2_500_000), admin);
    for (let i = 0; i < 23; i++) {
      const issued = await issueLicense(deps, { tier: 'whale', actor: admin });
      expect(issued.ok).toBe(true);
    }
    const users = [];
    for (let i = 0; i < 200; i++) {
      users.push(await resolveIdentity(deps, { platform: 'telegram', externalId: `racer-${i}` }));
    }

    const replicaDeps: AppDeps = { ...deps, db: secondReplica };
    const results = await Promise.all(
      users.map((user, i) => placePurchaseHold(i % 2 === 0 ? deps : replicaDeps, { userId: user.userId, tier: 'pro' })),
    );

    const succeeded = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(succeeded).toHaveLength(8);
    expect(refused).toHaveLength(192);
    for (const r of refused) expect(!r.ok && r.error.code).toBe('pool_full');

    const totals = await sqlTotals(database.db);
    expect(totals.committed + totals.held).toBeLessThanOrEqual(totals.cap);
    expect(totals).toEqual({ cap: 2_500_000, committed: 2_300_000, held: 200_000 });
  });

  it('mixed tiers racing for the last $20,000 never exceed the cap', async () => {
    const other = await createMigratedDatabase({}, { poolSize: 10 });
    try {
      const { deps } = other;
      await setPoolCap(deps, dollars(20_000), admin);
      const tiers = ['starter', 'trader', 'pro', 'elite', 'whale'];
      const users = [];
      for (let i = 0; i < 200; i++) users.push(await resolveIdentity(deps, { platform: 'discord', externalId: `mix-${i}` }));
      const results = await Promise.all(
        users.map((u, i) => placePurchaseHold(deps, { userId: u.userId, tier: tiers[i % tiers.length]! })),
      );
      const reservedUsd = results.reduce((sum, r) => sum + (r.ok ? r.value.amount / 100 : 0), 0);
      const totals = await sqlTotals(other.db);
      expect(totals.held).toBe(reservedUsd);
      expect(totals.held).toBeLessThanOrEqual(20_000);
      // Once the remaining room is smaller than a Starter ($5,000) nothing else can fit.
      expect(20_000 - totals.held).toBeLessThan(5_000);
      expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.error.code === 'pool_full')).toBe(true);
    } finally {
      await other.drop();
    }
  });
});
