// Shared wording for replies, so every command says things the same way.
import type { PoolStatus } from '../src/app/pool.ts';
import type { AppError } from '../src/kernel/errors.ts';
import { dollars, formatUsd } from '../src/kernel/money.ts';
import type { RunView } from '../src/app/runs.ts';
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

export const TRADING_OFF: Reply = { text: 'Trading is switched off on this server.', outcome: 'trading_off' };

const STATUS_MARK: Record<string, string> = { running: '▶', stopping: '⏳', stopped: '■', killed: '⛔', failed: '✖' };

/** One line per run, paper runs marked as paper everywhere. */
export function runLine(run: RunView): string {
  const mode = run.mode === 'paper' ? '🧪 paper' : '💰 LIVE';
  const why = run.status !== 'running' && run.stopReason ? ` (${run.stopReason})` : '';
  return `${STATUS_MARK[run.status] ?? '·'} #${run.seq} ${mode} ${run.strategy} ${run.symbol} ${formatUsd(dollars(run.capitalUsd))} — ${run.status}${why}`;
}

/** "3" or "#3" as a run number. */
export const runNumber = (text: string): number | null => (/^#?\d{1,6}$/.test(text.trim()) ? Number(text.trim().replace('#', '')) : null);
