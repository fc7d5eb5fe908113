// An account with everything the customer dashboard shows: an active license, a self-hosted bot
// that pushed a rising equity history and trades (some with hostile text), an in-service live run
// and a paper run with fills and equity snapshots, exchange keys, and a released scanner scan.
import { ensureCustomerId } from '../../src/app/customers.ts';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import type { RankingItem } from '../../src/app/scanner.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import type { MigratedDatabase } from './database.ts';

export const DASHBOARD_NOW = '2026-03-10T12:00:00.000Z';
const NOW_MS = Date.parse(DASHBOARD_NOW);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Symbols that would break a naive CSV writer or run as a spreadsheet formula. */
export const COMMA_QUOTE_SYMBOL = 'ODD,"COIN"/USDT';
export const FORMULA_SYMBOL = '=HYPERLINK("https://evil.example","x")';
export const CREDENTIAL_LABEL = 'label-never-shown-7f3a';

export const SCAN_RANKINGS: RankingItem[] = [
  { symbol: 'SOL/USDT', composite_score: 81.25, daily_roi_pct: 0.92, cycles_per_day: 6.4, friendly_regime_pct: 71.5, max_drawdown_pct: 8.1, quote_volume_24h: 9.1e8 },
  { symbol: 'ETH/USDT', composite_score: 77.5, daily_roi_pct: 0.71, cycles_per_day: 5.1, friendly_regime_pct: 66, max_drawdown_pct: 6.3, quote_volume_24h: 1.4e9 },
  { symbol: 'BTC/USDT', composite_score: 70.04, daily_roi_pct: 0.48, cycles_per_day: 3.9, friendly_regime_pct: 62.25, max_drawdown_pct: 4.2, quote_volume_24h: 2.2e9 },
  { symbol: 'DOGE/USDT', composite_score: 55.8, daily_roi_pct: -0.12, cycles_per_day: 8.2, friendly_regime_pct: 40.1, max_drawdown_pct: 15.4, quote_volume_24h: 3.3e8 },
];

export interface SeededDashboard {
  readonly customerId: string;
  readonly userId: string;
  readonly licenseKey: string;
  readonly keyHash: string;
  /** Bot pushes oldest first: [received_at ms, equity]. */
  readonly botPushes: readonly (readonly [number, number])[];
  readonly liveRun: { readonly startedAt: number; readonly capital: number; readonly snapshots: readonly (readonly [number, number])[] };
  /** All trades, newest first, as the CSV must list them. */
  readonly trades: readonly {
    readonly executedAt: string;
    readonly source: string;
    readonly symbol: string;
    readonly side: string;
    readonly price: string;
    readonly qty: string;
    readonly fee: string;
    readonly realizedPnl: string;
  }[];
  /** A second account: no license, no bot, no runs. */
  readonly emptyCustomerId: string;
}

