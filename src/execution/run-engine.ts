// One paper or live run, driven candle by candle: sync fills from the exchange, step the same
// Runner the backtester uses (strategy -> 4-gate risk engine -> the run's ledger), write the
// step's orders as `pending` together with the strategy snapshot, then send them. Nothing here
// knows whether the exchange is real: the composition root hands in the venue.
//
// Crash safety: an order row exists before its exchange call, with a client order id that is
// deterministic per (run, leg, attempt). After a crash, `open()` reconciles every order that was
// not final by asking the exchange for it by that id: found -> adopt its state; not found -> send
// it again with the same id (the exchange refuses a true duplicate). Fills are keyed by the
// exchange's trade id, so none is counted twice.
import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db/client.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import type { CandleSeries, CandleView } from '../market-data/candles.ts';
import { timeframeToMs } from '../market-data/market-data-service.ts';
import { Runner } from '../engine/runner.ts';
import { buildRun } from '../engine/run-spec.ts';
import type { Strategy, StrategySnapshot } from '../engine/types.ts';
import { Regime } from '../engine/regime-codes.ts';
import { TieredRiskGate, type GateRefusal, type RiskContext } from '../engine/risk/gates.ts';
import { ApiErrorWindow, evaluateGuards, movePct } from '../engine/risk/guards.ts';
import type { GuardLimits } from '../engine/risk/limits.ts';
import { isVenueError, type ExchangeVenue, type MarketRules, type MarketSession, type VenueOrder } from '../exchange/venue.ts';
import type { OrderPacer } from './order-pacer.ts';
import type { ServiceMetrics } from '../metrics/service-metrics.ts';
import { runOrderPrefix } from './client-order-id.ts';
import { RunLedger, type LedgerOrder, type LedgerState, type OutboundAction } from './run-ledger.ts';
import type { EmitRunEvent, RunEvent, RunRef } from './run-events.ts';
import type { OrderUpdate, StepWriter } from './step-writer.ts';
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import { stepStatementSql, type StepFillRow, type StepOrderChange, type StepOrderRow } from './step-statement.ts';

export interface RunRecord extends RunRef {
  readonly exchange: string;
  readonly timeframe: string;
  readonly capitalUsd: number;
  readonly params: Readonly<Record<string, string>>;
  readonly credentialLabel: string | null;
  readonly strategyState: unknown;
  readonly lastCandleAt: Date | null;
  readonly startedAt: Date;
}

/** Account-wide facts the risk engine needs each step (one user, one mode). */
export interface AccountFacts {
  readonly tierMaxCapitalUsd: number | null;
  readonly otherRunsCapitalUsd: number;
  readonly dailyRealizedPnlUsd: number;
  readonly realizedDrawdownUsd: number;
  readonly globalKill: boolean;
  readonly limits: GuardLimits;
}

/** What a paper exchange needs to rebuild its book after a restart (a real exchange ignores it). */
export interface VenueRestore {
  readonly quote: number;
  readonly base: number;
  readonly orders: readonly VenueOrder[];
}

export interface RunEngineDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly marketRules: (run: RunRecord) => Promise<MarketRules>;
  readonly openVenue: (run: RunRecord, rules: MarketRules, restore: VenueRestore) => Promise<ExchangeVenue>;
  /** Paces this run's order calls (its account's limits and, live, its exchange's priority lane). */
  readonly throttle: (run: RunRecord) => OrderPacer;
  readonly accountFacts: (run: RunRecord) => Promise<AccountFacts>;
  /** Called when this run opened or finished (its capital counts for its user's other runs, or stops counting). */
  readonly accountChanged?: (run: RunRecord) => void;
  /** Called after this run committed a sell's realised P&L. */
  readonly realized?: (run: RunRecord, pnlUsd: number, at: Date) => void;
  /** Group commit for checkpoints, equity points and what the exchange said about orders on record. */
  readonly stepWriter: StepWriter;
  readonly marketHealth: (run: RunRecord) => { readonly lastDataAt: number | null; readonly healthy: boolean };
  /** Observers in this process (tests, metrics); called after the event is committed. */
  readonly emit: EmitRunEvent;
  /** The alert each event makes (written to the outbox with the change that caused it). */
  readonly alertsFor: (events: readonly RunEvent[]) => QueuedAlert[];
  readonly metrics?: Pick<ServiceMetrics, 'orderPlaced' | 'orderFailed' | 'fill' | 'exchangeError' | 'tickToDecision'>;
  /** Grid defaults from the environment (REPLACE_*), applied unless the run sets its own. */
  readonly gridDefaults: Readonly<Record<string, string>>;
}

export type StopStatus = 'stopped' | 'killed' | 'failed';

const BLACK_SWAN_WINDOW = 12;
/** Equity snapshots at most this often (clock time; spread up to half as much again). */
const EQUITY_SNAPSHOT_MS = 60_000;
/** A step that traded nothing writes the strategy's state at most this often (clock time; spread likewise). */
const CHECKPOINT_MS = 60_000;
/** Quote held back on buys beyond price x qty, for the fee (the ledger and the restore agree on it). */
const FEE_RESERVE_PCT = 0.2;
/** Re-send cap for one order whose fate stays unknown, before the run gives up on it. */
const MAX_RESENDS = 3;
/** Trades are re-read with this overlap; trade ids make the overlap harmless. */
const TRADE_OVERLAP_MS = 60_000;

