// npm run backtest -- --strategy dca|grid (--data <csv> | --exchange binance --symbol S --timeframe 5m --from T --to T)
//   [--param key=value ...] [--capital N] [--fill-model touch|trade-through] [--out dir]
//   [--sweep key=a,b,c ...] [--rank metric] [--threads N] [--quiet]
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCandlesCsv } from '../src/market-data/csv-candles.ts';
import { fetchCandlesCached } from '../src/market-data/exchange-candles.ts';
import type { BacktestMetrics } from '../src/engine/metrics.ts';
import { equityCsv, fillsCsv, toJsonStable } from '../src/engine/report.ts';
import { runSpec, STRATEGIES, type RunSpec, type StrategyName } from '../src/engine/run-spec.ts';
import { combinations, parseSweepAxis, rankResults, runSweep, type SweepAxis } from '../src/engine/sweep.ts';

const USAGE = `usage: npm run backtest -- --strategy ${STRATEGIES.join('|')} (--data <candles.csv> | --exchange ID --symbol S --timeframe TF --from T --to T) [options]
  --symbol S            symbol name for reports (default: from the file name); the market with --exchange
  --exchange ID         fetch candles with ccxt (e.g. binance) instead of --data, cached under --cache-dir
  --timeframe TF        candle length for --exchange, e.g. 1m, 5m, 1h
  --cache-dir DIR       where fetched candles are kept (default .data/candles)
  --exchange-url URL    another API server for --exchange (a proxy or a simulator)
  --from T / --to T     window: ISO date (2021-05-01) or epoch ms; from inclusive, to exclusive
  --param key=value     override a parameter (repeatable), e.g. tp_range=0.8,3 or count=20
  --capital N           starting balance in the quote currency
  --fill-model M        touch (default) or trade-through
  --out DIR             write result.json, equity.csv and fills.csv (sweep: sweep.json, sweep.csv)
  --sweep key=a,b,c     run every combination in parallel and rank them (repeatable)
  --rank METRIC         sweep ranking metric (default dailyRoiPct)
  --threads N           sweep worker threads (default: all cores)
  --quiet               no progress bar`;

class UsageError extends Error {}

function parseTime(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} must be an ISO date like 2021-05-01 or epoch milliseconds (got '${text}')`);
  return ms;
}

function parseOverrides(pairs: readonly string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param needs key=value (got '${pair}')`);
    overrides[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return overrides;
}

