// Shared wording of the copy-trading commands (/master, /follow, /unfollow, /followers).
import type { CopyStats } from '../src/app/copy-trading.ts';

export const money = (n: number): string => `$${Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
export const signedMoney = (n: number): string => `${n < 0 && money(n) !== '$0.00' ? '-' : '+'}${money(n)}`;
const ms = (n: number | null) => (n === null ? '–' : `${Math.round(n).toLocaleString('en-US')} ms`);
const bps = (n: number | null) => (n === null ? '–' : `${n >= 0 ? '+' : ''}${n.toFixed(1)} bps`);

/** "4 copies (1 refused, 2 skipped) · latency 310 ms avg, 450 ms p95 · slippage +1.2 bps · realised +$3.20" */
export function statsLine(s: CopyStats): string {
  const others = [s.refused ? `${s.refused} refused` : '', s.failed ? `${s.failed} failed` : '', s.skipped ? `${s.skipped} skipped` : '', s.pending ? `${s.pending} pending` : '']
    .filter(Boolean)
    .join(', ');
  return [
    `${s.filled} cop${s.filled === 1 ? 'y' : 'ies'} made${others ? ` (${others})` : ''}`,
    `latency ${ms(s.avgLatencyMs)} avg, ${ms(s.p95LatencyMs)} p95`,
    `slippage ${bps(s.avgSlippageBps)} avg`,
    `realised ${signedMoney(s.realizedPnlUsd)}`,
  ].join(' · ');
}

export const modeWord = (mode: 'paper' | 'live'): string => (mode === 'paper' ? '🧪 paper' : '💰 live');

export const COPY_HELP =
  'Latency is the time from the master’s fill on the exchange to your copy’s fill; slippage is how much worse your price was than the master’s, in basis points (1 bp = 0.01%; negative: better).';
