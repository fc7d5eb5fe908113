// A PostgreSQL for benchmarks: DATABASE_URL when set, otherwise a temporary embedded server;
// each call of `freshDatabase` creates and migrates a new database on it.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/config.ts';
import pg from 'pg';
import { ensureDatabaseExists, quoteIdent } from '../src/db/database.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate } from '../src/db/migrator.ts';
import { projectPath } from '../src/kernel/paths.ts';

export interface BenchServer {
  readonly adminUrl: string;
  readonly description: string;
  freshDatabase(): Promise<{ readonly url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

export async function openBenchServer(): Promise<BenchServer> {
  const config = parseConfig(process.env);
  let adminUrl: string;
  let stop = async () => {};
  let description = 'system PostgreSQL (DATABASE_URL)';
  if (config.database.kind === 'external') {
    adminUrl = config.database.url;
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'ait-bench-'));
    await chmod(dir, 0o755);
    const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), port: 0 });
    adminUrl = pg.url;
    description = 'embedded PostgreSQL';
    stop = async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  return {
    adminUrl,
    description,
    stop,
    async freshDatabase() {
      const name = `ait_bench_${randomBytes(4).toString('hex')}`;
      await ensureDatabaseExists(adminUrl, name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      await migrate(url.toString(), projectPath('prisma/migrations'));
      return {
        url: url.toString(),
        async drop() {
          const client = new pg.Client({ connectionString: adminUrl });
          await client.connect();
          try {
            await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
          } finally {
            await client.end();
          }
        },
      };
    },
  };
}
