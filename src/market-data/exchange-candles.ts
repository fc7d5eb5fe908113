// Historical candles from an exchange through ccxt `fetchOHLCV`, cached on disk as the same CSV
// the backtester reads, so a window is downloaded once and every later run is offline and
// identical. Only this module (and the execution venue) imports ccxt; its errors become
// messages here.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ccxt from 'ccxt';
import { createCcxtClient, UnknownExchangeError } from '../exchange/ccxt/client.ts';
import { CANDLE_CSV_HEADER, parseCandlesCsv, type CandleLoadResult } from './csv-candles.ts';
import { timeframeToMs } from './market-data-service.ts';

export interface ExchangeCandleRequest {
  /** ccxt exchange id, e.g. binance. */
  readonly exchange: string;
  readonly symbol: string;
  /** ccxt timeframe, e.g. 1m, 5m, 1h. */
  readonly timeframe: string;
  /** Epoch ms, inclusive. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
  readonly cacheDir: string;
  /** Another API server for the exchange (tests, self-hosted proxies): scheme://host:port. */
  readonly apiUrl?: string;
  readonly onProgress?: (done: number) => void;
}

export type ExchangeCandleResult = CandleLoadResult & { readonly cachePath: string; readonly fromCache: boolean };

const PAGE = 1000;

export function cachePathFor(r: Pick<ExchangeCandleRequest, 'exchange' | 'symbol' | 'timeframe' | 'from' | 'to' | 'cacheDir'>): string {
  return join(r.cacheDir, r.exchange, `${r.symbol.replace(/[^A-Za-z0-9]+/g, '_')}-${r.timeframe}-${r.from}-${r.to}.csv`);
}

export async function fetchCandlesCached(request: ExchangeCandleRequest): Promise<ExchangeCandleResult> {
  const cachePath = cachePathFor(request);
  const options = { symbol: request.symbol, from: request.from, to: request.to };
  const cached = await readFile(cachePath, 'utf8').catch(() => null);
  if (cached !== null) return { ...parseCandlesCsv(cached, options), cachePath, fromCache: true };

  let text: string;
  try {
    text = await download(request);
  } catch (error) {
    return { ok: false, error: { line: 0, message: describeError(error, request) }, cachePath, fromCache: false };
  }
  const parsed = parseCandlesCsv(text, options);
  if (parsed.ok) {
    // Write whole or not at all: a cut-off download must never be mistaken for a complete window.
    await mkdir(dirname(cachePath), { recursive: true });
    await writeFile(`${cachePath}.partial`, text);
    await rename(`${cachePath}.partial`, cachePath);
  }
  return { ...parsed, cachePath, fromCache: false };
}

async function download(request: ExchangeCandleRequest): Promise<string> {
  const exchange = createCcxtClient({ exchange: request.exchange, apiUrl: request.apiUrl });
  await exchange.loadMarkets();
  return downloadWith(exchange, request);
}

async function downloadWith(
  exchange: ReturnType<typeof createCcxtClient>,
  request: Pick<ExchangeCandleRequest, 'symbol' | 'timeframe' | 'from' | 'to' | 'onProgress'>,
): Promise<string> {
  const timeframeMs = exchange.parseTimeframe(request.timeframe) * 1000;
  const lines = [CANDLE_CSV_HEADER];
  let since = request.from;
  while (since < request.to) {
    const page = await exchange.fetchOHLCV(request.symbol, request.timeframe, since, PAGE);
    let last = -Infinity;
    for (const [t, o, h, l, c, v] of page) {
      if (t === undefined || t < since || t >= request.to) continue;
      lines.push(`${t},${o},${h},${l},${c},${v}`);
      last = t;
    }
    if (page.length === 0 || last === -Infinity) break;
    since = last + timeframeMs;
    request.onProgress?.(Math.min(1, (since - request.from) / (request.to - request.from)));
  }
  return `${lines.join('\n')}\n`;
}

/** Downloads candle windows of one exchange without a disk cache (the scanner keeps its own). */
export type CandleDownloader = (symbol: string, timeframe: string, from: number, to: number) => Promise<CandleLoadResult>;

/**
 * One ccxt client whose markets are loaded once, for many downloads (the scanner fetches every
 * symbol of its universe each scan). Errors come back as a failed result with a readable message.
 */
export function createCandleDownloader(options: { exchange: string; apiUrl?: string | null }): CandleDownloader {
  let client: Promise<ReturnType<typeof createCcxtClient>> | null = null;
  const connect = async () => {
    const exchange = createCcxtClient({ exchange: options.exchange, apiUrl: options.apiUrl ?? undefined });
    await exchange.loadMarkets();
    return exchange;
  };
  return async (symbol, timeframe, from, to) => {
    const request = { exchange: options.exchange, symbol, timeframe, from, to, cacheDir: '' };
    try {
      // A failed market load is forgotten, so the next download tries again.
      client ??= connect().catch((error: unknown) => {
        client = null;
        throw error;
      });
      const text = await downloadWith(await client, request);
      // Gaps are normal at an exchange (maintenance); they are reported as warnings, not errors.
      return parseCandlesCsv(text, { symbol, from, to, timeframeMs: timeframeToMs(timeframe) });
    } catch (error) {
      return { ok: false, error: { line: 0, message: describeError(error, request) } };
    }
  };
}

function describeError(error: unknown, request: ExchangeCandleRequest): string {
  if (error instanceof UnknownExchangeError) return error.message;
  if (error instanceof ccxt.BadSymbol) return `${request.exchange} has no market ${request.symbol}`;
  if (error instanceof ccxt.RateLimitExceeded || error instanceof ccxt.DDoSProtection) return `${request.exchange} is rate limiting us; try again in a minute`;
  if (error instanceof ccxt.NetworkError) return `could not reach ${request.exchange}: ${(error as Error).message.split('\n')[0]}`;
  if (error instanceof ccxt.ExchangeError) return `${request.exchange} refused the request: ${(error as Error).message.split('\n')[0]}`;
  return `fetching candles failed: ${(error as Error).message ?? String(error)}`;
}
