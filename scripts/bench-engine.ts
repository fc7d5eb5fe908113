// Benchmark: thousands of paper runs in one service process, through the whole run path — the
// supervisor (leases, per-run queues, step limit), the run engine (paper exchange, 4-gate risk
// engine, ledger), account facts, and Postgres (group-committed checkpoints and equity, one
// transaction per step that trades) — on real candles replayed as ticks for 100 symbols.
//
// The 100 symbols are the shared 5m candle files (BTC, ETH, SOL, XRP and the 2021 BTC and ETH
// years), each replayed from 17 different starting points spread over its file: symbol i is
// source i mod 6 from its (⌊i / 6⌋ / 17)th part on ("BTC12/USDT" is BTC/USDT 5m from 2/17). Runs are spread evenly over them, grid and DCA alternating, 10 per user.
//
// Each size runs in a child process of its own (so its peak RSS is its own) and goes through:
//  1. setup: users, licenses and runs through the app's own use-cases (not timed);
//  2. resume: the supervisor claims and opens every run, as after a restart (timed);
//  3. throughput: ticks as fast as the service takes them, one tick per symbol in flight;
//  4. paced at 10 ticks/s: the peak the shared market-data service produces for 100 symbols
//     (each key is polled every 10 s at most, so the candles that close together arrive spread
//     over ~10 s), the load tick-to-decision is judged at;
//  5. paced at 100 ticks/s: ten times that.
// A tick is a closed candle for one symbol, fanned out to that symbol's runs. Tick-to-decision
// is measured inside the service (the `ait_run_tick_to_decision_seconds` metric's hook): from
// the feed delivering the candle to the run's strategy having decided and passed the risk gates.
//
// Usage: npm run bench:engine [-- 1000 5000 10000]
//   (BENCH_CHILD_ARGS adds node flags to each size's process, e.g. "--cpu-prof")
//   (DATABASE_URL when set, otherwise a temporary embedded PostgreSQL)
import { spawn } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { activateLicense, issueLicense } from '../src/app/licenses.ts';
import { startRun } from '../src/app/runs.ts';
import { resolveIdentity } from '../src/app/users.ts';
import { composeTrading } from '../src/compose-trading.ts';
import { createDb, type Db } from '../src/db/client.ts';
import { SEED_GUARD_LIMITS } from '../src/engine/risk/limits.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { createLogger } from '../src/kernel/logger.ts';
import { projectPath } from '../src/kernel/paths.ts';
import type { CandleSeries, CandleView } from '../src/market-data/candles.ts';
import { loadCandlesCsv } from '../src/market-data/csv-candles.ts';
import { ServiceMetrics } from '../src/metrics/service-metrics.ts';
import { generateMasterKey, toMasterKey } from '../src/vault/master-key.ts';
import { Vault } from '../src/vault/vault.ts';
import { openBenchServer } from './bench-database.ts';
import { ManualFeed } from '../test/support/manual-feed.ts';

const SIZES = [1_000, 5_000, 10_000];
const SYMBOLS = 100;
const RUNS_PER_USER = 10;
const RUN_CAPITAL_USD = 5_000;
const SOURCES = ['BTC_USDT-5m.csv', 'ETH_USDT-5m.csv', 'SOL_USDT-5m.csv', 'XRP_USDT-5m.csv', 'BTC_USDT-5m-2021.csv', 'ETH_USDT-5m-2021.csv'];
/** Rounds (one tick for every symbol) before anything is measured: indicators warm up, grids get placed. */
const WARMUP_ROUNDS = 60;
const THROUGHPUT_ROUNDS = 60;
/** Rate (ticks/s) and rounds of the paced phases: ~50 s at the realistic peak, ~20 s at ten times it. */
const PACED = [
  { ticksPerSecond: 10, rounds: 5 },
  { ticksPerSecond: 100, rounds: 20 },
] as const;

interface ChildResult {
  runs: number;
  setupSeconds: number;
  resumeSeconds: number;
  throughput: Phase;
  paced: (Phase & { ticksPerSecond: number })[];
  /** Live heap after a full GC at the end (what the runs really hold; RSS adds the collector's slack). */
  heapAfterGcMb: number;
  /** Memory outside the JS heap (buffers, WebAssembly: Prisma's query compiler) at the end. */
  externalMb: number;
  peakRssMb: number;
  orders: number;
  fills: number;
  /** Whole-run database counters (setup included). */
  database: { commits: number; inserted: number; updated: number };
}

interface Phase {
  ticks: number;
  decisions: number;
  seconds: number;
  p50: number;
  p99: number;
  max: number;
}

