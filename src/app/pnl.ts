// P&L reports and fill history for /pnl and /trades: read-only use-cases over a user's runs, their
// fills and their equity snapshots. Paper and live are always reported apart.
//
// Definitions (what the chat shows):
// - realized: sum of `run_fills.realized_pnl` executed in the period (average-cost, net of fees;
//   only sells realise anything).
// - fees: sum of `run_fills.fee` (quote currency) executed in the period, buys and sells.
// - unrealized: for active runs only, current equity − capital − the run's realized P&L to date;
//   current means the caller's live status (the run is loaded on this replica) or else the run's
//   latest equity snapshot. Stopped runs count 0 (their positions are no longer marked).
//   It is the open position's value now, whatever the period.
// - ROI: (realized + unrealized) / capital × 100, where capital is the sum of the reported runs'
//   capital (runs active at some point of the period).
// - cycles: completed round trips = distinct sell orders with a fill in the period (a DCA
//   take-profit or a grid sell leg; partial fills of one order count once).
// - trades: fills in the period.
// - equity curve: Σ over the reported runs of (capital + P&L of the run's latest snapshot at or
//   before the time), bucketed (last snapshot per run per bucket, carried forward while a run has
//   no newer one; 0 P&L before a run's first snapshot). So a run starting or stopping inside the
//   period does not show as a jump. The curve starts at the period's start and ends now (with the
//   live status when given).
// - max drawdown: largest peak-to-trough fall of that curve, in $ and in % of the peak (each the
//   largest of its kind), at the curve's resolution.
// - periods: day = since 00:00 in the user's time zone (users.timezone, IANA), week = last 7 × 24 h,
//   month = last 30 × 24 h, all = since the first run.
import { Prisma } from '../db/client.ts';
import { read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { AppDeps } from './deps.ts';
import { toRunView, type LiveRunStatus, type RunMode, type RunView } from './runs.ts';

export const PNL_PERIODS = ['day', 'week', 'month', 'all'] as const;
export type PnlPeriod = (typeof PNL_PERIODS)[number];

const DAY_MS = 86_400_000;
const ACTIVE = new Set(['running', 'stopping']);
/** The curve holds at most about this many points (the bucket grows with the period). */
const MAX_POINTS = 400;
const BUCKETS_MS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 43_200_000, DAY_MS, 7 * DAY_MS];

export interface PnlOptions {
  readonly period: PnlPeriod;
  readonly runSeq?: number;
  readonly now: Date;
  /** Position and equity of an active run loaded on this replica (RunControl.liveStatus). */
  readonly liveStatus?: (runId: string) => LiveRunStatus | null;
}

/** [time in ms, equity in $] */
export type EquityPoint = readonly [number, number];

export interface ModePnl {
  readonly mode: RunMode;
  readonly runs: number;
  readonly activeRuns: number;
  readonly capital: number;
  readonly realized: number;
  readonly unrealized: number;
  /** realized + unrealized */
  readonly total: number;
  readonly fees: number;
  /** null when the runs have no capital */
  readonly roiPct: number | null;
  readonly cycles: number;
  readonly trades: number;
  readonly maxDrawdown: number;
  readonly maxDrawdownPct: number;
  readonly bucketMs: number;
  readonly equity: readonly EquityPoint[];
}

export interface PnlReport {
  readonly period: PnlPeriod;
  /** Start of the period; for `all`, the first reported run's start (null when there is none). */
  readonly since: Date | null;
  readonly until: Date;
  /** The user's time zone (UTC when unset or unknown). */
  readonly timeZone: string;
  /** The run asked for, if any. */
  readonly run: RunView | null;
  /** Paper first, then live; a mode without runs in the period is left out. */
  readonly modes: readonly ModePnl[];
}

// ---------------------------------------------------------------------------------------------
// Time zones
// ---------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's IANA name when Intl knows it, else UTC. */
export function validTimeZone(timeZone: string | null | undefined): string {
  if (!timeZone) return 'UTC';
  try {
    formatter(timeZone);
    return timeZone;
  } catch {
    return 'UTC';
  }
}

/** Local wall-clock minus UTC at `at`, in ms (+3_600_000 for Europe/Berlin in winter). */
export function timeZoneOffsetMs(timeZone: string, at: Date | number): number {
  const ms = typeof at === 'number' ? at : at.getTime();
  const whole = Math.floor(ms / 1000) * 1000;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(whole))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - whole;
}

