// Benchmark: paper runs stepping through the whole execution path — the shared market-data loop,
// the run engine (sync with the paper exchange, strategy, 4-gate risk engine, ledger), and one
// database transaction per step with the strategy snapshot — on real replayed candles.
// Usage: npm run bench:runs   (DATABASE_URL when set, otherwise a temporary embedded PostgreSQL)
import { activateLicense, issueLicense } from '../src/app/licenses.ts';
import { startRun } from '../src/app/runs.ts';
import { resolveIdentity } from '../src/app/users.ts';
import { composeTrading } from '../src/compose-trading.ts';
import { createDb } from '../src/db/client.ts';
import { SEED_GUARD_LIMITS } from '../src/engine/risk/limits.ts';
import { TestClock } from '../src/kernel/clock.ts';
import { createLogger } from '../src/kernel/logger.ts';
import { projectPath } from '../src/kernel/paths.ts';
import { DEFAULT_REPLAY_START_INDEX, loadReplaySeries } from '../src/market-data/replay-source.ts';
import { generateMasterKey, toMasterKey } from '../src/vault/master-key.ts';
import { Vault } from '../src/vault/vault.ts';
import { openBenchServer } from './bench-database.ts';

const RUNS = [10, 100];
const CANDLES = 50;
/** The replay shows one 5-minute candle per second of the benchmark's clock. */
const SPEED = 300;

async function bench(url: string, runs: number): Promise<void> {
  const db = createDb(url, { poolSize: 10 });
  const clock = new TestClock('2026-06-01T00:00:00Z');
  const app = { db, clock, pool: { holdTtlMs: 30 * 60_000, hardOveragePct: 10 } };
  const series = await loadReplaySeries(projectPath('../shared/data/candles'), ['BTC/USDT', 'ETH/USDT'], { timeframe: '5m' });
  const vault = await Vault.create(await toMasterKey(await generateMasterKey(), 'generated-file'));
  const trading = composeTrading({
    app,
    vault,
    clock,
    logger: createLogger({ level: 'error' }),
    replicaId: 'bench',
    settings: {
      exchangeApiUrl: null,
      replay: { series, speed: SPEED },
      orderConcurrency: 3,
      orderRateIntervalMs: 0,
      replace: { timeoutMs: 600_000, slippagePct: 0.003, maxRetries: 3 },
      guard: { ...SEED_GUARD_LIMITS, staleTickerMs: 86_400_000 },
      pollMs: 20,
    },
  });
  try {
    const ids: string[] = [];
    for (let i = 0; i < runs; i++) {
      const identity = await resolveIdentity(app, { platform: 'console', externalId: `bench-${runs}-${i}`, username: null });
      const issued = await issueLicense(app, { tier: 'starter', actor: { type: 'admin', id: 'bench' } });
      if (!issued.ok) throw new Error(issued.error.code);
      const activated = await activateLicense(app, { key: issued.value.key, identity });
      if (!activated.ok) throw new Error(activated.error.code);
      const strategy = i % 2 === 0 ? 'grid' : 'dca';
      const run = await startRun(
        { ...app, runSettings: { defaultExchange: 'replay', paperFirstDays: 7 } },
        { userId: identity.userId, mode: 'paper', spec: { strategy, symbol: i % 4 < 2 ? 'BTC/USDT' : 'ETH/USDT', capitalUsd: 4_000, params: strategy === 'grid' ? { count: '20' } : {} }, actor: { type: 'system', id: 'bench' } },
      );
      if (!run.ok) throw new Error(run.error.message);
      ids.push(run.value.id);
    }
    await trading.supervisor.start();
    for (const id of ids) await trading.supervisor.wake(id);
    // Let the feed load its history (the candles up to the replay's start index, not stepped),
    // then reveal CANDLES more and time until every run has stepped through all of them.
    await new Promise((r) => setTimeout(r, 500));
    const runRows = async () => db.tradingRun.findMany({ select: { symbol: true, lastCandleAt: true } });
    const historyEnd = (symbol: string) => series.get(symbol)!.time[DEFAULT_REPLAY_START_INDEX]!;
    const started = performance.now();
    clock.advance(CANDLES * 1000);
    let steps = 0;
    for (;;) {
      const rows = await runRows();
      steps = rows.reduce((n, r) => n + (r.lastCandleAt ? (r.lastCandleAt.getTime() - historyEnd(r.symbol)) / 300_000 : 0), 0);
      if (steps >= runs * CANDLES) break;
      if (performance.now() - started > 300_000) throw new Error(`runs did not finish in 5 minutes (${steps} steps)`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - started) / 1000;
    const [orders, fills] = await Promise.all([db.runOrder.count(), db.runFill.count()]);
    console.log(
      `paper runs  runs=${String(runs).padStart(3)}  candles=${CANDLES}  steps=${steps}  ${(steps / seconds).toFixed(0)} run-steps/s  ` +
        `${((seconds * 1000) / CANDLES).toFixed(0)} ms per candle for all runs  orders=${orders} fills=${fills}`,
    );
  } finally {
    await trading.close();
    await db.$disconnect();
  }
}

const server = await openBenchServer();
try {
  console.log(`database: ${server.description}`);
  for (const runs of RUNS) {
    const database = await server.freshDatabase();
    try {
      await bench(database.url, runs);
    } finally {
      await database.drop();
    }
  }
} finally {
  await server.stop();
}
