// One exchange's order budget, shared by every account this service trades on it (the exchange
// counts requests per IP as well as per account): at most `concurrency` order calls in flight,
// at least `intervalMs` between two submissions, a pause after a 429/418 until Retry-After. When
// more calls are ready than that lets through (a volatile candle across thousands of runs), the
// waiting ones start by execution priority (dedicated > very_high > high > normal), first come
// first served within one priority.
//
// The next call is chosen when a start is actually possible (a slot is free and the interval and
// any pause have passed), not when a slot frees: a call that arrives while the lane waits out
// its interval still overtakes the lower-priority ones that were waiting before it. A caller may
// bring its own start window (its account's spacing and pause): the lane only picks callers whose
// window is open and starts the call itself, so an account's spacing holds at the moment its
// order leaves, and nobody holds a lane slot while waiting for their own account.
//
// Anti-starvation by aging: a waiter counts one priority level higher for every `agingMs` it has
// waited (without a cap), ties going to the one that waited longest. So under sustained overload
// a normal order waits at most about 3 x `agingMs` before it competes with a fresh dedicated
// order, and then wins by being older. Simple, and the bound does not depend on the traffic mix.
//
// `dedicated` is the blueprint's dedicated infrastructure: its accounts should never queue
// behind the shared pool. One process has one IP, so a separate exchange budget cannot be
// conjured; instead, when the lane has more than one slot, the last free slot is reserved for
// dedicated calls. However long the shared pool's calls take, a dedicated call only waits for the
// interval, and it is also the highest priority in the queue.
import { EXECUTION_PRIORITIES, priorityRank, type ExecutionPriority } from '../domain/execution-priority.ts';
import type { Clock } from '../kernel/clock.ts';
import type { StartWindow } from './account-throttle.ts';

export interface PriorityLaneOptions {
  readonly concurrency: number;
  readonly intervalMs: number;
  /** A waiter's priority rises one level per this much waiting; default DEFAULT_AGING_MS. */
  readonly agingMs?: number;
  readonly clock: Clock;
  /** Waits; tests may pass a faster one. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called as each call starts, with how long it waited in the lane (metrics). */
  readonly onStart?: (priority: ExecutionPriority, waitedMs: number) => void;
}

/** Long enough that a saturated burst drains in priority order; short enough that nothing starves. */
export const DEFAULT_AGING_MS = 5_000;

interface Waiter {
  readonly priority: ExecutionPriority;
  readonly enqueuedAt: number;
  readonly seq: number;
  readonly window: StartWindow | undefined;
  readonly start: () => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

export class PriorityLane {
  #inFlight = 0;
  #nextStartAt = 0;
  #pausedUntil = 0;
  #seq = 0;
  #pumping = false;
  /** Ends the pump's sleep early when it sleeps until some caller's window opens. */
  #wake: (() => void) | null = null;
  /** One FIFO per priority (index = rank): each head is the oldest of its priority. */
  readonly #queues: Waiter[][] = EXECUTION_PRIORITIES.map(() => []);
  readonly #agingMs: number;
  /** Most calls ever in flight at once (for tests). */
  peakInFlight = 0;