export class RunEngine {
  readonly #closes: number[] = [];
  readonly #errors = new ApiErrorWindow();
  readonly #byExchangeId = new Map<string, string>();
  readonly #rowIds = new Map<string, string>();
  readonly #resends = new Map<string, number>();
  #riskContext: RiskContext | null = null;
  #lastCandleTime: number;
  #tradesSince: number;
  #lastClose = 0;
  #stopping: { status: StopStatus; reason: string; detail: string | null; flatten: boolean } | null = null;
  #finished = false;
  #authFailed = false;
  #equityDue = -Infinity;
  #steppedAt = -Infinity;
  /** Clock time after which a step that traded nothing writes a checkpoint (-Infinity: the first step does). */
  #checkpointDue = -Infinity;
  /** Group-committed writes of earlier steps not yet known to be committed. */
  #unsettled: Promise<void>[] = [];
  readonly #refusalNoticeAt = new Map<string, number>();

  #run: RunRecord;
  #strategy: Strategy | null = null;
  #runner: Runner | null = null;
  #mappedSinceTrades = false;

  private constructor(
    run: RunRecord,
    private readonly deps: RunEngineDeps,
    private readonly venue: ExchangeVenue,
    private readonly ledger: RunLedger,
    tradesSince: number,
  ) {
    this.#run = run;
    this.#lastCandleTime = run.lastCandleAt ? run.lastCandleAt.getTime() : -Infinity;
    this.#tradesSince = tradesSince;
  }

  get run(): RunRecord {
    return this.#run;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get stopping(): boolean {
    return this.#stopping !== null;
  }

  /** Clock time (ms) of the last candle step; -Infinity before the first. */
  get steppedAt(): number {
    return this.#steppedAt;
  }

  /** Builds the run from its rows, opens its venue and reconciles with the exchange before anything trades. */
  static async open(run: RunRecord, deps: RunEngineDeps): Promise<RunEngine> {
    const rules = await deps.marketRules(run);
    const { state, rowIds, undelivered, byExchangeId, tradesSince, restore } = await loadLedgerState(deps.db, run);
    const venue = await deps.openVenue(run, rules, restore);
    const ledger = new RunLedger({ runId: run.id, rules, feeReservePct: FEE_RESERVE_PCT }, state);
    const engine = new RunEngine(run, deps, venue, ledger, tradesSince);
    for (const [clientId, rowId] of rowIds) engine.#rowIds.set(clientId, rowId);
    for (const [exchangeId, clientId] of byExchangeId) engine.#byExchangeId.set(exchangeId, clientId);
    ledger.rememberTrades(undelivered.known);
    for (const fill of undelivered.fills) ledger.receiveFill(fill);
    // A restarted run continues from its snapshot; a new one is built at its first candle
    // (a grid without a range takes it from that candle's price).
    if (run.strategyState) engine.#buildStrategy(null);
    await engine.#sync(true);
    // Its capital now counts against the user's other runs.
    deps.accountChanged?.(run);
    return engine;
  }

