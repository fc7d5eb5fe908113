// Exchanges whose API keys users can store. Ids are ccxt exchange ids.

export interface ExchangeInfo {
  readonly id: string;
  readonly name: string;
  /** OKX, KuCoin and Bitget sign requests with a passphrase chosen when the key was created. */
  readonly needsPassphrase: boolean;
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
  ].map((e) => Object.freeze(e)),
);

export const DEFAULT_EXCHANGE_ID = 'binance';

const normalise = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** By id or display name, ignoring case and punctuation ("Gate.io", "gateio", "GATE" all match). */
export function findExchange(idOrName: string): ExchangeInfo | undefined {
  const wanted = normalise(idOrName);
  if (!wanted) return undefined;
  return EXCHANGES.find((e) => e.id === wanted || normalise(e.name) === wanted);
}
