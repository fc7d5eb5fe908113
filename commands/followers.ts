import { followersOf } from '../src/app/copy-trading.ts';
import { COPY_HELP, modeWord, money, statsLine } from './copy-format.ts';
import { errorReply, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'followers',
  description: 'Copy trading: who copies your masters (anonymously), with latency, slippage and P&L',
  args: { code: arg.text('one master code (default: all yours)').optional() },
  access: { kind: 'licensed' },
  where: 'any',
  help: `Followers are numbered, never named. ${COPY_HELP}`,
  async handler({ code }, ctx) {
    if (!ctx.services.trading) return TRADING_OFF;
    const result = await followersOf(ctx.services.app, ctx.user.userId, code);
    if (!result.ok) return errorReply(result.error);
    if (result.value.length === 0) return { text: 'You have published no run. Publish one with `/master publish <run number>`.' };
    const lines = result.value.flatMap(({ master, followers, totals }) => [
      `*${master.code}* — run #${master.run.seq} ${master.run.mode} ${master.run.strategy} ${master.run.symbol} · ${master.status} · ${master.activeFollowers} active follower${master.activeFollowers === 1 ? '' : 's'} with ${money(master.followerCapitalUsd)}`,
      `All copies: ${statsLine(totals)}`,
      ...followers.map((f) => `   #${f.number} ${modeWord(f.mode)} ${money(f.capitalUsd)} · ${f.status} · ${statsLine(f.stats)}`),
    ]);
    return { text: ['*Your followers*', ...lines].join('\n') };
  },
});
