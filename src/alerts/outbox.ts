// The alert outbox: alerts are rows written in the same transaction as the change that caused
// them, so a committed change always has its alert and a rolled-back one never does. Each row's
// event id is derived from its cause, so queueing the same event twice stores it once.
import { Prisma, type Db, type Tx } from '../db/client.ts';

/** Lower goes first: a kill switch must not wait behind a day's fill notices. */
export const ALERT_PRIORITY: Readonly<Record<string, number>> = Object.freeze({
  kill_switch: 0,
  guards: 1,
  run_status: 2,
  fills: 3,
  take_profit: 3,
  safety_orders: 3,
  license: 4,
  broadcast: 5,
  scanner: 5,
  operations: 1,
  daily_summary: 8,
  weekly_summary: 9,
});

export interface QueuedAlert {
  /** Deterministic per cause, e.g. fill:<run>:<trade>. */
  readonly eventId: string;
  readonly userId: string;
  /** One of the /alerts types (src/domain/alerts.ts). */
  readonly alertType: string;
  readonly text: string;
  readonly payload?: Readonly<Record<string, unknown>>;
}

/** Queues alerts; returns how many were new. */
export async function queueAlerts(db: Db | Tx, alerts: readonly QueuedAlert[], now: Date): Promise<number> {
  if (alerts.length === 0) return 0;
  return db.$executeRaw(insertAlertsSql(alerts, now));
}

/**
 * The INSERT that queues `alerts` (at least one), for callers that write it as part of a larger
 * statement (a run step writes its fills, orders and their alerts in one).
 */
export function insertAlertsSql(alerts: readonly QueuedAlert[], now: Date): Prisma.Sql {
  const rows = alerts.map(
    (a) =>
      Prisma.sql`(${a.eventId}, ${a.userId}::uuid, ${a.alertType}, ${ALERT_PRIORITY[a.alertType] ?? 5}::int, ${a.text}, ${JSON.stringify(a.payload ?? {})}::jsonb, ${now}::timestamptz)`,
  );
  return Prisma.sql`
    INSERT INTO alert_outbox (event_id, user_id, alert_type, priority, text, payload, next_attempt_at)
    VALUES ${Prisma.join(rows)}
    ON CONFLICT (event_id) DO NOTHING`;
}
