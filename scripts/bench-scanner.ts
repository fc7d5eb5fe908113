// Benchmark: the coin scanner as the scheduled job runs it — scanUniverse over 100 symbols × 90
// days of 5m candles on one thread, yielding to the event loop between symbols. Issue target:
// under 10 s. The 100 series are distinct 90-day windows of the shared 5m USDT files (BTC, ETH,
// SOL, XRP 2024 and BTC, ETH 2021), taken at start offsets 2 days apart and labelled
// `SYMBOL@start-date`. CSV loading is timed separately; the scan is warmed up, then timed over
// repeated runs (median).
// Usage: npm run bench:scanner
import { availableParallelism, cpus } from 'node:os';
import type { CandleSeries } from '../src/market-data/candles.ts';
import { loadCandlesCsv } from '../src/market-data/csv-candles.ts';
import { projectPath } from '../src/kernel/paths.ts';
import { sliceSeries } from '../src/engine/run-spec.ts';
import { scanUniverse } from '../src/engine/scanner.ts';

const FILES = ['BTC_USDT-5m.csv', 'ETH_USDT-5m.csv', 'SOL_USDT-5m.csv', 'XRP_USDT-5m.csv', 'BTC_USDT-5m-2021.csv', 'ETH_USDT-5m-2021.csv'];
const SYMBOLS = 100;
const WINDOW_DAYS = 90;
const STEP_DAYS = 2;
const TARGET_MS = 10_000;
const WARMUP_RUNS = 2;
const TIMED_RUNS = 5;
const DAY_MS = 86_400_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Index of the first candle opening at or after `time` (series times ascend). */
function indexAt(series: CandleSeries, time: number): number {
  let lo = 0;
  let hi = series.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (series.time[mid]! < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** 90-day windows 2 days apart, round-robin over the files until there are SYMBOLS of them. */
function buildUniverse(sources: readonly CandleSeries[]): CandleSeries[] {
  const windows: CandleSeries[][] = sources.map((series) => {
    const out: CandleSeries[] = [];
    for (let start = series.time[0]!; ; start += STEP_DAYS * DAY_MS) {
      const end = start + WINDOW_DAYS * DAY_MS;
      if (end > series.time[series.length - 1]! + series.timeframeMs) break;
      const window = sliceSeries(series, indexAt(series, start), indexAt(series, end));
      out.push({ ...window, symbol: `${series.symbol}@${new Date(start).toISOString().slice(0, 10)}` });
    }
    return out;
  });
  const universe: CandleSeries[] = [];
  for (let k = 0; universe.length < SYMBOLS; k++) {
    let added = false;
    for (const list of windows) {
      if (k < list.length && universe.length < SYMBOLS) {
        universe.push(list[k]!);
        added = true;
      }
    }
    if (!added) throw new Error(`only ${universe.length} distinct windows in the files, need ${SYMBOLS}`);
  }
  return universe;
}

async function main() {
  console.log(`scanner benchmark · node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} · ${availableParallelism()} cores (1 used)`);
  const loadStart = performance.now();
  const sources: CandleSeries[] = [];
  let rows = 0;
  for (const file of FILES) {
    const loaded = await loadCandlesCsv(projectPath('../shared/data/candles', file));
    if (!loaded.ok) throw new Error(`${file}: ${loaded.error.message}`);
    sources.push(loaded.series);
    rows += loaded.series.length;
  }
  const loadMs = performance.now() - loadStart;
  const universe = buildUniverse(sources);
  if (new Set(universe.map((s) => s.symbol)).size !== SYMBOLS) throw new Error('window labels are not distinct');
  console.log(`loaded ${FILES.length} CSV files (${rows.toLocaleString('en-US')} rows) in ${loadMs.toFixed(0)} ms (not part of the scan)`);

  const once = async () => {
    const t0 = performance.now();
    const result = await scanUniverse(universe);
    return { ms: performance.now() - t0, result };
  };
  for (let i = 0; i < WARMUP_RUNS; i++) await once();
  const times: number[] = [];
  let last: Awaited<ReturnType<typeof once>>['result'] | null = null;
  for (let i = 0; i < TIMED_RUNS; i++) {
    const r = await once();
    times.push(r.ms);
    last = r.result;
  }
  const ms = median(times);
  const { rankings, failures, candles } = last!;
  const positive = rankings.filter((r) => r.composite_score > 0).length;
  console.log(
    `${SYMBOLS} symbols × ${WINDOW_DAYS} days of 5m candles: ${candles.toLocaleString('en-US')} candles scanned, ` +
      `${rankings.length} ranked (${positive} with a score above 0), ${failures.length} failed`,
  );
  console.log(
    `scan wall time ${ms.toFixed(0)} ms (median of ${TIMED_RUNS}, min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}) · ` +
      `${(ms / SYMBOLS).toFixed(2)} ms per symbol · ${(candles / ms / 1000).toFixed(1)} M candles/s`,
  );
  const top = rankings
    .slice(0, 3)
    .map((r) => `${r.symbol} ${r.composite_score} (roi ${r.daily_roi_pct}%/d, ${r.cycles_per_day} cycles/d)`)
    .join(' · ');
  console.log(`top 3: ${top}`);
  const pass = ms < TARGET_MS;
  console.log(`${pass ? 'PASS' : 'FAIL'}: scan of ${SYMBOLS} symbols × ${WINDOW_DAYS} days took ${(ms / 1000).toFixed(2)} s, target < ${TARGET_MS / 1000} s`);
  if (!pass) process.exitCode = 1;
}

await main();
