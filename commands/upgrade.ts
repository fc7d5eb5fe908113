import { startUpgrade } from '../src/app/billing.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { errorReply, minute } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'upgrade',
  description: 'Upgrade your license: pay only the difference',
  args: { tier: arg.text('the tier to upgrade to (see /tiers)', { choicesFrom: 'tiers' }) },
  access: { kind: 'licensed' },
  where: 'any',
  help: 'Reserves only the extra capital and charges only the price difference. Your best license is upgraded once the payment clears.',
  async handler({ tier }, ctx) {
    const started = await startUpgrade({ ...ctx.services.app, gateway: ctx.services.payments ?? null }, { userId: ctx.user.userId, tier });
    if (!started.ok) return { ...errorReply(started.error), private: true };
    return {
      private: true,
      text: [
        `*${formatUsd(started.value.price)}* to upgrade to ${started.value.hold.tierId} (${formatUsd(started.value.hold.amount)} more capital). Pay here:`,
        started.value.url,
        `Reserved for you until ${minute(started.value.expiresAt)}.`,
      ].join('\n'),
    };
  },
});
