// The customer dashboard's data files (GET /dashboard/{customer_id}/data/*): read-only views of
// one account for a page without login. The customer id in the URL is the capability, so these
// documents hold only what the account's owner may see and nothing that works as a credential:
// no license key (not even masked), no exchange key labels, no internal user id.
import { read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { findCustomer, type Customer } from './customers.ts';
import type { AppDeps } from './deps.ts';
import { bucketFor, csvField, pnlReport, recentTrades, type EquityPoint } from './pnl.ts';
import { listRuns, type RunMode } from './runs.ts';
import { recommendationFor, recommendationJson, type ScannerPolicy } from './scanner.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** A bot pushes its status every 2 minutes; five missed pushes make it stale. */
export const BOT_STALE_AFTER_MS = 10 * MINUTE_MS;
/** The equity chart covers this much history. */
export const EQUITY_WINDOW_MS = 30 * DAY_MS;
/** More points than this would not be visible on a chart anyway. */
export const MAX_EQUITY_POINTS = 500;
export const DASHBOARD_MAX_TRADES = 1_000;
const MAX_OPEN_RUNS = 100;

const cents = (n: number): number => Math.round(n * 100) / 100;

async function customerOrNotFound(deps: AppDeps, customerId: string): Promise<Result<Customer>> {
  const customer = await findCustomer(deps, customerId);
  return customer ? ok(customer) : err(appError('customer_not_found'));
}

// ---------------------------------------------------------------------------------------------
// status.json
// ---------------------------------------------------------------------------------------------

export type LicenseStatusView = 'active' | 'issued' | 'revoked' | 'none';

export interface BotPositionJson {
  readonly symbol: string;
  readonly qty: number;
  readonly avg_price: number | null;
  readonly capital_usd: number | null;
}

export interface DashboardStatusJson {
  readonly account: {
    readonly customer_id: string;
    /** Tier of the best active license; null without one. */
    readonly tier: string | null;
    readonly tier_name: string | null;
    /** active when any license is active, else the newest license's status, else none. */
    readonly license_status: LicenseStatusView;
  };
  readonly generated_at: string;
  /** The self-hosted bot's latest status push; null before the first. */
  readonly bot: {
    readonly version: string;
    readonly equity_usd: number;
    readonly open_positions: readonly BotPositionJson[];
    readonly received_at: string;
    readonly stale: boolean;
  } | null;
  /** In-service runs that are running or stopping, newest first. */
  readonly runs: readonly {
    readonly seq: number;
    readonly strategy: string;
    readonly symbol: string;
    readonly mode: RunMode;
    readonly capital_usd: number;
    readonly status: string;
    readonly realized_pnl_usd: number;
    readonly started_at: string;
  }[];
  readonly equity: {
    /**
     * real: the self-hosted bot's equity plus the live runs' equity; paper: the paper runs'
     * equity, shown only when there is no real-money history; none: no history at all.
     */
    readonly basis: 'real' | 'paper' | 'none';
    readonly bucket_ms: number;
    /** [ms, equity in $], oldest first, at most MAX_EQUITY_POINTS. */
    readonly series: readonly EquityPoint[];
  };
}

export async function dashboardStatus(deps: AppDeps, customerId: string): Promise<Result<DashboardStatusJson>> {
  const found = await customerOrNotFound(deps, customerId);
  if (!found.ok) return found;
  const { userId } = found.value;
  const now = deps.clock.now();

  const [licenses, latestPush, runs, equity] = await Promise.all([
    read(() =>
      deps.db.license.findMany({
        where: { userId },
        // Only what the account card shows: never the key hash or its last characters.
        select: { status: true, createdAt: true, tier: { select: { id: true, name: true, rank: true } } },
      }),
    ),
    read(() =>
      deps.db.botStatusReport.findFirst({
        where: { userId, receivedAt: { lte: now } },
        orderBy: { receivedAt: 'desc' },
        select: { receivedAt: true, botVersion: true, equityUsd: true, positions: true },
      }),
    ),
    openRuns(deps, userId),
    equitySeries(deps, userId, now),
  ]);

  const active = licenses.filter((l) => l.status === 'active').sort((a, b) => b.tier.rank - a.tier.rank);
  const newest = [...licenses].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
  const best = active[0];

  return ok({
    account: {
      customer_id: found.value.customerId,
      tier: best?.tier.id ?? null,
      tier_name: best?.tier.name ?? null,
      license_status: best ? 'active' : (newest?.status ?? 'none'),
    },
    generated_at: now.toISOString(),
    bot: latestPush
      ? {
          version: latestPush.botVersion,
          equity_usd: cents(Number(latestPush.equityUsd)),
          open_positions: positionsOf(latestPush.positions),
          received_at: latestPush.receivedAt.toISOString(),
          stale: now.getTime() - latestPush.receivedAt.getTime() > BOT_STALE_AFTER_MS,
        }
      : null,
    runs,
    equity,
  });
}

/** The stored push is the bot's own JSON: copy the known fields only, so nothing else can ride along. */
function positionsOf(stored: unknown): BotPositionJson[] {
  if (!Array.isArray(stored)) return [];
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null);
  const positions: BotPositionJson[] = [];
  for (const item of stored) {
    if (!item || typeof item !== 'object') continue;
    const p = item as Record<string, unknown>;
    const qty = num(p.qty);
    if (typeof p.symbol !== 'string' || qty === null || qty === 0) continue;
    const capital = num(p.capital_usd);
    positions.push({ symbol: p.symbol, qty, avg_price: num(p.avg_price), capital_usd: capital === null ? null : cents(capital) });
  }
  return positions;
}

