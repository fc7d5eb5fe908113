// Benchmark: capacity-pool reservations under contention. Every reservation takes the pool's
// row lock, so this is the ceiling on purchases per second across all replicas.
// Usage: npm run bench:pool   (uses DATABASE_URL when set, otherwise a temporary embedded PostgreSQL)
import { systemActor, type AppDeps } from '../src/app/deps.ts';
import { setPoolCap } from '../src/app/pool.ts';
import { placePurchaseHold } from '../src/app/pool-holds.ts';
import { createDb } from '../src/db/client.ts';
import { openBenchServer, type BenchServer } from './bench-database.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { dollars } from '../src/kernel/money.ts';

const CONCURRENCY = [1, 10, 50];
const RESERVATIONS = 2_000;

async function main() {
  const server = await openBenchServer();
  try {
    for (const concurrency of CONCURRENCY) await run(server, concurrency);
  } finally {
    await server.stop();
  }
}

async function run(server: BenchServer, concurrency: number) {
  const database = await server.freshDatabase();
  const db = createDb(database.url, { poolSize: Math.min(concurrency, 20) });
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
    await database.drop();
  }
}

await main();
