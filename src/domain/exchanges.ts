// Exchanges whose API keys users can store. Ids are ccxt exchange ids, except Alpaca (US stocks,
// through Alpaca's own SDK).

export interface ExchangeInfo {
  readonly id: string;
  readonly name: string;
  /** OKX, KuCoin and Bitget sign requests with a passphrase chosen when the key was created. */
  readonly needsPassphrase: boolean;
  /** Crypto trades around the clock; equities only in market sessions (market hours apply). */
  readonly assetClass: 'crypto' | 'equity';
}

export const EXCHANGES: readonly ExchangeInfo[] = Object.freeze(
  [
    { id: 'binance', name: 'Binance', needsPassphrase: false },
    { id: 'bybit', name: 'Bybit', needsPassphrase: false },
    { id: 'okx', name: 'OKX', needsPassphrase: true },
    { id: 'kucoin', name: 'KuCoin', needsPassphrase: true },
    { id: 'bitget', name: 'Bitget', needsPassphrase: true },
    { id: 'kraken', name: 'Kraken', needsPassphrase: false },
    { id: 'coinbase', name: 'Coinbase', needsPassphrase: false },
    { id: 'gate', name: 'Gate.io', needsPassphrase: false },
    { id: 'mexc', name: 'MEXC', needsPassphrase: false },
    { id: 'alpaca', name: 'Alpaca (stocks)', needsPassphrase: false, assetClass: 'equity' as const },
  ].map((e) => Object.freeze({ assetClass: 'crypto' as const, ...e })),
);

export const DEFAULT_EXCHANGE_ID = 'binance';

const normalise = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Whether runs on this exchange trade equities (market hours, the Alpaca venue). */
export const isEquityExchange = (id: string): boolean => EXCHANGES.some((e) => e.id === id && e.assetClass === 'equity');

/** By id or display name, ignoring case and punctuation ("Gate.io", "gateio", "GATE" all match). */
export function findExchange(idOrName: string): ExchangeInfo | undefined {
  const wanted = normalise(idOrName);
  if (!wanted) return undefined;
  return EXCHANGES.find((e) => e.id === wanted || normalise(e.name) === wanted);
}
