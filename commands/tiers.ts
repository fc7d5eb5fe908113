import { getPoolStatus } from '../src/app/pool.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'tiers',
  description: 'License tiers and prices',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    const pool = await getPoolStatus(ctx.services.app);
    const rows = pool.tiers.map(
      (t) => `\`${t.name.padEnd(8)} ${formatUsd(t.maxCapital).padStart(9)} ${formatUsd(t.price).padStart(8)}\` ${t.purchasable ? '' : '(sold out)'}`,
    );
    return {
      text: [
        '*Lifetime licenses* — the price is 10% of the capital you may trade.',
        '`Tier     Capital    Price`',
        ...rows,
        'Upgrades pay only the difference.',
      ].join('\n'),
    };
  },
});
