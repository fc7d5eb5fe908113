import { issueLicense } from '../src/app/licenses.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { findTier } from '../src/app/tiers.ts';
import { errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin license create',
  description: 'Issue license keys (shown once, privately)',
  args: {
    tier: arg.text('tier, e.g. pro (see /tiers)', { choicesFrom: 'tiers' }),
    count: arg.count('how many keys (1-50)', 1, 50).optional(),
  },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ tier: tierName, count = 1 }, ctx) {
    const actor = { type: 'admin' as const, id: ctx.user.userId };
    const tier = await findTier(ctx.services.app.db, tierName);
    if (!tier) return { text: `There is no tier "${tierName}". See /tiers.`, outcome: 'tier_not_found' };
    const keys: string[] = [];
    for (let i = 0; i < count; i++) {
      const result = await issueLicense(ctx.services.app, { tier: tier.id, actor });
      if (!result.ok) {
        const issued = keys.length ? `\nIssued before the pool filled:\n${keys.map((k) => `\`${k}\``).join('\n')}` : '';
        return { ...errorReply(result.error, issued), private: true };
      }
      keys.push(result.value.key);
    }
    return {
      private: true,
      text: [
        `Issued ${count} *${tier.name}* license${count > 1 ? 's' : ''} (${formatUsd(tier.maxCapital)} each). Keys are shown only now:`,
        ...keys.map((k) => `\`${k}\``),
      ].join('\n'),
    };
  },
});
