// Keeps this replica's runs going. Every `leaseMs / 3` it renews its run leases and claims the
// active runs nobody holds (new ones, and those of a replica that died: once its lease lapses, or
// at once when it was a process on this host that is gone); each claimed run is opened,
// reconciled with its exchange and subscribed to the shared market feed. A use-case that changed
// a run's row wakes it here; a change made on another replica arrives with the next renewal.
// Start-up, crash recovery and failover are the same path.
//
// Every operation on one run (a candle, a stop, a tick) is queued behind the previous one, so a
// run never handles two things at once.
import type { Db } from '../db/client.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { appError } from '../kernel/errors.ts';
import type { LiveRunStatus, RunControl } from '../app/runs.ts';
import { claimRun, claimRuns, releaseLeases, renewLeases, runOwners } from './run-leases.ts';
import type { MarketFeed, MarketKey } from '../market-data/feed.ts';
import { isVenueError, type MarketRules } from '../exchange/venue.ts';
import { exchangeDisplayName, unreachableReason } from '../exchange/reachability.ts';
import { RunEngine, type RunEngineDeps, type RunRecord, type StopStatus } from './run-engine.ts';
import { StepSlots } from './step-slots.ts';

export interface SupervisorOptions {
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly feed: MarketFeed;
  /** Which market-data key a run reads (replay runs read the replay feed). */
  readonly marketKey: (run: RunRecord) => MarketKey;
  readonly engine: Omit<RunEngineDeps, 'marketHealth'>;
  /** Market rules by (exchange, symbol) without a run: for /paper and /live before a run exists. */
  readonly marketRules: (exchange: string, symbol: string) => Promise<MarketRules>;
  /** How often stopping runs retry and idle runs check their guards (ms). */
  readonly tickMs?: number;
  /** This process among the replicas sharing the database. */
  readonly replicaId: string;
  /** How long a run lease lasts without renewal: the failover time after a replica dies (ms). */
  readonly leaseMs?: number;
  /** True when a lease owner is known to be dead (a crashed process on this host). */
  readonly isOwnerDead?: (owner: string) => boolean;
  /** Most runs this replica holds (the rest are left for other replicas). */
  readonly maxRuns?: number;
  /**
   * Runs stepping at once across the process. Each step holds a database transaction, so this
   * stays below the connection pool: with more runs than connections, steps queue here instead
   * of timing out in the pool.
   */
  readonly maxConcurrentSteps?: number;
  /**
   * The run modes this replica may run; default both. A paper-only replica (LIVE_TRADING=off)
   * leaves live runs to a replica that may trade them: it never opens their keys or orders.
   */
  readonly modes?: readonly ('paper' | 'live')[];
  /** A run's place in the queue for a step slot when all are busy (higher first; default 0). */
  readonly stepPriority?: (run: RunRecord) => Promise<number>;
}

/** Candles a re-opened run may catch up on (those it missed while down). */
const CATCH_UP_CANDLES = 500;

interface Active {
  engine: RunEngine | null;
  unsubscribe: (() => void) | null;
  queue: Promise<void>;
}

export class RunSupervisor implements RunControl {
  readonly #runs = new Map<string, Active>();
  #timer: NodeJS.Timeout | null = null;
  #leaseTimer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #steps: StepSlots;

  constructor(private readonly options: SupervisorOptions) {
    this.#steps = new StepSlots(options.maxConcurrentSteps ?? 8);
  }

  /** Claims and opens this replica's share of the active runs, then keeps its leases renewed. */
  async start(): Promise<number> {
    await this.#renewAndClaim();
    const tickMs = this.options.tickMs ?? 15_000;
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
    this.#leaseTimer = setInterval(() => void this.#renewAndClaim().catch((error) => this.options.logger.warn({ err: error }, 'run lease renewal failed')), this.#leaseMs / 3);
    this.#leaseTimer.unref();
    return this.#runs.size;
  }

