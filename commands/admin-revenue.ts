import { revenueReport } from '../src/app/billing.ts';
import { getPoolStatus } from '../src/app/pool.ts';
import { cents, formatUsd } from '../src/kernel/money.ts';
import { poolMeter } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin revenue',
  description: 'Licenses sold by tier, revenue, refunds and pool use',
  args: {},
  access: { kind: 'admin' },
  where: 'any',
  async handler(_args, ctx) {
    const [lines, pool] = await Promise.all([revenueReport(ctx.services.app), getPoolStatus(ctx.services.app)]);
    const total = cents(lines.reduce((sum, l) => sum + l.revenue, 0));
    const refunded = cents(lines.reduce((sum, l) => sum + l.refundedAmount, 0));
    const rows = lines.map(
      (l) => `\`${l.tierId.padEnd(8)} ${l.kind.padEnd(8)} ${String(l.sold).padStart(4)} ${formatUsd(l.revenue).padStart(11)}  refunds ${l.refunded} (${formatUsd(l.refundedAmount)})\``,
    );
    return {
      text: [
        '*Revenue* (paid checkouts)',
        ...(rows.length > 0 ? ['`Tier     Kind     Sold     Revenue`', ...rows] : ['Nothing sold yet.']),
        `Gross ${formatUsd(total)} · refunded ${formatUsd(refunded)} · net ${formatUsd(cents(total - refunded))}`,
        '',
        poolMeter(pool),
      ].join('\n'),
    };
  },
});