async function openRuns(deps: AppDeps, userId: string): Promise<DashboardStatusJson['runs']> {
  const runs = await listRuns(deps, userId, { activeOnly: true, limit: MAX_OPEN_RUNS });
  if (runs.length === 0) return [];
  const realized = await read(() =>
    deps.db.runFill.groupBy({ by: ['runId'], where: { runId: { in: runs.map((r) => r.id) } }, _sum: { realizedPnl: true } }),
  );
  const realizedOf = new Map(realized.map((r) => [r.runId, Number(r._sum.realizedPnl ?? 0)]));
  return runs.map((run) => ({
    seq: run.seq,
    strategy: run.strategy,
    symbol: run.symbol,
    mode: run.mode,
    capital_usd: cents(run.capitalUsd),
    status: run.status,
    realized_pnl_usd: cents(realizedOf.get(run.id) ?? 0),
    started_at: run.startedAt.toISOString(),
  }));
}

/**
 * The last 30 days of equity. The self-hosted bot and the in-service live runs trade separate
 * capital, so "real" equity is their sum (each carried forward between its own points). Paper
 * money is never added to real money; it is charted only for accounts that have nothing else.
 */
async function equitySeries(deps: AppDeps, userId: string, now: Date): Promise<DashboardStatusJson['equity']> {
  const since = new Date(now.getTime() - EQUITY_WINDOW_MS);
  // The same buckets as the /pnl curve of a month, so both series share their time stamps.
  const bucketMs = bucketFor(EQUITY_WINDOW_MS);
  const [bot, report] = await Promise.all([botEquity(deps, userId, since, now, bucketMs), pnlReport(deps, userId, { period: 'month', now })]);
  const modes = report.ok ? report.value.modes : [];
  const runCurve = async (mode: RunMode) => {
    const pnl = modes.find((m) => m.mode === mode);
    return pnl ? fromFirstRunStart(pnl.equity, await firstRunStart(deps, userId, mode, since, now)) : [];
  };

  const live = await runCurve('live');
  if (bot.length > 0 || live.length > 0) return { basis: 'real', bucket_ms: bucketMs, series: thin(sumCarried([bot, live])) };
  const paper = await runCurve('paper');
  if (paper.length > 0) return { basis: 'paper', bucket_ms: bucketMs, series: thin(sumCarried([paper])) };
  return { basis: 'none', bucket_ms: bucketMs, series: [] };
}

