/**
 * Pending waits shared by the protocol simulators (Stripe, Discord, Telegram Bot API).
 *
 * A `WaiterSet<T>` holds the promises handed out by a simulator's `waitFor…` methods for values
 * that have not arrived yet: `notify` offers each new value to them, `rejectAll` ends them on
 * close(). Checking what is already recorded, and refusing to wait on a closed simulator, stay
 * with the simulator.
 */

interface Waiter<T> {
  matches: (value: T) => boolean;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class WaiterSet<T> {
  private readonly waiters = new Set<Waiter<T>>();
  private readonly simName: string | undefined;

  /**
   * `simName` starts the timeout message (`StripeSim: timed out after …`); without one it reads
   * `Timed out after …`.
   */
  constructor(simName?: string) {
    this.simName = simName;
  }

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Resolves with the first value passed to `notify` that `matches`; rejects after `timeoutMs`
   * with a message ending in `waiting for ${describe()}` (called only then).
   */
  wait(matches: (value: T) => boolean, timeoutMs: number, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        matches,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const timedOut = this.simName === undefined ? 'Timed out' : `${this.simName}: timed out`;
          reject(new Error(`${timedOut} after ${timeoutMs} ms waiting for ${describe()}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves (and removes) every waiter that `value` matches. */
  notify(value: T): void {
    for (const waiter of this.waiters) {
      if (!waiter.matches(value)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(value);
    }
  }

  /** Rejects every waiter with `error` and empties the set (for close()). */
  rejectAll(error: Error): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters.clear();
  }
}
