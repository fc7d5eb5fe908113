// A CandleSource that replays historical candles as if they were arriving now, for demos and
// tests: the MarketDataService polls it exactly like an exchange. At clock time t the candles up
// to index startIndex + floor((t - t0) * speed / timeframe) are visible, the newest one playing
// the exchange's "forming" candle. Candles keep their historical timestamps.
//
// Two consequences worth knowing:
//  - The service decides that the newest candle has closed when the clock is past its end. The
//    clock is the present and the timestamps are historical, so under the service every visible
//    candle counts as closed and is delivered as soon as it becomes visible (one candle period
//    earlier than a live feed would). Its values are the final historical ones, so nothing
//    partial is ever delivered.
//  - Visibility counts candles, not time: a gap in the data (exchange maintenance) is skipped
//    over in one step.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../kernel/clock.ts';
import { VenueError } from '../exchange/venue.ts';
import type { CandleSeries, CandleView } from './candles.ts';
import { loadCandlesCsv } from './csv-candles.ts';
import type { CandleSource } from './feed.ts';
import { timeframeToMs } from './market-data-service.ts';

/** Candles visible from the start: a warm-up's worth for indicators. */
export const DEFAULT_REPLAY_START_INDEX = 200;
export const REPLAY_EXCHANGE = 'replay';

export interface ReplayCandleSourceOptions {
  /** Candles per symbol, or one series (keyed by its own symbol). */
  readonly series: ReadonlyMap<string, CandleSeries> | CandleSeries;
  readonly clock: Clock;
  /** 1 = real time; 60 = an hour of 1m candles per minute. */
  readonly speed: number;
  /** Index of the newest candle visible at construction; default 200. */
  readonly startIndex?: number;
  /** The exchange id the source answers as; default "replay". */
  readonly exchange?: string;
}

export class ReplayCandleSource implements CandleSource {
  readonly exchange: string;
  readonly pollHintMs: number;
  readonly #series: ReadonlyMap<string, CandleSeries>;
  readonly #clock: Clock;
  readonly #speed: number;
  readonly #startIndex: number;
  readonly #t0: number;

  constructor(options: ReplayCandleSourceOptions) {
    const { speed, clock } = options;
    const startIndex = options.startIndex ?? DEFAULT_REPLAY_START_INDEX;
    if (!(Number.isFinite(speed) && speed > 0)) throw new RangeError(`replay speed must be a positive number, got ${speed}`);
    if (!(Number.isSafeInteger(startIndex) && startIndex >= 0)) {
      throw new RangeError(`replay startIndex must be a whole number >= 0, got ${startIndex}`);
    }
    const series = isSeries(options.series) ? new Map([[options.series.symbol, options.series]]) : new Map(options.series);
    if (series.size === 0) throw new RangeError('replay needs candles for at least one symbol');
    for (const [symbol, s] of series) {
      if (s.length <= startIndex) {
        throw new RangeError(
          `replay candles for ${symbol} hold ${s.length} candles, so startIndex ${startIndex} leaves none to replay; pass a smaller startIndex`,
        );
      }
    }
    this.exchange = options.exchange ?? REPLAY_EXCHANGE;
    this.#series = series;
    this.#clock = clock;
    this.#speed = speed;
    this.#startIndex = startIndex;
    this.#t0 = clock.now().getTime();
    const shortest = Math.min(...[...series.values()].map((s) => s.timeframeMs));
    // Twice per replayed candle, so a candle is picked up within half its (sped-up) period.
    this.pollHintMs = Math.max(50, shortest / speed / 2);
  }

  /** Symbols this source can replay. */
  get symbols(): string[] {
    return [...this.#series.keys()];
  }

  async fetchCandles(symbol: string, timeframe: string, since: number | undefined, limit: number): Promise<CandleView[]> {
    const series = this.#seriesFor(symbol, timeframe);
    // When the data runs out, the newest candle stays the last one returned, for ever: the run
    // sees no new candles, and its stale-data guard trips. That is intended; a replay never
    // invents candles or wraps around.
    const last = this.#lastVisible(series);
    const count = Math.floor(limit);
    if (!(count > 0)) return [];
    const from = since === undefined ? Math.max(0, last - count + 1) : firstAtOrAfter(series.time, since, last + 1);
    const to = Math.min(last, from + count - 1);
    const out: CandleView[] = [];
    for (let i = from; i <= to; i++) {
      out.push({
        time: series.time[i]!,
        open: series.open[i]!,
        high: series.high[i]!,
        low: series.low[i]!,
        close: series.close[i]!,
        volume: series.volume[i]!,
      });
    }
    return out;
  }

  /** Nothing to release; the same instance may be handed out again after the service closed it. */
  async close(): Promise<void> {}

  #lastVisible(series: CandleSeries): number {
    const elapsed = Math.max(0, this.#clock.now().getTime() - this.#t0);
    return Math.min(series.length - 1, this.#startIndex + Math.floor((elapsed * this.#speed) / series.timeframeMs));
  }

  #seriesFor(symbol: string, timeframe: string): CandleSeries {
    const series = this.#series.get(symbol);
    if (!series) {
      throw this.#rejected(`replay has no candles for ${symbol}; it replays ${[...this.#series.keys()].join(', ')}`);
    }
    let timeframeMs: number;
    try {
      timeframeMs = timeframeToMs(timeframe);
    } catch (error) {
      throw this.#rejected(`replay cannot serve ${symbol} ${timeframe}: ${(error as Error).message}`);
    }
    if (timeframeMs !== series.timeframeMs) {
      throw this.#rejected(
        `replay candles for ${symbol} are ${timeframeLabel(series.timeframeMs)}, not ${timeframe}; subscribe with timeframe ${timeframeLabel(series.timeframeMs)} or load ${timeframe} candles`,
      );
    }
    return series;
  }

