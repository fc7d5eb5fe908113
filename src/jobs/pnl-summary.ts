// Scheduled: the daily and weekly P&L summaries, each at the user's chosen hour in their own time
// zone (users.summary_hour, users.timezone; both set with /alerts).
//
// The job runs every 15 minutes (UTC) and looks for users whose local hour is now their summary
// hour, so zones with half- and quarter-hour offsets (India, Nepal) are served too. For each it
// queues into the alert outbox:
//  - a daily summary of their previous local day, event id summary:daily:<user>:<local date>;
//  - on their local Monday also a weekly one of the 7 days before, summary:weekly:<user>:<date>.
// The figures are the /pnl report's (src/app/pnl.ts), paper and live apart: realized P&L, fees and
// trades of the period, and unrealized P&L of the runs still open at its end, from their equity
// snapshots. A user who had no run in the period gets nothing.
//
// Once per user and day: the event id is the outbox's dedupe key, and users who already have
// theirs are skipped before anything is computed. So the later slots of the same hour (on this
// replica or another) only pick up users an earlier slot failed on or did not reach.
// Mutes are not looked at here: the dispatcher applies /alerts switches to every alert it sends
// (`daily_summary`, `weekly_summary`; the weekly one is off unless the user turns it on).
//
// Not done: a summary hour that a daylight-saving change skips (02:00 on the spring-forward day in
// Europe) has no slot that day, so that day's summary is not sent; and a day whose every slot of
// the hour was missed (all replicas down) is not sent later.
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import type { AppDeps } from '../app/deps.ts';
import { pnlReport, startOfLocalDay, timeZoneOffsetMs, validTimeZone, type PnlReport } from '../app/pnl.ts';
import { read } from '../db/transaction.ts';
import type { Logger } from '../kernel/logger.ts';
import type { JobDefinition } from './scheduler.ts';

const DAY_MS = 86_400_000;
const MODE_LABEL = { paper: '🧪 Paper', live: '💰 Live' } as const;

export interface PnlSummaryOptions {
  /** Users whose summaries are computed at the same time; default 4. */
  readonly concurrency?: number;
}

export interface PnlSummaryResult {
  /** Users whose summary hour it is and who have not got today's daily summary yet. */
  readonly due: number;
  /** New outbox rows (daily and weekly). */
  readonly queued: number;
  readonly failed: number;
}

export interface LocalTime {
  /** YYYY-MM-DD in the zone. */
  readonly date: string;
  readonly hour: number;
  /** 0 = Sunday, 1 = Monday, … */
  readonly weekday: number;
}

/** The wall-clock date, hour and weekday in the zone at `at`. */
export function localTime(at: Date, timeZone: string): LocalTime {
  const wall = new Date(at.getTime() + timeZoneOffsetMs(timeZone, at));
  return { date: wall.toISOString().slice(0, 10), hour: wall.getUTCHours(), weekday: wall.getUTCDay() };
}

interface DueUser {
  readonly id: string;
  readonly timeZone: string;
  readonly local: LocalTime;
}