/** 00:00 of `now`'s local day in the zone, as an instant. */
export function startOfLocalDay(now: Date, timeZone: string): Date {
  const offset = timeZoneOffsetMs(timeZone, now);
  const wall = new Date(now.getTime() + offset);
  const midnightWall = Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate());
  let start = midnightWall - offset;
  // The offset at midnight differs when a DST change happened since.
  const atMidnight = timeZoneOffsetMs(timeZone, start);
  if (atMidnight !== offset) start = midnightWall - atMidnight;
  return new Date(start);
}

function periodStart(period: PnlPeriod, now: Date, timeZone: string): Date | null {
  switch (period) {
    case 'day':
      return startOfLocalDay(now, timeZone);
    case 'week':
      return new Date(now.getTime() - 7 * DAY_MS);
    case 'month':
      return new Date(now.getTime() - 30 * DAY_MS);
    case 'all':
      return null;
  }
}

export function bucketFor(spanMs: number): number {
  return BUCKETS_MS.find((b) => b * MAX_POINTS >= spanMs) ?? BUCKETS_MS[BUCKETS_MS.length - 1]!;
}

// ---------------------------------------------------------------------------------------------
// /pnl
// ---------------------------------------------------------------------------------------------

type RunRow = Prisma.TradingRunGetPayload<object>;

export async function pnlReport(deps: AppDeps, userId: string, options: PnlOptions): Promise<Result<PnlReport>> {
  if (!isUuid(userId)) return err(appError('invalid_input'));
  const until = options.now;
  const user = await read(() => deps.db.user.findUnique({ where: { id: userId }, select: { timezone: true } }));
  const timeZone = validTimeZone(user?.timezone);
  const periodSince = periodStart(options.period, until, timeZone);

  let rows: RunRow[];
  let run: RunView | null = null;
  if (options.runSeq !== undefined) {
    if (!Number.isInteger(options.runSeq) || options.runSeq < 1) return err(appError('run_not_found'));
    const row = await read(() => deps.db.tradingRun.findUnique({ where: { userId_seq: { userId, seq: options.runSeq! } } }));
    if (!row) return err(appError('run_not_found'));
    run = toRunView(row);
    rows = row.startedAt <= until && (periodSince === null || row.stoppedAt === null || row.stoppedAt >= periodSince) ? [row] : [];
  } else {
    rows = await read(() =>
      deps.db.tradingRun.findMany({
        where: {
          userId,
          startedAt: { lte: until },
          ...(periodSince ? { OR: [{ stoppedAt: null }, { stoppedAt: { gte: periodSince } }] } : {}),
        },
        orderBy: { seq: 'asc' },
      }),
    );
  }

  const since = periodSince ?? (rows.length ? new Date(Math.min(...rows.map((r) => r.startedAt.getTime()))) : null);
  const modes: ModePnl[] = [];
  for (const mode of ['paper', 'live'] as const) {
    const runs = rows.filter((r) => r.mode === mode);
    if (runs.length === 0) continue;
    modes.push(await modePnl(deps, mode, runs, { since: since!, periodSince, until, liveStatus: options.liveStatus }));
  }
  return ok({ period: options.period, since, until, timeZone, run, modes });
}

interface Window {
  /** Start of the curve. */
  readonly since: Date;
  /** Lower bound of fills (null: all of them). */
  readonly periodSince: Date | null;
  readonly until: Date;
  readonly liveStatus: ((runId: string) => LiveRunStatus | null) | undefined;
}

interface SnapshotValue {
  readonly equity: number;
  readonly realizedPnl: number;
}

