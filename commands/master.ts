import { listMasters, publishRun, unpublishMaster } from '../src/app/copy-trading.ts';
import { money } from './copy-format.ts';
import { errorReply, runNumber, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'master',
  description: 'Copy trading: publish one of your runs for other members to copy, or list your masters',
  args: {
    action: arg.choice('publish or unpublish (nothing: list your masters)', ['publish', 'unpublish']).optional(),
    target: arg.text('the run number to publish, or the master code to unpublish').optional(),
  },
  access: { kind: 'licensed' },
  where: 'any',
  help:
    '`/master publish 3` publishes run #3: you get a code like M-7K2Q9X that others follow with /follow. ' +
    '`/master unpublish M-7K2Q9X` stops it (your followers are told and their follows stop). `/master` lists yours with their followers. ' +
    'Followers never learn who you are, nor you who they are. You earn a share of your followers’ copied profit (see the README).',
  async handler({ action, target }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    const app = ctx.services.app;
    const userId = ctx.user.userId;
    const actor = { type: 'user' as const, id: userId };
    if (action === 'publish') {
      const seq = runNumber(target ?? '');
      if (seq === null) return { text: 'Say which run: `/master publish 3` (see /runs).', outcome: 'usage' };
      const published = await publishRun(app, { userId, runSeq: seq, masterMinTier: trading.settings.copyMasterMinTier ?? 'pro', actor });
      if (!published.ok) return errorReply(published.error);
      const m = published.value;
      return {
        text: `📋 Run #${m.run.seq} (${m.run.mode} ${m.run.strategy} ${m.run.symbol}) is published as *${m.code}*.\nOthers copy it with \`/follow ${m.code} <capital>\`. Stop with \`/master unpublish ${m.code}\`.`,
        outcome: 'published',
      };
    }
    if (action === 'unpublish') {
      if (!target) return { text: 'Say which master: `/master unpublish M-7K2Q9X` (see /master).', outcome: 'usage' };
      const result = await unpublishMaster(app, { userId, code: target, actor });
      if (!result.ok) return errorReply(result.error);
      const n = result.value.followersStopped;
      return { text: `📋 ${result.value.master.code} is no longer published. ${n} follow${n === 1 ? '' : 's'} stopped; the followers were told.`, outcome: 'unpublished' };
    }
    const masters = await listMasters(app, userId);
    if (masters.length === 0) return { text: 'You have published no run. Publish one with `/master publish <run number>` (see /runs).' };
    const lines = masters.map(
      (m) =>
        `${m.status === 'active' ? '▶' : '■'} *${m.code}* — run #${m.run.seq} ${m.run.mode} ${m.run.strategy} ${m.run.symbol} · ${m.status}${m.stopReason ? ` (${m.stopReason})` : ''} · ${m.activeFollowers} follower${m.activeFollowers === 1 ? '' : 's'} with ${money(m.followerCapitalUsd)}`,
    );
    return { text: ['*Your masters*', ...lines, 'Details per follower: /followers'].join('\n') };
  },
});