  #rejected(message: string): VenueError {
    return new VenueError('rejected', message, { exchangeId: this.exchange, reason: 'bad_symbol' });
  }
}

function isSeries(value: ReadonlyMap<string, CandleSeries> | CandleSeries): value is CandleSeries {
  return (value as CandleSeries).time instanceof Float64Array;
}

/** Index of the first time >= since among the first `end` candles; `end` if none. */
function firstAtOrAfter(time: Float64Array, since: number, end: number): number {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[mid]! < since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function timeframeLabel(ms: number): string {
  const units: [number, string][] = [[604_800_000, 'w'], [86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms} ms`;
}

export interface LoadReplaySeriesOptions {
  /** Only files of this timeframe (`5m`); needed when a symbol has files of several timeframes. */
  readonly timeframe?: string;
  /**
   * Only files with this suffix after the timeframe (`2021` for `BTC_USDT-5m-2021.csv`). Without
   * it, a symbol's plain files (no suffix) win over suffixed ones.
   */
  readonly tag?: string;
}

/** `BTC_USDT-5m.csv`, `BTC_USDT-5m-2021.csv`: base_quote-timeframe[-tag].csv, as in shared/data/candles. */
const FILE_NAME = /^([A-Za-z0-9]+)_([A-Za-z0-9]+)-([1-9]\d*[smhdw])(?:-(.+?))?\.csv$/i;

interface CandleFile {
  readonly name: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly tag: string | undefined;
}

/**
 * Loads one candle file per symbol from a directory named like shared/data/candles
 * (`BASE_QUOTE-timeframe[-tag].csv`; other files are ignored), with the project's CSV loader.
 * Throws an Error that names the file(s) when a requested symbol has no file, when a symbol's
 * file is ambiguous (pass `timeframe` / `tag`), or when files cannot be read or parsed.
 */
export async function loadReplaySeries(
  dir: string,
  symbols?: string[],
  options: LoadReplaySeriesOptions = {},
): Promise<Map<string, CandleSeries>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : (cause as Error).message;
    throw new Error(`cannot read replay candles from ${dir}: ${why}`, { cause });
  }
  if (options.timeframe !== undefined) timeframeToMs(options.timeframe); // a clear error for "5 min" and friends

  const files: CandleFile[] = [];
  for (const name of names.sort()) {
    const match = FILE_NAME.exec(name);
    if (match) files.push({ name, symbol: `${match[1]}/${match[2]}`.toUpperCase(), timeframe: match[3]!, tag: match[4] });
  }
  const wanted = symbols?.map((s) => s.toUpperCase());
  const bySymbol = new Map<string, CandleFile[]>();
  for (const file of files) {
    if (wanted && !wanted.includes(file.symbol)) continue;
    if (options.timeframe !== undefined && file.timeframe !== options.timeframe) continue;
    if (options.tag !== undefined && file.tag !== options.tag) continue;
    bySymbol.set(file.symbol, [...(bySymbol.get(file.symbol) ?? []), file]);
  }

  const filters = [options.timeframe, options.tag === undefined ? undefined : `tag ${options.tag}`].filter(Boolean).join(', ');
  const missing = (wanted ?? []).filter((s) => !bySymbol.has(s));
  if (missing.length > 0 || bySymbol.size === 0) {
    const what = missing.length > 0 ? missing.join(', ') : 'any symbol';
    const found = files.length > 0 ? files.map((f) => f.name).join(', ') : 'no files named like BTC_USDT-5m.csv';
    throw new Error(`no candle file for ${what}${filters ? ` (${filters})` : ''} in ${dir}; found: ${found}`);
  }

  const chosen: CandleFile[] = [];
  const ambiguous: string[] = [];
  for (const [symbol, candidates] of bySymbol) {
    const plain = candidates.filter((f) => f.tag === undefined);
    const pick = options.tag === undefined && plain.length > 0 ? plain : candidates;
    if (pick.length === 1) chosen.push(pick[0]!);
    else ambiguous.push(`${symbol} (${pick.map((f) => f.name).join(', ')})`);
  }
  if (ambiguous.length > 0) {
    throw new Error(`several candle files in ${dir} for ${ambiguous.join('; ')}; pass a timeframe (and a tag for suffixed files) to pick one`);
  }

  const loaded = await Promise.all(
    chosen.map(async (file) => {
      const path = join(dir, file.name);
      return { file, path, result: await loadCandlesCsv(path, { symbol: file.symbol, timeframeMs: timeframeToMs(file.timeframe) }) };
    }),
  );
  const failures = loaded.flatMap(({ path, result }) => (result.ok ? [] : [`${path}: ${result.error.message}`]));
  if (failures.length > 0) throw new Error(`cannot load replay candles: ${failures.join('; ')}`);
  const out = new Map<string, CandleSeries>();
  for (const { file, result } of loaded) if (result.ok) out.set(file.symbol, result.series);
  return out;
}
