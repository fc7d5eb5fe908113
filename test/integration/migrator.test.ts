import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { checksumOf, migrate, MigrationError, readMigrations } from '../../src/db/migrator.ts';
import { createEmptyDatabase, MIGRATIONS_DIR, type TestDatabase } from '../support/database.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createEmptyDatabase();
  cleanups.push(() => db.drop());
  return db;
}

async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ait-migrations-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('migrator', () => {
  it('applies every migration to an empty database and records them the way Prisma does', async () => {
    const db = await emptyDatabase();
    const files = await readMigrations(MIGRATIONS_DIR);
    const report = await migrate(db.url, MIGRATIONS_DIR);
    expect(report.applied).toEqual(files.map((f) => f.name));

    const rows = await query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; id: string }>(
      db.url,
      'SELECT id, migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    for (const [i, row] of rows.entries()) {
      expect(row.checksum).toBe(files[i]!.checksum);
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const tiers = await query<{ id: string }>(db.url, 'SELECT id FROM tiers ORDER BY rank');
    expect(tiers.map((t) => t.id)).toEqual(['starter', 'trader', 'pro', 'elite', 'whale']);
  });

  it('is idempotent: a second run applies nothing and changes nothing', async () => {
    const db = await emptyDatabase();
    await migrate(db.url, MIGRATIONS_DIR);
    const again = await migrate(db.url, MIGRATIONS_DIR);
    expect(again.applied).toEqual([]);
    const [count] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(count!.n).toBe((await readMigrations(MIGRATIONS_DIR)).length);
  });

  it('lets exactly one of several concurrent processes apply each migration', async () => {
    const db = await emptyDatabase();
    const reports = await Promise.all([1, 2, 3, 4].map(() => migrate(db.url, MIGRATIONS_DIR)));
    const files = await readMigrations(MIGRATIONS_DIR);
    expect(reports.flatMap((r) => r.applied).sort()).toEqual(files.map((f) => f.name).sort());
    const [count] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(count!.n).toBe(files.length);
  });

  it('refuses to run when an applied migration file was changed', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await migrate(db.url, dir);
    const [first] = await readMigrations(dir);
    await writeFile(join(dir, first!.name, 'migration.sql'), `${first!.sql}\n-- an innocent-looking edit\n`);
    await expect(migrate(db.url, dir)).rejects.toThrow(MigrationError);
    await expect(migrate(db.url, dir)).rejects.toThrow(/changed after it was applied/);
  });

  it('refuses to run against a database migrated by a newer build', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    const newer = join(dir, '29991231000000_from_the_future');
    await cp(join(MIGRATIONS_DIR, (await readMigrations(MIGRATIONS_DIR))[0]!.name), newer, { recursive: true });
    await writeFile(join(newer, 'migration.sql'), 'CREATE TABLE future_things (id int);');
    await migrate(db.url, dir);
    await rm(newer, { recursive: true });
    await expect(migrate(db.url, dir)).rejects.toThrow(/does not contain/);
  });

  it('rolls a failing migration back whole, records the failure, and retries it next time', async () => {
    const db = await emptyDatabase();
    const dir = await copyOfMigrations();
    await migrate(db.url, dir);
    const broken = join(dir, '29990101000000_broken');
    await cp(join(dir, (await readMigrations(dir))[0]!.name), broken, { recursive: true });
    const sql = 'CREATE TABLE half_done (id int);\nSELECT * FROM table_that_does_not_exist;';
    await writeFile(join(broken, 'migration.sql'), sql);

    await expect(migrate(db.url, dir)).rejects.toThrow(/29990101000000_broken failed and was rolled back/);
    const [exists] = await query<{ t: string | null }>(db.url, "SELECT to_regclass('public.half_done')::text AS t");
    expect(exists!.t).toBeNull();
    const [failure] = await query<{ rolled_back_at: Date | null; logs: string; checksum: string }>(
      db.url,
      "SELECT rolled_back_at, logs, checksum FROM _prisma_migrations WHERE migration_name = '29990101000000_broken'",
    );
    expect(failure!.rolled_back_at).toBeInstanceOf(Date);
    expect(failure!.logs).toMatch(/table_that_does_not_exist/);
    expect(failure!.checksum).toBe(checksumOf(sql));

    await writeFile(join(broken, 'migration.sql'), 'CREATE TABLE half_done (id int);');
    const retried = await migrate(db.url, dir);
    expect(retried.applied).toEqual(['29990101000000_broken']);
  });
});