async function modePnl(deps: AppDeps, mode: RunMode, runs: readonly RunRow[], window: Window): Promise<ModePnl> {
  const ids = runs.map((r) => r.id);
  const capitalOf = new Map(runs.map((r) => [r.id, Number(r.capitalUsd)]));
  const capital = [...capitalOf.values()].reduce((a, b) => a + b, 0);
  const bucketMs = bucketFor(window.until.getTime() - window.since.getTime());

  const [fills, carried, buckets] = await Promise.all([
    fillTotals(deps, ids, window),
    // Each run's latest snapshot at or before the start: where its curve comes from.
    Promise.all(
      ids.map((runId) =>
        read(() =>
          deps.db.runEquitySnapshot.findFirst({
            where: { runId, at: { lte: window.since } },
            orderBy: { at: 'desc' },
            select: { runId: true, equity: true, realizedPnl: true },
          }),
        ),
      ),
    ),
    read(() =>
      deps.db.$queryRaw<{ runId: string; bucket: number; equity: string; realizedPnl: string }[]>`
        SELECT DISTINCT ON (run_id, bucket) run_id::text AS "runId", bucket, equity::text AS equity, realized_pnl::text AS "realizedPnl"
        FROM (
          SELECT run_id, at, equity, realized_pnl,
                 (floor(extract(epoch FROM at) * 1000 / ${bucketMs}::bigint) * ${bucketMs}::bigint)::float8 AS bucket
          FROM run_equity_snapshots
          WHERE run_id = ANY(${ids}::uuid[]) AND at > ${window.since} AND at <= ${window.until}
        ) s
        ORDER BY run_id, bucket, at DESC`,
    ),
  ]);

  // The equity curve: capital plus each run's latest known P&L.
  const latest = new Map<string, SnapshotValue>();
  for (const s of carried) if (s) latest.set(s.runId, { equity: Number(s.equity), realizedPnl: Number(s.realizedPnl) });
  const pnlOf = (runId: string) => {
    const s = latest.get(runId);
    return s ? s.equity - capitalOf.get(runId)! : 0;
  };
  const value = () => capital + ids.reduce((sum, id) => sum + pnlOf(id), 0);
  const points: [number, number][] = [[window.since.getTime(), value()]];
  const byBucket = new Map<number, typeof buckets>();
  for (const row of buckets) byBucket.set(row.bucket, [...(byBucket.get(row.bucket) ?? []), row]);
  for (const bucket of [...byBucket.keys()].sort((a, b) => a - b)) {
    for (const row of byBucket.get(bucket)!) latest.set(row.runId, { equity: Number(row.equity), realizedPnl: Number(row.realizedPnl) });
    points.push([Math.min(window.until.getTime(), bucket + bucketMs), value()]);
  }

  // Now: the live status of active runs where this replica has it, else their latest snapshot.
  let unrealized = 0;
  let activeRuns = 0;
  for (const run of runs) {
    if (!ACTIVE.has(run.status)) continue;
    activeRuns++;
    const live = window.liveStatus?.(run.id) ?? null;
    const current = live ? { equity: live.equity, realizedPnl: live.realizedPnl } : latest.get(run.id);
    if (!current) continue;
    latest.set(run.id, current);
    unrealized += current.equity - capitalOf.get(run.id)! - current.realizedPnl;
  }
  const end = window.until.getTime();
  if (points[points.length - 1]![0] === end) points.pop();
  points.push([end, value()]);

  const drawdown = maxDrawdown(points.map((p) => p[1]));
  const total = fills.realized + unrealized;
  return {
    mode,
    runs: runs.length,
    activeRuns,
    capital,
    realized: fills.realized,
    unrealized,
    total,
    fees: fills.fees,
    roiPct: capital > 0 ? (total / capital) * 100 : null,
    cycles: fills.cycles,
    trades: fills.trades,
    maxDrawdown: drawdown.amount,
    maxDrawdownPct: drawdown.pct,
    bucketMs,
    equity: points,
  };
}

async function fillTotals(deps: AppDeps, runIds: readonly string[], window: Window) {
  const rows = await read(() =>
    deps.db.$queryRaw<{ realized: string | null; fees: string | null; trades: number; cycles: number }[]>`
      SELECT sum(realized_pnl)::text AS realized, sum(fee)::text AS fees, count(*)::int AS trades,
             count(DISTINCT order_id) FILTER (WHERE side = 'sell')::int AS cycles
      FROM run_fills
      WHERE run_id = ANY(${runIds}::uuid[]) AND executed_at <= ${window.until}
        ${window.periodSince ? Prisma.sql`AND executed_at >= ${window.periodSince}` : Prisma.empty}`,
  );
  const row = rows[0];
  return { realized: Number(row?.realized ?? 0), fees: Number(row?.fees ?? 0), trades: row?.trades ?? 0, cycles: row?.cycles ?? 0 };
}

