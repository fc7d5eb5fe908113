// A fresh, migrated database per test file on the run's PostgreSQL server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { createDb, type Db } from '../../src/db/client.ts';
import { quoteIdent } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrator.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { projectPath } from '../../src/kernel/paths.ts';

export const MIGRATIONS_DIR = projectPath('prisma/migrations');

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject('pgAdminUrl');
}

export async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** An empty database (no migrations applied). */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const name = `ait_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)).then(() => undefined),
  };
}

export interface MigratedDatabase extends TestDatabase {
  readonly db: Db;
  readonly clock: TestClock;
  readonly deps: AppDeps;
}

export async function createMigratedDatabase(
  pool: Partial<AppDeps['pool']> = {},
  options: { poolSize?: number } = {},
): Promise<MigratedDatabase> {
  const base = await createEmptyDatabase();
  await migrate(base.url, MIGRATIONS_DIR);
  const db = createDb(base.url, { poolSize: options.poolSize ?? 5 });
  const clock = new TestClock('2026-03-01T12:00:00.000Z');
  const deps: AppDeps = { db, clock, pool: { holdTtlMs: 30 * 60_000, hardOveragePct: 10, ...pool } };
  return {
    ...base,
    db,
    clock,
    deps,
    drop: async () => {
      await db.$disconnect();
      await base.drop();
    },
  };
}
