import { getPoolStatus } from '../src/app/pool.ts';
import { MRR_WINDOW_DAYS, revenueSummary } from '../src/app/revenue.ts';
import { cents, centsFromDecimalString, formatUsd } from '../src/kernel/money.ts';
import { poolMeter } from './format.ts';
import { defineCommand } from './types.ts';

/** "1234.50" (the report's exact amounts) for people: "$1,234.50". */
const usd = (amount: string) => formatUsd(centsFromDecimalString(amount));

export default defineCommand({
  name: 'admin revenue',
  description: 'Revenue by stream (licenses, performance and copy fees), MRR/ARR, licenses by tier and pool use',
  args: {},
  access: { kind: 'admin' },
  where: 'any',
  async handler(_args, ctx) {
    const [report, pool] = await Promise.all([revenueSummary(ctx.services.app), getPoolStatus(ctx.services.app)]);
    const lines = report.licenses;
    const total = cents(lines.reduce((sum, l) => sum + l.revenue, 0));
    const refunded = cents(lines.reduce((sum, l) => sum + l.refundedAmount, 0));
    const rows = lines.map(
      (l) => `\`${l.tierId.padEnd(8)} ${l.kind.padEnd(8)} ${String(l.sold).padStart(4)} ${formatUsd(l.revenue).padStart(11)}  refunds ${l.refunded} (${formatUsd(l.refundedAmount)})\``,
    );
    return {
      text: [
        '*Revenue*',
        `Licenses (lifetime, net of refunds): ${usd(report.streams.subscription)}`,
        `Performance fees: ${usd(report.streams.performanceFee)}`,
        `Copy-trading fees (platform share): ${usd(report.streams.copyTradingFee)}`,
        `*Total: ${usd(report.total)}*`,
        `Owed to copy masters (not revenue): ${usd(report.masterPayouts)}`,
        `MRR ${usd(report.mrr)} · ARR ${usd(report.arr)}: fees accrued over the last ${MRR_WINDOW_DAYS} days (×12); lifetime licenses are not recurring.`,
        'Fees are accrued on realised profit above each high-water mark; they are receivables, not yet collected.',
        '',
        '*Licenses sold* (paid checkouts)',
        ...(rows.length > 0 ? ['`Tier     Kind     Sold     Revenue`', ...rows] : ['Nothing sold yet.']),
        `Gross ${formatUsd(total)} · refunded ${formatUsd(refunded)} · net ${formatUsd(cents(total - refunded))}`,
        '',
        poolMeter(pool),
      ].join('\n'),
    };
  },
});
