import { read } from '../db/transaction.ts';
import { ALERT_TYPES, findAlertType } from '../domain/alerts.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { AppDeps } from './deps.ts';

export interface AlertSetting {
  readonly id: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly mutable: boolean;
}

export async function alertSettings(deps: AppDeps, userId: string): Promise<AlertSetting[]> {
  const stored = await read(() => deps.db.alertPreference.findMany({ where: { userId } }));
  const byType = new Map(stored.map((p) => [p.alertType, p.enabled]));
  return ALERT_TYPES.map((t) => ({
    id: t.id,
    description: t.description,
    enabled: t.mutable ? (byType.get(t.id) ?? t.defaultOn) : true,
    mutable: t.mutable,
  }));
}

export async function setAlert(deps: AppDeps, userId: string, alertType: string, enabled: boolean): Promise<Result<AlertSetting>> {
  const type = findAlertType(alertType);
  if (!type) return err(appError('invalid_input', { alertType }, `There is no alert type "${alertType}". Send /alerts to see them.`));
  if (!type.mutable && !enabled) return err(appError('alert_not_mutable'));
  await read(() =>
    deps.db.alertPreference.upsert({
      where: { userId_alertType: { userId, alertType: type.id } },
      create: { userId, alertType: type.id, enabled, updatedAt: deps.clock.now() },
      update: { enabled, updatedAt: deps.clock.now() },
    }),
  );
  return ok({ id: type.id, description: type.description, enabled, mutable: type.mutable });
}

// ---------------------------------------------------------------------------------------------
// When the P&L summaries arrive: users.summary_hour in users.timezone (src/jobs/pnl-summary.ts).
// ---------------------------------------------------------------------------------------------

export interface SummarySchedule {
  /** Local hour, 0–23. */
  readonly hour: number;
  /** IANA time zone, e.g. Europe/Berlin. */
  readonly timeZone: string;
}

export async function summarySchedule(deps: AppDeps, userId: string): Promise<SummarySchedule> {
  const user = await read(() => deps.db.user.findUniqueOrThrow({ where: { id: userId }, select: { summaryHour: true, timezone: true } }));
  return { hour: user.summaryHour, timeZone: user.timezone };
}

/** The zone's canonical IANA name ("asia/tokyo" → "Asia/Tokyo"), or null when Intl does not know it. */
export function canonicalTimeZone(input: string): string | null {
  const name = input.trim();
  // Intl also takes offsets such as "+05:30" on newer engines; only names are accepted here.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name) || name.length > 64) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export async function setTimeZone(deps: AppDeps, userId: string, input: string): Promise<Result<SummarySchedule>> {
  const timeZone = canonicalTimeZone(input);
  if (!timeZone) {
    return err(
      appError('invalid_input', { field: 'timezone' }, 'That is not a time zone I know. Use an IANA name such as `Europe/Berlin`, `America/New_York`, `Asia/Tokyo` or `UTC`.'),
    );
  }
  const user = await read(() =>
    deps.db.user.update({ where: { id: userId }, data: { timezone: timeZone, updatedAt: deps.clock.now() }, select: { summaryHour: true, timezone: true } }),
  );
  return ok({ hour: user.summaryHour, timeZone: user.timezone });
}

export async function setSummaryHour(deps: AppDeps, userId: string, hour: number): Promise<Result<SummarySchedule>> {
  if (!Number.isInteger(hour) || hour < 0 || hour > 23) {
    return err(appError('invalid_input', { field: 'hour' }, 'The summary hour is a whole hour from 0 to 23 in your time zone, e.g. `/alerts hour 8`.'));
  }
  const user = await read(() =>
    deps.db.user.update({ where: { id: userId }, data: { summaryHour: hour, updatedAt: deps.clock.now() }, select: { summaryHour: true, timezone: true } }),
  );
  return ok({ hour: user.summaryHour, timeZone: user.timezone });
}
