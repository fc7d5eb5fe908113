// Benchmark: capacity-pool reservations under contention. Every reservation takes the pool's
// row lock, so this is the ceiling on purchases per second across all replicas.
// Usage: npm run bench:pool   (uses DATABASE_URL when set, otherwise a temporary embedded PostgreSQL)
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { systemActor, type AppDeps } from '../src/app/deps.ts';
import { setPoolCap } from '../src/app/pool.ts';
import { placePurchaseHold } from '../src/app/pool-holds.ts';
import { parseConfig } from '../src/config/config.ts';
import { createDb } from '../src/db/client.ts';
import pg from 'pg';
import { ensureDatabaseExists, quoteIdent } from '../src/db/database.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate } from '../src/db/migrator.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { dollars } from '../src/kernel/money.ts';
import { projectPath } from '../src/kernel/paths.ts';

const CONCURRENCY = [1, 10, 50];
const RESERVATIONS = 2_000;

async function main() {
  const config = parseConfig(process.env);
  let stop = async () => {};
  let adminUrl: string;
  if (config.database.kind === 'external') {
    adminUrl = config.database.url;
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'ait-bench-'));
    await chmod(dir, 0o755);
    const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), port: 0 });
    adminUrl = pg.url;
    stop = async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  try {
    for (const concurrency of CONCURRENCY) await run(adminUrl, concurrency);
  } finally {
    await stop();
  }
}

async function run(adminUrl: string, concurrency: number) {
  const name = `ait_bench_${randomBytes(4).toString('hex')}`;
  await ensureDatabaseExists(adminUrl, name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString(), projectPath('prisma/migrations'));
  const db = createDb(url.toString(), { poolSize: Math.min(concurrency, 20) });
  const deps: AppDeps = { db, clock: systemClock, pool: { holdTtlMs: 30 * 60_000, hardOveragePct: 10 } };
  try {
    // Room for half of the reservations, so the run mixes accepted and refused ones.
    await setPoolCap(deps, dollars((RESERVATIONS / 2) * 5_000), systemActor('bench'));
    const users = await db.user.createManyAndReturn({ data: Array.from({ length: RESERVATIONS }, () => ({})), select: { id: true } });

    const latencies: number[] = [];
    let next = 0;
    let accepted = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < users.length) {
          const user = users[next++]!;
          const t0 = performance.now();
          const result = await placePurchaseHold(deps, { userId: user.id, tier: 'starter' });
          latencies.push(performance.now() - t0);
          if (result.ok) accepted++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(1);
    console.log(
      `pool reservations  concurrency=${String(concurrency).padStart(2)}  n=${RESERVATIONS}  accepted=${accepted}  ` +
        `${(RESERVATIONS / seconds).toFixed(0)}/s  p50=${pct(0.5)} ms  p95=${pct(0.95)} ms  p99=${pct(0.99)} ms`,
    );
    if (accepted !== RESERVATIONS / 2) throw new Error(`expected exactly ${RESERVATIONS / 2} accepted, got ${accepted}`);
  } finally {
    await db.$disconnect();
    await dropDatabase(adminUrl, name);
  }
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

await main();
