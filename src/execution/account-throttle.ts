// Order pacing per exchange account (the exchange limits orders per account, and every run on
// one key pair shares that budget): at most `concurrency` calls in flight, at least `intervalMs`
// between two submissions, and a pause after a rate limit or ban until the exchange's
// Retry-After has passed.
import type { Clock } from '../kernel/clock.ts';

/**
 * When a paced call may start, and what starting one does to the next: the spacing and pause
 * half of a throttle, which a scheduler that picks among many callers (an exchange's priority
 * lane) can honour at the moment it starts a call.
 */
export interface StartWindow {
  /** Earliest start (ms) for this caller's next call. */
  readyAt(): number;
  /** A call of this caller started at `atMs`. */
  started(atMs: number): void;
}

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

  readonly #window: StartWindow = {
    readyAt: () => Math.max(this.#nextStartAt, this.#pausedUntil),
    started: (atMs) => {
      this.#nextStartAt = atMs + this.options.intervalMs;
    },
  };

  async run<T>(call: () => Promise<T>): Promise<T> {
    return this.runVia(async (window, paced) => {
      await this.#waitForStart(window);
      return paced();
    }, call);
  }

  /**
   * Takes one of this account's slots, then leaves the spacing and the pause to `start`, which
   * must start the call no earlier than `window.readyAt()` and report it with `window.started`.
   */
  async runVia<T>(start: (window: StartWindow, call: () => Promise<T>) => Promise<T>, call: () => Promise<T>): Promise<T> {
    while (this.#inFlight >= this.options.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.#inFlight);
    try {
      return await start(this.#window, call);
    } finally {
      this.#inFlight--;
      this.#waiting.shift()?.();
    }
  }

  async #waitForStart(window: StartWindow): Promise<void> {
    const sleep = this.options.sleep ?? realSleep;
    // The first caller to find the window open takes it; the others wait for the next one.
    for (;;) {
      const now = this.options.clock.now().getTime();
      if (window.readyAt() <= now) {
        window.started(now);
        return;
      }
      await sleep(window.readyAt() - now);
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
