// Shared wording for replies, so every command says things the same way.
import type { PoolStatus } from '../src/app/pool.ts';
import type { AppError } from '../src/kernel/errors.ts';
import { formatUsd } from '../src/kernel/money.ts';
import type { Reply } from './types.ts';

/** An expected failure as a reply; the audit trail records its code. */
export function errorReply(error: AppError, extra?: string): Reply {
  const details = error.details ?? {};
  const meter =
    error.code === 'pool_full' || error.code === 'pool_over_cap'
      ? `\nPool: ${details.committed} committed + ${details.held} held of ${details.cap} (${details.available} free).`
      : '';
  return { text: `${error.message}${meter}${extra ? `\n${extra}` : ''}`, outcome: error.code };
}

export function poolMeter(status: PoolStatus): string {
  const filled = Math.min(20, Math.round(status.percentUsed / 5));
  const bar = '█'.repeat(filled) + '░'.repeat(20 - filled);
  return [
    `*Capacity pool* ${bar} ${status.percentUsed}%`,
    `Cap ${formatUsd(status.cap)} · committed ${formatUsd(status.committed)} · held ${formatUsd(status.held)} · free ${formatUsd(status.available)}`,
    status.enforcement === 'normal' ? '' : `⚠ Over cap (${status.enforcement}): new runs and scanner access may be limited.`,
  ]
    .filter(Boolean)
    .join('\n');
}

export const day = (d: Date): string => d.toISOString().slice(0, 10);
export const minute = (d: Date): string => d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

/** Destructive actions ask first: the button re-runs the same command, confirmed. */
export function confirmation(question: string, command: string, args: Record<string, string>, confirmLabel: string): Reply {
  return {
    text: question,
    buttons: [
      [
        { label: confirmLabel, command, args, confirm: true, style: 'danger' },
        { label: 'Cancel', command: 'cancel', style: 'secondary' },
      ],
    ],
    outcome: 'confirmation_requested',
  };
}