function progressBar(enabled: boolean): (done: number) => void {
  if (!enabled) return () => {};
  let last = -1;
  return (done) => {
    const pct = Math.floor(done * 100);
    if (pct === last) return;
    last = pct;
    const filled = Math.round(pct / 4);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(25 - filled)}] ${pct}%${pct === 100 ? '\n' : ''}`);
  };
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

function summary(m: BacktestMetrics): string {
  return [
    `days ${fmt(m.days, 1)} · total ROI ${fmt(m.totalRoiPct)}% · daily ROI ${fmt(m.dailyRoiPct, 3)}% · final equity ${fmt(m.finalEquity)}`,
    `cycles ${m.cycles} (${fmt(m.cyclesPerDay)}/day, ${fmt(m.winRatePct, 1)}% won) · fills ${m.fills} · fees ${fmt(m.feesPaid)}`,
    `max drawdown ${fmt(m.maxDrawdownPct)}% · Sharpe ${fmt(m.sharpe)} · time in market ${fmt(m.timeInMarketPct, 1)}%`,
    `regimes: ranging ${fmt(m.regimeBreakdown.RANGING, 1)}% · trending ↑ ${fmt(m.regimeBreakdown.TRENDING_BULL, 1)}% ↓ ${fmt(m.regimeBreakdown.TRENDING_BEAR, 1)}% · extreme ${fmt(m.regimeBreakdown.EXTREME, 1)}% · friendly ${fmt(m.friendlyRegimePct, 1)}%`,
  ].join('\n');
}

type Loaded = Extract<Awaited<ReturnType<typeof loadCandlesCsv>>, { ok: true }>;

/** Candles from --data, or from --exchange through the on-disk cache. */
async function loadSource(
  values: { data?: string; exchange?: string; symbol?: string; timeframe?: string; from?: string; to?: string; 'cache-dir': string; 'exchange-url'?: string },
  load: { symbol?: string; from?: number; to?: number },
): Promise<{ loaded: Loaded; dataPath: string } | null> {
  if (values.data) {
    const loaded = await loadCandlesCsv(values.data, load);
    if (loaded.ok) return { loaded, dataPath: values.data };
    process.stderr.write(`backtest: ${values.data}: ${loaded.error.line ? `line ${loaded.error.line}: ` : ''}${loaded.error.message.replace(/^line \d+: /, '')}\n`);
    return null;
  }
  if (!values.symbol || !values.timeframe || load.from === undefined || load.to === undefined) {
    throw new UsageError('--exchange needs --symbol, --timeframe, --from and --to');
  }
  const fetched = await fetchCandlesCached({
    exchange: values.exchange!,
    symbol: values.symbol,
    timeframe: values.timeframe,
    from: load.from,
    to: load.to,
    cacheDir: values['cache-dir'],
    ...(values['exchange-url'] ? { apiUrl: values['exchange-url'] } : {}),
  });
  if (!fetched.ok) {
    process.stderr.write(`backtest: ${fetched.error.message}\n`);
    return null;
  }
  process.stderr.write(`${fetched.fromCache ? 'using cached' : 'fetched and cached'} candles: ${fetched.cachePath}\n`);
  return { loaded: fetched, dataPath: fetched.cachePath };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      strategy: { type: 'string' },
      data: { type: 'string' },
      exchange: { type: 'string' },
      timeframe: { type: 'string' },
      'cache-dir': { type: 'string', default: '.data/candles' },
      'exchange-url': { type: 'string' },
      symbol: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      param: { type: 'string', multiple: true, default: [] },
      capital: { type: 'string' },
      'fill-model': { type: 'string' },
      out: { type: 'string' },
      sweep: { type: 'string', multiple: true, default: [] },
      rank: { type: 'string', default: 'dailyRoiPct' },
      threads: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.strategy || !(STRATEGIES as readonly string[]).includes(values.strategy)) throw new UsageError(`--strategy must be ${STRATEGIES.join(' or ')}`);
  if (!values.data && !values.exchange) throw new UsageError('give --data <candles.csv>, or --exchange with --symbol, --timeframe, --from and --to');
  const fillModel = values['fill-model'];
  if (fillModel !== undefined && fillModel !== 'touch' && fillModel !== 'trade-through') throw new UsageError('--fill-model must be touch or trade-through');
  const capital = values.capital === undefined ? undefined : Number(values.capital);
  if (capital !== undefined && !(capital > 0)) throw new UsageError('--capital must be a positive number');

  const load = {
    ...(values.symbol ? { symbol: values.symbol } : {}),
    ...(values.from ? { from: parseTime(values.from, '--from')! } : {}),
    ...(values.to ? { to: parseTime(values.to, '--to')! } : {}),
  };
  const spec: RunSpec = {
    strategy: values.strategy as StrategyName,
    overrides: parseOverrides(values.param),
    ...(capital !== undefined ? { capital } : {}),
    ...(fillModel ? { venue: { fillModel } } : {}),
  };

  const source = await loadSource(values, load);
  if (!source) return 1;
  const { loaded, dataPath } = source;
  for (const w of loaded.warnings) {
    process.stderr.write(`warning: ${basename(dataPath)} line ${w.line}: ${w.missing} missing candle(s) between ${new Date(w.from).toISOString()} and ${new Date(w.to).toISOString()}\n`);
  }
  const { series } = loaded;
  const showProgress = !values.quiet && process.stderr.isTTY === true;

  if (values.sweep.length > 0) {
    const axes: SweepAxis[] = [];
    for (const text of values.sweep) {
      const axis = parseSweepAxis(text);
      if ('problem' in axis) throw new UsageError(axis.problem);
      axes.push(axis);
    }
    const combos = combinations(axes);
    const threads = values.threads ? Number(values.threads) : undefined;
    const bar = progressBar(showProgress);
    const results = await runSweep({ dataPath, load, base: spec, combos }, threads, (done, total) => bar(done / total));
    const ranked = rankResults(results, values.rank as keyof BacktestMetrics);
    const header = `rank,${axes.map((a) => a.key).join(',')},${values.rank},totalRoiPct,maxDrawdownPct,cyclesPerDay,problem`;
    const rows = ranked.map((r, i) =>
      [i + 1, ...axes.map((a) => JSON.stringify(r.overrides[a.key])), r.metrics?.[values.rank as keyof BacktestMetrics] ?? '', r.metrics?.totalRoiPct ?? '', r.metrics?.maxDrawdownPct ?? '', r.metrics?.cyclesPerDay ?? '', JSON.stringify(r.problem ?? '')].join(','),
    );
    process.stdout.write(`${series.symbol} ${values.strategy}: ${combos.length} combinations ranked by ${values.rank}\n${[header, ...rows.slice(0, 10)].join('\n')}\n`);
    if (values.out) {
      await mkdir(values.out, { recursive: true });
      await writeFile(join(values.out, 'sweep.json'), toJsonStable({ symbol: series.symbol, strategy: values.strategy, rank: values.rank, results: ranked }));
      await writeFile(join(values.out, 'sweep.csv'), `${[header, ...rows].join('\n')}\n`);
    }
    return ranked.every((r) => r.problem) ? 1 : 0;
  }

  const outcome = runSpec(series, spec, progressBar(showProgress));
  if (!outcome.ok) {
    process.stderr.write(`backtest: ${outcome.problem}\n`);
    return 1;
  }
  const { metrics, trace, built } = outcome.value;
  const from = new Date(series.time[0] ?? 0).toISOString();
  const to = new Date((series.time[series.length - 1] ?? 0) + series.timeframeMs).toISOString();
  process.stdout.write(`${series.symbol} ${built.strategy.id} ${built.strategy.version} · ${series.length} candles · ${from} → ${to}\n${summary(metrics)}\n`);
  if (trace.rejections > 0) process.stderr.write(`warning: the venue refused ${trace.rejections} order(s) (too small, or not enough funds)\n`);
  if (values.out) {
    await mkdir(values.out, { recursive: true });
    const result = {
      data: basename(dataPath),
      symbol: series.symbol,
      strategy: { id: built.strategy.id, version: built.strategy.version },
      window: { from, to, candles: series.length },
      params: built.grid ? { set: built.paramSet, grid: built.grid } : { set: built.paramSet },
      venue: built.venue,
      metrics,
      cycles: trace.cycles,
      rejections: trace.rejections,
    };
    await writeFile(join(values.out, 'result.json'), toJsonStable(result));
    await writeFile(join(values.out, 'equity.csv'), equityCsv(trace.time, trace.equity));
    await writeFile(join(values.out, 'fills.csv'), fillsCsv(trace.fills));
    process.stdout.write(`wrote ${join(values.out, 'result.json')}, equity.csv, fills.csv\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`backtest: ${(error as Error).message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`backtest failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
