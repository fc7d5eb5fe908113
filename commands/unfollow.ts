import { unfollowMaster } from '../src/app/copy-trading.ts';
import { errorReply, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'unfollow',
  description: 'Copy trading: stop following a master (its copies are sold at market unless keep)',
  args: {
    code: arg.text('the master code, e.g. M-7K2Q9X (see /follow)'),
    keep: arg.choice('keep the copies instead of selling them', ['keep']).optional(),
  },
  access: { kind: 'anyone' },
  where: 'any',
  help: '`/unfollow M-7K2Q9X` stops copying and sells what the copies hold at market; `/unfollow M-7K2Q9X keep` leaves it in your account.',
  async handler({ code, keep }, ctx) {
    if (!ctx.services.trading) return TRADING_OFF;
    const result = await unfollowMaster(ctx.services.app, { userId: ctx.user.userId, code, keep: keep === 'keep' });
    if (!result.ok) return errorReply(result.error);
    const f = result.value;
    const [base] = f.master.symbol.split('/');
    const what =
      f.status === 'stopping'
        ? `The copies' ${Number(f.baseQty.toFixed(8))} ${base} are being sold at market; you will be told the result.`
        : f.baseQty > 0
          ? `The copies' ${Number(f.baseQty.toFixed(8))} ${base} stay ${f.mode === 'live' ? 'in your exchange account' : 'on paper'}.`
          : 'The copies held nothing.';
    return { text: `📋 You no longer follow ${f.code}. ${what}`, outcome: 'unfollowed' };
  },
});
