// Scheduled: performance and copy-trading fee accrual (src/app/fees.ts), on FEE_ACCRUAL_CRON
// (daily 00:10 UTC by default), once per slot across replicas. The period ends at the slot time.
//
// Nothing to catch up after a missed slot: P&L is cumulative, so the next period's accrual covers
// whatever a missed (or failed) one would have charged, against the same high-water mark.
import { accrueFees, type FeeDeps } from '../app/fees.ts';
import type { Logger } from '../kernel/logger.ts';
import type { JobDefinition } from './scheduler.ts';

export const FEE_ACCRUAL_JOB = 'fee-accrual';

export function feeAccrualJob(deps: FeeDeps, options: { cron: string; logger: Logger }): JobDefinition {
  const log = options.logger.child({ job: FEE_ACCRUAL_JOB });
  return {
    name: FEE_ACCRUAL_JOB,
    cron: options.cron,
    run: async (slot) => {
      const summary = await accrueFees(deps, slot);
      for (const failure of summary.failures) {
        log.warn({ err: failure.error, kind: failure.kind, subjectId: failure.subjectId }, 'fee accrual failed for a subject; the next period covers it');
      }
      const { performance: p, copy: c } = summary;
      return (
        `performance: ${p.accrued} accrued ($${p.platformFees}), ${p.unchanged} unchanged, ${p.alreadyAccrued} already done; ` +
        `copy: ${c.accrued} accrued ($${c.platformFees} platform, $${c.masterFees} masters), ${c.unchanged} unchanged, ${c.alreadyAccrued} already done` +
        (summary.failures.length > 0 ? `; ${summary.failures.length} failed` : '')
      );
    },
  };
}
