// Time is injected: domain and engine code ask a Clock, never the global Date.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = {
  now: () => new Date(),
};

/** A clock for tests that only moves forward, so no test needs global fake timers. */
export class TestClock implements Clock {
  #ms: number;

  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.#ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#ms);
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`TestClock only moves forward (asked to advance ${ms} ms)`);
    this.#ms += ms;
  }

  set(to: Date | string): void {
    const target = new Date(to).getTime();
    if (target < this.#ms) throw new RangeError('TestClock only moves forward');
    this.#ms = target;
  }
}
