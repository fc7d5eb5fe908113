import { acknowledgeRisk } from '../src/app/live-ack.ts';
import { startRun } from '../src/app/runs.ts';
import { dollars, formatUsd } from '../src/kernel/money.ts';
import { errorReply, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'ack',
  description: 'Acknowledge the risk of a live run (after /live)',
  args: { phrase: arg.text('the phrase I ACKNOWLEDGE RISK', { rest: true }) },
  access: { kind: 'licensed' },
  where: 'private',
  async handler({ phrase }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    const pending = await acknowledgeRisk(ctx.services.app, ctx.user.userId, phrase);
    if (!pending.ok) return errorReply(pending.error);
    const deps = { ...ctx.services.app, runSettings: trading.settings };
    // Everything is checked again: minutes have passed since /live.
    const run = await startRun(deps, {
      userId: ctx.user.userId,
      mode: 'live',
      spec: pending.value.spec,
      credentialLabel: pending.value.credentialLabel,
      actor: { type: 'user', id: ctx.user.userId },
    });
    if (!run.ok) return errorReply(run.error);
    await trading.control.wake(run.value.id);
    return {
      text: `💰 *Live run #${run.value.seq} started*: ${run.value.strategy} ${run.value.symbol} with ${formatUsd(dollars(run.value.capitalUsd))}. Watch it with /status ${run.value.seq}; /kill stops everything.`,
    };
  },
});
