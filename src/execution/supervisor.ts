// Keeps every active run going: on start-up it opens (and reconciles) each run whose row says
// running or stopping, subscribes it to the shared market feed, and afterwards acts whenever a
// use-case changed a run's row and woke it. Start-up and recovery are the same path.
//
// Every operation on one run (a candle, a stop, a tick) is queued behind the previous one, so a
// run never handles two things at once.
import type { Db } from '../db/client.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { appError } from '../kernel/errors.ts';
import { activeRunIds, type LiveRunStatus, type RunControl } from '../app/runs.ts';
import type { MarketFeed, MarketKey } from '../market-data/feed.ts';
import { isVenueError, type MarketRules } from '../exchange/venue.ts';
import { RunEngine, type RunEngineDeps, type RunRecord, type StopStatus } from './run-engine.ts';

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
  /**
   * Runs stepping at once across the process. Each step holds a database transaction, so this
   * stays below the connection pool: with more runs than connections, steps queue here instead
   * of timing out in the pool.
   */
  readonly maxConcurrentSteps?: number;
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
  #closed = false;
  #stepping = 0;
  readonly #waitingToStep: (() => void)[] = [];

  constructor(private readonly options: SupervisorOptions) {}

  /** Opens every active run (reconciling it with its exchange first) and starts the tick. */
  async start(): Promise<number> {
    const ids = await activeRunIds({ db: this.options.db, clock: this.options.clock, pool: { holdTtlMs: 0, hardOveragePct: 0 } });
    for (const id of ids) await this.wake(id);
    const tickMs = this.options.tickMs ?? 15_000;
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
    return ids.length;
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
      return err(appError('exchange_unreachable'));
    }
  }

  liveStatus(runId: string): LiveRunStatus | null {
    const engine = this.#runs.get(runId)?.engine;
    return engine && !engine.finished ? engine.status() : null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const active of this.#runs.values()) active.unsubscribe?.();
    await Promise.all([...this.#runs.values()].map((a) => a.queue));
    await Promise.all([...this.#runs.values()].map((a) => a.engine?.close().catch(() => undefined)));
    this.#runs.clear();
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
      active.unsubscribe = this.options.feed.subscribe(key, (candle) => this.#enqueue(runId, () => engine.onCandle(candle)), { history });
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
    for (const [runId, active] of this.#runs) {
      const engine = active.engine;
      if (!engine) {
        void this.#enqueue(runId, () => this.#reconcileRow(runId));
        continue;
      }
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
      .then(() => this.#limited(work))
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

  async #limited(work: () => Promise<void>): Promise<void> {
    const max = this.options.maxConcurrentSteps ?? 8;
    while (this.#stepping >= max) await new Promise<void>((resolve) => this.#waitingToStep.push(resolve));
    this.#stepping++;
    try {
      await work();
    } finally {
      this.#stepping--;
      this.#waitingToStep.shift()?.();
    }
  }

  #drop(runId: string): void {
    const active = this.#runs.get(runId);
    if (!active) return;
    active.unsubscribe?.();
    this.#runs.delete(runId);
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
