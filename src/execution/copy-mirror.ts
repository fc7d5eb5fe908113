// Copy trading's mirror: every fill of a published master run becomes a proportional market
// order for each follow that started before it, sized by the follow's capital and caps, passed
// through the follower's own risk gate and sent through the follower's own account (their keys on
// a live exchange; a simulated fill at the market's current price for paper follows). It also
// carries out the protections: a master run that ends by a kill switch, a guard or a failure
// stops its follows and sells their copies; a follow whose copies lost its max_loss stops the
// same way; /unfollow and /kill leave `stopping` follows that are closed here.
//
// Nothing here runs inside the master's run: a follower's refusal, failure or slow exchange
// never reaches the master (the run engine only nudges the mirror after its fills committed).
//
// Exactly once, across replicas and restarts: a copy row is unique per (follow, master fill) and
// written under a lock on the follow's row; an order's row is `pending` (with a client order id
// derived from the pair) before the exchange call. A pending row this process is not sending is
// reconciled by that id: found on the exchange -> its fills are recorded; not found once the
// grace period has passed -> failed (it never reached the exchange). It is never sent again.
// While a follow has a pending copy, its next copies wait: caps and P&L need the settled position.
//
// Close-outs hold the follow's row lock (SKIP LOCKED elsewhere) for the duration of the sell and
// look the close order up by its deterministic id before sending, so a crash mid-call cannot
// sell twice. A close-out is written as a settled copy trade of kind close_out (no master fill),
// so its P&L counts wherever copies' P&L does: copy fees, the daily loss cap.
import { createHash } from 'node:crypto';
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import { COPY_ALERT_TYPE, followLabel, followStoppedAlert, stopFollows, usd, type FollowRef, type FollowStopReason } from '../app/copy-stops.ts';
import type { RunMode } from '../app/runs.ts';
import type { Db } from '../db/client.ts';
import { Prisma } from '../db/client.ts';
import { Regime } from '../engine/regime-codes.ts';
import { checkIntent, type RiskContext } from '../engine/risk/gates.ts';
import { PaperExchange } from '../exchange/sim/paper-exchange.ts';
import { isVenueError, type ExchangeVenue, type MarketRules, type OrderRequest, type Ticker, type VenueOrder } from '../exchange/venue.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import { PollLoop } from '../kernel/poll-loop.ts';
import type { Result } from '../kernel/result.ts';
import { applyCopyFill, copyPnl, exact, exactPosition, floorToLot, maxLossReached, sizeCopy, slippageBps, toScale, type CopyPosition, type Decimal, type DecimalValue } from './copy-sizing.ts';
import type { AccountFacts } from './run-engine.ts';

/** The account a follow trades through (the follower's keys for the master run's exchange). */
export interface CopyAccount {
  readonly userId: string;
  readonly exchange: string;
  readonly credentialLabel: string | null;
  readonly mode: RunMode;
}

/** Order pacing for an account (the same pacer its runs use, so copies share its budget). */
export interface CopyPacer {
  run<T>(call: () => Promise<T>): Promise<T>;
  pauseUntil(untilMs: number): void;
  readonly pausedUntil?: number;
}

export interface CopyMirrorDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often to look for master fills not mirrored yet (COPY_POLL_MS). */
  readonly pollMs: number;
  readonly marketRules: (exchange: string, symbol: string) => Promise<MarketRules>;
  /** The market's current price (public ticker): paper copies fill at it, max_loss marks at it. */
  readonly currentPrice: (exchange: string, symbol: string) => Promise<Ticker>;
  /** A follower's live account on their own decrypted keys (the mirror keeps it open). */
  readonly openLiveAccount: (account: CopyAccount) => Promise<Result<ExchangeVenue>>;
  readonly pacer: (account: CopyAccount) => CopyPacer;
  /** The follower's risk facts, as a run of theirs sees them (the follow's own capital excluded). */
  readonly accountFacts: (follow: { readonly id: string; readonly userId: string; readonly mode: RunMode }) => Promise<AccountFacts>;
  /** How long a pending copy may be in flight on another process before it is reconciled as lost (ms). */
  readonly pendingGraceMs?: number;
  /** Follows served at once (each may wait on its exchange). */
  readonly concurrency?: number;
  /** The follow modes this process serves; default both (a paper-only replica leaves live follows alone). */
  readonly modes?: readonly RunMode[];
}

/** Longer than an order call can take (ccxt's 10 s timeout, retries and pacing included). */
const DEFAULT_PENDING_GRACE_MS = 60_000;
/** Master fills older than this are not looked at any more (the staleness gate refuses them long before). */
const LOOKBACK_MS = 86_400_000;
/** Trades are read from a little before the order's time (exchange clocks differ). */
const TRADES_OVERLAP_MS = 5 * 60_000;
const CAPITAL_RESERVE_PCT = 10;

