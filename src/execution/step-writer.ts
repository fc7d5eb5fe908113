// Group commit for the small writes run steps make all the time: the strategy's checkpoint (its
// snapshot and the last candle it handled), the equity snapshot, and what the exchange said about
// an order already on record (accepted, cancelled, rejected, its exchange id). Thousands of runs
// make such writes at the same moment (every run on a symbol sees its candle close together), so
// instead of a statement per write they are gathered for one event-loop turn and written
// together: one statement per kind for up to `maxBatch` rows. Several updates of one order in a
// batch are merged in their order. Each caller's promise settles when its rows are committed (or the batch
// failed), and a run does not start its next step before that (see RunSupervisor), so a
// checkpoint is never overtaken by the run's own later writes.
//
// Steps that do trade keep their own transaction in the run engine (orders must be written
// before they are sent); they wait for the run's pending checkpoint first.
import { Prisma, type Db } from '../db/client.ts';
import type { Clock } from '../kernel/clock.ts';

export interface RunCheckpoint {
  readonly runId: string;
  /** The strategy snapshot as JSON, or null when it has not changed since the last write. */
  readonly strategyStateJson: string | null;
  /** Open time of the candle the run handled last, or null when unchanged. */
  readonly lastCandleAt: Date | null;
}

export interface EquityPoint {
  readonly runId: string;
  readonly at: Date;
  readonly equity: number;
  readonly realizedPnl: number;
  readonly price: number;
}

export interface OrderUpdate {
  readonly clientOrderId: string;
  readonly status?: 'open' | 'canceled' | 'rejected' | 'unknown' | 'filled';
  /** Set when the exchange told it; absent or null leaves the stored one. */
  readonly exchangeOrderId?: string | null;
  readonly rejectReason?: string;
}

interface Pending<T> {
  readonly row: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface StepWriterOptions {
  readonly db: Db;
  readonly clock: Clock;
  /** Rows per statement (Postgres takes at most 65,535 parameters per statement). */
  readonly maxBatch?: number;
}

export class StepWriter {
  #checkpoints: Pending<RunCheckpoint>[] = [];
  #equity: Pending<EquityPoint>[] = [];
  #orders: Pending<OrderUpdate>[] = [];
  #scheduled = false;
  #flushing: Promise<void> | null = null;
  readonly #maxBatch: number;

  constructor(private readonly options: StepWriterOptions) {
    this.#maxBatch = options.maxBatch ?? 1000;
  }

  checkpoint(row: RunCheckpoint): Promise<void> {
    return this.#add(this.#checkpoints, row);
  }

  equity(row: EquityPoint): Promise<void> {
    return this.#add(this.#equity, row);
  }

  order(row: OrderUpdate): Promise<void> {
    return this.#add(this.#orders, row);
  }

  get #queued(): boolean {
    return this.#checkpoints.length > 0 || this.#equity.length > 0 || this.#orders.length > 0;
  }

