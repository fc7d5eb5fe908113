import { killAllRuns } from '../src/app/runs.ts';
import { confirmation, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin killall',
  description: 'Global kill switch: stop every run and block new ones until /admin resume',
  args: { reason: arg.text('why (shown to users)', { rest: true }).optional() },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ reason = 'global kill switch' }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    if (!ctx.confirmed) {
      return confirmation('Stop *every* run of every user and block new runs until /admin resume?', 'admin killall', { reason }, 'Kill all');
    }
    const result = await killAllRuns(ctx.services.app, { actor: { type: 'admin', id: ctx.user.userId }, reason });
    for (const run of result.runs) await trading.control.wake(run.id);
    return {
      text: `⛔ Global kill switch ${result.alreadyEngaged ? 'was already engaged' : 'engaged'}: ${result.runs.length} run${result.runs.length === 1 ? '' : 's'} stopping. New runs are blocked until /admin resume.`,
      outcome: 'killed',
    };
  },
});
