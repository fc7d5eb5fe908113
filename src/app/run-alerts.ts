// Run events as outbox alerts: which /alerts type each belongs to, and the event id derived from
// its cause, so the same event queued twice (a retried step, a restart) is stored once.
import type { QueuedAlert } from '../alerts/outbox.ts';
import { describeRunEvent, type RunEvent } from '../execution/run-events.ts';

export function alertTypeOf(event: RunEvent): string {
  switch (event.type) {
    case 'fill':
    case 'order_rejected':
      return 'fills';
    case 'guard_tripped':
    case 'risk_refused':
    case 'exchange_banned':
      return 'guards';
    case 'run_started':
      return 'run_status';
    case 'run_stopped':
      return event.status === 'killed' ? 'kill_switch' : 'run_status';
  }
}

export function runEventId(event: RunEvent): string {
  const run = event.run.id;
  switch (event.type) {
    case 'fill':
      return `fill:${run}:${event.tradeId}`;
    case 'order_rejected':
      return `rejected:${event.clientOrderId}`;
    case 'risk_refused':
      return `risk:${run}:${event.refusal}:${event.hourBucket}`;
    case 'guard_tripped':
      return `guard:${run}`;
    case 'exchange_banned':
      return `banned:${run}:${event.minuteBucket}`;
    case 'run_started':
      return `started:${run}`;
    case 'run_stopped':
      return `stopped:${run}`;
  }
}

export function runEventAlert(event: RunEvent): QueuedAlert {
  return {
    eventId: runEventId(event),
    userId: event.run.userId,
    alertType: alertTypeOf(event),
    text: describeRunEvent(event),
    payload: { type: event.type, runId: event.run.id, mode: event.run.mode },
  };
}
