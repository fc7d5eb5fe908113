import { startPurchase } from '../src/app/billing.ts';
import { getPoolStatus } from '../src/app/pool.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { errorReply, minute } from './format.ts';
import { arg, defineCommand, type Reply } from './types.ts';

export default defineCommand({
  name: 'buy',
  description: 'Buy a lifetime license (payment link)',
  args: { tier: arg.text('the tier to buy (see /tiers)', { choicesFrom: 'tiers' }).optional() },
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Reserves the tier\'s capital in the pool while you pay (30 minutes), then opens a secure Stripe checkout. Your license is active on this account as soon as the payment clears.',
  async handler({ tier }, ctx): Promise<Reply> {
    if (!tier) {
      // A picker: one button per tier that still fits the pool.
      const pool = await getPoolStatus(ctx.services.app);
      const open = pool.tiers.filter((t) => t.purchasable);
      if (open.length === 0) return { text: 'The capacity pool is full: no tier can be bought right now. See /pool.', outcome: 'pool_full' };
      return {
        private: true,
        text: 'Which license? The price is 10% of the capital it lets you trade; see /tiers.',
        buttons: open.map((t) => [{ label: `${t.name} — ${formatUsd(t.price)} (${formatUsd(t.maxCapital)} capital)`, command: 'buy', args: { tier: t.id }, style: 'primary' as const }]),
      };
    }
    const payments = ctx.services.payments;
    const started = await startPurchase({ ...ctx.services.app, gateway: payments ?? null }, { userId: ctx.user.userId, tier });
    if (!started.ok) return { ...errorReply(started.error), private: true };
    return {
      private: true,
      text: [
        `*${formatUsd(started.value.price)}* for the ${started.value.hold.tierId} license. Pay here (secure Stripe checkout):`,
        started.value.url,
        `The capital stays reserved for you until ${minute(started.value.expiresAt)}. Your license is active here as soon as the payment clears.`,
      ].join('\n'),
    };
  },
});
