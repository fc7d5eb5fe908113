// Chooses the database: the server in DATABASE_URL, or an embedded PostgreSQL under DATA_DIR.
import pg from 'pg';
import type { Config } from '../config/config.ts';
import type { Logger } from '../kernel/logger.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export const EMBEDDED_DATABASE_NAME = 'ait';

export interface DatabaseLocation {
  readonly url: string;
  /** Where it lives, for the start-up log (never includes credentials). */
  readonly description: string;
  /** Set for the embedded server: stops it. */
  readonly stop?: () => Promise<void>;
}

export async function openDatabase(config: Config['database'], logger: Logger): Promise<DatabaseLocation> {
  if (config.kind === 'external') {
    return { url: config.url, description: describeUrl(config.url) };
  }
  const server = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.port, logger });
  try {
    await ensureDatabaseExists(server.url, EMBEDDED_DATABASE_NAME);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const url = new URL(server.url);
  url.pathname = `/${EMBEDDED_DATABASE_NAME}`;
  return {
    url: url.toString(),
    description: `embedded PostgreSQL in ${server.dataDir} on 127.0.0.1:${server.port}`,
    stop: () => server.stop(),
  };
}

export async function ensureDatabaseExists(maintenanceUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** host:port/db of a connection URL, without user or password. */
export function describeUrl(url: string): string {
  const u = new URL(url);
  return `PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname}`;
}
