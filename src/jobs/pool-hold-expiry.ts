// Scheduled: marks lapsed purchase/upgrade holds released (reason "expired", audited), through the
// pool-hold use-case. Bookkeeping only: a lapsed hold already stopped counting against the pool
// the moment it lapsed (src/app/pool.ts readUsage), so a few minutes between runs is plenty.
import type { AppDeps } from '../app/deps.ts';
import { releaseExpiredHolds } from '../app/pool-holds.ts';
import type { JobDefinition } from './scheduler.ts';

/** releaseExpiredHolds handles at most this many per call (one transaction). */
const BATCH = 1000;
/** Calls per slot at most; what is left waits for the next slot. */
const MAX_BATCHES = 20;

/** Releases every lapsed hold; returns how many. */
export async function expirePoolHolds(deps: AppDeps): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const released = await releaseExpiredHolds(deps);
    total += released;
    if (released < BATCH) break;
  }
  return total;
}

export function poolHoldExpiryJob(deps: AppDeps, options: { cron?: string } = {}): JobDefinition {
  return {
    name: 'pool-hold-expiry',
    cron: options.cron ?? '*/5 * * * *',
    run: async () => {
      const n = await expirePoolHolds(deps);
      return `expired ${n} ${n === 1 ? 'hold' : 'holds'}`;
    },
  };
}