/** Largest fall from a running peak, in $ and in % of that peak (each maximised on its own). */
export function maxDrawdown(values: readonly number[]): { amount: number; pct: number } {
  let peak = -Infinity;
  let amount = 0;
  let pct = 0;
  for (const v of values) {
    if (v > peak) peak = v;
    const fall = peak - v;
    if (fall > amount) amount = fall;
    if (peak > 0 && (fall / peak) * 100 > pct) pct = (fall / peak) * 100;
  }
  return { amount, pct };
}

// ---------------------------------------------------------------------------------------------
// /trades
// ---------------------------------------------------------------------------------------------

export interface TradeView {
  readonly executedAt: Date;
  readonly runSeq: number;
  readonly mode: RunMode;
  readonly symbol: string;
  readonly side: string;
  /** Exact decimal text, as stored. */
  readonly price: string;
  readonly qty: string;
  readonly fee: string;
  readonly realizedPnl: string;
}

const fillInclude = { run: { select: { seq: true, mode: true, symbol: true } } } as const;
type FillRow = Prisma.RunFillGetPayload<{ include: typeof fillInclude }>;

const toTradeView = (row: FillRow): TradeView => ({
  executedAt: row.executedAt,
  runSeq: row.run.seq,
  mode: row.run.mode,
  symbol: row.run.symbol,
  side: row.side,
  // toFixed() without digits: plain notation (never 1e-7), trailing zeros dropped.
  price: row.price.toFixed(),
  qty: row.qty.toFixed(),
  fee: row.fee.toFixed(),
  realizedPnl: row.realizedPnl.toFixed(),
});

/** Newest fills first, across the user's runs or of one run. */
export async function recentTrades(deps: AppDeps, userId: string, options: { limit: number; runSeq?: number }): Promise<Result<TradeView[]>> {
  const scope = await fillScope(deps, userId, options.runSeq);
  if (!scope.ok) return scope;
  const rows = await read(() =>
    deps.db.runFill.findMany({
      where: scope.value,
      include: fillInclude,
      orderBy: [{ executedAt: 'desc' }, { tradeId: 'desc' }],
      take: Math.max(1, Math.floor(options.limit)),
    }),
  );
  return ok(rows.map(toTradeView));
}

export const CSV_HEADER = 'time,run,mode,symbol,side,price,qty,fee,realized_pnl';
export const CSV_MAX_ROWS = 10_000;

export interface TradesCsv {
  readonly csv: string;
  readonly rows: number;
  /** More fills exist than CSV_MAX_ROWS: the file holds the newest ones. */
  readonly truncated: boolean;
}

/** Every fill (the newest CSV_MAX_ROWS), oldest first, one line each. */
export async function tradesCsv(deps: AppDeps, userId: string, options: { runSeq?: number; maxRows?: number } = {}): Promise<Result<TradesCsv>> {
  const max = options.maxRows ?? CSV_MAX_ROWS;
  const scope = await fillScope(deps, userId, options.runSeq);
  if (!scope.ok) return scope;
  const rows = await read(() =>
    deps.db.runFill.findMany({
      where: scope.value,
      include: fillInclude,
      orderBy: [{ executedAt: 'desc' }, { tradeId: 'desc' }],
      take: max + 1,
    }),
  );
  const truncated = rows.length > max;
  const trades = rows.slice(0, max).reverse().map(toTradeView);
  const lines = trades.map((t) =>
    [t.executedAt.toISOString(), t.runSeq, t.mode, t.symbol, t.side, t.price, t.qty, t.fee, t.realizedPnl].map(csvField).join(','),
  );
  return ok({ csv: [CSV_HEADER, ...lines].join('\r\n') + '\r\n', rows: trades.length, truncated });
}

/** RFC 4180: quote a field holding a comma, a quote or a line break; double inner quotes. */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function fillScope(deps: AppDeps, userId: string, runSeq: number | undefined): Promise<Result<Prisma.RunFillWhereInput>> {
  if (!isUuid(userId)) return err(appError('invalid_input'));
  if (runSeq === undefined) return ok({ run: { userId } });
  if (!Number.isInteger(runSeq) || runSeq < 1) return err(appError('run_not_found'));
  const run = await read(() => deps.db.tradingRun.findUnique({ where: { userId_seq: { userId, seq: runSeq } }, select: { id: true } }));
  return run ? ok({ runId: run.id }) : err(appError('run_not_found'));
}
