// Benchmark: candle-steps per second through the real runner (feed -> strategy -> gate -> venue,
// with equity, exposure and regime recorded every candle), for DCA and grid on the shared 1m and
// 5m candles. One thread; each case is warmed up, then timed over repeated runs (median).
// Usage: npm run bench:backtest
import { availableParallelism, cpus } from 'node:os';
import { runBacktest } from '../src/engine/backtest.ts';
import { buildRun } from '../src/engine/run-spec.ts';
import { loadCandlesCsv } from '../src/market-data/csv-candles.ts';
import { projectPath } from '../src/kernel/paths.ts';

const FILES = ['BTC_USDT-1m.csv', 'ETH_USDT-1m.csv', 'BTC_USDT-5m.csv', 'SOL_USDT-5m.csv'];
const PAIR_YEAR_1M = 525_600;
const WARMUP_RUNS = 15;
const TIMED_RUNS = 25;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  console.log(`engine benchmark · node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} · ${availableParallelism()} cores (1 used)`);
  const totals: Record<string, { steps: number; ms: number }> = {};
  for (const file of FILES) {
    const loaded = await loadCandlesCsv(projectPath('../shared/data/candles', file));
    if (!loaded.ok) throw new Error(`${file}: ${loaded.error.message}`);
    const series = loaded.series;
    for (const strategy of ['dca', 'grid'] as const) {
      const once = () => {
        const built = buildRun({ strategy, overrides: {} }, series);
        if (!built.ok) throw new Error(built.problem);
        const t0 = performance.now();
        const trace = runBacktest({ series, strategy: built.value.strategy, venue: built.value.venue });
        const ms = performance.now() - t0;
        if (trace.error) throw new Error(trace.error);
        return { ms, fills: trace.fills.length };
      };
      for (let i = 0; i < WARMUP_RUNS; i++) once();
      const times: number[] = [];
      let fills = 0;
      for (let i = 0; i < TIMED_RUNS; i++) {
        const r = once();
        times.push(r.ms);
        fills = r.fills;
      }
      const ms = median(times);
      const rate = series.length / ms / 1000;
      (totals[strategy] ??= { steps: 0, ms: 0 }).steps += series.length;
      totals[strategy]!.ms += ms;
      console.log(
        `${strategy.padEnd(4)} ${file.padEnd(16)} ${String(series.length).padStart(7)} candles  ${ms.toFixed(2).padStart(7)} ms  ${rate.toFixed(1).padStart(5)} M candle-steps/s  (${fills} fills)`,
      );
    }
  }
  for (const [strategy, t] of Object.entries(totals)) {
    const rate = t.steps / t.ms / 1000;
    console.log(`${strategy}: ${rate.toFixed(1)} M candle-steps/s overall · one pair-year of 1m candles (${PAIR_YEAR_1M.toLocaleString('en-US')}) ≈ ${(PAIR_YEAR_1M / rate / 1000).toFixed(1)} ms`);
  }
}

await main();
