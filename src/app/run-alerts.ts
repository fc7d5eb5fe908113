// Delivers run events to their owner's chats, honouring /alerts switches (kill-switch alerts
// cannot be muted). The alerts issue moves this behind an outbox with guaranteed delivery.
import type { ChatNotifier } from '../chat/notifier.ts';
import { read } from '../db/transaction.ts';
import { describeRunEvent, type RunEvent } from '../execution/run-events.ts';
import { alertSettings } from './alert-preferences.ts';
import type { AppDeps } from './deps.ts';

export function alertTypeOf(event: RunEvent): string {
  switch (event.type) {
    case 'fill':
    case 'order_rejected':
      return 'fills';
    case 'guard_tripped':
    case 'risk_refused':
    case 'exchange_banned':
      return 'guards';
    case 'run_stopped':
      return event.status === 'killed' ? 'kill_switch' : 'run_status';
  }
}

export async function deliverRunEvent(deps: AppDeps, notifier: ChatNotifier, event: RunEvent): Promise<number> {
  const settings = await alertSettings(deps, event.run.userId);
  const type = alertTypeOf(event);
  if (settings.find((s) => s.id === type)?.enabled === false) return 0;
  const identities = await read(() => deps.db.identity.findMany({ where: { userId: event.run.userId, platform: { in: ['telegram', 'discord', 'console'] } } }));
  const text = describeRunEvent(event);
  let sent = 0;
  // A private chat's id is the user's own id on Telegram; Discord DMs arrive with the Discord issue.
  for (const identity of identities) if (await notifier.notify(identity.platform, identity.externalId, text)) sent++;
  return sent;
}