/** The bot's last push per bucket (stamped at the bucket's end, like the /pnl curve), after the push it had at `since`. */
async function botEquity(deps: AppDeps, userId: string, since: Date, until: Date, bucketMs: number): Promise<EquityPoint[]> {
  const [carried, buckets] = await Promise.all([
    read(() =>
      deps.db.botStatusReport.findFirst({ where: { userId, receivedAt: { lte: since } }, orderBy: { receivedAt: 'desc' }, select: { equityUsd: true } }),
    ),
    read(() =>
      deps.db.$queryRaw<{ bucket: number; equity: string }[]>`
        SELECT DISTINCT ON (bucket) bucket, equity_usd::text AS equity
        FROM (
          SELECT received_at, equity_usd,
                 (floor(extract(epoch FROM received_at) * 1000 / ${bucketMs}::bigint) * ${bucketMs}::bigint)::float8 AS bucket
          FROM bot_status_reports
          WHERE user_id = ${userId}::uuid AND received_at > ${since} AND received_at <= ${until}
        ) s
        ORDER BY bucket, received_at DESC`,
    ),
  ]);
  const points: EquityPoint[] = carried ? [[since.getTime(), Number(carried.equityUsd)]] : [];
  for (const row of buckets) points.push([Math.min(until.getTime(), Number(row.bucket) + bucketMs), Number(row.equity)]);
  return points;
}

async function firstRunStart(deps: AppDeps, userId: string, mode: RunMode, since: Date, until: Date): Promise<number> {
  const first = await read(() =>
    deps.db.tradingRun.findFirst({
      where: { userId, mode, startedAt: { lte: until }, OR: [{ stoppedAt: null }, { stoppedAt: { gte: since } }] },
      orderBy: { startedAt: 'asc' },
      select: { startedAt: true },
    }),
  );
  return first ? Math.max(first.startedAt.getTime(), since.getTime()) : until.getTime();
}

/**
 * The /pnl curve starts at the period's start with the runs' capital even before they existed;
 * a chart of the account would read that as money it had a month ago. Start at the first run.
 */
function fromFirstRunStart(points: readonly EquityPoint[], startMs: number): EquityPoint[] {
  const before = points.filter((p) => p[0] < startMs);
  const after = points.filter((p) => p[0] >= startMs);
  const last = before[before.length - 1];
  if (last && after[0]?.[0] !== startMs) after.unshift([startMs, last[1]]);
  return after;
}

/** Σ of the curves at every time any of them has a point, each carried forward (0 before its first). */
function sumCarried(curves: readonly (readonly EquityPoint[])[]): EquityPoint[] {
  const times = [...new Set(curves.flatMap((c) => c.map((p) => p[0])))].sort((a, b) => a - b);
  const cursor = curves.map(() => -1);
  return times.map((t) => {
    let sum = 0;
    curves.forEach((curve, i) => {
      while (cursor[i]! + 1 < curve.length && curve[cursor[i]! + 1]![0] <= t) cursor[i]!++;
      if (cursor[i]! >= 0) sum += curve[cursor[i]!]![1];
    });
    return [t, cents(sum)] as const;
  });
}

/** Every k-th point (and always the last) when there are more than the chart needs. */
function thin(points: EquityPoint[]): EquityPoint[] {
  if (points.length <= MAX_EQUITY_POINTS) return points;
  const step = Math.ceil(points.length / (MAX_EQUITY_POINTS - 1));
  const kept = points.filter((_, i) => i % step === 0);
  if (kept[kept.length - 1] !== points[points.length - 1]) kept.push(points[points.length - 1]!);
  return kept;
}

// ---------------------------------------------------------------------------------------------
// trades.csv
// ---------------------------------------------------------------------------------------------

export const DASHBOARD_CSV_HEADER = 'executed_at,source,symbol,side,price,qty,fee,realized_pnl_usd';

interface TradeLine {
  readonly executedAt: Date;
  /** bot, or e.g. "live run #3" */
  readonly source: string;
  readonly symbol: string;
  readonly side: string;
  readonly price: string;
  readonly qty: string;
  readonly fee: string;
  /** Empty when the bot did not say. */
  readonly realizedPnl: string;
}