  constructor(private readonly options: PriorityLaneOptions) {
    this.#agingMs = options.agingMs ?? DEFAULT_AGING_MS;
  }

  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** Stop submitting until this time (ms): the exchange answered 429 or 418 with Retry-After. */
  pauseUntil(untilMs: number): void {
    if (untilMs > this.#pausedUntil) this.#pausedUntil = untilMs;
  }

  /** Calls waiting to start, by priority. */
  waiting(): Record<ExecutionPriority, number> {
    return Object.fromEntries(EXECUTION_PRIORITIES.map((p, rank) => [p, this.#queues[rank]!.length])) as Record<ExecutionPriority, number>;
  }

  /** Runs `call` when the lane (and `window`, the caller's own pacing, if given) lets it start. */
  async run<T>(priority: ExecutionPriority, call: () => Promise<T>, window?: StartWindow): Promise<T> {
    await new Promise<void>((start) => {
      this.#queues[priorityRank(priority)]!.push({ priority, enqueuedAt: this.#now(), seq: this.#seq++, window, start });
      // A newcomer may be ready before the caller the pump is sleeping for.
      this.#wake?.();
      void this.#pump();
    });
    try {
      return await call();
    } finally {
      this.#inFlight--;
      void this.#pump();
    }
  }

  #now(): number {
    return this.options.clock.now().getTime();
  }

  /** Starts waiters while it can; sleeps out intervals and pauses. One pump at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const sleep = this.options.sleep ?? realSleep;
      for (;;) {
        const now = this.#now();
        const pick = this.#eligible(now);
        // Nothing waits, or every usable slot is busy: an arrival or a finishing call pumps again.
        if (!pick) return;
        const startAt = Math.max(now, this.#nextStartAt, this.#pausedUntil);
        if (startAt > now) {
          // Who starts is decided after the wait, among everyone waiting by then.
          await sleep(startAt - now);
          continue;
        }
        if (pick.index < 0) {
          // Everyone waits for their own account: sleep until the first window opens, or a newcomer.
          await new Promise<void>((resume) => {
            this.#wake = resume;
            void sleep(pick.readyAt - now).then(resume);
          });
          this.#wake = null;
          continue;
        }
        const [waiter] = pick.queue.splice(pick.index, 1) as [Waiter];
        this.#inFlight++;
        this.peakInFlight = Math.max(this.peakInFlight, this.#inFlight);
        this.#nextStartAt = now + this.options.intervalMs;
        waiter.window?.started(now);
        this.options.onStart?.(waiter.priority, now - waiter.enqueuedAt);
        waiter.start();
      }
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Who goes next: the best waiter whose own window is open (`index` in `queue`), or, when
   * every candidate's window is still closed, `index` -1 and when the first one opens. Null when
   * nobody waits or every usable slot is busy.
   */
  #eligible(now: number): { queue: Waiter[]; index: number; readyAt: number } | null {
    const { concurrency } = this.options;
    if (this.#inFlight >= concurrency) return null;
    // The last free slot of a multi-slot lane is dedicated's.
    const onlyDedicated = concurrency > 1 && this.#inFlight === concurrency - 1;
    let best: { queue: Waiter[]; index: number; readyAt: number } | null = null;
    let bestScore = -Infinity;
    let bestSeq = Infinity;
    let firstReadyAt = Infinity;
    // A scan per start (waiters whose account may not send yet are skipped): cheap next to the HTTP call.
    for (let rank = onlyDedicated ? priorityRank('dedicated') : 0; rank < this.#queues.length; rank++) {
      const queue = this.#queues[rank]!;
      // The oldest open one of each priority: it has aged the most among them.
      for (let index = 0; index < queue.length; index++) {
        const waiter = queue[index]!;
        const readyAt = waiter.window?.readyAt() ?? 0;
        if (readyAt > now) {
          firstReadyAt = Math.min(firstReadyAt, readyAt);
          continue;
        }
        const score = rank + Math.floor((now - waiter.enqueuedAt) / this.#agingMs);
        if (score > bestScore || (score === bestScore && waiter.seq < bestSeq)) {
          best = { queue, index, readyAt };
          bestScore = score;
          bestSeq = waiter.seq;
        }
        break;
      }
    }
    if (best) return best;
    return firstReadyAt < Infinity ? { queue: [], index: -1, readyAt: firstReadyAt } : null;
  }
}

/** One lane per exchange, created on first use. */
export class PriorityLanes {
  readonly #byExchange = new Map<string, PriorityLane>();
  constructor(private readonly options: Omit<PriorityLaneOptions, 'onStart'> & { readonly onStart?: (exchange: string, priority: ExecutionPriority, waitedMs: number) => void }) {}

  for(exchange: string): PriorityLane {
    let lane = this.#byExchange.get(exchange);
    if (!lane) {
      const { onStart, ...options } = this.options;
      lane = new PriorityLane({ ...options, ...(onStart ? { onStart: (priority, waitedMs) => onStart(exchange, priority, waitedMs) } : {}) });
      this.#byExchange.set(exchange, lane);
    }
    return lane;
  }

  /** Waiting calls per exchange and priority (the metrics gauge). */
  waiting(): { exchange: string; priority: ExecutionPriority; count: number }[] {
    return [...this.#byExchange].flatMap(([exchange, lane]) => Object.entries(lane.waiting()).map(([priority, count]) => ({ exchange, priority: priority as ExecutionPriority, count })));
  }
}
