import { killUserRuns } from '../src/app/runs.ts';
import { confirmation, runLine, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'kill',
  description: 'Kill switch: stop all your runs and cancel their orders (flatten: also sell positions)',
  args: { flatten: arg.choice('also close positions with market orders', ['flatten'] as const).optional() },
  access: { kind: 'anyone' },
  where: 'any',
  help: '`/kill` stops every run of yours at once. `/kill flatten` also sells what they hold, after you confirm.',
  async handler({ flatten }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    // Stopping needs no confirmation (it must be fast); selling positions does.
    if (flatten && !ctx.confirmed) {
      return confirmation('Stop all your runs, cancel their orders *and sell their positions at market*?', 'kill', { flatten: 'flatten' }, 'Kill and flatten');
    }
    const { runs: killed, follows } = await killUserRuns(ctx.services.app, ctx.user.userId, { flatten: flatten === 'flatten', actor: { type: 'user', id: ctx.user.userId } });
    if (killed.length === 0 && follows === 0) return { text: 'Nothing to kill: you have no running runs and follow no master. (A killed run never restarts by itself.)', outcome: 'nothing_running' };
    for (const run of killed) await trading.control.wake(run.id);
    const followLine = follows > 0 ? [`Stopped copying ${follows} master${follows === 1 ? '' : 's'}${flatten ? '; the copies are being sold' : ''}.`] : [];
    return {
      text: [
        killed.length > 0 ? `⛔ *Killed ${killed.length} run${killed.length === 1 ? '' : 's'}*${flatten ? ' — positions are being sold' : ''}. Open orders are being cancelled.` : '⛔ *Kill switch*',
        ...killed.map(runLine),
        ...followLine,
      ].join('\n'),
      outcome: 'killed',
    };
  },
});
