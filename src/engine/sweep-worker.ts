// One sweep worker: loads the candles once, runs its combinations, posts each result.
import { parentPort, workerData } from 'node:worker_threads';
import { loadCandlesCsv } from '../market-data/csv-candles.ts';
import { runSpec } from './run-spec.ts';
import type { SweepJob, SweepResult } from './sweep.ts';

const job = workerData as SweepJob;
const loaded = await loadCandlesCsv(job.dataPath, job.load);
for (const overrides of job.combos) {
  let result: SweepResult;
  if (!loaded.ok) {
    result = { overrides, metrics: null, problem: `line ${loaded.error.line}: ${loaded.error.message}` };
  } else {
    const outcome = runSpec(loaded.series, { ...job.base, overrides: { ...job.base.overrides, ...overrides } });
    result = outcome.ok ? { overrides, metrics: outcome.value.metrics, problem: null } : { overrides, metrics: null, problem: outcome.problem };
  }
  parentPort!.postMessage(result);
}
