// Parameter sweeps: every combination of `key=a,b,c` values, run across cores with
// worker_threads. Each worker loads the candles once and runs its share of the combinations.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BacktestMetrics } from './metrics.ts';
import type { RunSpec } from './run-spec.ts';

/** From source (tsx) the worker needs a bootstrap that registers the loader; a build runs the compiled file. */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./sweep-worker-entry.mjs', import.meta.url)
  : new URL('./sweep-worker.js', import.meta.url);

export interface SweepAxis {
  readonly key: string;
  readonly values: readonly string[];
}

/** Parses `key=a,b,c`; ranges like `tp_range=0.6;2.5|0.8;3` use `|` between values holding commas. */
export function parseSweepAxis(text: string): SweepAxis | { problem: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) return { problem: `--sweep needs key=value1,value2 (got '${text}')` };
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  const values = (raw.includes('|') ? raw.split('|').map((v) => v.replace(/;/g, ',')) : raw.split(',')).map((v) => v.trim()).filter(Boolean);
  if (values.length === 0) return { problem: `--sweep ${key} has no values` };
  return { key, values };
}

/** Every combination of the axes' values, as override maps (in a stable order). */
export function combinations(axes: readonly SweepAxis[]): Record<string, string>[] {
  let combos: Record<string, string>[] = [{}];
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.key]: v })));
  return combos;
}

export interface SweepResult {
  readonly overrides: Readonly<Record<string, string>>;
  readonly metrics: BacktestMetrics | null;
  readonly problem: string | null;
}

export interface SweepJob {
  readonly dataPath: string;
  readonly load: { readonly from?: number; readonly to?: number; readonly symbol?: string };
  readonly base: RunSpec;
  readonly combos: readonly Record<string, string>[];
}

/** Runs the combinations on up to `threads` worker threads; results come back in combination order. */
export async function runSweep(job: SweepJob, threads = availableParallelism(), onDone?: (done: number, total: number) => void): Promise<SweepResult[]> {
  const results: SweepResult[] = new Array(job.combos.length);
  const workers = Math.max(1, Math.min(threads, job.combos.length));
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const indices = job.combos.map((_, i) => i).filter((i) => i % workers === w);
      return new Promise<void>((resolve, reject) => {
        const worker = new Worker(WORKER_URL, { workerData: { ...job, combos: indices.map((i) => job.combos[i]) } });
        let k = 0;
        worker.on('message', (result: SweepResult) => {
          results[indices[k++]!] = result;
          onDone?.(++done, job.combos.length);
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 && k === indices.length ? resolve() : reject(new Error(`sweep worker ${w} exited with ${code}`))));
      });
    }),
  );
  return results;
}

/** Best first by the chosen metric; failed runs last. */
export function rankResults(results: readonly SweepResult[], metric: keyof BacktestMetrics): SweepResult[] {
  const score = (r: SweepResult) => {
    const v = r.metrics?.[metric];
    return typeof v === 'number' ? v : -Infinity;
  };
  return [...results].sort((a, b) => score(b) - score(a) || JSON.stringify(a.overrides).localeCompare(JSON.stringify(b.overrides)));
}
