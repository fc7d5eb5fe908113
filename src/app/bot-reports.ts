// What self-hosted bots push to the central server: status reports (equity, open positions) and
// completed trades (POST /v1/data/{customer_id}/status | /trade). Bodies are validated here, so a
// bot developer gets every problem with its field name at once. Money and quantities arrive as
// JSON numbers or decimal strings and are stored as decimal text: no arithmetic touches them.
import { z } from 'zod';
import { read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { findCustomer } from './customers.ts';
import type { AppDeps } from './deps.ts';
import type { ActiveBotLicense } from './machine-activation.ts';

/** A bot clock this far ahead is wrong, not early. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;
export const MAX_OPEN_POSITIONS = 200;

/** Longest first, so ETHBUSD is ETH/BUSD and not ETHB/USD. */
export const KNOWN_QUOTES = ['FDUSD', 'USDT', 'USDC', 'BUSD', 'TUSD', 'DAI', 'USD', 'EUR', 'BTC', 'ETH', 'BNB'] as const;
const ASSET = /^[A-Z0-9]{1,20}$/;

/**
 * `BTC/USDT` or the exchange-native `BTCUSDT` (any case) as `BTC/USDT`; null when it is neither.
 * Without a slash the quote must be one of KNOWN_QUOTES.
 */
export function normalizeBotSymbol(input: string): string | null {
  const text = input.trim().toUpperCase();
  if (text.includes('/')) {
    const [base, quote, ...rest] = text.split('/');
    return rest.length === 0 && ASSET.test(base!) && ASSET.test(quote!) ? `${base}/${quote}` : null;
  }
  for (const quote of KNOWN_QUOTES) {
    if (text.endsWith(quote)) {
      const base = text.slice(0, -quote.length);
      return ASSET.test(base) ? `${base}/${quote}` : null;
    }
  }
  return null;
}

const DECIMAL_TEXT = /^-?\d+(?:\.\d+)?$/;

/** A number as plain decimal text (String(1e-7) is "1e-7"). Only finite numbers get here. */
function plainDecimal(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(12).replace(/\.?0+$/, '') || '0';
}

/**
 * A decimal amount as text: a JSON number or a decimal string, at most `integerDigits` digits
 * before the point (the column's size), negative only when `signed`.
 */
function decimal(options: { integerDigits: number; signed?: boolean; positive?: boolean }) {
  return z
    .union([z.number().refine(Number.isFinite, 'must be a finite number'), z.string()], 'must be a number or a decimal string like "12.5"')
    .transform((value, ctx) => {
      const text = typeof value === 'number' ? plainDecimal(value) : value.trim();
      if (!DECIMAL_TEXT.test(text)) {
        ctx.addIssue({ code: 'custom', message: 'must be a decimal number like 12.5' });
        return z.NEVER;
      }
      const negative = text.startsWith('-');
      const digits = text.replace(/^-/, '').split('.')[0]!.replace(/^0+(?=\d)/, '');
      const zero = /^-?0+(?:\.0+)?$/.test(text);
      if (digits.length > options.integerDigits) ctx.addIssue({ code: 'custom', message: `must be below 1e${options.integerDigits}` });
      else if (negative && !zero && !options.signed) ctx.addIssue({ code: 'custom', message: 'must not be negative' });
      else if (options.positive && (zero || negative)) ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
      else return negative && zero ? text.slice(1) : text;
      return z.NEVER;
    });
}

// Column sizes: equity DECIMAL(18,2); prices, quantities, fees, P&L DECIMAL(30,12).
const usdAmount = () => decimal({ integerDigits: 16 });
const amount = (o: { signed?: boolean; positive?: boolean } = {}) => decimal({ integerDigits: 18, ...o });

const symbol = () =>
  z.string('must be a string').transform((value, ctx) => {
    const pair = normalizeBotSymbol(value);
    if (pair) return pair;
    ctx.addIssue({ code: 'custom', message: `must be a pair like BTC/USDT or BTCUSDT (quotes without a slash: ${KNOWN_QUOTES.join(', ')})` });
    return z.NEVER;
  });

const timestamp = () =>
  z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 time with a zone, like 2026-02-16T00:07:11Z' })
    .transform((text) => new Date(text));

export const statusReportSchema = z.strictObject(
  {
    bot_version: z.string('must be a string').regex(/^[0-9A-Za-z.+-]{1,64}$/, 'must be a version like 2.4.1'),
    equity_usd: usdAmount(),
    /** The bot's clock when it made the report. */
    timestamp: timestamp().optional(),
    uptime_s: z.number('must be a number').int('must be a whole number').min(0, 'must be >= 0').optional(),
    open_positions: z
      .array(
        z.strictObject({
          symbol: symbol(),
          /** Signed: negative for a short. */
          qty: amount({ signed: true }),
          avg_price: amount(),
          capital_usd: amount(),
        }),
        'must be a list (empty when flat)',
      )
      .max(MAX_OPEN_POSITIONS, `must have at most ${MAX_OPEN_POSITIONS} positions`),
    active_deals: z.number('must be a number').int('must be a whole number').min(0, 'must be >= 0').optional(),
  },
  'must be a JSON object',
);

export const tradeReportSchema = z.strictObject(
  {
    /** The bot's own id of the trade: a repeated push with the same id is stored once. */
    trade_id: z.string('must be a string').regex(/^[\x21-\x7e]{1,128}$/, 'must be 1 to 128 printable ASCII characters without spaces'),
    symbol: symbol(),
    side: z.enum(['buy', 'sell'], 'must be "buy" or "sell"'),
    price: amount({ positive: true }),
    qty: amount({ positive: true }),
    /** In the quote currency; negative for a rebate. */
    fee: amount({ signed: true }).optional(),
    realized_pnl_usd: amount({ signed: true }).optional(),
    executed_at: timestamp(),
  },
  'must be a JSON object',
);

export type StatusReport = z.output<typeof statusReportSchema>;
export type TradeReport = z.output<typeof tradeReportSchema>;

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** Parses a body against a schema: every problem with its field path (`open_positions.0.qty`). */
const valueAt = (body: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), body);