type FollowState = Prisma.CopyFollowGetPayload<{ include: { master: { include: { run: true } } } }>;
type CopyTradeRow = Prisma.CopyTradeGetPayload<object>;
/** A mirror of a master fill: the only kind ever pending (close-outs are written settled). */
type CopyRow = CopyTradeRow & { readonly masterFillId: string; readonly masterPrice: Prisma.Decimal };
function mirrorRow(row: CopyTradeRow): CopyRow {
  if (row.masterFillId === null || row.masterPrice === null) throw new Error(`copy trade ${row.id} is a ${row.kind}, not a pending mirror`);
  return row as CopyRow;
}
type MasterFill = { id: string; side: string; price: Prisma.Decimal; qty: Prisma.Decimal; executed_at: Date };

type Execution =
  | { readonly kind: 'filled'; readonly qty: Decimal; readonly price: Decimal; readonly fee: Decimal; readonly at: number }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string }
  | { readonly kind: 'unknown' };

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
/** Deterministic per (follow, master fill); within Binance's 36 characters. */
export const copyClientOrderId = (followId: string, masterFillId: string): string => `cp-${sha(`${followId}:${masterFillId}`).slice(0, 30)}`;
/** Deterministic per follow and start: one close-out per time the follow ran. */
export const closeClientOrderId = (followId: string, startedAt: Date): string => `cpx-${sha(`${followId}:close:${startedAt.getTime()}`).slice(0, 30)}`;

const refOf = (f: FollowState): FollowRef => ({
  id: f.id,
  userId: f.userId,
  mode: f.mode,
  startedAt: f.startedAt,
  code: f.master.code,
  masterUserId: f.master.userId,
  strategy: f.master.run.strategy,
  symbol: f.master.run.symbol,
});
const accountOf = (f: FollowState): CopyAccount => ({ userId: f.userId, exchange: f.master.run.exchange, credentialLabel: f.mode === 'live' ? (f.credentialLabel ?? 'default') : null, mode: f.mode });
const positionOf = (f: Pick<FollowState, 'baseQty' | 'costUsd' | 'realizedPnlUsd' | 'feesUsd'>): CopyPosition =>
  exactPosition({ baseQty: f.baseQty, costUsd: f.costUsd, realizedPnlUsd: f.realizedPnlUsd, feesUsd: f.feesUsd });
const num = (d: DecimalValue) => Number(exact(d).toFixed(8)).toString();
const price = (d: DecimalValue) => Number(d).toLocaleString('en-US', { maximumFractionDigits: 8 });

/** How a master run's end (or an unpublish) ends its follows; null while it still runs. */
export function masterEnd(master: { status: string }, run: { status: string; stopReason: string | null; stopDetail: string | null }): { reason: FollowStopReason; close: boolean; detail: string | null } | null {
  if (run.status === 'running' || run.status === 'stopping') return master.status === 'active' ? null : { reason: 'master_unpublished', close: false, detail: null };
  const why = run.stopReason ?? '';
  // The global kill switch blocks every order: nothing can be sold (and the follows stopped with it).
  if (why === 'killall') return { reason: 'killall', close: false, detail: null };
  if (why === 'kill' || why === 'admin_kill') return { reason: 'master_killed', close: true, detail: null };
  if (why.startsWith('guard:')) return { reason: 'master_guard', close: true, detail: run.stopDetail ? `${run.stopDetail}.` : null };
  if (run.status === 'failed' || why.startsWith('error:')) return { reason: 'master_failed', close: true, detail: null };
  return { reason: 'master_stopped', close: false, detail: null };
}

export class CopyMirror {
  readonly #loop: PollLoop;
  /** Follows being served by this process (one task each, so one follow's copies stay in order). */
  readonly #busy = new Map<string, Promise<void>>();
  /** Client order ids this process is sending right now: never reconciled from under itself. */
  readonly #inFlight = new Set<string>();
  readonly #venues = new Map<string, Promise<Result<ExchangeVenue>>>();
  readonly #prices = new Map<string, { at: number; ticker: Promise<Ticker> }>();
  /** Runs published as masters (as of the last pass): which fills are worth a nudge. */
  #published: Set<string> | null = null;
  #closed = false;

  constructor(private readonly deps: CopyMirrorDeps) {
    this.#loop = new PollLoop({ pass: () => this.#pass(), idleMs: deps.pollMs, onError: (error) => deps.logger.error({ err: error }, 'copy mirror pass failed') });
  }

  start(): void {
    this.#loop.start();
  }

