// Applies prisma/migrations/*/migration.sql in order, recording each in _prisma_migrations
// exactly as `prisma migrate deploy` would (sha256 checksum of the file), so a machine that
// has Prisma's native engine sees the same history. Prisma's migrate cannot run offline here.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from '../kernel/logger.ts';

/** The advisory lock key Prisma Migrate itself takes, so neither runs while the other does. */
const MIGRATION_LOCK_KEY = 72707369;

const CREATE_HISTORY_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

export const checksumOf = (sql: string): string => createHash('sha256').update(sql, 'utf8').digest('hex');

export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() && /^\d{14}_[a-z0-9_]+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: checksumOf(sql) };
    }),
  );
}

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function migrate(connectionString: string, dir: string, logger?: Logger): Promise<MigrationReport> {
  const files = await readMigrations(dir);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(CREATE_HISTORY_TABLE);
      const { rows } = await client.query<HistoryRow>(
        'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL ORDER BY started_at',
      );
      const pending = planPending(files, rows);
      for (const file of pending) {
        await applyOne(client, file);
        logger?.info({ migration: file.name }, 'applied database migration');
      }
      return { applied: pending.map((f) => f.name), alreadyApplied: files.length - pending.length };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

/** Decides what to apply, refusing when the recorded history and the files disagree. */
function planPending(files: readonly MigrationFile[], history: readonly HistoryRow[]): MigrationFile[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const done = new Set<string>();
  for (const row of history) {
    const file = byName.get(row.migration_name);
    if (!row.finished_at) {
      throw new MigrationError(
        `Migration ${row.migration_name} was started but never finished (an earlier failed run outside this service?). ` +
          'Inspect the database, then mark it rolled back in _prisma_migrations before starting again.',
      );
    }
    if (!file) {
      throw new MigrationError(
        `The database has migration ${row.migration_name}, which this build does not contain. ` +
          'It was migrated by a newer version of the service: run that version instead.',
      );
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${row.migration_name} was changed after it was applied (checksum differs). ` +
          'Applied migrations must never be edited: restore the file and add a new migration instead.',
      );
    }
    done.add(row.migration_name);
  }
  return files.filter((f) => !done.has(f.name));
}

async function applyOne(client: pg.Client, file: MigrationFile): Promise<void> {
  const id = randomUUID();
  // DDL is transactional in Postgres: a migration either lands whole with its history row, or
  // not at all; a crash mid-way leaves nothing to repair.
  await client.query('BEGIN');
  try {
    await client.query(file.sql);
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
      [id, file.checksum, file.name],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    // Keep a record of the failure the way Prisma shows a rolled-back attempt, then stop.
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, rolled_back_at, applied_steps_count)
       VALUES ($1, $2, $3, $4, now(), 0)`,
      [id, file.checksum, file.name, error instanceof Error ? error.message : String(error)],
    );
    throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