async function loadSymbols(): Promise<Map<string, CandleSeries>> {
  const out = new Map<string, CandleSeries>();
  const sources: CandleSeries[] = [];
  for (const file of SOURCES) {
    const loaded = await loadCandlesCsv(projectPath('../shared/data/candles', file));
    if (!loaded.ok) throw new Error(`${file}: ${loaded.error.message}`);
    sources.push(loaded.series);
  }
  for (let i = 0; out.size < SYMBOLS; i++) {
    const source = sources[i % sources.length]!;
    const copy = Math.floor(i / sources.length);
    const copies = Math.ceil(SYMBOLS / sources.length);
    const offset = copy * Math.floor((source.length - 1_000) / copies);
    const symbol = `${SOURCES[i % sources.length]!.slice(0, 3)}${String(i).padStart(2, '0')}/USDT`;
    out.set(symbol, {
      symbol,
      timeframeMs: source.timeframeMs,
      length: source.length - offset,
      time: source.time.subarray(offset),
      open: source.open.subarray(offset),
      high: source.high.subarray(offset),
      low: source.low.subarray(offset),
      close: source.close.subarray(offset),
      volume: source.volume.subarray(offset),
    });
  }
  return out;
}

class LatencySamples {
  #values = new Float64Array(1 << 20);
  #n = 0;
  recording = false;

  add(ms: number): void {
    if (!this.recording) return;
    if (this.#n === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#n++] = ms;
  }

  take(): { count: number; p50: number; p99: number; max: number } {
    const sorted = this.#values.slice(0, this.#n).sort();
    this.#n = 0;
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
    return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
  }
}

async function setUp(db: Db, runs: number, symbols: readonly string[]): Promise<void> {
  const app = { db, clock: systemClock, pool: { holdTtlMs: 30 * 60_000, hardOveragePct: 10 } };
  // The seed's global pool (2.5 M USD) is far smaller than thousands of whale licenses.
  await db.$executeRaw`UPDATE capacity_pool SET cap_usd = 1000000000`;
  const users = Math.ceil(runs / RUNS_PER_USER);
  const work = async (u: number) => {
    const identity = await resolveIdentity(app, { platform: 'console', externalId: `bench-${u}`, username: null });
    const issued = await issueLicense(app, { tier: 'whale', actor: { type: 'admin', id: 'bench' } });
    if (!issued.ok) throw new Error(issued.error.code);
    const activated = await activateLicense(app, { key: issued.value.key, identity });
    if (!activated.ok) throw new Error(activated.error.code);
    for (let k = 0; k < RUNS_PER_USER; k++) {
      const i = u * RUNS_PER_USER + k;
      if (i >= runs) break;
      const strategy = i % 2 === 0 ? 'grid' : 'dca';
      const run = await startRun(
        { ...app, runSettings: { defaultExchange: 'replay', paperFirstDays: 7 } },
        {
          userId: identity.userId,
          mode: 'paper',
          spec: { strategy, symbol: symbols[i % symbols.length]!, capitalUsd: RUN_CAPITAL_USD, params: strategy === 'grid' ? { count: '20' } : {} },
          actor: { type: 'system', id: 'bench' },
        },
      );
      if (!run.ok) throw new Error(run.error.message);
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < users) await work(next++);
    }),
  );
}

