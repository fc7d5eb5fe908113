// Public candles from one exchange through ccxt `fetchOHLCV` (no credentials). Failures leave as
// VenueError translated as reads: temporary, rate_limited / banned, or rejected (bad_symbol).
import type { Exchange } from 'ccxt';
import type { CandleView } from '../../market-data/candles.ts';
import type { CandleSource } from '../../market-data/feed.ts';
import { createCcxtClient } from './client.ts';
import { recordHttpFailures, translateCcxtError } from './translate-error.ts';

export interface CcxtCandleSourceOptions {
  /** ccxt exchange id, e.g. binance. */
  readonly exchange: string;
  /** Another API server for the exchange (tests, proxies): scheme://host:port. */
  readonly apiUrl?: string | undefined;
  /** Per-request timeout (ms); ccxt's default is 10 s. */
  readonly timeoutMs?: number | undefined;
  /** How often polling makes sense (ms), when the caller knows better than the timeframe. */
  readonly pollHintMs?: number | undefined;
}

export class CcxtCandleSource implements CandleSource {
  readonly exchange: string;
  readonly pollHintMs?: number;
  readonly #client: Exchange;

  constructor(options: CcxtCandleSourceOptions) {
    this.exchange = options.exchange;
    this.#client = createCcxtClient({ exchange: options.exchange, apiUrl: options.apiUrl, timeoutMs: options.timeoutMs });
    recordHttpFailures(this.#client);
    if (options.pollHintMs !== undefined) this.pollHintMs = options.pollHintMs;
  }

  async fetchCandles(symbol: string, timeframe: string, since: number | undefined, limit: number): Promise<CandleView[]> {
    let rows: (number | undefined)[][];
    try {
      rows = await this.#client.fetchOHLCV(symbol, timeframe, since, limit);
    } catch (error) {
      throw translateCcxtError(error, { exchangeId: this.exchange, operation: 'read' });
    }
    const out: CandleView[] = [];
    for (const [time, open, high, low, close, volume] of rows) {
      if (time === undefined || open === undefined || high === undefined || low === undefined || close === undefined) continue;
      out.push({ time, open, high, low, close, volume: volume ?? 0 });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => undefined);
  }
}
