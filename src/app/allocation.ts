// The multi-asset router's use-cases: read the market regime (src/engine/market-regime.ts), split
// every licensed user's capital by it and their risk tolerance (src/domain/allocation.ts), and
// record each change with its `allocation` alert in the same transaction.
//
// A user's capital is the max capital of the tier of their best active license (as the risk
// engine reads it, src/app/run-risk.ts). A new decision is recorded when the regime, the risk
// tolerance or the capital differs from the user's latest decision (or there is none); it is
// alerted when the split itself changed. Allocations are advice: nothing here resizes a run.
//
// Idempotent per slot: a reading is stored once per `takenAt`, and a second pass over the same
// reading finds every latest decision already matching. Each batch of users is locked (users rows,
// in id order) while their latest decisions are read and the new ones written, so two passes, or a
// pass and /allocation <tolerance>, never both decide for the same user.
import { z } from 'zod';
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import type { Tx } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import {
  allocate,
  allocationAlertText,
  bpFromPercentString,
  bpToPercentString,
  changeReasons,
  DEFAULT_RISK_TOLERANCE,
  isRiskTolerance,
  sameSplit,
  type Allocation,
  type Amounts,
  type ChangeReason,
  type RiskTolerance,
  type Split,
} from '../domain/allocation.ts';
import { detectMarketRegime, isMarketRegime, type MarketMetrics, type MarketRegime, type RegimeReading } from '../engine/market-regime.ts';
import { appError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import { centsFromDecimalString, centsToDecimalString, type Cents } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { CandleView } from '../market-data/candles.ts';
import { recordAudit } from './audit.ts';
import type { Actor, AppDeps } from './deps.ts';

/** What the router reads the market from (built in src/main.ts). */
export interface RegimeInputs {
  readonly cryptoSymbol: string;
  /** Null when no equity venue is wired: the regime is then read from crypto alone. */
  readonly equityIndexSymbol: string | null;
  /** Closed daily candles, oldest first; throws when the market cannot be read. */
  crypto(): Promise<CandleView[]>;
  /** Closed daily candles of the index, oldest first; null when there are none. */
  equityIndex(): Promise<CandleView[] | null>;
}

export type MarketView = MarketMetrics & { readonly symbol: string };

export interface ReadingView {
  readonly id: string;
  readonly takenAt: Date;
  readonly regime: MarketRegime;
  /** The rule that decided, in words. */
  readonly rule: string;
  readonly crypto: MarketView;
  readonly equity: MarketView | null;
  /** Why there is no equity view (null when there is one). */
  readonly equityProblem: string | null;
}

export interface DecisionView extends Allocation {
  readonly id: string;
  readonly readingId: string | null;
  readonly reasons: readonly ChangeReason[];
  readonly decidedAt: Date;
}

// ---- readings -----------------------------------------------------------------------------

const metricsSchema = z.object({
  symbol: z.string(),
  candles: z.number(),
  lastTime: z.number(),
  lastClose: z.number(),
  volatilityPct: z.number(),
  returnPct: z.number(),
  emaSlopePct: z.number(),
  drawdownPct: z.number(),
  trend: z.enum(['up', 'down', 'flat']),
});
const readingMetricsSchema = z.object({
  rule: z.string(),
  crypto: metricsSchema,
  equity: metricsSchema.nullable(),
  equityProblem: z.string().nullable(),
});

type ReadingRow = { id: bigint; takenAt: Date; regime: string; metrics: unknown };

function toReadingView(row: ReadingRow): ReadingView {
  const metrics = readingMetricsSchema.parse(row.metrics);
  if (!isMarketRegime(row.regime)) throw new Error(`market regime reading ${row.id} has an unknown regime "${row.regime}"`);
  return { id: row.id.toString(), takenAt: row.takenAt, regime: row.regime, ...metrics };
}

/**
 * Stores a reading for the slot `takenAt`; a reading already stored for that slot is returned
 * instead (a re-run of the same slot changes nothing).
 */
export async function recordReading(
  deps: AppDeps,
  input: { takenAt: Date; reading: RegimeReading; cryptoSymbol: string; equityIndexSymbol: string | null },
): Promise<ReadingView> {
  const { reading } = input;
  const metrics = {
    rule: reading.rule,
    crypto: { symbol: input.cryptoSymbol, ...reading.crypto },
    equity: reading.equity && input.equityIndexSymbol ? { symbol: input.equityIndexSymbol, ...reading.equity } : null,
    equityProblem: reading.equity && input.equityIndexSymbol ? null : (reading.equityProblem ?? 'no equity index data'),
  };
  return inTransaction(deps.db, async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended('market_regime_readings', 0))`;
    const existing = await tx.marketRegimeReading.findFirst({ where: { takenAt: input.takenAt }, orderBy: { id: 'asc' } });
    if (existing) return toReadingView(existing);
    return toReadingView(await tx.marketRegimeReading.create({ data: { takenAt: input.takenAt, regime: reading.regime, metrics } }));
  });
}

async function latestReadingRow(db: Pick<Tx, 'marketRegimeReading'>): Promise<ReadingRow | null> {
  return db.marketRegimeReading.findFirst({ orderBy: [{ takenAt: 'desc' }, { id: 'desc' }] });
}

export async function latestReading(deps: AppDeps): Promise<ReadingView | null> {
  const row = await read(() => latestReadingRow(deps.db));
  return row ? toReadingView(row) : null;
}

// ---- decisions ----------------------------------------------------------------------------

interface DecisionRow {
  id: string;
  user_id: string;
  reading_id: string | null;
  regime: string;
  risk_tolerance: string;
  capital: string;
  crypto_pct: string;
  equity_pct: string;
  derivatives_pct: string;
  cash_pct: string;
  crypto_usd: string;
  equity_usd: string;
  derivatives_usd: string;
  cash_usd: string;
  reason: string;
  decided_at: Date;
}

/** The latest decision of each user (by decision time, then id), keyed by user id. */
async function latestDecisionRows(tx: Pick<Tx, '$queryRaw'>, userIds: readonly string[]): Promise<Map<string, DecisionRow>> {
  if (userIds.length === 0) return new Map();
  const rows = await tx.$queryRaw<DecisionRow[]>`
    SELECT DISTINCT ON (user_id)
      id::text, user_id::text, reading_id::text, regime, risk_tolerance, capital_usd::text AS capital,
      crypto_pct::text, equity_pct::text, derivatives_pct::text, cash_pct::text,
      crypto_usd::text, equity_usd::text, derivatives_usd::text, cash_usd::text, reason, decided_at
    FROM allocation_decisions
    WHERE user_id = ANY(${userIds as string[]}::uuid[])
    ORDER BY user_id, decided_at DESC, id DESC`;
  return new Map(rows.map((r) => [r.user_id, r]));
}

const toleranceOf = (text: string): RiskTolerance => (isRiskTolerance(text) ? text : DEFAULT_RISK_TOLERANCE);

/** A stored decision; one whose regime or tolerance is no longer known reads as null (the next pass replaces it). */
function toDecisionView(row: DecisionRow): DecisionView | null {
  if (!isMarketRegime(row.regime) || !isRiskTolerance(row.risk_tolerance)) return null;
  const split: Split = {
    crypto: bpFromPercentString(row.crypto_pct),
    equity: bpFromPercentString(row.equity_pct),
    derivatives: bpFromPercentString(row.derivatives_pct),
    cash: bpFromPercentString(row.cash_pct),
  };
  const amounts: Amounts = {
    crypto: centsFromDecimalString(row.crypto_usd),
    equity: centsFromDecimalString(row.equity_usd),
    derivatives: centsFromDecimalString(row.derivatives_usd),
    cash: centsFromDecimalString(row.cash_usd),
  };
  return {
    id: row.id,
    readingId: row.reading_id,
    regime: row.regime,
    tolerance: row.risk_tolerance,
    capital: centsFromDecimalString(row.capital),
    split,
    amounts,
    reasons: row.reason.split(',').filter((r): r is ChangeReason => ['first', 'regime', 'risk_tolerance', 'capital'].includes(r)),
    decidedAt: row.decided_at,
  };
}

interface Pending {
  readonly userId: string;
  readonly allocation: Allocation;
  readonly reasons: readonly ChangeReason[];
  readonly alert: boolean;
}

/** Whether `next` needs a decision after `previous` (the user's latest), and whether to alert it. */
function pendingFor(userId: string, previous: DecisionRow | undefined, next: Allocation): Pending | null {
  const before = previous ? toDecisionView(previous) : null;
  const reasons = changeReasons(
    previous ? { regime: previous.regime, tolerance: previous.risk_tolerance, capital: centsFromDecimalString(previous.capital) } : null,
    next,
  );
  if (reasons.length === 0) return null;
  return { userId, allocation: next, reasons, alert: !before || !sameSplit(before, next) };
}

/** Inserts the decisions and queues the alerts of those that changed the split; returns how many of each. */
async function writeDecisions(tx: Tx, pending: readonly Pending[], readingId: string | null, now: Date): Promise<{ decisions: DecisionView[]; alerts: number }> {
  if (pending.length === 0) return { decisions: [], alerts: 0 };
  const rows = await tx.allocationDecision.createManyAndReturn({
    data: pending.map(({ userId, allocation: a, reasons }) => ({
      userId,
      readingId: readingId === null ? null : BigInt(readingId),
      regime: a.regime,
      riskTolerance: a.tolerance,
      capitalUsd: centsToDecimalString(a.capital),
      cryptoPct: bpToPercentString(a.split.crypto),
      equityPct: bpToPercentString(a.split.equity),
      derivativesPct: bpToPercentString(a.split.derivatives),
      cashPct: bpToPercentString(a.split.cash),
      cryptoUsd: centsToDecimalString(a.amounts.crypto),
      equityUsd: centsToDecimalString(a.amounts.equity),
      derivativesUsd: centsToDecimalString(a.amounts.derivatives),
      cashUsd: centsToDecimalString(a.amounts.cash),
      reason: reasons.join(','),
      decidedAt: now,
    })),
    select: { id: true, userId: true },
  });
  const idOf = new Map(rows.map((r) => [r.userId, r.id.toString()]));
  const decisions = pending.map((p) => ({ ...p.allocation, id: idOf.get(p.userId)!, readingId, reasons: p.reasons, decidedAt: now }));
  const alerts: QueuedAlert[] = pending
    .filter((p) => p.alert)
    .map(({ userId, allocation: a, reasons }) => ({
      eventId: `allocation:${idOf.get(userId)}`,
      userId,
      alertType: 'allocation',
      text: allocationAlertText(a, reasons),
      payload: { regime: a.regime, tolerance: a.tolerance, capitalUsd: centsToDecimalString(a.capital), split: a.split, reasons },
    }));
  return { decisions, alerts: await queueAlerts(tx, alerts, now) };
}

export interface ReallocationSummary {
  /** Licensed users looked at. */
  readonly users: number;
  readonly decisions: number;
  readonly alerts: number;
  /** A newer reading arrived while this pass ran: the pass stopped and left the rest to it. */
  readonly superseded: boolean;
}

const FIRST_UUID = '00000000-0000-0000-0000-000000000000';

/** Re-splits every licensed user's capital by `reading` (see the top of this file). */
export async function reallocateAll(deps: AppDeps, reading: ReadingView, options: { batchSize?: number } = {}): Promise<ReallocationSummary> {
  const batchSize = options.batchSize ?? 500;
  let cursor = FIRST_UUID;
  let users = 0;
  let decisions = 0;
  let alerts = 0;
  for (;;) {
    const batch = await inTransaction(deps.db, async (tx) => {
      const newest = await latestReadingRow(tx);
      if (newest && newest.id.toString() !== reading.id) return null;
      const locked = await tx.$queryRaw<{ id: string; risk_tolerance: string; capital: string | null }[]>`
        SELECT u.id::text, u.risk_tolerance,
          (SELECT t.max_capital_usd::text FROM licenses l JOIN tiers t ON t.id = l.tier_id
            WHERE l.user_id = u.id AND l.status = 'active' ORDER BY t.rank DESC LIMIT 1) AS capital
        FROM users u
        WHERE u.id IN (
          SELECT DISTINCT l.user_id FROM licenses l
          WHERE l.status = 'active' AND l.user_id > ${cursor}::uuid
          ORDER BY l.user_id LIMIT ${batchSize})
        ORDER BY u.id
        FOR UPDATE OF u`;
      if (locked.length === 0) return { last: null, users: 0, decisions: 0, alerts: 0 };
      const previous = await latestDecisionRows(tx, locked.map((u) => u.id));
      const pending: Pending[] = [];
      for (const user of locked) {
        if (user.capital === null) continue; // its license went away since the batch was listed
        const next = allocate(reading.regime, toleranceOf(user.risk_tolerance), centsFromDecimalString(user.capital));
        const change = pendingFor(user.id, previous.get(user.id), next);
        if (change) pending.push(change);
      }
      const written = await writeDecisions(tx, pending, reading.id, deps.clock.now());
      return { last: locked[locked.length - 1]!.id, users: locked.length, decisions: written.decisions.length, alerts: written.alerts };
    });
    if (batch === null) return { users, decisions, alerts, superseded: true };
    users += batch.users;
    decisions += batch.decisions;
    alerts += batch.alerts;
    if (batch.last === null || batch.users < batchSize) return { users, decisions, alerts, superseded: false };
    cursor = batch.last;
  }
}

// ---- one router pass ----------------------------------------------------------------------

export type RouterPass =
  | { readonly status: 'done'; readonly reading: ReadingView; readonly summary: ReallocationSummary }
  | { readonly status: 'skipped'; readonly problem: string };

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);

/**
 * Reads the market, stores the reading for `takenAt` and re-splits every licensed user. Without
 * crypto candles nothing is stored and every allocation stays as it was; without the equity
 * index the regime is read from crypto alone and the reading says why.
 */
export async function runRouter(deps: AppDeps, inputs: RegimeInputs, takenAt: Date, logger: Logger): Promise<RouterPass> {
  const [crypto, equity] = await Promise.allSettled([
    inputs.crypto(),
    inputs.equityIndexSymbol === null ? Promise.resolve(null) : inputs.equityIndex(),
  ]);
  if (crypto.status === 'rejected') {
    const problem = `no ${inputs.cryptoSymbol} candles: ${messageOf(crypto.reason)}`;
    logger.warn({ err: crypto.reason, symbol: inputs.cryptoSymbol }, 'router skipped: crypto candles unavailable, allocations kept');
    return { status: 'skipped', problem };
  }
  let equityProblem: string | null = null;
  if (inputs.equityIndexSymbol === null) equityProblem = 'no equity venue is connected';
  else if (equity.status === 'rejected') {
    equityProblem = `${inputs.equityIndexSymbol} candles unavailable: ${messageOf(equity.reason)}`;
    logger.warn({ err: equity.reason, symbol: inputs.equityIndexSymbol }, 'router: equity index unavailable, reading crypto alone');
  }
  const detection = detectMarketRegime(crypto.value, equity.status === 'fulfilled' ? equity.value : null);
  if (!detection.ok) {
    logger.warn({ problem: detection.problem, symbol: inputs.cryptoSymbol }, 'router skipped: not enough candles, allocations kept');
    return { status: 'skipped', problem: detection.problem };
  }
  const detected = detection.reading;
  const reading = await recordReading(deps, {
    takenAt,
    reading: equityProblem !== null && detected.equity === null ? { ...detected, equityProblem } : detected,
    cryptoSymbol: inputs.cryptoSymbol,
    equityIndexSymbol: inputs.equityIndexSymbol,
  });
  const summary = await reallocateAll(deps, reading);
  return { status: 'done', reading, summary };
}

// ---- one user -----------------------------------------------------------------------------

export interface AllocationOverview {
  readonly tolerance: RiskTolerance;
  /** The tier capital of the user's best active license; null without one. */
  readonly capital: Cents | null;
  readonly reading: ReadingView | null;
  /** The latest recorded decision. */
  readonly decision: DecisionView | null;
  /** The split the latest reading gives now (null without a reading or a license) … */
  readonly current: Allocation | null;
  /** … and whether it is not recorded yet (the next pass records it). */
  readonly pending: boolean;
}

async function bestCapital(db: Pick<Tx, 'license'>, userId: string): Promise<Cents | null> {
  const best = await db.license.findFirst({
    where: { userId, status: 'active' },
    orderBy: { tier: { rank: 'desc' } },
    select: { tier: { select: { maxCapitalUsd: true } } },
  });
  return best ? centsFromDecimalString(best.tier.maxCapitalUsd.toFixed(2)) : null;
}

/** The user's latest decision, the current reading and what they give now. */
export async function allocationFor(deps: AppDeps, userId: string): Promise<Result<AllocationOverview>> {
  const [user, capital, readingRow, decisions] = await Promise.all([
    read(() => deps.db.user.findUnique({ where: { id: userId }, select: { riskTolerance: true } })),
    read(() => bestCapital(deps.db, userId)),
    read(() => latestReadingRow(deps.db)),
    read(() => latestDecisionRows(deps.db, [userId])),
  ]);
  if (!user) return err(appError('user_not_found'));
  const tolerance = toleranceOf(user.riskTolerance);
  const reading = readingRow ? toReadingView(readingRow) : null;
  const row = decisions.get(userId);
  const decision = row ? toDecisionView(row) : null;
  const current = reading && capital !== null ? allocate(reading.regime, tolerance, capital) : null;
  const pending = current !== null && (!decision || changeReasons(decision, current).length > 0);
  return ok({ tolerance, capital, reading, decision, current, pending });
}

export interface ToleranceChange {
  readonly previous: RiskTolerance;
  readonly tolerance: RiskTolerance;
  /** The decision recorded now; null when nothing to decide yet (no reading, no license) or nothing changed. */
  readonly decision: DecisionView | null;
  /** Whether the new split was alerted (it differs from the previous one). */
  readonly alerted: boolean;
}

/**
 * Stores the user's risk tolerance and, when there is a reading and a license, records the
 * decision it gives at once (and alerts it when the split changed), under the same user lock as
 * the router's passes.
 */
export async function setRiskTolerance(deps: AppDeps, userId: string, tolerance: RiskTolerance, actor: Actor): Promise<Result<ToleranceChange>> {
  return inTransaction(deps.db, async (tx) => {
    const [locked] = await tx.$queryRaw<{ risk_tolerance: string }[]>`SELECT risk_tolerance FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
    if (!locked) return err(appError('user_not_found'));
    const previous = toleranceOf(locked.risk_tolerance);
    const now = deps.clock.now();
    if (locked.risk_tolerance !== tolerance) {
      await tx.user.update({ where: { id: userId }, data: { riskTolerance: tolerance } });
      await recordAudit(tx, {
        actor,
        action: 'allocation.risk_tolerance',
        entityType: 'user',
        entityId: userId,
        before: { riskTolerance: locked.risk_tolerance },
        after: { riskTolerance: tolerance },
        at: now,
      });
    }
    const readingRow = await latestReadingRow(tx);
    const capital = await bestCapital(tx, userId);
    if (!readingRow || capital === null) return ok({ previous, tolerance, decision: null, alerted: false });
    const reading = toReadingView(readingRow);
    const next = allocate(reading.regime, tolerance, capital);
    const change = pendingFor(userId, (await latestDecisionRows(tx, [userId])).get(userId), next);
    if (!change) return ok({ previous, tolerance, decision: null, alerted: false });
    const written = await writeDecisions(tx, [change], reading.id, now);
    return ok({ previous, tolerance, decision: written.decisions[0] ?? null, alerted: written.alerts > 0 });
  });
}
