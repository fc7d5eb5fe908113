import { tierExecutionPriorities } from '../src/app/execution-priority.ts';
import { getPoolStatus } from '../src/app/pool.ts';
import { executionPriorityWords } from '../src/domain/execution-priority.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'tiers',
  description: 'License tiers and prices',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    const [pool, priorities] = await Promise.all([getPoolStatus(ctx.services.app), tierExecutionPriorities(ctx.services.app)]);
    const rows = pool.tiers.map((t) => {
      const priority = executionPriorityWords(priorities.get(t.id) ?? 'normal');
      return `\`${t.name.padEnd(8)} ${formatUsd(t.maxCapital).padStart(9)} ${formatUsd(t.price).padStart(8)}  ${priority.padEnd(9)}\` ${t.purchasable ? '' : '(sold out)'}`;
    });
    return {
      text: [
        '*Lifetime licenses* — the price is 10% of the capital you may trade.',
        '`Tier       Capital    Price  Priority `',
        ...rows,
        'Upgrades pay only the difference. Priority: whose orders go first when many are ready at once.',
      ].join('\n'),
    };
  },
});
