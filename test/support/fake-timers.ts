// Time for pacing tests (throttles, lanes): sleeps that wake on a TestClock, and calls held open.
import type { TestClock } from '../../src/kernel/clock.ts';

/** A sleep that moves the test clock instead of waiting. */
export const fakeSleep = (clock: TestClock, slept: number[] = []) => async (ms: number) => {
  slept.push(ms);
  clock.advance(ms);
};

/**
 * Timers on the test clock: sleep(ms) wakes when runAll() has moved the clock to its time, one
 * wake-up at a time in time order, so every sleeper sees the clock at its own wake time.
 */
export function fakeTimers(clock: TestClock) {
  const timers: { at: number; wake: () => void }[] = [];
  const slept: number[] = [];
  return {
    slept,
    sleep: (ms: number) =>
      new Promise<void>((wake) => {
        slept.push(ms);
        timers.push({ at: clock.now().getTime() + ms, wake });
      }),
    async runAll() {
      for (let guard = 0; guard < 1_000; guard++) {
        await flush();
        if (timers.length === 0) return;
        timers.sort((x, y) => x.at - y.at);
        const next = timers.shift()!;
        if (next.at > clock.now().getTime()) clock.set(new Date(next.at));
        next.wake();
      }
      throw new Error('timers never settled');
    },
  };
}

/** Lets pending promise callbacks run. */
export const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A call that stays in flight until released. */
export function gate() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { done, release };
}