export async function seedDashboard(database: MigratedDatabase): Promise<SeededDashboard> {
  const { deps, db, clock } = database;
  clock.set(DASHBOARD_NOW);
  const at = (ms: number) => new Date(ms);

  const identity = await resolveIdentity(deps, { platform: 'telegram', externalId: 'dash-owner', username: 'owner' });
  const userId = identity.userId;
  const customerId = await ensureCustomerId(db, userId);
  const issued = await issueLicense(deps, { tier: 'pro', actor: { type: 'admin', id: 'seed' } });
  if (!issued.ok) throw new Error(issued.error.code);
  const activated = await activateLicense(deps, { key: issued.value.key, identity });
  if (!activated.ok) throw new Error(activated.error.code);
  const license = await db.license.findUniqueOrThrow({ where: { id: issued.value.license.id } });

  await db.exchangeCredential.create({
    data: { userId, exchange: 'binance', label: CREDENTIAL_LABEL, apiKeyLast4: 'Zq9X', hasPassphrase: false, ciphertext: Buffer.from('x'), nonce: Buffer.from('y'), keyVersion: 'v-test' },
  });

  // The bot: a push every 3 hours for 10 days, equity rising from $10,000 by $12.5 a push; the last one 2 minutes ago.
  const botPushes: [number, number][] = [];
  for (let i = 80; i >= 0; i--) botPushes.push([NOW_MS - 2 * 60_000 - i * 3 * HOUR, 10_000 + (80 - i) * 12.5]);
  await db.botStatusReport.createMany({
    data: botPushes.map(([ms, equity]) => ({
      userId,
      licenseId: license.id,
      receivedAt: at(ms),
      botVersion: '1.4.2',
      equityUsd: equity.toFixed(2),
      positions: [
        { symbol: 'BTC/USDT', qty: 0.05, avg_price: 60_000, capital_usd: 3_000 },
        { symbol: 'ETH/USDT', qty: '1.5', avg_price: '3100.5', capital_usd: 4_650.75, api_key: 'not-copied' },
      ],
      // The whole pushed body is kept; it carries the license key, which must never reach the dashboard.
      payload: { license_key: issued.value.key, equity_usd: equity, secret_note: 'not-copied' },
    })),
  });

  const botTrades = [
    { tradeId: 'b-1', symbol: 'BTC/USDT', side: 'buy', price: '60000', qty: '0.01', fee: '0.6', realizedPnl: null, at: NOW_MS - 3 * DAY },
    { tradeId: 'b-2', symbol: 'BTC/USDT', side: 'sell', price: '61200.5', qty: '0.01', fee: '0.612005', realizedPnl: '10.793', at: NOW_MS - 2 * DAY },
    { tradeId: 'b-3,"x"', symbol: COMMA_QUOTE_SYMBOL, side: 'buy', price: '0.25', qty: '400', fee: '0.1', realizedPnl: null, at: NOW_MS - 30 * HOUR },
    { tradeId: 'b-4', symbol: FORMULA_SYMBOL, side: 'sell', price: '0.24', qty: '400', fee: '0.096', realizedPnl: '-4.096', at: NOW_MS - 20 * HOUR },
    { tradeId: 'b-5', symbol: 'ETH/USDT', side: 'buy', price: '3100.5', qty: '1.5', fee: '4.65075', realizedPnl: '0', at: NOW_MS - 3 * HOUR },
  ];
  await db.botTrade.createMany({
    data: botTrades.map((t) => ({
      userId,
      licenseId: license.id,
      tradeId: t.tradeId,
      symbol: t.symbol,
      side: t.side,
      price: t.price,
      qty: t.qty,
      fee: t.fee,
      realizedPnl: t.realizedPnl,
      executedAt: at(t.at),
      receivedAt: at(t.at + 1_000),
    })),
  });

  // In the service: a live DCA run for 5 days with equity snapshots every 6 hours, and a paper grid run.
  const liveStart = NOW_MS - 5 * DAY;
  const live = await db.tradingRun.create({
    data: { userId, seq: 1, mode: 'live', strategy: 'dca', exchange: 'binance', symbol: 'ETH/USDT', timeframe: '5m', capitalUsd: '500.00', params: {}, credentialLabel: CREDENTIAL_LABEL, status: 'running', startedAt: at(liveStart) },
  });
  const snapshots: [number, number][] = [];
  for (let i = 1; i <= 19; i++) snapshots.push([liveStart + i * 6 * HOUR, 500 + i]);
  await db.runEquitySnapshot.createMany({
    data: snapshots.map(([ms, equity]) => ({ runId: live.id, at: at(ms), equity: equity.toFixed(2), realizedPnl: '3.2', price: '3100' })),
  });
  const paper = await db.tradingRun.create({
    data: { userId, seq: 2, mode: 'paper', strategy: 'grid', exchange: 'binance', symbol: 'SOL/USDT', timeframe: '5m', capitalUsd: '1000.00', params: {}, status: 'running', startedAt: at(NOW_MS - 2 * DAY) },
  });
  await db.runEquitySnapshot.create({ data: { runId: paper.id, at: at(NOW_MS - DAY), equity: '1004', realizedPnl: '0', price: '150' } });

  let order = 0;
  const fill = async (runId: string, f: { tradeId: string; side: 'buy' | 'sell'; price: string; qty: string; fee: string; realized: string; at: number }) => {
    const o = await db.runOrder.create({
      data: { runId, clientOrderId: `dash-${++order}`, tag: `${f.side}-${order}`, attempt: 1, side: f.side, type: 'limit', price: f.price, qty: f.qty, filledQty: f.qty, status: 'filled' },
    });
    await db.runFill.create({
      data: { runId, orderId: o.id, tradeId: f.tradeId, side: f.side, price: f.price, qty: f.qty, fee: f.fee, realizedPnl: f.realized, executedAt: at(f.at), delivered: true },
    });
  };
  await fill(live.id, { tradeId: 'l-1', side: 'buy', price: '3000', qty: '0.1', fee: '0.3', realized: '0', at: NOW_MS - 4 * DAY });
  await fill(live.id, { tradeId: 'l-2', side: 'sell', price: '3035', qty: '0.1', fee: '0.3035', realized: '3.1965', at: NOW_MS - 26 * HOUR });
  await fill(paper.id, { tradeId: 'p-1', side: 'buy', price: '150', qty: '2', fee: '0.3', realized: '0', at: NOW_MS - 10 * HOUR });

  // A scan old enough to be released to every customer (the stagger window is 3 hours).
  await db.scannerScan.create({
    data: { takenAt: at(NOW_MS - 10 * HOUR), nextScanAt: at(NOW_MS + 2 * HOUR), exchange: 'binance', timeframe: '5m', lookbackDays: 14, rankings: SCAN_RANKINGS as never, failures: [], candles: 4032, durationMs: 5_000 },
  });

  const empty = await resolveIdentity(deps, { platform: 'telegram', externalId: 'dash-empty' });
  const emptyCustomerId = await ensureCustomerId(db, empty.userId);

  const iso = (ms: number) => new Date(ms).toISOString();
  const trades = [
    ...botTrades.map((t) => ({ executedAt: iso(t.at), source: 'bot', symbol: t.symbol, side: t.side, price: t.price, qty: t.qty, fee: t.fee, realizedPnl: t.realizedPnl ?? '' })),
    { executedAt: iso(NOW_MS - 4 * DAY), source: 'live run #1', symbol: 'ETH/USDT', side: 'buy', price: '3000', qty: '0.1', fee: '0.3', realizedPnl: '0' },
    { executedAt: iso(NOW_MS - 26 * HOUR), source: 'live run #1', symbol: 'ETH/USDT', side: 'sell', price: '3035', qty: '0.1', fee: '0.3035', realizedPnl: '3.1965' },
    { executedAt: iso(NOW_MS - 10 * HOUR), source: 'paper run #2', symbol: 'SOL/USDT', side: 'buy', price: '150', qty: '2', fee: '0.3', realizedPnl: '0' },
  ].sort((a, b) => Date.parse(b.executedAt) - Date.parse(a.executedAt));

  return {
    customerId,
    userId,
    licenseKey: issued.value.key,
    keyHash: license.keyHash,
    botPushes,
    liveRun: { startedAt: liveStart, capital: 500, snapshots },
    trades,
    emptyCustomerId,
  };
}

/** A strict RFC 4180 reader (CRLF line ends), written independently of the page's. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' && field === '') {
      // A quoted field runs to the first quote that is not doubled.
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw new Error('unterminated quoted field');
        if (text.startsWith('""', j)) {
          field += '"';
          j += 2;
        } else if (text[j] === '"') {
          break;
        } else {
          field += text[j++];
        }
      }
      i = j + 1;
      if (i < text.length && text[i] !== ',' && text[i] !== '\r') throw new Error(`text after a closing quote at ${i}`);
    } else if (c === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (text.startsWith('\r\n', i)) {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else if (c === '\r' || c === '\n' || c === '"') {
      throw new Error(`${JSON.stringify(c)} outside a quoted field at ${i}`);
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || row.length > 0) throw new Error('the last line does not end in CRLF');
  return rows;
}