async function child(url: string, runs: number): Promise<ChildResult> {
  const series = await loadSymbols();
  const symbols = [...series.keys()];
  const db = createDb(url, { poolSize: 10 });
  const t0 = performance.now();
  await setUp(db, runs, symbols);
  const setupSeconds = (performance.now() - t0) / 1000;

  const samples = new LatencySamples();
  class BenchMetrics extends ServiceMetrics {
    override tickToDecision(ms: number): void {
      samples.add(ms);
      super.tickToDecision(ms);
    }
  }
  const feed = new ManualFeed(systemClock);
  const vault = await Vault.create(await toMasterKey(await generateMasterKey(), 'generated-file'));
  const trading = composeTrading({
    app: { db, clock: systemClock, pool: { holdTtlMs: 30 * 60_000, hardOveragePct: 10 } },
    vault,
    clock: systemClock,
    logger: createLogger({ level: 'error' }),
    replicaId: 'bench',
    metrics: new BenchMetrics(),
    feed,
    settings: {
      exchangeApiUrl: null,
      replay: { series, speed: 1 },
      orderConcurrency: 3,
      orderRateIntervalMs: 0,
      replace: { timeoutMs: 600_000, slippagePct: 0.003, maxRetries: 3 },
      guard: { ...SEED_GUARD_LIMITS, staleTickerMs: 86_400_000 },
    },
  });

  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  try {
    const t1 = performance.now();
    await trading.supervisor.start();
    const resumeSeconds = (performance.now() - t1) / 1000;
    if (feed.subscribers() !== runs) throw new Error(`${feed.subscribers()} of ${runs} runs subscribed`);

    const keys = symbols.map((symbol) => ({ exchange: 'replay', symbol, timeframe: '5m' }));
    const inFlight: Promise<unknown>[] = keys.map(() => Promise.resolve());
    let round = 0;
    const candle = (s: number): CandleView => {
      const sr = series.get(keys[s]!.symbol)!;
      const i = 1 + round;
      return { time: sr.time[i]!, open: sr.open[i]!, high: sr.high[i]!, low: sr.low[i]!, close: sr.close[i]!, volume: sr.volume[i]! };
    };
    // One tick per symbol in flight: a symbol's next tick waits until its runs finished the last.
    const rounds = async (count: number, pacedTicksPerSecond: number | null): Promise<void> => {
      const started = performance.now();
      for (let r = 0; r < count; r++, round++) {
        for (let s = 0; s < keys.length; s++) {
          await inFlight[s];
          if (pacedTicksPerSecond) {
            const due = started + ((r * keys.length + s) * 1000) / pacedTicksPerSecond;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          }
          inFlight[s] = feed.publish(keys[s]!, candle(s));
        }
      }
      await Promise.all(inFlight);
    };
    const measure = async (count: number, paced: number | null): Promise<Phase> => {
      samples.recording = true;
      const started = performance.now();
      await rounds(count, paced);
      const seconds = (performance.now() - started) / 1000;
      samples.recording = false;
      const s = samples.take();
      return { ticks: count * keys.length, decisions: s.count, seconds, p50: s.p50, p99: s.p99, max: s.max };
    };

    await rounds(WARMUP_ROUNDS, null);
    const throughput = await measure(THROUGHPUT_ROUNDS, null);
    const paced = [];
    for (const p of PACED) paced.push({ ticksPerSecond: p.ticksPerSecond, ...(await measure(p.rounds, p.ticksPerSecond)) });
    const [orders, fills] = await Promise.all([db.runOrder.count(), db.runFill.count()]);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // backends report their counters about once a second
    const [stats] = await db.$queryRaw<{ commits: bigint; inserted: bigint; updated: bigint }[]>`
      SELECT xact_commit AS commits, tup_inserted AS inserted, tup_updated AS updated FROM pg_stat_database WHERE datname = current_database()`;
    const database = { commits: Number(stats!.commits), inserted: Number(stats!.inserted), updated: Number(stats!.updated) };
    (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    const heapAfterGcMb = memory.heapUsed / 2 ** 20;
    const externalMb = memory.external / 2 ** 20;
    return { runs, setupSeconds, resumeSeconds, throughput, paced, heapAfterGcMb, externalMb, peakRssMb: Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20, orders, fills, database };
  } finally {
    clearInterval(rssTimer);
    await trading.close();
    await db.$disconnect();
  }
}

function runChild(url: string, runs: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, '--expose-gc', ...(process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean), process.argv[1]!, '--child', String(runs)], {
      env: { ...process.env, BENCH_DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      // The service's own log lines (errors only) go through.
      for (const l of String(chunk).split('\n')) if (l && !l.startsWith(RESULT)) process.stderr.write(`${l}\n`);
    });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT))?.slice(RESULT.length);
      if (code !== 0 || !line) reject(new Error(`bench child for ${runs} runs exited with ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line) as ChildResult);
    });
  });
}

/** Marks the child's result line among its log lines. */
const RESULT = 'bench-result ';
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

function print(r: ChildResult): void {
  const line = (name: string, p: Phase) =>
    `  ${name.padEnd(10)} ${String(p.ticks).padStart(6)} ticks in ${f1(p.seconds).padStart(5)} s = ${f1(p.ticks / p.seconds).padStart(6)} ticks/s ` +
    `(${Math.round(p.decisions / p.seconds).toLocaleString('en-US').padStart(7)} run decisions/s)   tick-to-decision p50 ${f2(p.p50)} ms  p99 ${f2(p.p99)} ms  max ${f2(p.max)} ms`;
  console.log(`${r.runs.toLocaleString('en-US')} paper runs on ${SYMBOLS} symbols (${r.runs / SYMBOLS} per symbol) · setup ${f1(r.setupSeconds)} s · resume all runs ${f1(r.resumeSeconds)} s · peak RSS ${Math.round(r.peakRssMb)} MB (at the end, after a full GC: JS heap ${Math.round(r.heapAfterGcMb)} MB, outside it ${Math.round(r.externalMb)} MB) · ${r.orders} orders, ${r.fills} fills`);
  console.log(line('throughput', r.throughput));
  for (const p of r.paced) console.log(line(`paced ${p.ticksPerSecond}/s`, p));
  console.log(`  database (setup included): ${r.database.commits.toLocaleString('en-US')} transactions, ${r.database.inserted.toLocaleString('en-US')} rows inserted, ${r.database.updated.toLocaleString('en-US')} updated`);
}

if (process.argv.includes('--child')) {
  const runs = Number(process.argv[process.argv.indexOf('--child') + 1]);
  const result = await child(process.env.BENCH_DATABASE_URL!, runs);
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const server = await openBenchServer();
  try {
    console.log(`service benchmark · node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} · ${availableParallelism()} cores · database: ${server.description}`);
    console.log(
      `warm-up ${WARMUP_ROUNDS} rounds, then ${THROUGHPUT_ROUNDS} as fast as possible, then ${PACED.map((p) => `${p.rounds} at ${p.ticksPerSecond} ticks/s`).join(' and ')} (a round = one tick for each of ${SYMBOLS} symbols)`,
    );
    for (const runs of sizes.length ? sizes : SIZES) {
      const database = await server.freshDatabase();
      try {
        print(await runChild(database.url, runs));
      } finally {
        await database.drop();
      }
    }
  } finally {
    await server.stop();
  }
}
