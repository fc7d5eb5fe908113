import { findRun, requestStop } from '../src/app/runs.ts';
import { errorReply, runLine, runNumber, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'stop',
  description: 'Stop one of your runs (cancels its open orders)',
  args: { run: arg.text('the run number, see /runs') },
  access: { kind: 'anyone' },
  where: 'any',
  async handler({ run }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    const seq = runNumber(run);
    if (seq === null) return { text: 'Give the run number, e.g. `/stop 3` (see /runs).', outcome: 'usage' };
    const stopped = await requestStop(ctx.services.app, ctx.user.userId, seq, { reason: 'user', actor: { type: 'user', id: ctx.user.userId } });
    if (!stopped.ok) return errorReply(stopped.error);
    await trading.control.wake(stopped.value.id);
    const after = await findRun(ctx.services.app, ctx.user.userId, seq);
    return { text: `Stopping run #${seq}: its open orders are being cancelled.\n${after.ok ? runLine(after.value) : ''}`.trim() };
  },
});
