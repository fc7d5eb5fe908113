// Stock candles from Alpaca's market data API (`/v2/stocks/{symbol}/bars`) through the SDK: the
// CandleSource of equity paper/live runs (via the shared MarketDataService) and of the
// multi-asset router's index proxy (daily SPY bars).
//
// Alpaca's stock data needs an API key (any account's; the free plan serves the IEX feed), so
// the service passes its own (ALPACA_KEY_ID / ALPACA_SECRET_KEY); without one, requests go out
// unauthenticated, which only a simulator or a proxy that adds the key will answer.
//
// Bars exist only where trades happened: none at night or at weekends, and few outside the
// regular session on IEX. The newest `limit` bars are therefore asked for newest-first over a
// window generous enough to span those gaps, then returned oldest first.
import { marketData } from '@alpacahq/alpaca-trade-api/rest';
import type { Clock } from '../../kernel/clock.ts';
import type { CandleView } from '../../market-data/candles.ts';
import type { CandleSource } from '../../market-data/feed.ts';
import { VenueError } from '../venue.ts';
import { ALPACA_EXCHANGE_ID, translateAlpacaError } from './alpaca-errors.ts';
import { alpacaTicker, marketDataConfiguration, secretsOf, type AlpacaEndpoints } from './client.ts';

export interface AlpacaCandleSourceOptions extends Omit<AlpacaEndpoints, 'apiUrl'> {
  /** "now" for windows without a start (time is injected). */
  readonly clock: Clock;
  /** `iex` (free, the default) or `sip` (paid plans). */
  readonly feed?: 'iex' | 'sip' | undefined;
  /** Corporate-action adjustment: `raw` (the default: the prices orders trade at), `split`, `dividend` or `all`. */
  readonly adjustment?: 'raw' | 'split' | 'dividend' | 'all' | undefined;
  /** How often polling makes sense (ms), when the caller knows better than the timeframe. */
  readonly pollHintMs?: number | undefined;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
/** Calendar time per bar of trading time, generously: nights, weekends and holidays have no bars. */
const GAP_FACTOR = 3;
const HOLIDAY_SLACK_MS = 7 * 86_400_000;
/** Alpaca's largest page of bars. */
const MAX_LIMIT = 10_000;

/** Our timeframe (1m, 15m, 1h, 1d, 1w) as Alpaca's (1Min, 15Min, 1Hour, 1Day, 1Week); null when Alpaca has none. */
export function alpacaTimeframe(timeframe: string): { readonly alpaca: string; readonly ms: number } | null {
  const match = /^([1-9]\d*)([mhdw])$/.exec(timeframe);
  if (!match) return null;
  const n = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  const ms = n * UNIT_MS[unit];
  if (unit === 'm' && n <= 59) return { alpaca: `${n}Min`, ms };
  if (unit === 'h' && n <= 23) return { alpaca: `${n}Hour`, ms };
  if (unit === 'd' && n === 1) return { alpaca: '1Day', ms };
  if (unit === 'w' && n === 1) return { alpaca: '1Week', ms };
  return null;
}

export class AlpacaCandleSource implements CandleSource {
  readonly exchange = ALPACA_EXCHANGE_ID;
  readonly pollHintMs?: number;
  readonly #stocks: marketData.StockApi;
  readonly #clock: Clock;
  readonly #feed: 'iex' | 'sip';
  readonly #adjustment: string;
  readonly #secrets: string[];

  constructor(options: AlpacaCandleSourceOptions) {
    this.#stocks = new marketData.StockApi(marketDataConfiguration(options));
    this.#clock = options.clock;
    this.#feed = options.feed ?? 'iex';
    this.#adjustment = options.adjustment ?? 'raw';
    this.#secrets = secretsOf(options.credentials);
    if (options.pollHintMs !== undefined) this.pollHintMs = options.pollHintMs;
  }

  /** Bars with open time >= since (or the newest `limit`), oldest first. `symbol` is AAPL/USD or AAPL. */
  async fetchCandles(symbol: string, timeframe: string, since: number | undefined, limit: number): Promise<CandleView[]> {
    const ticker = alpacaTicker(symbol);
    if (!ticker) throw new VenueError('rejected', `${this.exchange} has no market ${symbol} (US stocks, quoted in USD, e.g. AAPL/USD)`, { exchangeId: this.exchange, reason: 'bad_symbol' });
    const tf = alpacaTimeframe(timeframe);
    if (!tf) throw new VenueError('rejected', `${this.exchange} has no ${timeframe} bars: use 1m to 59m, 1h to 23h, 1d or 1w`, { exchangeId: this.exchange, reason: 'other' });
    const count = Math.max(1, Math.min(MAX_LIMIT, Math.floor(limit)));
    const newest = since === undefined;
    const start = newest ? this.#clock.now().getTime() - tf.ms * count * GAP_FACTOR - HOLIDAY_SLACK_MS : since;
    let response: marketData.StockBarsRespSingle;
    try {
      response = await this.#stocks.stockBarSingle({
        symbol: ticker,
        timeframe: tf.alpaca,
        start: new Date(Math.max(0, start)),
        limit: count,
        feed: this.#feed,
        adjustment: this.#adjustment,
        sort: newest ? 'desc' : 'asc',
      });
    } catch (error) {
      throw translateAlpacaError(error, { operation: 'read', redact: this.#secrets });
    }
    const out: CandleView[] = [];
    for (const bar of response.bars ?? []) {
      const time = bar.t instanceof Date ? bar.t.getTime() : Date.parse(String(bar.t));
      if (!Number.isFinite(time) || !(bar.c > 0)) continue;
      out.push({ time, open: bar.o, high: bar.h, low: bar.l, close: bar.c, volume: bar.v ?? 0 });
    }
    return out.sort((a, b) => a.time - b.time);
  }

  async close(): Promise<void> {
    // Plain fetch requests: nothing to release.
  }
}
