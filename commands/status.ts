import { findRun, listRuns, type RunView } from '../src/app/runs.ts';
import { guardLimits } from '../src/app/run-risk.ts';
import { regimeName } from './regime-name.ts';
import { errorReply, minute, runLine, runNumber, TRADING_OFF } from './format.ts';
import { arg, defineCommand, type CommandContext } from './types.ts';

const fixed = (n: number, digits: number) => Number(n.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });

function details(run: RunView, ctx: CommandContext): string[] {
  const lines = [runLine(run)];
  const live = ctx.services.trading?.control.liveStatus(run.id) ?? null;
  if (live) {
    const [base, quote] = run.symbol.split('/');
    const pnl = live.equity - run.capitalUsd;
    lines.push(
      `Position: ${fixed(live.base, 8)} ${base} + ${fixed(live.quote, 2)} ${quote} · equity ${fixed(live.equity, 2)} (${pnl >= 0 ? '+' : ''}${fixed(pnl, 2)})`,
      `Realised P&L ${live.realizedPnl >= 0 ? '+' : ''}${fixed(live.realizedPnl, 2)} · open orders ${live.openOrders} · last price ${fixed(live.lastClose, 8)} · regime ${regimeName(live.regime)}`,
    );
  }
  // The run in memory knows its last candle; the row's checkpoint may be up to a minute older.
  const lastCandle = live?.lastCandleTime != null ? new Date(live.lastCandleTime) : run.lastCandleAt;
  if (lastCandle) lines.push(`Last candle ${minute(lastCandle)}`);
  if (run.stopDetail) lines.push(`Why: ${run.stopDetail}`);
  return lines;
}

export default defineCommand({
  name: 'status',
  description: 'Position, open orders, P&L and guard state of your runs',
  args: { run: arg.text('a run number (default: all active runs)').optional() },
  access: { kind: 'anyone' },
  where: 'any',
  async handler({ run }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    let runs: RunView[];
    if (run) {
      const seq = runNumber(run);
      if (seq === null) return { text: 'Give the run number, e.g. `/status 3` (see /runs).', outcome: 'usage' };
      const found = await findRun(ctx.services.app, ctx.user.userId, seq);
      if (!found.ok) return errorReply(found.error);
      runs = [found.value];
    } else {
      runs = await listRuns(ctx.services.app, ctx.user.userId, { activeOnly: true });
      if (runs.length === 0) return { text: 'No active runs. See /runs for past ones, or start one with /paper.' };
    }
    const limits = await guardLimits(ctx.services.app, trading.guardDefaults, ctx.user.userId);
    const guards = `Guards: run loss ≤ $${limits.maxRunLossUsd}, drawdown ≤ $${limits.maxGlobalDrawdownUsd}, daily loss ≤ $${limits.maxDailyLossUsd}, API errors < ${limits.maxApiErrorsPerMin}/min, data age ≤ ${Math.round(limits.staleTickerMs / 1000)} s`;
    return { text: [...runs.flatMap((r) => [...details(r, ctx), '']), guards].join('\n') };
  },
});
