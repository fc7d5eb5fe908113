// The revenue report (/admin revenue, GET /v1/admin/revenue): the seed's three streams.
//  - subscription: license sales net of refunds (billing's revenueReport). Licenses are lifetime
//    purchases, so this stream is one-off, not recurring.
//  - performance_fee: the platform's performance fees accrued (src/app/fees.ts).
//  - copy_trading_fee: the platform's share of copy-trading fees accrued.
// Master payouts (the masters' share of copy fees) are owed to masters, so they are reported
// beside the streams and are not in the total. Fees are accrued receivables, not collected cash.
//
// MRR is the fee revenue (performance + copy platform share) accrued over the trailing 30 days,
// by period end; ARR is 12 × MRR. Amounts are exact decimal strings with 2 places.
import { read } from '../db/transaction.ts';
import { Decimal, moneyText } from '../domain/fees.ts';
import { centsToDecimalString, cents } from '../kernel/money.ts';
import { revenueReport, type RevenueLine } from './billing.ts';
import type { AppDeps } from './deps.ts';

export const MRR_WINDOW_DAYS = 30;
const DAY_MS = 86_400_000;

export const REVENUE_DEFINITIONS = {
  subscription: 'License sales net of refunds. Licenses are lifetime purchases: one-off, not recurring.',
  fees: 'Performance and copy-trading fees are accrued receivables (computed on realised profit above a high-water mark), not yet collected.',
  master_payouts: "The masters' share of copy-trading fees: owed to masters, not platform revenue, not in the total.",
  mrr: `Fee revenue (performance + the platform's copy-trading share) accrued over the trailing ${MRR_WINDOW_DAYS} days; license sales are not recurring, so they are not in it.`,
  arr: '12 × MRR.',
} as const;

export interface RevenueSummary {
  readonly asOf: Date;
  readonly streams: { readonly subscription: string; readonly performanceFee: string; readonly copyTradingFee: string };
  /** The three streams. */
  readonly total: string;
  readonly masterPayouts: string;
  readonly mrr: string;
  readonly arr: string;
  /** License sales by tier and kind, for the admin's table. */
  readonly licenses: readonly RevenueLine[];
}

export async function revenueSummary(deps: AppDeps): Promise<RevenueSummary> {
  const asOf = deps.clock.now();
  const since = new Date(asOf.getTime() - MRR_WINDOW_DAYS * DAY_MS);
  const [licenses, [fees]] = await Promise.all([
    revenueReport(deps),
    read(() =>
      deps.db.$queryRaw<{ performance: string; copy_platform: string; copy_master: string; recent: string }[]>`
        SELECT coalesce(sum(platform_fee_usd) FILTER (WHERE kind = 'performance'), 0)::text AS performance,
               coalesce(sum(platform_fee_usd) FILTER (WHERE kind = 'copy'), 0)::text AS copy_platform,
               coalesce(sum(master_fee_usd) FILTER (WHERE kind = 'copy'), 0)::text AS copy_master,
               coalesce(sum(platform_fee_usd) FILTER (WHERE period_end > ${since} AND period_end <= ${asOf}), 0)::text AS recent
        FROM fee_accruals
        WHERE period_end <= ${asOf}`,
    ),
  ]);
  const subscription = new Decimal(centsToDecimalString(cents(licenses.reduce((sum, l) => sum + l.revenue - l.refundedAmount, 0))));
  const performanceFee = new Decimal(fees!.performance);
  const copyTradingFee = new Decimal(fees!.copy_platform);
  const mrr = new Decimal(fees!.recent);
  return {
    asOf,
    streams: { subscription: moneyText(subscription), performanceFee: moneyText(performanceFee), copyTradingFee: moneyText(copyTradingFee) },
    total: moneyText(subscription.plus(performanceFee).plus(copyTradingFee)),
    masterPayouts: moneyText(fees!.copy_master),
    mrr: moneyText(mrr),
    arr: moneyText(mrr.times(12)),
    licenses,
  };
}
