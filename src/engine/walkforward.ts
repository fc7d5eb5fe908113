// Walk-forward (seed tradebot-starter): optimise on an in-sample window, test the winner on the
// following out-of-sample window, slide forward and repeat. Out-of-sample results are the honest
// estimate; in-sample ones only show how much a sweep flatters itself.
import { z } from 'zod';
import type { CandleSeries } from '../market-data/candles.ts';
import type { BacktestMetrics } from './metrics.ts';
import { runSpec, sliceSeries, STRATEGIES, type RunSpec } from './run-spec.ts';
import { combinations, rankResults, type SweepResult } from './sweep.ts';

const DAY_MS = 86_400_000;

export const walkForwardConfigSchema = z.strictObject({
  strategy: z.enum(STRATEGIES),
  /** Candle file, relative to the config file. */
  data: z.string().min(1),
  capital: z.number().positive().optional(),
  in_sample_days: z.number().positive(),
  out_of_sample_days: z.number().positive(),
  /** How far each stage moves; defaults to the out-of-sample length (no overlap in tests). */
  step_days: z.number().positive().optional(),
  /** Fixed overrides for every run. */
  params: z.record(z.string(), z.string()).default({}),
  /** Values to try in-sample: every combination is run. */
  sweep: z.record(z.string(), z.array(z.string()).min(1)),
  rank: z.string().default('dailyRoiPct'),
});

export type WalkForwardConfig = z.output<typeof walkForwardConfigSchema>;

export interface WalkForwardStage {
  readonly stage: number;
  readonly inSample: { readonly from: string; readonly to: string };
  readonly outOfSample: { readonly from: string; readonly to: string };
  readonly chosen: Readonly<Record<string, string>>;
  readonly inSampleMetrics: BacktestMetrics;
  readonly outOfSampleMetrics: BacktestMetrics;
}

export interface WalkForwardReport {
  readonly symbol: string;
  readonly strategy: string;
  readonly rank: string;
  readonly stages: readonly WalkForwardStage[];
  /** Compounded out-of-sample return over all stages, in %. */
  readonly outOfSampleRoiPct: number;
}

export function runWalkForward(series: CandleSeries, config: WalkForwardConfig): WalkForwardReport {
  const perDay = DAY_MS / series.timeframeMs;
  const isLen = Math.round(config.in_sample_days * perDay);
  const oosLen = Math.round(config.out_of_sample_days * perDay);
  const step = Math.round((config.step_days ?? config.out_of_sample_days) * perDay);
  const combos = combinations(Object.entries(config.sweep).map(([key, values]) => ({ key, values })));
  const base: Omit<RunSpec, 'overrides'> = { strategy: config.strategy, ...(config.capital ? { capital: config.capital } : {}) };
  const iso = (i: number) => new Date(series.time[i]!).toISOString();
  const stages: WalkForwardStage[] = [];
  let growth = 1;

  for (let start = 0; start + isLen + oosLen <= series.length; start += step) {
    const inSample = sliceSeries(series, start, start + isLen);
    const results: SweepResult[] = combos.map((overrides) => {
      const outcome = runSpec(inSample, { ...base, overrides: { ...config.params, ...overrides } });
      return outcome.ok ? { overrides, metrics: outcome.value.metrics, problem: null } : { overrides, metrics: null, problem: outcome.problem };
    });
    const best = rankResults(results, config.rank as keyof BacktestMetrics)[0];
    if (!best?.metrics) throw new Error(`stage ${stages.length + 1}: no parameter combination ran (${best?.problem ?? 'no combinations'})`);
    const outOfSample = sliceSeries(series, start + isLen, start + isLen + oosLen);
    const tested = runSpec(outOfSample, { ...base, overrides: { ...config.params, ...best.overrides } });
    if (!tested.ok) throw new Error(`stage ${stages.length + 1}: ${tested.problem}`);
    growth *= 1 + tested.value.metrics.totalRoiPct / 100;
    stages.push({
      stage: stages.length + 1,
      inSample: { from: iso(start), to: iso(start + isLen - 1) },
      outOfSample: { from: iso(start + isLen), to: iso(start + isLen + oosLen - 1) },
      chosen: best.overrides,
      inSampleMetrics: best.metrics,
      outOfSampleMetrics: tested.value.metrics,
    });
  }
  return { symbol: series.symbol, strategy: config.strategy, rank: config.rank, stages, outOfSampleRoiPct: (growth - 1) * 100 };
}