  /** A run filled or stopped: look now if it is a master (or when not known yet). */
  nudge(runId: string): void {
    if (this.#published === null || this.#published.has(runId)) this.#loop.poke();
  }

  /** One pass, waiting for every follow it served (tests; the loop does the same on its own). */
  async runOnce(): Promise<void> {
    await this.#pass();
    await this.settled();
  }

  async settled(): Promise<void> {
    while (this.#busy.size > 0) await Promise.all([...this.#busy.values()]);
  }

  async stop(): Promise<void> {
    this.#closed = true;
    await this.#loop.stop();
    await this.settled();
    await Promise.all(
      [...this.#venues.values()].map(async (v) => {
        const venue = await v.catch(() => null);
        if (venue?.ok) await venue.value.close().catch(() => undefined);
      }),
    );
    this.#venues.clear();
  }

  /**
   * Finds the follows with something to do and serves each in its own task (a slow exchange
   * holds up only its own follow). Returns 0: a task that did work pokes the loop when done.
   */
  async #pass(): Promise<number> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const published = await db.copyMaster.findMany({ where: { status: 'active' }, select: { runId: true } });
    this.#published = new Set(published.map((m) => m.runId));
    const cutoff = new Date(now.getTime() - LOOKBACK_MS);
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT cf.id FROM copy_follows cf
      JOIN copy_masters m ON m.id = cf.master_id
      JOIN trading_runs r ON r.id = m.run_id
      WHERE cf.mode::text = ANY(${[...(this.deps.modes ?? ['paper', 'live'])]}::text[]) AND (
         cf.status = 'stopping'
         OR EXISTS (SELECT 1 FROM copy_trades t WHERE t.follow_id = cf.id AND t.status = 'pending')
         OR (cf.status = 'active' AND (
              m.status <> 'active' OR r.status::text NOT IN ('running', 'stopping')
              OR (cf.max_loss_usd IS NOT NULL AND (cf.base_qty > 0 OR cf.realized_pnl_usd < 0))
              OR EXISTS (
                SELECT 1 FROM run_fills f
                WHERE f.run_id = m.run_id AND f.delivered AND f.executed_at >= greatest(cf.started_at, ${cutoff})
                  AND NOT EXISTS (SELECT 1 FROM copy_trades t WHERE t.follow_id = cf.id AND t.master_fill_id = f.id)))))
      LIMIT 1000`;
    const limit = this.deps.concurrency ?? 16;
    for (const { id } of rows) {
      if (this.#closed || this.#busy.has(id)) continue;
      while (this.#busy.size >= limit) await Promise.race(this.#busy.values());
      const task = this.#serve(id)
        .then((worked) => {
          if (worked) this.#loop.poke();
        })
        .catch((error) => this.deps.logger.error({ err: error, followId: id }, 'copy trading: serving a follow failed'))
        .finally(() => this.#busy.delete(id));
      this.#busy.set(id, task);
    }
    // Masters whose run has ended are marked stopped (their follows were handled above or will be).
    await db.$executeRaw`
      UPDATE copy_masters m SET status = 'stopped', stop_reason = 'run_' || r.status::text, stopped_at = ${now}, updated_at = ${now}
      FROM trading_runs r
      WHERE r.id = m.run_id AND m.status = 'active' AND r.status::text NOT IN ('running', 'stopping')
        AND NOT EXISTS (SELECT 1 FROM copy_follows cf WHERE cf.master_id = m.id AND cf.status = 'active')`;
    return 0;
  }

  async #load(followId: string): Promise<FollowState | null> {
    return this.deps.db.copyFollow.findUnique({ where: { id: followId }, include: { master: { include: { run: true } } } });
  }

  /** Everything one follow needs, in order. True when something changed. */
  async #serve(followId: string): Promise<boolean> {
    let worked = false;
    // 1. Copies left pending (a crash, a lost answer) are settled before anything else.
    let follow = await this.#load(followId);
    if (!follow) return false;
    const pending = await this.deps.db.copyTrade.findMany({ where: { followId, status: 'pending' }, orderBy: { createdAt: 'asc' } });
    for (const row of pending) if (!this.#inFlight.has(row.clientOrderId)) worked = (await this.#reconcile(follow, mirrorRow(row))) || worked;
    if (pending.length > 0 && (await this.deps.db.copyTrade.count({ where: { followId, status: 'pending' } })) > 0) return worked;

    follow = await this.#load(followId);
    if (!follow) return worked;
    if (follow.status === 'active') {
      // The master's state is read before its fills: fills committed before the run ended are
      // then all visible, so its closing sells are mirrored before the follow stops.
      const end = masterEnd(follow.master, follow.master.run);
      for (const fill of await this.#unmirrored(follow)) {
        const outcome = await this.#copy(follow, fill);
        if (outcome === 'blocked') return worked;
        worked = true;
        follow = await this.#load(followId);
        if (!follow || follow.status !== 'active') break;
      }
      if (follow?.status === 'active') {
        if (end) {
          await this.#stop(follow, end);
          worked = true;
        } else if (follow.maxLossUsd !== null) {
          worked = (await this.#checkMaxLoss(follow)) || worked;
        }
      }
      follow = await this.#load(followId);
    }
    if (follow?.status === 'stopping') worked = (await this.#closeOut(follow)) || worked;
    return worked;
  }

  async #unmirrored(follow: FollowState): Promise<MasterFill[]> {
    const cutoff = new Date(this.deps.clock.now().getTime() - LOOKBACK_MS);
    const since = follow.startedAt > cutoff ? follow.startedAt : cutoff;
    return this.deps.db.$queryRaw<MasterFill[]>`
      SELECT f.id, f.side, f.price, f.qty, f.executed_at FROM run_fills f
      WHERE f.run_id = ${follow.master.runId}::uuid AND f.delivered AND f.executed_at >= ${since}
        AND NOT EXISTS (SELECT 1 FROM copy_trades t WHERE t.follow_id = ${follow.id}::uuid AND t.master_fill_id = f.id)
      ORDER BY f.executed_at, f.created_at, f.id
      LIMIT 200`;
  }

  async #stop(follow: FollowState, end: NonNullable<ReturnType<typeof masterEnd>>): Promise<void> {
    await this.deps.db.$transaction((tx) => stopFollows(tx, { followIds: [follow.id] }, { reason: end.reason, detail: end.detail, close: end.close }, this.deps.clock.now()));
  }

  // ---- one copy ----

  /** 'blocked': a copy of this follow is still pending; 'done': this fill is settled for the follow. */
  async #copy(follow: FollowState, fill: MasterFill): Promise<'done' | 'blocked'> {
    const { db, clock } = this.deps;
    const run = follow.master.run;
    const side = fill.side === 'sell' ? 'sell' : 'buy';
    const inputs = await this.#rulesAndFacts(follow);
    if (!inputs) return 'blocked';
    const { rules, facts } = inputs;
    const copiesToday = await this.#copiesRealizedToday(follow.userId, follow.mode);
    const pacer = this.deps.pacer(accountOf(follow));
    const clientOrderId = copyClientOrderId(follow.id, fill.id);
    const ref = refOf(follow);

    // Decide under the follow's row lock: one process decides each (follow, fill), once.
    const decided = await db.$transaction(async (tx): Promise<{ kind: 'done' | 'blocked' } | { kind: 'send'; row: CopyRow }> => {
      const [locked] = await tx.$queryRaw<{ status: string; base_qty: Prisma.Decimal; cost_usd: Prisma.Decimal }[]>`
        SELECT status, base_qty, cost_usd FROM copy_follows WHERE id = ${follow.id}::uuid FOR UPDATE`;
      if (locked?.status !== 'active') return { kind: 'done' };
      if (await tx.copyTrade.findUnique({ where: { followId_masterFillId: { followId: follow.id, masterFillId: fill.id } }, select: { id: true } })) return { kind: 'done' };
      if ((await tx.copyTrade.count({ where: { followId: follow.id, status: 'pending' } })) > 0) return { kind: 'blocked' };
      const now = clock.now();
      const base = { followId: follow.id, masterFillId: fill.id, clientOrderId, side, masterPrice: fill.price, signalAt: fill.executed_at };
      const sizing = sizeCopy({
        side,
        masterQty: fill.qty,
        masterPrice: fill.price,
        masterCapitalUsd: run.capitalUsd,
        followCapitalUsd: follow.capitalUsd,
        maxCapitalUsd: follow.maxCapitalUsd,
        position: { baseQty: exact(locked.base_qty), costUsd: exact(locked.cost_usd) },
        rules,
      });
      const masterWords = `the master's ${side} of ${num(fill.qty)} ${rules.base} at ${price(fill.price)}`;
      if (sizing.kind === 'skip') {
        await tx.copyTrade.create({ data: { ...base, qty: 0, status: 'skipped', reason: sizing.reason, completedAt: now } });
        await queueAlerts(tx, [copyAlert(ref, fill.id, `skipped ${masterWords}: ${sizing.message}`, 'skipped')], now);
        return { kind: 'done' };
      }
      const qty = sizing.qty;
      const risk: RiskContext = {
        now: now.getTime(),
        capital: {
          runCapitalUsd: Number(follow.capitalUsd),
          tierMaxCapitalUsd: facts.tierMaxCapitalUsd,
          capitalReservePct: CAPITAL_RESERVE_PCT,
          otherRunsCapitalUsd: facts.otherRunsCapitalUsd,
          deployedUsd: Number(locked.cost_usd),
        },
        drawdown: { dailyRealizedPnlUsd: facts.dailyRealizedPnlUsd + copiesToday, realizedDrawdownUsd: facts.realizedDrawdownUsd },
        // The master's strategy and gates judged the market; the follower's gate judges the follower.
        market: { regime: Regime.RANGING, movePct: 0 },
        execution: {
          killSwitch: facts.globalKill ? 'global' : null,
          exchangeHealthy: (pacer.pausedUntil ?? 0) <= now.getTime(),
          // The signal is the data: a copy of a fill older than the follower's STALE_TICKER_MS is refused.
          lastDataAt: fill.executed_at.getTime(),
        },
        limits: facts.limits,
      };
      const decision = checkIntent({ kind: 'place', side, notionalUsd: qty.mul(fill.price).toNumber() }, risk);
      if (!decision.pass) {
        await tx.copyTrade.create({ data: { ...base, qty: qty.toFixed(12), status: 'refused', reason: decision.refusal, completedAt: now } });
        await queueAlerts(tx, [copyAlert(ref, fill.id, `your risk limits refused a copy of ${masterWords}: ${decision.message}`, 'refused')], now);
        return { kind: 'done' };
      }
      const row = mirrorRow(await tx.copyTrade.create({ data: { ...base, qty: qty.toFixed(12), status: 'pending', submittedAt: now } }));
      return { kind: 'send', row };
    }).catch((error: unknown) => {
      // A replica wrote the same pair first (the unique key): it is that replica's copy.
      if ((error as { code?: string }).code === 'P2002') return { kind: 'done' as const };
      throw error;
    });
    if (decided.kind !== 'send') return decided.kind;

    this.#inFlight.add(clientOrderId);
    try {
      const execution = await this.#execute(follow, decided.row, rules, pacer);
      await this.#record(follow, decided.row, execution);
    } finally {
      this.#inFlight.delete(clientOrderId);
    }
    return 'done';
  }

  /** The market's rules and the follower's risk facts; null (retried on the next pass) when either is unavailable. */
  async #rulesAndFacts(follow: FollowState): Promise<{ rules: MarketRules; facts: AccountFacts } | null> {
    try {
      const [rules, facts] = await Promise.all([
        this.deps.marketRules(follow.master.run.exchange, follow.master.run.symbol),
        this.deps.accountFacts({ id: follow.id, userId: follow.userId, mode: follow.mode }),
      ]);
      return { rules, facts };
    } catch (error) {
      this.deps.logger.warn({ err: error, followId: follow.id }, 'copy trading: market rules or account facts unavailable; will retry');
      return null;
    }
  }

  /** Realised P&L of the user's copies today (UTC), for their daily loss cap. */
  async #copiesRealizedToday(userId: string, mode: RunMode): Promise<number> {
    const now = this.deps.clock.now();
    const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const [row] = await this.deps.db.$queryRaw<{ pnl: string }[]>`
      SELECT coalesce(sum(t.realized_pnl), 0)::text AS pnl FROM copy_trades t JOIN copy_follows f ON f.id = t.follow_id
      WHERE f.user_id = ${userId}::uuid AND f.mode = ${mode}::"RunMode" AND t.status = 'filled' AND t.completed_at >= ${midnight}`;
    return Number(row?.pnl ?? 0);
  }

  // ---- sending and reading back ----

  async #execute(follow: FollowState, row: Pick<CopyRow, 'clientOrderId' | 'side' | 'qty'>, rules: MarketRules, pacer: CopyPacer): Promise<Execution> {
    const run = follow.master.run;
    const request: OrderRequest = { clientOrderId: row.clientOrderId, symbol: run.symbol, side: row.side === 'sell' ? 'sell' : 'buy', type: 'market', price: 0, qty: Number(row.qty) };
    if (follow.mode === 'paper') return this.#paperFill(follow, request, rules);
    const venue = await this.#venue(accountOf(follow));
    if (!venue.ok) return { kind: 'failed', code: venue.error.code, message: venue.error.message };
    for (let attempt = 1; ; attempt++) {
      try {
        const placed = await pacer.run(() => venue.value.placeOrder(request));
        return await this.#executionOf(venue.value, run.symbol, placed);
      } catch (error) {
        if (!isVenueError(error)) {
          this.deps.logger.error({ err: error, followId: follow.id }, 'copy trading: unexpected error placing a copy; it will be reconciled');
          return { kind: 'unknown' };
        }
        const now = this.deps.clock.now().getTime();
        switch (error.kind) {
          case 'temporary':
            // Not applied (a read-type failure before the order was taken): two quick retries.
            if (attempt < 3) {
              await sleep(200 * 2 ** (attempt - 1));
              continue;
            }
            return { kind: 'failed', code: 'exchange_unavailable', message: error.message };
          case 'rate_limited':
          case 'banned': {
            const wait = error.retryAfterMs ?? 60_000;
            pacer.pauseUntil(now + wait);
            if (error.kind === 'rate_limited' && wait <= 5_000 && attempt < 3) {
              await sleep(wait);
              continue;
            }
            return { kind: 'failed', code: error.kind, message: error.message };
          }
          case 'authentication':
            this.#forgetVenue(accountOf(follow));
            return { kind: 'failed', code: 'keys_rejected', message: error.message };
          case 'unknown_outcome':
            return { kind: 'unknown' };
          case 'rejected': {
            if (error.reason === 'duplicate_order') {
              const found = await venue.value.fetchOrder(run.symbol, request.clientOrderId).catch(() => null);
              if (found) return this.#executionOf(venue.value, run.symbol, found);
            }
            return { kind: 'failed', code: error.reason ?? 'rejected', message: error.message };
          }
        }
      }
    }
  }

  /** A paper copy: the simulated venue of paper runs, filling a market order at the current price. */
  async #paperFill(follow: FollowState, request: OrderRequest, rules: MarketRules): Promise<Execution> {
    const run = follow.master.run;
    try {
      const ticker = await this.#price(run.exchange, run.symbol);
      const position = positionOf(follow);
      const cash = exact(follow.capitalUsd).sub(position.costUsd).add(position.realizedPnlUsd);
      const paper = new PaperExchange({ rules, quote: Math.max(0, cash.toNumber()), base: position.baseQty.toNumber(), clock: this.deps.clock });
      const at = this.deps.clock.now().getTime();
      paper.observe(run.symbol, { time: at, open: ticker.last, high: ticker.last, low: ticker.last, close: ticker.last, volume: 0 });
      const placed = await paper.placeOrder(request);
      return await this.#executionOf(paper, run.symbol, placed);
    } catch (error) {
      if (isVenueError(error)) return { kind: 'failed', code: error.reason ?? error.kind, message: error.message };
      throw error;
    }
  }

  /** What an order executed, from the exchange's own trades (price, quantity, fee, time). */
  async #executionOf(venue: ExchangeVenue, symbol: string, order: VenueOrder): Promise<Execution> {
    if (order.status === 'open') return { kind: 'unknown' };
    if (!(order.filledQty > 0)) return { kind: 'failed', code: 'not_filled', message: `The exchange closed the order unfilled (${order.status}).` };
    const since = Math.max(0, (order.updatedAt || this.deps.clock.now().getTime()) - TRADES_OVERLAP_MS);
    const trades = (await venue.fetchMyTrades(symbol, since)).filter(
      (t) => (order.exchangeOrderId !== '' && t.exchangeOrderId === order.exchangeOrderId) || t.clientOrderId === order.clientOrderId,
    );
    let qty = exact(0);
    let notional = exact(0);
    let fee = exact(0);
    let at = 0;
    for (const t of trades) {
      qty = qty.add(t.qty);
      notional = notional.add(exact(t.qty).mul(t.price));
      fee = fee.add(t.fee);
      at = Math.max(at, t.time);
    }
    // The trades of a filled order may show up a moment later: settle when they are all there.
    if (!(qty.gt(0) && qty.gte(exact(order.filledQty).mul(0.999999)))) return { kind: 'unknown' };
    return { kind: 'filled', qty, price: notional.div(qty), fee, at: at || this.deps.clock.now().getTime() };
  }

  async #venue(account: CopyAccount): Promise<Result<ExchangeVenue>> {
    const key = `${account.userId}:${account.exchange}:${account.credentialLabel ?? 'default'}`;
    let venue = this.#venues.get(key);
    if (!venue) {
      venue = this.deps.openLiveAccount(account);
      this.#venues.set(key, venue);
      venue.then(
        (v) => {
          if (!v.ok && this.#venues.get(key) === venue) this.#venues.delete(key);
        },
        () => {
          if (this.#venues.get(key) === venue) this.#venues.delete(key);
        },
      );
    }
    return venue;
  }

  /** Keys refused: the next copy opens the account again (the follower may have replaced them). */
  #forgetVenue(account: CopyAccount): void {
    const key = `${account.userId}:${account.exchange}:${account.credentialLabel ?? 'default'}`;
    const venue = this.#venues.get(key);
    this.#venues.delete(key);
    void venue?.then((v) => (v.ok ? v.value.close() : undefined)).catch(() => undefined);
  }

  /** The current price, shared by every follow of a market within one poll interval. */
  #price(exchange: string, symbol: string): Promise<Ticker> {
    const key = `${exchange}:${symbol}`;
    const now = this.deps.clock.now().getTime();
    const cached = this.#prices.get(key);
    if (cached && now - cached.at < this.deps.pollMs) return cached.ticker;
    const ticker = this.deps.currentPrice(exchange, symbol);
    this.#prices.set(key, { at: now, ticker });
    ticker.catch(() => this.#prices.delete(key));
    return ticker;
  }

  /** Settles a copy row that is still pending (guarded: a replica may have settled it first). */
  async #record(follow: FollowState, row: CopyRow, execution: Execution): Promise<void> {
    if (execution.kind === 'unknown') {
      this.deps.logger.warn({ followId: follow.id, clientOrderId: row.clientOrderId }, 'copy trading: order outcome unknown; will reconcile by client order id');
      return;
    }
    const ref = refOf(follow);
    const masterWords = `the master's ${row.side} at ${price(row.masterPrice)}`;
    await this.deps.db.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<{ base_qty: Prisma.Decimal; cost_usd: Prisma.Decimal; realized_pnl_usd: Prisma.Decimal; fees_usd: Prisma.Decimal; status: string }[]>`
        SELECT base_qty, cost_usd, realized_pnl_usd, fees_usd, status FROM copy_follows WHERE id = ${follow.id}::uuid FOR UPDATE`;
      const now = this.deps.clock.now();
      if (execution.kind === 'failed') {
        const updated = await tx.copyTrade.updateMany({ where: { id: row.id, status: 'pending' }, data: { status: 'failed', reason: execution.code, completedAt: now } });
        if (updated.count === 1) await queueAlerts(tx, [copyAlert(ref, row.masterFillId, `the exchange refused a copy of ${masterWords}: ${execution.message}`, 'failed')], now);
        return;
      }
      const side = row.side === 'sell' ? 'sell' : 'buy';
      const before = positionOf({ baseQty: locked!.base_qty, costUsd: locked!.cost_usd, realizedPnlUsd: locked!.realized_pnl_usd, feesUsd: locked!.fees_usd });
      const applied = applyCopyFill(before, { side, qty: execution.qty, price: execution.price, fee: execution.fee });
      const fillPrice = toScale(execution.price);
      const latencyMs = Math.max(0, execution.at - row.signalAt.getTime());
      const slip = slippageBps(side, row.masterPrice, fillPrice);
      const updated = await tx.copyTrade.updateMany({
        where: { id: row.id, status: 'pending' },
        data: {
          status: 'filled',
          filledQty: toScale(execution.qty).toFixed(12),
          price: fillPrice.toFixed(12),
          fee: toScale(execution.fee).toFixed(12),
          realizedPnl: applied.realizedPnl.toFixed(12),
          completedAt: now,
          latencyMs,
          slippageBps: slip.toFixed(4),
        },
      });
      if (updated.count !== 1) return;
      const p = applied.position;
      const data: Prisma.CopyFollowUpdateInput = { baseQty: p.baseQty.toFixed(12), costUsd: p.costUsd.toFixed(12), realizedPnlUsd: p.realizedPnlUsd.toFixed(12), feesUsd: p.feesUsd.toFixed(12) };
      const realised = side === 'sell' ? ` (realised ${usd(applied.realizedPnl.toNumber())})` : '';
      const text = `${side === 'buy' ? 'bought' : 'sold'} ${num(execution.qty)} at ${price(fillPrice)}${realised}, ${latencyMs} ms after the master, slippage ${slip.gte(0) ? '+' : ''}${slip.toFixed(1)} bps.`;
      const alerts = [copyAlert(ref, row.masterFillId, text, 'filled')];
      // The copies' loss reached the follower's limit: stop copying and sell (realised + open at this price).
      if (locked!.status === 'active' && follow.maxLossUsd !== null && maxLossReached(p, fillPrice, follow.maxLossUsd)) {
        Object.assign(data, maxLossStop(p, fillPrice, follow.maxLossUsd));
      }
      await tx.copyFollow.update({ where: { id: follow.id }, data });
      await queueAlerts(tx, alerts, now);
    });
  }

  /** A pending copy this process is not sending: look it up by its id, never send it again. */
  async #reconcile(follow: FollowState, row: CopyRow): Promise<boolean> {
    const age = this.deps.clock.now().getTime() - (row.submittedAt ?? row.createdAt).getTime();
    const grace = this.deps.pendingGraceMs ?? DEFAULT_PENDING_GRACE_MS;
    const lost = (): Execution => ({ kind: 'failed', code: 'never_reached_exchange', message: 'The copy order never reached the exchange (interrupted); it was not sent again.' });
    if (follow.mode === 'paper') {
      // A paper copy lives in memory: one left pending past the grace period was interrupted.
      if (age < grace) return false;
      await this.#record(follow, row, lost());
      return true;
    }
    const venue = await this.#venue(accountOf(follow));
    if (!venue.ok) {
      this.deps.logger.warn({ followId: follow.id, code: venue.error.code }, 'copy trading: cannot open the follower account to reconcile a pending copy');
      if (age < grace) return false;
      await this.#record(follow, row, { kind: 'failed', code: venue.error.code, message: venue.error.message });
      return true;
    }
    try {
      const found = await venue.value.fetchOrder(follow.master.run.symbol, row.clientOrderId);
      if (!found) {
        if (age < grace) return false;
        await this.#record(follow, row, lost());
        return true;
      }
      const execution = await this.#executionOf(venue.value, follow.master.run.symbol, found);
      if (execution.kind === 'unknown') return false;
      this.deps.logger.info({ followId: follow.id, clientOrderId: row.clientOrderId }, 'copy trading: adopted a pending copy found on the exchange');
      await this.#record(follow, row, execution);
      return true;
    } catch (error) {
      this.deps.logger.warn({ err: error, followId: follow.id }, 'copy trading: could not reconcile a pending copy yet');
      return false;
    }
  }

  // ---- protection ----

  async #checkMaxLoss(follow: FollowState): Promise<boolean> {
    const position = positionOf(follow);
    if (!position.baseQty.gt(0) && !position.realizedPnlUsd.lt(0)) return false;
    let mark: Decimal;
    try {
      mark = exact((await this.#price(follow.master.run.exchange, follow.master.run.symbol)).last);
    } catch (error) {
      this.deps.logger.warn({ err: error, followId: follow.id }, 'copy trading: no price to check max_loss against; will retry');
      return false;
    }
    if (!(mark.gt(0) && maxLossReached(position, mark, follow.maxLossUsd))) return false;
    const updated = await this.deps.db.copyFollow.updateMany({ where: { id: follow.id, status: 'active' }, data: maxLossStop(position, mark, follow.maxLossUsd!) });
    return updated.count === 1;
  }

  /** Sells the copies of a `stopping` follow at market, then marks it stopped and tells the follower. */
  async #closeOut(follow: FollowState): Promise<boolean> {
    const run = follow.master.run;
    const account = accountOf(follow);
    const inputs = await this.#rulesAndFacts(follow);
    if (!inputs) return false;
    const { rules, facts } = inputs;
    const venue = follow.mode === 'live' ? await this.#venue(account) : null;
    const pacer = this.deps.pacer(account);
    const clientOrderId = closeClientOrderId(follow.id, follow.startedAt);
    return this.deps.db
      .$transaction(
        async (tx) => {
          // Held for the sell: another replica skips this follow meanwhile.
          const [locked] = await tx.$queryRaw<{ status: string }[]>`SELECT status FROM copy_follows WHERE id = ${follow.id}::uuid FOR UPDATE SKIP LOCKED`;
          if (locked?.status !== 'stopping') return false;
          const current = await tx.copyFollow.findUniqueOrThrow({ where: { id: follow.id } });
          const position = positionOf(current);
          const qty = floorToLot(position.baseQty, rules.lotSize);
          const finish = async (detail: string, data: Prisma.CopyFollowUpdateInput = {}) => {
            const now = this.deps.clock.now();
            const stopDetail = [current.stopDetail, detail].filter(Boolean).join(' ');
            await tx.copyFollow.update({ where: { id: follow.id }, data: { ...data, status: 'stopped', stoppedAt: now, stopDetail } });
            await queueAlerts(tx, [followStoppedAlert(refOf(follow), current.stopReason ?? 'unfollowed', stopDetail)], now);
            return true;
          };
          if (!qty.gt(0) || qty.lt(rules.minQty)) return finish(qty.gt(0) ? `The copies' ${num(position.baseQty)} ${rules.base} is below the market minimum and was kept.` : '');
          if (facts.globalKill) return finish(`The global kill switch blocks every order: the copies keep ${num(position.baseQty)} ${rules.base}.`);
          const request: OrderRequest = { clientOrderId, symbol: run.symbol, side: 'sell', type: 'market', price: 0, qty: qty.toNumber() };
          let execution: Execution;
          if (follow.mode === 'paper') {
            execution = await this.#paperFill({ ...follow, ...current, master: follow.master }, request, rules);
          } else if (!venue!.ok) {
            execution = { kind: 'failed', code: venue!.error.code, message: venue!.error.message };
          } else {
            // A crashed earlier attempt may have sold already: look before selling.
            const earlier = await venue!.value.fetchOrder(run.symbol, clientOrderId).catch(() => null);
            execution = earlier ? await this.#executionOf(venue!.value, run.symbol, earlier) : await this.#sendClose(venue!.value, request, pacer);
          }
          if (execution.kind === 'unknown') return false; // retried on the next pass, looked up first
          if (execution.kind === 'failed') return finish(`The copies could not be sold (${execution.message}); they keep ${num(position.baseQty)} ${rules.base}.`);
          const applied = applyCopyFill(position, { side: 'sell', qty: execution.qty, price: execution.price, fee: execution.fee });
          const p = applied.position;
          // Recorded like any copy, so the close-out's P&L counts for copy fees and the daily loss cap.
          const now = this.deps.clock.now();
          await tx.copyTrade.create({
            data: {
              followId: follow.id,
              kind: 'close_out',
              clientOrderId,
              side: 'sell',
              qty: qty.toFixed(12),
              filledQty: toScale(execution.qty).toFixed(12),
              price: toScale(execution.price).toFixed(12),
              fee: toScale(execution.fee).toFixed(12),
              realizedPnl: applied.realizedPnl.toFixed(12),
              status: 'filled',
              signalAt: now,
              submittedAt: now,
              completedAt: now,
            },
          });
          return finish(`Sold the copies' ${num(execution.qty)} ${rules.base} at ${price(toScale(execution.price))} (realised ${usd(applied.realizedPnl.toNumber())}).`, {
            baseQty: p.baseQty.toFixed(12),
            costUsd: p.costUsd.toFixed(12),
            realizedPnlUsd: p.realizedPnlUsd.toFixed(12),
            feesUsd: p.feesUsd.toFixed(12),
          });
        },
        { timeout: 60_000, maxWait: 15_000 },
      )
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error, followId: follow.id }, 'copy trading: closing the copies failed; will retry');
        return false;
      });
  }

  async #sendClose(venue: ExchangeVenue, request: OrderRequest, pacer: CopyPacer): Promise<Execution> {
    try {
      const placed = await pacer.run(() => venue.placeOrder(request));
      return await this.#executionOf(venue, request.symbol, placed);
    } catch (error) {
      if (!isVenueError(error) || error.kind === 'unknown_outcome' || error.kind === 'temporary') return { kind: 'unknown' };
      if (error.kind === 'rate_limited' || error.kind === 'banned') {
        pacer.pauseUntil(this.deps.clock.now().getTime() + (error.retryAfterMs ?? 60_000));
        return { kind: 'unknown' };
      }
      return { kind: 'failed', code: error.reason ?? error.kind, message: error.message };
    }
  }
}

/** The follow's row change when its copies' loss reached max_loss: stopping, then closed by the mirror. */
function maxLossStop(position: CopyPosition, mark: Decimal, maxLossUsd: DecimalValue): Prisma.CopyFollowUpdateInput {
  const loss = copyPnl(position, mark).neg();
  return { status: 'stopping', stopReason: 'max_loss', stopDetail: `The copies lost ${usd(loss.toNumber())} (realised and open at ${price(mark)}), reaching your ${usd(Number(maxLossUsd))} limit.` };
}

function copyAlert(ref: FollowRef, masterFillId: string, what: string, outcome: 'filled' | 'refused' | 'failed' | 'skipped'): QueuedAlert {
  return {
    eventId: `copy:${ref.id}:${masterFillId}`,
    userId: ref.userId,
    alertType: COPY_ALERT_TYPE,
    text: `📋 ${followLabel(ref)}: ${what}`,
    payload: { type: 'copy', followId: ref.id, masterFillId, outcome },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