/** The newest trades of the self-hosted bot and the in-service runs together, newest first. */
export async function dashboardTradesCsv(deps: AppDeps, customerId: string): Promise<Result<{ csv: string; rows: number }>> {
  const found = await customerOrNotFound(deps, customerId);
  if (!found.ok) return found;
  const { userId } = found.value;
  const [botTrades, fills] = await Promise.all([
    read(() =>
      deps.db.botTrade.findMany({ where: { userId }, orderBy: [{ executedAt: 'desc' }, { tradeId: 'desc' }], take: DASHBOARD_MAX_TRADES }),
    ),
    recentTrades(deps, userId, { limit: DASHBOARD_MAX_TRADES }),
  ]);
  const lines: TradeLine[] = [
    ...botTrades.map((t) => ({
      executedAt: t.executedAt,
      source: 'bot',
      symbol: t.symbol,
      side: t.side,
      // toFixed() without digits: plain notation, trailing zeros dropped.
      price: t.price.toFixed(),
      qty: t.qty.toFixed(),
      fee: t.fee.toFixed(),
      realizedPnl: t.realizedPnl?.toFixed() ?? '',
    })),
    ...(fills.ok ? fills.value : []).map((f) => ({
      executedAt: f.executedAt,
      source: `${f.mode} run #${f.runSeq}`,
      symbol: f.symbol,
      side: f.side,
      price: f.price,
      qty: f.qty,
      fee: f.fee,
      realizedPnl: f.realizedPnl,
    })),
  ];
  // Both lists are already newest first; a stable sort keeps each list's own order on equal times.
  lines.sort((a, b) => b.executedAt.getTime() - a.executedAt.getTime());
  const newest = lines.slice(0, DASHBOARD_MAX_TRADES);
  const rows = newest.map((t) =>
    [t.executedAt.toISOString(), t.source, t.symbol, t.side, t.price, t.qty, t.fee, t.realizedPnl].map(spreadsheetSafeCsvField).join(','),
  );
  return ok({ csv: [DASHBOARD_CSV_HEADER, ...rows].join('\r\n') + '\r\n', rows: newest.length });
}

const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A CSV field that a spreadsheet will not run as a formula (OWASP "CSV injection"): text that
 * starts with = + - @ (or a tab / carriage return) gets a leading single quote. Plain numbers
 * such as -12.5 stay as they are, so a loss is still a number.
 */
export function spreadsheetSafeCsvField(value: string): string {
  const guarded = /^[=+\-@\t\r]/.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value;
  return csvField(guarded);
}

// ---------------------------------------------------------------------------------------------
// scanner.json
// ---------------------------------------------------------------------------------------------

export type DashboardScannerJson =
  | (ReturnType<typeof recommendationJson> & { readonly message: null })
  | { readonly rankings: readonly []; readonly message: string; readonly reason: string };

/** Why there are no rankings, in words for a web page (the chat texts point at chat commands). */
const SCANNER_UNAVAILABLE: Partial<Record<string, string>> = {
  no_license: 'Scanner results are included with an active license. Activate yours in the bot chat with /activate, or see /tiers there.',
  no_scan_yet: 'The scanner has not released a scan to you yet. Results appear here after the next scan.',
  pool_over_cap: 'Scanner access is paused while the capacity pool is over its cap. It returns once capacity is restored.',
};

/** The shared scanner results as this customer may see them now (license, pool and staggered release applied). */
export async function dashboardScanner(deps: AppDeps, policy: ScannerPolicy, customerId: string): Promise<Result<DashboardScannerJson>> {
  const found = await customerOrNotFound(deps, customerId);
  if (!found.ok) return found;
  const recommendation = await recommendationFor(deps, policy, found.value);
  if (recommendation.ok) return ok({ ...recommendationJson(recommendation.value), message: null });
  const { code, message } = recommendation.error;
  return ok({ rankings: [], message: SCANNER_UNAVAILABLE[code] ?? message, reason: code });
}
