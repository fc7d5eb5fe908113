// What a run step that traded writes, as ONE statement (data-modifying CTEs): the fills it
// settled and their alerts, the orders it is about to send (as `pending`), what changed on
// orders already on record (filled quantity, filled, canceling) and the run's checkpoint. One
// statement is one transaction and one round trip: the orders are on record before the engine
// sends them, and nothing is half-written if the process dies.
import { Prisma } from '../db/client.ts';
import { insertAlertsSql, type QueuedAlert } from '../alerts/outbox.ts';

export interface StepFillRow {
  readonly id: string;
  readonly orderId: string;
  readonly tradeId: string;
  readonly side: 'buy' | 'sell';
  readonly price: number;
  readonly qty: number;
  readonly fee: number;
  readonly realizedPnl: number;
  readonly executedAt: Date;
}

export interface StepOrderRow {
  readonly id: string;
  readonly clientOrderId: string;
  readonly tag: string;
  readonly attempt: number;
  readonly side: 'buy' | 'sell';
  readonly type: 'limit' | 'market';
  readonly price: number;
  readonly qty: number;
}

export interface StepOrderChange {
  readonly clientOrderId: string;
  readonly filledQty: number | null;
  readonly status: 'filled' | 'canceling' | null;
}

export interface StepWrite {
  readonly runId: string;
  readonly now: Date;
  readonly alerts: readonly QueuedAlert[];
  readonly fills: readonly StepFillRow[];
  readonly newOrders: readonly StepOrderRow[];
  readonly orderChanges: readonly StepOrderChange[];
  /** The strategy snapshot as JSON; null leaves the stored one. */
  readonly strategyStateJson: string | null;
  /** Null leaves the stored one (a step outside a candle: a stop). */
  readonly lastCandleAt: Date | null;
}

const num = (n: number) => Prisma.sql`${n.toFixed(12)}::numeric`;

export function stepStatementSql(step: StepWrite): Prisma.Sql {
  const { runId, now } = step;
  const ctes: Prisma.Sql[] = [];
  if (step.alerts.length) ctes.push(Prisma.sql`alerts AS (${insertAlertsSql(step.alerts, now)})`);
  if (step.fills.length) {
    const rows = step.fills.map(
      (f) =>
        Prisma.sql`(${f.id}::uuid, ${runId}::uuid, ${f.orderId}::uuid, ${f.tradeId}, ${f.side}, ${num(f.price)}, ${num(f.qty)}, ${num(f.fee)}, ${num(f.realizedPnl)}, ${f.executedAt}::timestamptz)`,
    );
    // A row an earlier version wrote at receipt (undelivered) is marked delivered instead.
    ctes.push(Prisma.sql`fills AS (
      INSERT INTO run_fills (id, run_id, order_id, trade_id, side, price, qty, fee, realized_pnl, executed_at, delivered)
      SELECT v.*, true FROM (VALUES ${Prisma.join(rows)}) AS v
      ON CONFLICT (run_id, trade_id) DO UPDATE SET delivered = true, realized_pnl = excluded.realized_pnl)`);
  }
  if (step.newOrders.length) {
    const rows = step.newOrders.map(
      (o) =>
        Prisma.sql`(${o.id}::uuid, ${runId}::uuid, ${o.clientOrderId}, ${o.tag}, ${o.attempt}::int, ${o.side}, ${o.type}, ${num(o.price)}, ${num(o.qty)}, 'pending'::"RunOrderStatus", ${now}::timestamptz, ${now}::timestamptz)`,
    );
    ctes.push(Prisma.sql`placed AS (
      INSERT INTO run_orders (id, run_id, client_order_id, tag, attempt, side, type, price, qty, status, created_at, updated_at)
      VALUES ${Prisma.join(rows)})`);
  }
  if (step.orderChanges.length) {
    const rows = step.orderChanges.map(
      (c) => Prisma.sql`(${c.clientOrderId}, ${c.filledQty === null ? null : c.filledQty.toFixed(12)}::numeric, ${c.status}::"RunOrderStatus")`,
    );
    ctes.push(Prisma.sql`changed AS (
      UPDATE run_orders AS o
      SET filled_qty = coalesce(v.filled_qty, o.filled_qty), status = coalesce(v.status, o.status), updated_at = ${now}
      FROM (VALUES ${Prisma.join(rows)}) AS v(client_order_id, filled_qty, status)
      WHERE o.run_id = ${runId}::uuid AND o.client_order_id = v.client_order_id)`);
  }
  const update = Prisma.sql`
    UPDATE trading_runs
    SET strategy_state = coalesce(${step.strategyStateJson}::jsonb, strategy_state),
        last_candle_at = coalesce(${step.lastCandleAt}::timestamptz, last_candle_at),
        updated_at = ${now}
    WHERE id = ${runId}::uuid`;
  return ctes.length ? Prisma.sql`WITH ${Prisma.join(ctes, ', ')} ${update}` : update;
}
