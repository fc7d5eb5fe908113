import { releaseGlobalKill } from '../src/app/runs.ts';
import { TRADING_OFF } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin resume',
  description: 'Release the global kill switch (killed runs stay stopped)',
  args: {},
  access: { kind: 'admin' },
  where: 'any',
  async handler(_args, ctx) {
    if (!ctx.services.trading) return TRADING_OFF;
    const released = await releaseGlobalKill(ctx.services.app, { type: 'admin', id: ctx.user.userId });
    return released
      ? { text: 'Global kill switch released: users can start runs again. Killed runs stay stopped until their owners start new ones.' }
      : { text: 'The global kill switch is not engaged.', outcome: 'not_engaged' };
  },
});
