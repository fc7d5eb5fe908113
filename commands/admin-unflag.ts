import { clearAccountFlag } from '../src/app/billing.ts';
import { findUserId } from '../src/app/user-directory.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin unflag',
  description: 'Clear the payment-dispute flag on an account (purchases resume)',
  args: { user: arg.text('a user (id, platform id or @username)') },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ user }, ctx) {
    const userId = await findUserId(ctx.services.app, user);
    if (!userId) return { text: 'No user matches that. Use a user id, a platform id or @username.', outcome: 'user_not_found' };
    const cleared = await clearAccountFlag(ctx.services.app, { userId, actor: { type: 'admin', id: ctx.user.userId } });
    return cleared ? { text: 'Flag cleared: this account can buy again.' } : { text: 'That account is not flagged.', outcome: 'not_flagged' };
  },
});
