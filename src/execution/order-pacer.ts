// What an order sender (a run, copy trading) needs to respect the exchange's limits: run each
// order call through it, and pause it when the exchange says 429/418.
import type { ExecutionPriority } from '../domain/execution-priority.ts';
import type { AccountThrottle } from './account-throttle.ts';
import type { PriorityLane } from './priority-lane.ts';

export interface OrderPacer {
  run<T>(call: () => Promise<T>): Promise<T>;
  /** Stop submitting until this time (ms): a 429 or 418 with Retry-After. */
  pauseUntil(untilMs: number): void;
  /** Until when (ms) this sender may not submit; in the past when it may. */
  readonly pausedUntil: number;
}

/**
 * A live account's pacer: a slot of its own account throttle first, then its exchange's priority
 * lane, which starts the call once the account's spacing and pause allow it. So a call never holds
 * a lane slot while it waits for its own account, and the account's spacing holds when the order
 * actually leaves, however long it queued (no burst after a long wait, which ccxt's own
 * per-client limiter would otherwise delay, bunching orders up behind the lane's back).
 *
 * A 429/418 pauses both: the answer may be about the account's order count or about the IP's
 * request weight, and a ban is always the IP's. While the lane is paused the account counts as
 * paused too (its new entries are held by the execution gate rather than queued behind the pause).
 */
export function accountThroughLane(account: AccountThrottle, lane: PriorityLane, priority: () => Promise<ExecutionPriority>): OrderPacer {
  return {
    async run(call) {
      const level = await priority();
      return account.runVia((window, paced) => lane.run(level, paced, window), call);
    },
    pauseUntil(untilMs) {
      account.pauseUntil(untilMs);
      lane.pauseUntil(untilMs);
    },
    get pausedUntil() {
      return Math.max(account.pausedUntil, lane.pausedUntil);
    },
  };
}
