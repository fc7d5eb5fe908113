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
