// Order pacing per exchange account (the exchange limits orders per account, and every run on
// one key pair shares that budget): at most `concurrency` calls in flight, at least `intervalMs`
// between two submissions, and a pause after a rate limit or ban until the exchange's
// Retry-After has passed.
import type { Clock } from '../kernel/clock.ts';

export interface ThrottleOptions {
  readonly concurrency: number;
  readonly intervalMs: number;
  readonly clock: Clock;
  /** Waits; tests may pass a faster one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

export class AccountThrottle {
  #inFlight = 0;
  #nextStartAt = 0;
  #pausedUntil = 0;
  readonly #waiting: (() => void)[] = [];
  /** Most calls ever in flight at once (for tests and metrics). */
  peakInFlight = 0;

  constructor(private readonly options: ThrottleOptions) {}

  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Stop submitting until this time (ms): a 429 or 418 with Retry-After. */
  pauseUntil(untilMs: number): void {
    if (untilMs > this.#pausedUntil) this.#pausedUntil = untilMs;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await call();
    } finally {
      this.#inFlight--;
      this.#waiting.shift()?.();
    }
  }

  async #acquire(): Promise<void> {
    while (this.#inFlight >= this.options.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.#inFlight);
    const sleep = this.options.sleep ?? realSleep;
    // Reserve a start slot before waiting, so concurrent callers space themselves out.
    for (;;) {
      const now = this.options.clock.now().getTime();
      const startAt = Math.max(now, this.#nextStartAt, this.#pausedUntil);
      if (startAt <= now) {
        this.#nextStartAt = now + this.options.intervalMs;
        return;
      }
      await sleep(startAt - now);
    }
  }
}

/** One throttle per account key, created on first use. */
export class AccountThrottles {
  readonly #byAccount = new Map<string, AccountThrottle>();
  constructor(private readonly options: ThrottleOptions) {}

  for(account: string): AccountThrottle {
    let throttle = this.#byAccount.get(account);
    if (!throttle) {
      throttle = new AccountThrottle(this.options);
      this.#byAccount.set(account, throttle);
    }
    return throttle;
  }
}