  get #leaseMs(): number {
    return this.options.leaseMs ?? 30_000;
  }

  async #renewAndClaim(): Promise<void> {
    if (this.#closed) return;
    const { db, clock, replicaId } = this.options;
    const now = clock.now();
    const lease = { replicaId, leaseMs: this.#leaseMs, now, ...(this.options.modes ? { modes: this.options.modes } : {}) };
    const running = [...this.#runs].filter(([, a]) => a.engine && !a.engine.finished).map(([id]) => id);
    const renewal = await renewLeases(db, { ...lease, running });
    // Lost a lease (paused past its end and another replica took the run): stop touching it.
    for (const runId of renewal.lost) {
      const engine = this.#runs.get(runId)?.engine;
      if (engine && !engine.finished) this.#drop(runId, true);
    }
    // A stop or kill issued on another replica.
    for (const runId of renewal.stopping) if (!this.#runs.get(runId)?.engine?.stopping) void this.wake(runId);
    const room = (this.options.maxRuns ?? 10_000) - renewal.held;
    if (room <= 0) return;
    const deadOwners = this.options.isOwnerDead ? (await runOwners(db)).filter((o) => o !== replicaId && this.options.isOwnerDead!(o)) : [];
    const claimed = await claimRuns(db, { ...lease, limit: room, deadOwners });
    if (claimed.length) this.options.logger.info({ runs: claimed.length, replica: replicaId }, 'claimed runs');
    for (const id of claimed) await this.wake(id);
  }

  get activeCount(): number {
    return [...this.#runs.values()].filter((a) => a.engine && !a.engine.finished).length;
  }

  async wake(runId: string): Promise<void> {
    if (this.#closed) return;
    let active = this.#runs.get(runId);
    if (!active) {
      active = { engine: null, unsubscribe: null, queue: Promise.resolve() };
      this.#runs.set(runId, active);
    }
    await this.#enqueue(runId, () => this.#reconcileRow(runId));
  }

  async checkMarket(exchange: string, symbol: string): Promise<Result<void>> {
    try {
      await this.options.marketRules(exchange, symbol);
      return ok(undefined);
    } catch (error) {
      if (isVenueError(error) && error.kind === 'rejected') {
        return err(appError('invalid_run_spec', { symbol }, `${exchange} has no market ${symbol}.`));
      }
      this.options.logger.warn({ err: error, exchange, symbol }, 'market check failed');
      // Said plainly (which exchange, what kind of failure) so an offline machine is recognisable.
      const reason = unreachableReason(error);
      return err(appError('exchange_unreachable', { exchange, reason }, `${exchangeDisplayName(exchange)} could not be reached from this machine (${reason}); try again in a minute.`));
    }
  }

  liveStatus(runId: string): LiveRunStatus | null {
    const engine = this.#runs.get(runId)?.engine;
    return engine && !engine.finished ? engine.status() : null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    for (const active of this.#runs.values()) active.unsubscribe?.();
    await Promise.all([...this.#runs.values()].map((a) => a.queue));
    await Promise.all([...this.#runs.values()].map((a) => a.engine?.close().catch(() => undefined)));
    this.#runs.clear();
    // Given back so another replica takes them at once instead of after the lease lapses.
    await releaseLeases(this.options.db, this.options.replicaId).catch((error) => this.options.logger.warn({ err: error }, 'could not release run leases'));
  }

  /** Makes the in-memory side match the run's row. */
  async #reconcileRow(runId: string): Promise<void> {
    const active = this.#runs.get(runId)!;
    const row = await this.options.db.tradingRun.findUnique({ where: { id: runId } });
    if (!row || (row.status !== 'running' && row.status !== 'stopping')) {
      this.#drop(runId);
      return;
    }
    if (!active.engine) {
      // Only the lease holder runs a run; another replica's run is left to it.
      const lease = { replicaId: this.options.replicaId, leaseMs: this.#leaseMs, now: this.options.clock.now(), ...(this.options.modes ? { modes: this.options.modes } : {}) };
      if (!(await claimRun(this.options.db, runId, lease))) {
        this.#drop(runId);
        return;
      }
      const record = toRecord(row);
      try {
        active.engine = await RunEngine.open(record, { ...this.options.engine, marketHealth: (run) => this.#health(run) });
      } catch (error) {
        // A run that cannot even open (unknown market, keys gone) fails with its reason; a
        // temporary exchange problem leaves it for the next tick.
        if (isVenueError(error) && (error.kind === 'temporary' || error.kind === 'rate_limited' || error.kind === 'banned' || error.kind === 'unknown_outcome')) {
          this.options.logger.warn({ err: error, runId }, 'run could not reach its exchange yet; will retry');
          return;
        }
        this.options.logger.error({ err: error, runId }, 'run could not be opened: marking it failed');
        await this.options.db.tradingRun.update({
          where: { id: runId },
          data: { status: 'failed', stopReason: 'error:open', stopDetail: String((error as Error).message ?? error).slice(0, 300), stoppedAt: this.options.clock.now() },
        });
        this.options.engine.emit({ type: 'run_stopped', run: record, status: 'failed', reason: 'error:open', detail: (error as Error).message ?? null });
        this.#drop(runId);
        return;
      }
      const engine = active.engine;
      const key = this.options.marketKey(engine.run);
      // A run that has stepped before catches up on the candles it missed (the engine skips
      // those it already saw); a new run starts with the next closed candle.
      const history = engine.run.lastCandleAt ? CATCH_UP_CANDLES : 0;
      active.unsubscribe = this.options.feed.subscribe(
        key,
        (candle) => {
          const receivedAt = performance.now();
          return this.#enqueue(runId, () => engine.onCandle(candle, receivedAt));
        },
        { history },
      );
    }
    const engine = active.engine;
    if (row.status === 'stopping') {
      const status: StopStatus = row.stopReason === 'kill' || row.stopReason === 'killall' || row.stopReason === 'admin_kill' ? 'killed' : row.stopReason?.startsWith('error:') ? 'failed' : 'stopped';
      await engine.stop({ status, reason: row.stopReason ?? 'user', detail: row.stopDetail, flatten: row.flatten });
    }
    if (engine.finished) this.#drop(runId);
  }

  #health(run: RunRecord) {
    const key = this.options.marketKey(run);
    return { lastDataAt: this.options.feed.lastReceivedAt(key), healthy: this.options.feed.healthy(key) };
  }

  #tick(): void {
    const now = this.options.clock.now().getTime();
    const tickMs = this.options.tickMs ?? 15_000;
    for (const [runId, active] of this.#runs) {
      const engine = active.engine;
      if (!engine) {
        void this.#enqueue(runId, () => this.#reconcileRow(runId));
        continue;
      }
      // A run that stepped since the last tick has checked its guards there: with thousands of
      // runs, ticking them all at once would stall every other run's next decision.
      if (!engine.stopping && engine.steppedAt > now - tickMs) continue;
      void this.#enqueue(runId, async () => {
        await engine.tick();
        if (engine.finished) this.#drop(runId);
      });
    }
  }

  #enqueue(runId: string, work: () => Promise<void>): Promise<void> {
    const active = this.#runs.get(runId);
    if (!active) return Promise.resolve();
    const next = active.queue
      .then(() => this.#steps.run(work, async () => (active.engine && this.options.stepPriority ? this.options.stepPriority(active.engine.run) : 0)))
      // The step's group-committed writes land before the run's next step (outside the step
      // limit: waiting for a batch holds no connection).
      .then(() => active.engine?.settled())
      .catch(async (error) => {
        // Crash-only: after a failed step the in-memory run may disagree with its rows, so it
        // is thrown away and re-opened from the database (and reconciled) at the next tick.
        this.options.logger.error({ err: error, runId }, 'run step failed: the run will be reloaded from the database');
        const engine = active.engine;
        active.unsubscribe?.();
        active.unsubscribe = null;
        active.engine = null;
        await engine?.close().catch(() => undefined);
      });
    active.queue = next;
    return next;
  }

  #drop(runId: string, lost = false): void {
    const active = this.#runs.get(runId);
    if (!active) return;
    active.unsubscribe?.();
    this.#runs.delete(runId);
    if (lost) {
      this.options.logger.warn({ runId }, 'lost the lease on a run: another replica runs it now');
      void active.engine?.close().catch(() => undefined);
    }
  }
}

function toRecord(row: NonNullable<Awaited<ReturnType<Db['tradingRun']['findUnique']>>>): RunRecord {
  return {
    id: row.id,
    userId: row.userId,
    seq: row.seq,
    mode: row.mode,
    strategy: row.strategy,
    symbol: row.symbol,
    exchange: row.exchange,
    timeframe: row.timeframe,
    capitalUsd: Number(row.capitalUsd),
    params: row.params as Record<string, string>,
    credentialLabel: row.credentialLabel,
    strategyState: row.strategyState,
    lastCandleAt: row.lastCandleAt,
    startedAt: row.startedAt,
  };
}