  /** Writes everything queued so far (shutdown). */
  async flush(): Promise<void> {
    while (this.#flushing || this.#queued) {
      await (this.#flushing ?? this.#startFlush());
    }
  }

  #add<T>(queue: Pending<T>[], row: T): Promise<void> {
    const written = new Promise<void>((resolve, reject) => queue.push({ row, resolve, reject }));
    // The caller awaits it later (after its step); marking it handled here keeps a failed batch
    // from being reported as an unhandled rejection in between.
    written.catch(() => undefined);
    if (!this.#scheduled && !this.#flushing) {
      this.#scheduled = true;
      // After this turn's microtasks: every run stepping on the same candle joins the batch.
      setImmediate(() => {
        this.#scheduled = false;
        if (!this.#flushing) void this.#startFlush();
      });
    }
    return written;
  }

  #startFlush(): Promise<void> {
    const flushing = this.#drain().finally(() => {
      this.#flushing = null;
      // A write added after the drain's last look but before this callback would wait forever.
      if (this.#queued) void this.#startFlush();
    });
    this.#flushing = flushing;
    return flushing;
  }

  /** Writes batches until nothing is queued; writes queued meanwhile go into the next batch. */
  async #drain(): Promise<void> {
    while (this.#queued) {
      const checkpoints = this.#checkpoints.splice(0, this.#maxBatch);
      const equity = this.#equity.splice(0, this.#maxBatch);
      const orders = this.#orders.splice(0, this.#maxBatch);
      const all = [...checkpoints, ...equity, ...orders];
      try {
        await Promise.all([
          this.#writeCheckpoints(checkpoints.map((p) => p.row)),
          this.#writeEquity(equity.map((p) => p.row)),
          this.#writeOrders(orders.map((p) => p.row)),
        ]);
        for (const p of all) p.resolve();
      } catch (error) {
        for (const p of all) p.reject(error);
      }
    }
  }

  async #writeCheckpoints(rows: readonly RunCheckpoint[]): Promise<void> {
    if (rows.length === 0) return;
    const now = this.options.clock.now();
    const values = Prisma.join(rows.map((r) => Prisma.sql`(${r.runId}::uuid, ${r.strategyStateJson}::jsonb, ${r.lastCandleAt}::timestamptz)`));
    await this.options.db.$executeRaw`
      UPDATE trading_runs AS t
      SET strategy_state = coalesce(v.state, t.strategy_state),
          last_candle_at = coalesce(v.at, t.last_candle_at),
          updated_at = ${now}
      FROM (VALUES ${values}) AS v(id, state, at)
      WHERE t.id = v.id
        -- Locked in id order first, as lease renewal locks them (see renewLeases).
        AND t.id IN (SELECT id FROM trading_runs WHERE id = ANY(${rows.map((r) => r.runId)}::uuid[]) ORDER BY id FOR NO KEY UPDATE)`;
  }

  async #writeOrders(updates: readonly OrderUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const merged = new Map<string, OrderUpdate>();
    for (const u of updates) {
      const before = merged.get(u.clientOrderId);
      merged.set(u.clientOrderId, before ? { ...before, ...u, exchangeOrderId: u.exchangeOrderId ?? before.exchangeOrderId ?? null } : u);
    }
    const rows = [...merged.values()];
    const now = this.options.clock.now();
    const values = Prisma.join(
      rows.map((r) => Prisma.sql`(${r.clientOrderId}, ${r.status ?? null}::"RunOrderStatus", ${r.exchangeOrderId ?? null}, ${r.rejectReason ?? null})`),
    );
    await this.options.db.$executeRaw`
      UPDATE run_orders AS o
      SET status = coalesce(v.status, o.status),
          exchange_order_id = coalesce(v.exchange_order_id, o.exchange_order_id),
          reject_reason = coalesce(v.reject_reason, o.reject_reason),
          updated_at = ${now}
      FROM (VALUES ${values}) AS v(client_order_id, status, exchange_order_id, reject_reason)
      WHERE o.client_order_id = v.client_order_id
        -- Spelled out so the rows are found through the index whatever the statistics say.
        AND o.client_order_id = ANY(${rows.map((r) => r.clientOrderId)}::text[])`;
  }

  async #writeEquity(rows: readonly EquityPoint[]): Promise<void> {
    if (rows.length === 0) return;
    const values = Prisma.join(
      rows.map((r) => Prisma.sql`(${r.runId}::uuid, ${r.at}::timestamptz, ${r.equity.toFixed(12)}::numeric, ${r.realizedPnl.toFixed(12)}::numeric, ${r.price.toFixed(12)}::numeric)`),
    );
    await this.options.db.$executeRaw`
      INSERT INTO run_equity_snapshots (run_id, at, equity, realized_pnl, price)
      VALUES ${values}
      ON CONFLICT DO NOTHING`;
  }
}
