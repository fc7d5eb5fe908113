// Builds ccxt clients. The one place that knows how to aim ccxt at another API base (tests,
// self-hosted proxies) and which options keep Binance spot from calling its other hosts.
import ccxt, { type Exchange } from 'ccxt';

export interface CcxtClientOptions {
  /** ccxt exchange id, e.g. binance. */
  readonly exchange: string;
  /** Another API server for the exchange: scheme://host:port. Every API url is re-rooted there. */
  readonly apiUrl?: string | undefined;
  readonly credentials?: { readonly apiKey: string; readonly apiSecret: string; readonly passphrase?: string | undefined } | undefined;
  /** Per-request timeout (ms); ccxt's default is 10 s. */
  readonly timeoutMs?: number | undefined;
}

export class UnknownExchangeError extends Error {
  constructor(readonly exchange: string) {
    super(`unknown exchange '${exchange}' (use a ccxt id such as binance)`);
    this.name = 'UnknownExchangeError';
  }
}

export function isCcxtExchangeId(id: string): boolean {
  return typeof (ccxt as unknown as Record<string, unknown>)[id] === 'function' && (ccxt.exchanges as string[]).includes(id);
}

export function createCcxtClient(options: CcxtClientOptions): Exchange {
  if (!isCcxtExchangeId(options.exchange)) throw new UnknownExchangeError(options.exchange);
  const Factory = (ccxt as unknown as Record<string, new (config: object) => Exchange>)[options.exchange]!;
  const creds = options.credentials;
  // Spot markets only: without these options loadMarkets also calls Binance's futures hosts.
  const exchange = new Factory({
    enableRateLimit: true,
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    ...(creds ? { apiKey: creds.apiKey, secret: creds.apiSecret, ...(creds.passphrase ? { password: creds.passphrase } : {}) } : {}),
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false, adjustForTimeDifference: false },
  });
  if (options.apiUrl) rerootApi(exchange, options.apiUrl.replace(/\/+$/, ''));
  return exchange;
}

/** Rewrites every API url (nested maps included) to the same path on another base. */
function rerootApi(exchange: Exchange, base: string): void {
  const visit = (node: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === 'string' && /^https?:\/\//.test(value)) node[key] = base + new URL(value).pathname;
      else if (value && typeof value === 'object') visit(value as Record<string, unknown>);
    }
  };
  visit(exchange.urls.api as Record<string, unknown>);
}