  async #ensureStrategy(candle: Readonly<CandleView>): Promise<void> {
    if (this.#strategy) return;
    if (this.#run.strategy === 'grid' && (this.#run.params.lower === undefined || this.#run.params.upper === undefined)) {
      // Fixed once, so a rebuilt run (after a restart) gets the very same grid.
      const params = { lower: fmt(candle.close * 0.9), upper: fmt(candle.close * 1.1), ...this.#run.params };
      await this.deps.db.tradingRun.update({ where: { id: this.#run.id }, data: { params } });
      this.#run = { ...this.#run, params };
    }
    this.#buildStrategy(candle);
  }

  #buildStrategy(candle: Readonly<CandleView> | null): void {
    const strategy = buildStrategy(this.#run, this.deps, candle);
    if (this.#run.strategyState) strategy.restore(this.#run.strategyState as StrategySnapshot);
    const gate = new TieredRiskGate(
      () => this.#riskContext!,
      (intent, refusal) => this.#onRefusal(intent.tag, refusal),
    );
    this.#strategy = strategy;
    this.#runner = new Runner(strategy, this.ledger, timeframeToMs(this.#run.timeframe), gate, {
      onRejection: (intent, reason) => this.deps.logger.info({ runId: this.#run.id, tag: intent.tag, reason }, 'intent refused by the run ledger'),
    });
  }

  /**
   * One closed candle. The market-data service calls this in order, never concurrently.
   * `receivedAt` (performance.now() when the feed delivered it) measures tick-to-decision.
   */
  async onCandle(candle: Readonly<CandleView>, receivedAt?: number): Promise<void> {
    if (this.#finished || candle.time <= this.#lastCandleTime) return;
    await this.settled();
    this.venue.observe?.(this.run.symbol, candle);
    this.#lastClose = candle.close;
    this.#closes.push(candle.close);
    if (this.#closes.length > BLACK_SWAN_WINDOW) this.#closes.shift();
    await this.#sync(false);
    if (this.#stopping) return this.#continueStop();

    await this.#ensureStrategy(candle);
    const runner = this.#runner!;
    this.#riskContext = await this.#buildRiskContext();
    runner.step(candle as CandleView);
    this.#steppedAt = this.deps.clock.now().getTime();
    if (receivedAt !== undefined) this.deps.metrics?.tickToDecision(performance.now() - receivedAt);
    this.#lastCandleTime = candle.time;
    if (runner.failure) {
      this.deps.logger.error({ err: runner.failure, runId: this.run.id }, 'strategy failed: stopping the run');
      await this.#commitStep(candle.time);
      return this.stop({ status: 'failed', reason: 'error:strategy', detail: runner.failure.message.slice(0, 300), flatten: false });
    }
    const actions = await this.#commitStep(candle.time);
    await this.#execute(actions);
    this.#snapshotEquity();

    await this.#stopIfGuardTrips();
  }

  /**
   * Resolves once every group-committed write of this run's earlier steps is in the database
   * (rejects if one failed: the run must then be reloaded). The supervisor awaits it between
   * steps; the engine before any write of its own that could be overtaken.
   */
  async settled(): Promise<void> {
    if (this.#unsettled.length === 0) return;
    const pending = this.#unsettled;
    this.#unsettled = [];
    await Promise.all(pending);
  }

  /** Equity at a fixed cadence (clock time), for P&L charts and drawdown; group-committed. */
  #snapshotEquity(): void {
    const now = this.deps.clock.now();
    if (now.getTime() < this.#equityDue || !(this.#lastClose > 0)) return;
    this.#equityDue = now.getTime() + spread(EQUITY_SNAPSHOT_MS);
    this.#unsettled.push(
      this.deps.stepWriter.equity({ runId: this.run.id, at: now, equity: this.ledger.equity(this.#lastClose), realizedPnl: this.ledger.realizedPnl, price: this.#lastClose }),
    );
  }

  async #stopIfGuardTrips(): Promise<void> {
    const trip = this.#checkGuards();
    if (!trip) return;
    const event: RunEvent = { type: 'guard_tripped', run: this.run, guard: trip.guard, message: trip.message };
    await this.stop({ status: 'stopped', reason: `guard:${trip.guard}`, detail: trip.message, flatten: false }, event);
  }

  /** Keeps a stopping run moving when no candles arrive (exchange down, data stale). */
  async tick(): Promise<void> {
    if (this.#finished) return;
    if (this.#stopping) {
      await this.#sync(false);
      return this.#continueStop();
    }
    // Without candles the guards still watch the data's age and the error rate.
    this.#riskContext = await this.#buildRiskContext();
    await this.#stopIfGuardTrips();
  }

  /**
   * Stops trading: cancels every open order (then, with flatten, sells what the run holds) and
   * marks the run final once the exchange confirms. Until then the run stays `stopping` and
   * `tick()` keeps trying; a restart resumes the same way. Idempotent.
   */
  async stop(request: { status: StopStatus; reason: string; detail: string | null; flatten: boolean }, cause?: RunEvent): Promise<void> {
    if (this.#finished) return;
    if (!this.#stopping) {
      this.#stopping = { ...request };
      await this.settled();
      // The reason and its alert (a tripped guard) are committed together.
      await this.deps.db.$transaction(async (tx) => {
        await tx.tradingRun.update({
          where: { id: this.run.id },
          data: { status: 'stopping', stopReason: request.reason, stopDetail: request.detail, flatten: request.flatten },
        });
        if (cause) await this.#queueEvents(tx, [cause]);
      });
      if (cause) this.deps.emit(cause);
      this.ledger.cancelAll();
      const actions = await this.#commitStep(null);
      await this.#execute(actions);
      await this.#sync(false);
    }
    await this.#continueStop();
  }

  async close(): Promise<void> {
    await this.venue.close();
  }

  /** Position, orders and P&L for /status. */
  status(markPrice = this.#lastClose) {
    const p = this.ledger.position;
    return {
      base: p.base,
      quote: p.quote,
      equity: this.ledger.equity(markPrice),
      realizedPnl: this.ledger.realizedPnl,
      openOrders: this.ledger.openOrders.length,
      regime: this.#strategy?.regime ?? null,
      lastClose: this.#lastClose,
      lastCandleTime: Number.isFinite(this.#lastCandleTime) ? this.#lastCandleTime : null,
    };
  }

  async #continueStop(): Promise<void> {
    const stopping = this.#stopping!;
    if (this.ledger.liveOrders.some((o) => o.tag !== 'flatten')) {
      // Re-send cancels the exchange has not confirmed yet.
      for (const order of this.ledger.liveOrders) if (order.state === 'canceling') await this.#cancel(order);
      await this.#sync(false);
      if (this.ledger.liveOrders.some((o) => o.tag !== 'flatten')) return;
    }
    if (stopping.flatten && this.ledger.position.freeBase > 0 && !this.ledger.liveOrders.some((o) => o.tag === 'flatten')) {
      const refPrice = this.#lastClose || (await this.venue.fetchTicker(this.run.symbol).catch(() => ({ last: 0 }))).last;
      if (refPrice > 0 && this.ledger.flatten(this.deps.clock.now().getTime(), refPrice) === null) {
        const actions = await this.#commitStep(null);
        await this.#execute(actions);
        await this.#sync(false);
      }
    }
    if (this.ledger.liveOrders.length > 0 || this.ledger.hasPendingFills()) {
      // Flatten fills still to settle: settle them without asking the strategy anything.
      this.ledger.matchCandle({ time: 0, open: 0, high: 0, low: 0, close: 0, volume: 0 }, () => undefined);
      await this.#commitStep(null);
      if (this.ledger.liveOrders.length > 0) return;
    }
    this.#finished = true;
    await this.settled();
    const now = this.deps.clock.now();
    const stopped: RunEvent = { type: 'run_stopped', run: this.run, status: stopping.status, reason: stopping.reason, detail: stopping.detail };
    await this.deps.db.$transaction(async (tx) => {
      await tx.tradingRun.update({ where: { id: this.run.id }, data: { status: stopping.status, stoppedAt: now } });
      await this.#queueEvents(tx, [stopped]);
    });
    this.deps.emit(stopped);
    // Its capital no longer counts against the user's other runs.
    this.deps.accountChanged?.(this.run);
    await this.venue.close();
  }

  async #buildRiskContext(): Promise<RiskContext> {
    const facts = await this.deps.accountFacts(this.run);
    const health = this.deps.marketHealth(this.run);
    const now = this.deps.clock.now().getTime();
    const throttle = this.deps.throttle(this.run);
    const session = await this.#marketSession();
    // A closed stock market trades nothing, so no data then is not stale data; after the open,
    // the first candle is due one candle later.
    const lastDataAt = !session
      ? health.lastDataAt
      : session.open
        ? Math.max(health.lastDataAt ?? -Infinity, session.since + timeframeToMs(this.#run.timeframe))
        : now;
    return {
      now,
      capital: {
        runCapitalUsd: this.run.capitalUsd,
        tierMaxCapitalUsd: facts.tierMaxCapitalUsd,
        otherRunsCapitalUsd: facts.otherRunsCapitalUsd,
        capitalReservePct: Number(this.run.params.capital_reserve_pct ?? 10),
        deployedUsd: this.ledger.deployed,
      },
      drawdown: { dailyRealizedPnlUsd: facts.dailyRealizedPnlUsd, realizedDrawdownUsd: facts.realizedDrawdownUsd },
      market: { regime: this.#strategy?.regime ?? Regime.WARMUP, movePct: movePct(this.#closes) },
      execution: {
        killSwitch: facts.globalKill ? 'global' : null,
        exchangeHealthy: health.healthy && throttle.pausedUntil <= now && !this.#authFailed,
        lastDataAt,
        marketClosedUntil: session && !session.open ? session.opensAt : null,
      },
      limits: facts.limits,
    };
  }

  /** The session of a venue that trades in sessions (equities); null for 24/7 venues, or when its clock cannot be read now. */
  async #marketSession(): Promise<MarketSession | null> {
    if (!this.venue.marketSession) return null;
    try {
      return await this.venue.marketSession();
    } catch (error) {
      // The venue refuses to place while it cannot tell (its placeOrder reads the same clock).
      this.deps.logger.warn({ err: error, runId: this.run.id }, 'market clock unavailable');
      return null;
    }
  }

  #checkGuards() {
    const ctx = this.#riskContext;
    if (!ctx) return null;
    const now = ctx.now;
    const equity = this.ledger.equity(this.#lastClose || 0);
    return evaluateGuards(
      {
        now,
        startedAt: this.run.startedAt.getTime(),
        runLossUsd: this.#lastClose > 0 ? this.run.capitalUsd - equity : 0,
        realizedDrawdownUsd: ctx.drawdown.realizedDrawdownUsd,
        apiErrorsLastMinute: this.#errors.count(now),
        lastDataAt: ctx.execution.lastDataAt,
      },
      ctx.limits,
    );
  }

  #onRefusal(tag: string, refusal: GateRefusal): void {
    this.deps.logger.info({ runId: this.run.id, tag, gate: refusal.gate, refusal: refusal.refusal }, 'intent refused by the risk engine');
    // Tell the owner once an hour per reason, not once per candle; a closed market once per
    // closure (the message names the opening, and the event id carries it).
    const now = this.deps.clock.now().getTime();
    const closure = refusal.refusal === 'market_closed' ? (this.#riskContext?.execution.marketClosedUntil ?? null) : null;
    const key = closure === null ? refusal.refusal : `market_closed:${closure}`;
    const last = this.#refusalNoticeAt.get(key) ?? -Infinity;
    if (closure === null ? now - last < 3_600_000 : last > -Infinity) return;
    this.#refusalNoticeAt.set(key, now);
    const bucket = closure ?? Math.floor(now / 3_600_000) * 3_600_000;
    const event: RunEvent = { type: 'risk_refused', run: this.run, refusal: refusal.refusal, message: refusal.message, hourBucket: bucket };
    // Nothing changes state here: the alert is queued on its own (asynchronously: gates are synchronous).
    void this.#queueEvents(this.deps.db, [event]).catch((error) => this.deps.logger.warn({ err: error, runId: this.run.id }, 'could not queue a risk alert'));
    this.deps.emit(event);
  }

  /**
   * Persists what the step decided, in one transaction: settled fills (delivered, with their
   * realised P&L), new orders as `pending`, cancels as `canceling`, and the strategy snapshot.
   */
  async #commitStep(candleTime: number | null): Promise<OutboundAction[]> {
    const actions = this.ledger.drainOutbound();
    const settled = this.ledger.drainSettled();
    // Round trips are in run_fills already; kept in the strategy they would grow every snapshot.
    this.#strategy?.forgetClosedCycles();
    const now = this.deps.clock.now().getTime();
    if (actions.length === 0 && settled.length === 0) {
      // Nothing traded. What the strategy learnt since its last checkpoint follows from the
      // candles alone (strategies are pure), and a restarted run replays the candles after its
      // checkpoint from the feed's history; so a checkpoint is written at most every
      // CHECKPOINT_MS, group-committed with other runs' (see StepWriter). Outside a candle (a
      // stop) nothing traded means the strategy saw nothing new.
      if (candleTime === null || now < this.#checkpointDue) return actions;
      this.#checkpointDue = now + spread(CHECKPOINT_MS);
      const stateJson = this.#strategy ? JSON.stringify(this.#strategy.snapshot()) : null;
      this.#unsettled.push(this.deps.stepWriter.checkpoint({ runId: this.run.id, strategyStateJson: stateJson, lastCandleAt: new Date(candleTime) }));
      return actions;
    }
    const snapshot = this.#strategy?.snapshot() ?? null;
    await this.settled();
    const fills: RunEvent[] = settled.map((s) => ({
      type: 'fill',
      run: this.run,
      tradeId: s.fill.tradeId,
      side: s.order.side,
      price: s.fill.price,
      qty: s.fill.qty,
      tag: s.order.tag,
      realizedPnl: s.realizedPnl,
    }));
    // One change per order: the last fill settled on it (an order can fill in several parts), a cancel.
    const changes = new Map<string, StepOrderChange>();
    for (const s of settled) changes.set(s.order.clientOrderId, { clientOrderId: s.order.clientOrderId, filledQty: s.order.filledQty, status: s.complete ? 'filled' : null });
    const newOrders: StepOrderRow[] = [];
    for (const action of actions) {
      const order = action.order;
      if (action.kind === 'place') {
        const id = randomUUID();
        this.#rowIds.set(order.clientOrderId, id);
        newOrders.push({ id, clientOrderId: order.clientOrderId, tag: order.tag, attempt: order.attempt, side: order.side, type: order.type, price: order.price, qty: order.qty });
      } else {
        const before = changes.get(order.clientOrderId);
        changes.set(order.clientOrderId, { clientOrderId: order.clientOrderId, filledQty: before?.filledQty ?? null, status: before?.status ?? 'canceling' });
      }
    }
    // Fills are written once the strategy has them (delivered, with their realised P&L). One
    // received but not yet settled is not lost by a crash: a live exchange hands it out again
    // (trades are re-read from the last one on record), and a paper exchange, rebuilt from these
    // rows, never had it.
    const fillRows: StepFillRow[] = settled.map((s) => ({
      id: randomUUID(),
      orderId: this.#rowIds.get(s.fill.clientOrderId)!,
      tradeId: s.fill.tradeId,
      side: s.order.side,
      price: s.fill.price,
      qty: s.fill.qty,
      fee: s.fill.fee,
      realizedPnl: s.realizedPnl,
      executedAt: new Date(s.fill.time),
    }));
    await this.deps.db.$executeRaw(
      stepStatementSql({
        runId: this.run.id,
        now: new Date(now),
        alerts: fills.length ? this.deps.alertsFor(fills) : [],
        fills: fillRows,
        newOrders,
        orderChanges: [...changes.values()],
        strategyStateJson: snapshot ? JSON.stringify(snapshot) : null,
        lastCandleAt: candleTime === null ? null : new Date(candleTime),
      }),
    );
    this.#checkpointDue = now + spread(CHECKPOINT_MS);
    // A sell's realised P&L moves the user's daily P&L and drawdown.
    for (const s of settled) if (s.order.side === 'sell') this.deps.realized?.(this.run, s.realizedPnl, new Date(s.fill.time));
    for (const event of fills) {
      this.deps.emit(event);
      if (event.type === 'fill') this.deps.metrics?.fill(this.run.mode, this.run.exchange, event.side);
    }
    return actions;
  }

  async #queueEvents(db: Db | Tx, events: readonly RunEvent[]): Promise<void> {
    await queueAlerts(db, this.deps.alertsFor(events), this.deps.clock.now());
  }

  /** Sends the step's actions: cancels in order, consecutive places side by side (the account throttle paces them). */
  async #execute(actions: readonly OutboundAction[]): Promise<void> {
    let batch: LedgerOrder[] = [];
    const flush = async () => {
      const orders = batch;
      batch = [];
      await Promise.all(orders.map((o) => this.#place(o)));
    };
    for (const action of actions) {
      if (action.kind === 'place') {
        batch.push(action.order);
        continue;
      }
      await flush();
      await this.#cancel(action.order);
    }
    await flush();
  }

  async #place(order: LedgerOrder): Promise<void> {
    if (this.#authFailed) return;
    const request = { clientOrderId: order.clientOrderId, symbol: this.run.symbol, side: order.side, type: order.type, price: order.price, qty: order.qty };
    for (let attempt = 1; ; attempt++) {
      try {
        const placed = await this.deps.throttle(this.run).run(() => this.venue.placeOrder(request));
        this.deps.metrics?.orderPlaced(this.run.mode, this.run.exchange);
        await this.#adopt(order, placed);
        return;
      } catch (error) {
        const next = await this.#onVenueError(error, 'place', order);
        if (!(next === 'retry' && attempt < 3) && !(isVenueError(error) && error.reason === 'duplicate_order')) {
          this.deps.metrics?.orderFailed(this.run.mode, this.run.exchange, isVenueError(error) ? error.kind : 'unexpected');
        }
        if (next === 'retry' && attempt < 3) {
          // Temporary failures (a blip, a resynced clock) get two quick, spaced retries.
          await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
          continue;
        }
        if (next === 'retry' || next === 'unknown') {
          // Its fate is unknown: the next sync asks the exchange by client order id.
          this.ledger.orderUnknown(order.clientOrderId);
          this.#setOrder(order.clientOrderId, { status: 'unknown' });
        }
        return;
      }
    }
  }

  async #cancel(order: LedgerOrder): Promise<void> {
    try {
      const result = await this.deps.throttle(this.run).run(() => this.venue.cancelOrder(this.run.symbol, order.clientOrderId));
      if (result) return this.#adopt(order, result);
      // Unknown to the exchange: it may have filled, or never arrived. Ask for it.
      const found = await this.venue.fetchOrder(this.run.symbol, order.clientOrderId);
      if (found) return this.#adopt(order, found);
      this.ledger.orderClosed(order.clientOrderId);
      this.#setOrder(order.clientOrderId, { status: 'canceled' });
    } catch (error) {
      await this.#onVenueError(error, 'cancel', order);
    }
  }

  /** Applies what the exchange says about one of our orders. */
  async #adopt(order: LedgerOrder, remote: VenueOrder): Promise<void> {
    if (remote.exchangeOrderId && !this.#byExchangeId.has(remote.exchangeOrderId)) {
      this.#byExchangeId.set(remote.exchangeOrderId, order.clientOrderId);
      if (remote.filledQty > 0) this.#mappedSinceTrades = true;
    }
    const exchangeOrderId = remote.exchangeOrderId || null;
    if (remote.status === 'open') {
      if (order.state !== 'canceling') {
        this.ledger.orderAccepted(order.clientOrderId);
        this.#setOrder(order.clientOrderId, { status: 'open', exchangeOrderId });
      } else {
        this.#setOrder(order.clientOrderId, { exchangeOrderId });
      }
      return;
    }
    if (remote.status === 'filled') {
      // The fills arrive through the trade history; until then the order stays in the book.
      this.ledger.orderAccepted(order.clientOrderId);
      this.#setOrder(order.clientOrderId, { exchangeOrderId });
      if (remote.filledQty > order.filledQty) await this.#syncTrades();
      return;
    }
    // canceled, expired or rejected: whatever filled before arrives through the trades.
    if (remote.filledQty > order.filledQty) await this.#syncTrades();
    this.ledger.orderClosed(order.clientOrderId);
    this.#setOrder(order.clientOrderId, { status: remote.status === 'rejected' ? 'rejected' : 'canceled', exchangeOrderId });
  }

  /** Classifies a venue failure: 'retry' (after waiting), 'unknown' (reconcile later) or 'done'. */
  async #onVenueError(error: unknown, call: 'place' | 'cancel' | 'sync', order: LedgerOrder | null): Promise<'retry' | 'unknown' | 'done'> {
    const now = this.deps.clock.now().getTime();
    this.#errors.record(now);
    if (!isVenueError(error)) {
      this.deps.logger.error({ err: error, runId: this.run.id, call }, 'unexpected error talking to the venue');
      return call === 'place' ? 'unknown' : 'done';
    }
    this.deps.metrics?.exchangeError(this.run.exchange, error.kind);
    const log = { runId: this.run.id, call, kind: error.kind, reason: error.reason, tag: order?.tag, detail: error.message };
    switch (error.kind) {
      case 'rate_limited':
      case 'banned': {
        const wait = error.retryAfterMs ?? 60_000;
        this.deps.throttle(this.run).pauseUntil(now + wait);
        this.deps.logger.warn(log, 'exchange rate limit: pausing this account');
        if (error.kind === 'banned') {
          const event: RunEvent = { type: 'exchange_banned', run: this.run, retryAfterMs: wait, minuteBucket: Math.floor(now / 60_000) * 60_000 };
          await this.#queueEvents(this.deps.db, [event]);
          this.deps.emit(event);
        }
        // Waiting out a ban inside a step would stall every run; reconcile later instead.
        return error.kind === 'rate_limited' && wait <= 5_000 ? 'retry' : 'unknown';
      }
      case 'temporary':
        this.deps.logger.warn(log, 'temporary exchange error');
        return 'retry';
      case 'unknown_outcome':
        this.deps.logger.warn(log, 'order outcome unknown: will reconcile by client order id');
        return 'unknown';
      case 'authentication':
        this.#authFailed = true;
        this.deps.logger.error(log, 'exchange refused our API key');
        if (order && call === 'place') {
          this.ledger.orderClosed(order.clientOrderId);
          this.#setOrder(order.clientOrderId, { status: 'rejected', rejectReason: 'authentication' });
        }
        if (!this.#stopping) {
          void this.stop({ status: 'failed', reason: 'error:authentication', detail: error.message, flatten: false });
        }
        return 'done';
      case 'rejected':
        if (order && call === 'place') {
          if (error.reason === 'duplicate_order') {
            // Our own earlier send got through: adopt it instead of failing the leg.
            const found = await this.venue.fetchOrder(this.run.symbol, order.clientOrderId).catch(() => null);
            if (found) {
              await this.#adopt(order, found);
              return 'done';
            }
          }
          this.ledger.orderClosed(order.clientOrderId);
          const event: RunEvent = { type: 'order_rejected', run: this.run, clientOrderId: order.clientOrderId, tag: order.tag, reason: error.reason ?? 'other', message: error.message };
          await this.settled();
          await this.deps.db.$transaction(async (tx) => {
            await tx.runOrder.updateMany({ where: { clientOrderId: order.clientOrderId }, data: { status: 'rejected', rejectReason: error.reason ?? 'other' } });
            await this.#queueEvents(tx, [event]);
          });
          this.deps.emit(event);
        }
        this.deps.logger.info(log, 'exchange rejected the request');
        return 'done';
    }
  }

  /**
   * Records what the exchange said about an order already on record; group-committed (the run's
   * next step, and any transaction of its own, waits for it).
   */
  #setOrder(clientOrderId: string, data: Omit<OrderUpdate, 'clientOrderId'>): void {
    this.#unsettled.push(this.deps.stepWriter.order({ clientOrderId, ...data }));
  }

  /**
   * Brings the ledger up to date with the exchange: new trades become fills (handed to the
   * strategy, and written, at its next step), orders whose fate is unknown are looked up by
   * client order id (and re-sent if the exchange never got them), vanished orders are closed.
   * `full` (after a start or restart) checks every order individually.
   */
  async #sync(full: boolean): Promise<void> {
    try {
      await this.#syncTrades();
      const open = full || this.ledger.liveOrders.length > 0 ? await this.venue.fetchOpenOrders(this.run.symbol) : [];
      const openIds = new Set(open.map((o) => o.clientOrderId));
      for (const o of open) if (o.exchangeOrderId) this.#byExchangeId.set(o.exchangeOrderId, o.clientOrderId);
      for (const order of [...this.ledger.liveOrders]) {
        const uncertain = order.state === 'pending' || order.state === 'unknown' || order.state === 'canceling';
        if (!full && !uncertain && openIds.has(order.clientOrderId)) continue;
        if (!full && order.state === 'canceling' && openIds.has(order.clientOrderId)) continue; // still cancelling
        const remote = await this.venue.fetchOrder(this.run.symbol, order.clientOrderId);
        if (remote) {
          await this.#adopt(order, remote);
        } else if (order.state === 'canceling') {
          this.ledger.orderClosed(order.clientOrderId);
          this.#setOrder(order.clientOrderId, { status: 'canceled' });
        } else {
          const resends = (this.#resends.get(order.clientOrderId) ?? 0) + 1;
          this.#resends.set(order.clientOrderId, resends);
          if (resends > MAX_RESENDS) {
            this.ledger.orderClosed(order.clientOrderId);
            this.#setOrder(order.clientOrderId, { status: 'rejected', rejectReason: 'never_reached_exchange' });
            continue;
          }
          // The exchange never got it: sending it again under the same id cannot duplicate it.
          await this.#place(order);
        }
      }
      if (this.#mappedSinceTrades) {
        // Trades of orders we only just identified were skipped above.
        this.#mappedSinceTrades = false;
        await this.#syncTrades();
      }
      if (full) {
        // Orders with this run's prefix that we have no row for cannot come from us: cancel them.
        const prefix = runOrderPrefix(this.run.id);
        for (const o of open) {
          if (o.clientOrderId.startsWith(prefix) && !this.ledger.liveOrders.some((l) => l.clientOrderId === o.clientOrderId)) {
            this.deps.logger.warn({ runId: this.run.id, clientOrderId: o.clientOrderId }, 'cancelling an order of this run that has no record');
            await this.venue.cancelOrder(this.run.symbol, o.clientOrderId);
          }
        }
      }
    } catch (error) {
      await this.#onVenueError(error, 'sync', null);
    }
  }

  async #syncTrades(): Promise<void> {
    const trades = await this.venue.fetchMyTrades(this.run.symbol, Math.max(0, this.#tradesSince - TRADE_OVERLAP_MS));
    for (const trade of trades) {
      const clientOrderId = trade.clientOrderId ?? this.#byExchangeId.get(trade.exchangeOrderId);
      if (!clientOrderId) continue;
      // Written when settled (see #insertSettledFills); the ledger ignores a trade id it has seen.
      this.ledger.receiveFill({ clientOrderId, tradeId: trade.tradeId, price: trade.price, qty: trade.qty, fee: trade.fee, liquidity: trade.liquidity, time: trade.time });
      // Only our own trades move the window: one we could not map yet must be read again.
      if (trade.time > this.#tradesSince) this.#tradesSince = trade.time;
    }
  }
}

/**
 * `ms` to 1.5 × `ms`, at random: runs started together (every run after a restart) would otherwise
 * all write their checkpoint and equity point in the same step, stalling everyone's decisions.
 */
const spread = (ms: number): number => ms * (1 + Math.random() / 2);

const fmt = (n: number): string => Number(n.toPrecision(10)).toString();

function toVenueOrder(o: LedgerOrder, symbol: string): VenueOrder {
  return { clientOrderId: o.clientOrderId, exchangeOrderId: '', symbol, side: o.side, type: o.type, price: o.price, qty: o.qty, filledQty: o.filledQty, status: 'open', updatedAt: o.placedAt };
}


/** A one-candle series: run-spec derives grid and venue defaults from it. */
function seriesAround(run: RunRecord, candle: Readonly<CandleView> | null): CandleSeries {
  const price = candle?.close ?? 1;
  const col = (v: number) => Float64Array.of(v);
  return {
    symbol: run.symbol,
    timeframeMs: timeframeToMs(run.timeframe),
    length: 1,
    time: col(candle?.time ?? 0),
    open: col(price),
    high: col(price),
    low: col(price),
    close: col(price),
    volume: col(candle?.volume ?? 0),
  };
}

export function buildStrategy(run: RunRecord, deps: Pick<RunEngineDeps, 'gridDefaults'>, referenceCandle: Readonly<CandleView> | null): Strategy {
  const overrides = run.strategy === 'grid' ? { ...deps.gridDefaults, ...run.params } : { ...run.params };
  const built = buildRun({ strategy: run.strategy as 'dca' | 'grid', overrides, capital: run.capitalUsd }, seriesAround(run, referenceCandle));
  if (!built.ok) throw new Error(`run ${run.id} cannot be rebuilt: ${built.problem}`);
  return built.value.strategy;
}

interface LoadedLedger {
  state: LedgerState;
  rowIds: Map<string, string>;
  byExchangeId: Map<string, string>;
  undelivered: { fills: { clientOrderId: string; tradeId: string; price: number; qty: number; fee: number; liquidity: 'maker' | 'taker'; time: number }[]; known: string[] };
  tradesSince: number;
  restore: VenueRestore;
}

/** Rebuilds the run's book from its rows: delivered fills make the position, unfinished orders the book. */
async function loadLedgerState(db: Db, run: RunRecord): Promise<LoadedLedger> {
  const orders = await db.runOrder.findMany({ where: { runId: run.id }, orderBy: { createdAt: 'asc' } });
  const fills = await db.runFill.findMany({ where: { runId: run.id }, orderBy: [{ executedAt: 'asc' }, { createdAt: 'asc' }] });
  const byId = new Map(orders.map((o) => [o.id, o]));
  let quote = run.capitalUsd;
  let base = 0;
  let costBasis = 0;
  let realizedPnl = 0;
  const deliveredQty = new Map<string, number>();
  // What the exchange has executed, delivered to the strategy or not (a paper book is rebuilt from this).
  const executedQty = new Map<string, number>();
  let exchangeQuote = run.capitalUsd;
  let exchangeBase = 0;
  const undelivered: LoadedLedger['undelivered'] = { fills: [], known: [] };
  let tradesSince = run.startedAt.getTime();
  for (const f of fills) {
    const order = byId.get(f.orderId)!;
    const price = Number(f.price);
    const qty = Number(f.qty);
    const fee = Number(f.fee);
    tradesSince = Math.max(tradesSince, f.executedAt.getTime());
    executedQty.set(order.id, (executedQty.get(order.id) ?? 0) + qty);
    exchangeQuote += f.side === 'buy' ? -(price * qty + fee) : price * qty - fee;
    exchangeBase += f.side === 'buy' ? qty : -qty;
    if (!f.delivered) {
      undelivered.fills.push({ clientOrderId: order.clientOrderId, tradeId: f.tradeId, price, qty, fee, liquidity: 'maker', time: f.executedAt.getTime() });
      continue;
    }
    undelivered.known.push(f.tradeId);
    deliveredQty.set(order.id, (deliveredQty.get(order.id) ?? 0) + qty);
    if (f.side === 'buy') {
      quote -= price * qty + fee;
      base += qty;
      costBasis += price * qty + fee;
    } else {
      const avg = base > 0 ? costBasis / base : 0;
      costBasis -= avg * Math.min(qty, base);
      quote += price * qty - fee;
      base -= qty;
      realizedPnl += Number(f.realizedPnl);
    }
  }
  const attempts = new Map<string, number>();
  const rowIds = new Map<string, string>();
  const byExchangeId = new Map<string, string>();
  const exchangeIdOf = new Map<string, string>();
  const live: LedgerOrder[] = [];
  for (const o of orders) {
    rowIds.set(o.clientOrderId, o.id);
    if (o.exchangeOrderId) {
      byExchangeId.set(o.exchangeOrderId, o.clientOrderId);
      exchangeIdOf.set(o.clientOrderId, o.exchangeOrderId);
    }
    attempts.set(o.tag, Math.max(attempts.get(o.tag) ?? 0, o.attempt));
    const unfinished = o.status === 'pending' || o.status === 'open' || o.status === 'unknown' || o.status === 'canceling';
    // A filled order whose last fill the strategy has not seen yet stays in the book until it has.
    const awaitingDelivery = o.status === 'filled' && undelivered.fills.some((f) => f.clientOrderId === o.clientOrderId);
    if (!unfinished && !awaitingDelivery) continue;
    const price = Number(o.price);
    const qty = Number(o.qty);
    const filledQty = deliveredQty.get(o.id) ?? 0;
    const remaining = Math.max(0, qty - filledQty);
    live.push({
      clientOrderId: o.clientOrderId,
      tag: o.tag,
      side: o.side as 'buy' | 'sell',
      type: o.type as 'limit' | 'market',
      price,
      qty,
      filledQty,
      placedAt: o.createdAt.getTime(),
      attempt: o.attempt,
      state: o.status === 'open' || o.status === 'filled' ? 'open' : o.status === 'canceling' ? 'canceling' : o.status === 'pending' ? 'pending' : 'unknown',
      locked: o.side === 'buy' ? price * remaining * (1 + FEE_RESERVE_PCT / 100) * (o.type === 'market' ? 1.02 : 1) : remaining,
    });
  }
  const restore: VenueRestore = {
    quote: exchangeQuote,
    base: exchangeBase,
    orders: live
      .filter((o) => o.state === 'open' || o.state === 'canceling')
      .map((o) => {
        const executed = executedQty.get(rowIds.get(o.clientOrderId)!) ?? 0;
        return { ...toVenueOrder(o, run.symbol), filledQty: executed, exchangeOrderId: exchangeIdOf.get(o.clientOrderId) ?? '' };
      })
      .filter((o) => o.qty - o.filledQty > 0),
  };
  return { state: { base, quote, costBasis, realizedPnl, orders: live, attempts }, rowIds, byExchangeId, undelivered, tradesSince, restore };
}