/** Queues the summaries due at `at` (a slot of the job); returns what it did. */
export async function queuePnlSummaries(deps: AppDeps, at: Date, logger: Logger, options: PnlSummaryOptions = {}): Promise<PnlSummaryResult> {
  const due = await dueUsers(deps, at);
  const existing = new Set(
    (
      await read(() =>
        deps.db.alertOutbox.findMany({ where: { eventId: { in: due.map((u) => dailyEventId(u)) } }, select: { eventId: true } }),
      )
    ).map((r) => r.eventId),
  );
  const todo = due.filter((u) => !existing.has(dailyEventId(u)));

  let queued = 0;
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const user = todo[next++]!;
      try {
        // One insert: the daily row, which a rerun looks for, never exists without the weekly.
        queued += await queueAlerts(deps.db, await summariesFor(deps, user, at), deps.clock.now());
      } catch (error) {
        failed++;
        logger.warn({ err: error, userId: user.id }, 'P&L summary could not be queued; a later slot of the hour retries');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return { due: todo.length, queued, failed };
}

/**
 * Users whose local hour at `at` is their summary hour and who had a run that may fall in the
 * periods (started before `at`, not stopped more than 8 days ago; the report decides exactly).
 */
async function dueUsers(deps: AppDeps, at: Date): Promise<DueUser[]> {
  const zones = await read(() => deps.db.$queryRaw<{ timezone: string }[]>`SELECT DISTINCT timezone FROM users`);
  if (zones.length === 0) return [];
  // A zone Intl does not know counts as UTC, as it does in the /pnl report.
  const hours = zones.map((z) => localTime(at, validTimeZone(z.timezone)).hour);
  const rows = await read(
    () => deps.db.$queryRaw<{ id: string; timezone: string }[]>`
      SELECT u.id::text AS id, u.timezone
      FROM users u
      JOIN unnest(${zones.map((z) => z.timezone)}::text[], ${hours}::int[]) AS due(zone, hour)
        ON u.timezone = due.zone AND u.summary_hour = due.hour
      WHERE EXISTS (
        SELECT 1 FROM trading_runs r
        WHERE r.user_id = u.id AND r.started_at < ${at} AND (r.stopped_at IS NULL OR r.stopped_at >= ${new Date(at.getTime() - 8 * DAY_MS)})
      )
      ORDER BY u.id`,
  );
  return rows.map((r) => {
    const timeZone = validTimeZone(r.timezone);
    return { id: r.id, timeZone, local: localTime(at, timeZone) };
  });
}

const dailyEventId = (u: DueUser) => `summary:daily:${u.id}:${u.local.date}`;
const weeklyEventId = (u: DueUser) => `summary:weekly:${u.id}:${u.local.date}`;

async function summariesFor(deps: AppDeps, user: DueUser, at: Date): Promise<QueuedAlert[]> {
  // Both periods end where the user's local day began: yesterday, and the 7 × 24 h up to then.
  const until = new Date(startOfLocalDay(at, user.timeZone).getTime() - 1);
  const alerts: QueuedAlert[] = [];
  if (user.local.weekday === 1) {
    const week = await report(deps, user.id, 'week', until);
    if (week.modes.length > 0) alerts.push(summaryAlert(weeklyEventId(user), user, 'weekly_summary', week));
  }
  const day = await report(deps, user.id, 'day', until);
  if (day.modes.length > 0) alerts.push(summaryAlert(dailyEventId(user), user, 'daily_summary', day));
  return alerts;
}

async function report(deps: AppDeps, userId: string, period: 'day' | 'week', until: Date): Promise<PnlReport> {
  const result = await pnlReport(deps, userId, { period, now: until });
  if (!result.ok) throw new Error(`P&L report failed: ${result.error.code}`);
  return result.value;
}

function summaryAlert(eventId: string, user: DueUser, alertType: 'daily_summary' | 'weekly_summary', report: PnlReport): QueuedAlert {
  // Named by local dates (the report's 7 × 24 h may be an hour off them across a DST change).
  const title =
    alertType === 'daily_summary'
      ? `📊 Daily P&L for ${dateLabel(user.local.date, -1)}`
      : `📊 Weekly P&L, ${dateLabel(user.local.date, -7)} – ${dateLabel(user.local.date, -1)}`;
  const lines = [`${title} (${user.timeZone})`];
  for (const m of report.modes) {
    lines.push(
      `${MODE_LABEL[m.mode]} (${m.runs} run${m.runs === 1 ? '' : 's'}): realized ${signedUsd(m.realized)} · unrealized ${signedUsd(m.unrealized)} · fees ${usd(m.fees)} · ${m.trades} trade${m.trades === 1 ? '' : 's'}`,
    );
  }
  lines.push('Details: /pnl');
  return {
    eventId,
    userId: user.id,
    alertType,
    text: lines.join('\n'),
    payload: {
      type: alertType,
      localDate: user.local.date,
      timeZone: user.timeZone,
      since: report.since!.toISOString(),
      until: report.until.toISOString(),
      modes: report.modes.map((m) => ({ mode: m.mode, runs: m.runs, realized: m.realized, unrealized: m.unrealized, fees: m.fees, trades: m.trades })),
    },
  };
}

const dayFormat = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
/** "Mon 9 Mar 2026": the local date `date` (YYYY-MM-DD) moved by `days`. */
function dateLabel(date: string, days: number): string {
  return dayFormat.format(new Date(Date.parse(`${date}T12:00:00Z`) + days * DAY_MS)).replace(',', '');
}

const amount = (n: number) => Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usd = (n: number) => `${n < 0 && amount(n) !== '0.00' ? '-' : ''}$${amount(n)}`;
const signedUsd = (n: number) => `${n < 0 && amount(n) !== '0.00' ? '-' : '+'}$${amount(n)}`;

export function pnlSummaryJob(deps: AppDeps, logger: Logger, options: PnlSummaryOptions & { cron?: string } = {}): JobDefinition {
  const { cron, ...rest } = options;
  const log = logger.child({ job: 'pnl-summary' });
  return {
    name: 'pnl-summary',
    cron: cron ?? '*/15 * * * *',
    run: async (slot) => {
      const r = await queuePnlSummaries(deps, slot, log, rest);
      return `${r.due} ${r.due === 1 ? 'user' : 'users'} due, ${r.queued} ${r.queued === 1 ? 'summary' : 'summaries'} queued${r.failed ? `, ${r.failed} failed` : ''}`;
    },
  };
}
