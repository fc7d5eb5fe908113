// Scheduled: the multi-asset router (hourly at :20 by default, once across replicas) reads the
// market regime and re-splits every licensed user's capital (src/app/allocation.ts).
import type { AppDeps } from '../app/deps.ts';
import { runRouter, type RegimeInputs } from '../app/allocation.ts';
import type { Logger } from '../kernel/logger.ts';
import type { JobDefinition } from './scheduler.ts';

export const ALLOCATION_JOB = 'allocation';

export function allocationJob(deps: AppDeps, options: { readonly cron: string; readonly inputs: RegimeInputs; readonly logger: Logger }): JobDefinition {
  return {
    name: ALLOCATION_JOB,
    cron: options.cron,
    run: async (slot) => {
      const pass = await runRouter(deps, options.inputs, slot, options.logger);
      if (pass.status === 'skipped') return `skipped (allocations kept): ${pass.problem}`;
      const { reading, summary } = pass;
      return (
        `regime ${reading.regime} (${reading.rule})${reading.equity ? '' : `, ${reading.equityProblem}`}; ` +
        `${summary.users} users, ${summary.decisions} decisions, ${summary.alerts} alerts` +
        (summary.superseded ? '; stopped: a newer reading took over' : '')
      );
    },
  };
}
