import { listRuns } from '../src/app/runs.ts';
import { runLine, TRADING_OFF } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'runs',
  description: 'Your paper and live runs',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    if (!ctx.services.trading) return TRADING_OFF;
    const runs = await listRuns(ctx.services.app, ctx.user.userId, { limit: 20 });
    if (runs.length === 0) return { text: 'No runs yet. Start a paper run with /paper dca BTC/USDT.' };
    return { text: ['*Your runs* (newest first)', ...runs.map(runLine)].join('\n') };
  },
});
