// Builds the Alpaca SDK's configurations: the one place that knows how to aim the SDK at another
// server (ALPACA_API_URL / ALPACA_DATA_URL, simulators in tests) and which of its resilience
// features we switch off.
//
// The SDK's raw API classes (not its `Alpaca` facade, which has no base-URL option) with an
// explicit `basePath`. No SDK retries: it never replays POST/DELETE anyway, and for reads our
// callers have their own policies (the run engine's sync, the market-data service's backoff),
// which must see a 429 rather than have it waited out inside a call. No client-side rate
// limiter either: order pacing is the account throttle's job.
import { marketData, trading } from '@alpacahq/alpaca-trade-api/rest';

export interface AlpacaCredentials {
  readonly keyId: string;
  readonly secret: string;
}

export interface AlpacaEndpoints {
  /** Trading API base, e.g. https://paper-api.alpaca.markets (the default). */
  readonly apiUrl?: string | undefined;
  /** Market data API base, e.g. https://data.alpaca.markets (the default). */
  readonly dataUrl?: string | undefined;
  readonly credentials?: AlpacaCredentials | null | undefined;
  /** Per-request timeout (ms); default 10 s (the SDK's is 30 s). */
  readonly timeoutMs?: number | undefined;
}

export const DEFAULT_ALPACA_TIMEOUT_MS = 10_000;

const base = (url: string | undefined, fallback: string): string => (url ?? fallback).replace(/\/+$/, '');

function shared(options: AlpacaEndpoints) {
  const creds = options.credentials;
  return {
    ...(creds ? { keyId: creds.keyId, secret: creds.secret } : {}),
    timeoutMs: options.timeoutMs ?? DEFAULT_ALPACA_TIMEOUT_MS,
  };
}

export function tradingConfiguration(options: AlpacaEndpoints): trading.Configuration {
  return new trading.Configuration({ basePath: base(options.apiUrl, trading.TRADING_PAPER_HOST), ...shared(options) });
}

export function marketDataConfiguration(options: AlpacaEndpoints): marketData.Configuration {
  return new marketData.Configuration({ basePath: base(options.dataUrl, marketData.MARKET_DATA_HOST), ...shared(options) });
}

/** `AAPL/USD` or `AAPL` -> `AAPL`; null for another quote currency (Alpaca trades US stocks in USD). */
export function alpacaTicker(symbol: string): string | null {
  const [ticker, quote, extra] = symbol.toUpperCase().split('/');
  if (!ticker || extra !== undefined || (quote !== undefined && quote !== 'USD')) return null;
  return ticker;
}

/** Secrets to keep out of messages. */
export const secretsOf = (credentials: AlpacaCredentials | null | undefined): string[] =>
  credentials ? [credentials.keyId, credentials.secret].filter((s) => s !== '') : [];
