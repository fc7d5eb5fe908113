// What a newcomer reads on the terminal once the service is up with the console chat: what is
// running, what to type to get from nothing to a paper run, and how to trade on replayed candles
// when this machine cannot reach the exchange. The console user is the operator (an admin), so
// the license comes from /admin license create: no Stripe, no second account.
import { basename } from 'node:path';

export interface StartupFacts {
  /** From openDatabase: "embedded PostgreSQL in … on 127.0.0.1:…" or the external URL without its password. */
  readonly database: string;
  readonly httpAddress: string;
  readonly marketData:
    | { readonly kind: 'exchange'; readonly exchange: string }
    | { readonly kind: 'replay'; readonly source: { readonly dir: string } | { readonly file: string }; readonly speed: number; readonly symbols: readonly string[] };
}

/** The operator's way out when the exchange is out of reach (generic path: their checkout may differ). */
export const REPLAY_HINT =
  'No internet on this machine? Replay real candles instead: restart with MARKET_DATA=replay:<path to a candle CSV>[@speed], e.g. MARKET_DATA=replay:../shared/data/candles/BTC_USDT-5m.csv@60 npm start';

export function startupBanner(facts: StartupFacts): string {
  const market = facts.marketData;
  const symbol = market.kind === 'replay' ? (market.symbols.includes('BTC/USDT') ? 'BTC/USDT' : (market.symbols[0] ?? 'BTC/USDT')) : 'BTC/USDT';
  const marketLine =
    market.kind === 'exchange'
      ? `live public prices from ${market.exchange} (no API keys needed for paper runs)`
      : `replay of ${'file' in market.source ? basename(market.source.file) : `the candles in ${market.source.dir}`} at ${market.speed}x (${market.symbols.join(', ')})`;
  return [
    '',
    '━━ AIT trading bot is running ━━',
    `  Database:     ${facts.database}`,
    `  HTTP:         ${facts.httpAddress} (try ${facts.httpAddress}/health)`,
    `  Market data:  ${marketLine}`,
    '  Console chat: this terminal; you are the local operator (admin).',
    '',
    'Type, one line at a time:',
    '  /start                              what the bot does',
    '  /admin license create starter       issue yourself a license (shown once)',
    '  /activate <the key it shows>        bind it to this console account',
    `  /paper dca ${symbol.padEnd(24)} a paper run: simulated orders, real prices`,
    '  /status  ·  /stop 1  ·  /help       watch it, stop it, everything else',
    '',
    market.kind === 'exchange' ? REPLAY_HINT : 'Replayed candles run faster than real time; a run stops for stale data when the file ends.',
    'Ctrl-C stops the service.',
    '',
  ].join('\n');
}

/** Printed when the start-up market check finds the exchange out of reach (`details` of exchange_unreachable). */
export function unreachableNotice(exchangeName: string, reason: string): string {
  return `⚠ ${exchangeName} could not be reached from this machine (${reason}): paper runs on live prices cannot start until it can. Offline, use MARKET_DATA=replay:<candle CSV>[@speed] (see above).\n`;
}