function parseBody<S extends z.ZodType>(schema: S, body: unknown, now: Date, timeFields: readonly string[]): Result<z.output<S>> {
  const parsed = schema.safeParse(body ?? null);
  const problems: FieldProblem[] = parsed.success
    ? []
    : parsed.error.issues.flatMap((issue) => {
        const at = issue.path.map(String);
        if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: [...at, key].join('.'), message: 'is not a known field' }));
        const missing = at.length > 0 && valueAt(body, at) === undefined;
        return [{ field: at.join('.') || '(body)', message: missing ? 'is required' : issue.message }];
      });
  if (parsed.success) {
    for (const field of timeFields) {
      const at = (parsed.data as Record<string, unknown>)[field];
      if (at instanceof Date && at.getTime() > now.getTime() + MAX_CLOCK_AHEAD_MS) {
        problems.push({ field, message: 'is more than 5 minutes in the future: check the bot machine clock' });
      }
    }
  }
  if (problems.length > 0) {
    const message = `The body has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`;
    return err(appError('invalid_input', { problems }, message));
  }
  return ok(parsed.data as z.output<S>);
}

/** A license posts only under its own customer id; another account's → not_your_customer_id. */
export async function checkCustomerPath(deps: AppDeps, license: ActiveBotLicense, customerId: string): Promise<Result<void>> {
  if (customerId === license.customerId) return ok(undefined);
  return (await findCustomer(deps, customerId)) ? err(appError('not_your_customer_id')) : err(appError('customer_not_found'));
}

export interface StoredStatus {
  readonly receivedAt: Date;
}

/** POST /v1/data/{customer_id}/status: one row per report, kept as history. */
export async function recordStatusReport(
  deps: AppDeps,
  input: { license: ActiveBotLicense; customerId: string; body: unknown },
): Promise<Result<StoredStatus>> {
  const owned = await checkCustomerPath(deps, input.license, input.customerId);
  if (!owned.ok) return owned;
  const now = deps.clock.now();
  const parsed = parseBody(statusReportSchema, input.body, now, ['timestamp']);
  if (!parsed.ok) return parsed;
  const report = parsed.value;
  const payload = { ...report, ...(report.timestamp ? { timestamp: report.timestamp.toISOString() } : {}) };
  await read(() =>
    deps.db.botStatusReport.create({
      data: {
        userId: input.license.userId,
        licenseId: input.license.licenseId,
        receivedAt: now,
        botVersion: report.bot_version,
        equityUsd: report.equity_usd,
        positions: report.open_positions,
        payload,
      },
    }),
  );
  return ok({ receivedAt: now });
}

export interface StoredTrade {
  readonly tradeId: string;
  /** True when this trade id had been pushed before: nothing was stored. */
  readonly duplicate: boolean;
}

/** POST /v1/data/{customer_id}/trade: idempotent on the bot's trade id. */
export async function recordBotTrade(
  deps: AppDeps,
  input: { license: ActiveBotLicense; customerId: string; body: unknown },
): Promise<Result<StoredTrade>> {
  const owned = await checkCustomerPath(deps, input.license, input.customerId);
  if (!owned.ok) return owned;
  const now = deps.clock.now();
  const parsed = parseBody(tradeReportSchema, input.body, now, ['executed_at']);
  if (!parsed.ok) return parsed;
  const trade = parsed.value;
  // ON CONFLICT DO NOTHING on (user_id, trade_id): a retried push stores nothing.
  const { count } = await read(() =>
    deps.db.botTrade.createMany({
      data: [
        {
          userId: input.license.userId,
          licenseId: input.license.licenseId,
          tradeId: trade.trade_id,
          symbol: trade.symbol,
          side: trade.side,
          price: trade.price,
          qty: trade.qty,
          fee: trade.fee ?? '0',
          realizedPnl: trade.realized_pnl_usd ?? null,
          executedAt: trade.executed_at,
          receivedAt: now,
        },
      ],
      skipDuplicates: true,
    }),
  );
  return ok({ tradeId: trade.trade_id, duplicate: count === 0 });
}
