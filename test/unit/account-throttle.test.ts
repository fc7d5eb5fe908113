import { describe, expect, it } from 'vitest';
import { AccountThrottle, AccountThrottles } from '../../src/execution/account-throttle.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { fakeSleep, fakeTimers, flush, gate } from '../support/fake-timers.ts';

describe('account throttle', () => {
  it('keeps at most `concurrency` calls in flight; the next waits for a slot', async () => {
    const clock = new TestClock();
    const throttle = new AccountThrottle({ concurrency: 2, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const results = gates.map((g, i) =>
      throttle.run(async () => {
        started.push(i);
        await g.done;
        return i * 10;
      }),
    );
    await flush();
    expect(started).toEqual([0, 1]);
    gates[2]!.release(); // releasing the waiting one's gate does not let it start
    await flush();
    expect(started).toEqual([0, 1]);
    gates[0]!.release();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.release();
    expect(await Promise.all(results)).toEqual([0, 10, 20]);
    expect(throttle.peakInFlight).toBe(2);
  });

  it('frees the slot when a call throws', async () => {
    const clock = new TestClock();
    const throttle = new AccountThrottle({ concurrency: 1, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    await expect(throttle.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(throttle.run(async () => 'ok')).resolves.toBe('ok');
    expect(throttle.peakInFlight).toBe(1);
  });

  it('spaces concurrent starts by at least intervalMs', async () => {
    const clock = new TestClock('2026-01-01T00:00:00.000Z');
    const t0 = clock.now().getTime();
    const timers = fakeTimers(clock);
    const throttle = new AccountThrottle({ concurrency: 5, intervalMs: 100, clock, sleep: timers.sleep });
    const startedAt: number[] = [];
    const all = Promise.all([1, 2, 3, 4].map(() => throttle.run(async () => void startedAt.push(clock.now().getTime() - t0))));
    await timers.runAll();
    await all;
    expect(startedAt).toEqual([0, 100, 200, 300]);
    // After a quiet gap a call starts at once, without sleeping.
    clock.advance(1_000);
    const sleepsBefore = timers.slept.length;
    let at = -1;
    await throttle.run(async () => void (at = clock.now().getTime() - t0));
    expect(at).toBe(1_300);
    expect(timers.slept.length).toBe(sleepsBefore);
  });

  it('spaces sequential calls made back to back', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const throttle = new AccountThrottle({ concurrency: 1, intervalMs: 250, clock, sleep: fakeSleep(clock) });
    const startedAt: number[] = [];
    for (let i = 0; i < 3; i++) await throttle.run(async () => void startedAt.push(clock.now().getTime() - t0));
    expect(startedAt).toEqual([0, 250, 500]);
  });

  it('pauseUntil holds the next start until that time, and never moves the pause back', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const throttle = new AccountThrottle({ concurrency: 2, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    throttle.pauseUntil(t0 + 5_000);
    throttle.pauseUntil(t0 + 1_000); // an earlier time does not shorten the pause
    expect(throttle.pausedUntil).toBe(t0 + 5_000);
    let at = -1;
    await throttle.run(async () => void (at = clock.now().getTime()));
    expect(at).toBe(t0 + 5_000);
    // Once the pause has passed, calls start immediately.
    let at2 = -1;
    await throttle.run(async () => void (at2 = clock.now().getTime()));
    expect(at2).toBe(t0 + 5_000);
  });

  it('applies a pause set while a call is already waiting for its interval', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const throttle = new AccountThrottle({
      concurrency: 1,
      intervalMs: 100,
      clock,
      sleep: async (ms) => {
        // The exchange answers 429 with Retry-After while the second call waits.
        throttle.pauseUntil(t0 + 3_000);
        clock.advance(ms);
      },
    });
    const startedAt: number[] = [];
    await throttle.run(async () => void startedAt.push(clock.now().getTime() - t0));
    await throttle.run(async () => void startedAt.push(clock.now().getTime() - t0));
    expect(startedAt).toEqual([0, 3_000]);
  });
});

describe('account throttles', () => {
  it('returns the same throttle for the same account key', () => {
    const clock = new TestClock();
    const throttles = new AccountThrottles({ concurrency: 1, intervalMs: 0, clock });
    const a = throttles.for('binance:key-a');
    expect(throttles.for('binance:key-a')).toBe(a);
    expect(throttles.for('binance:key-b')).not.toBe(a);
  });

  it('keeps accounts independent: a paused or busy account does not hold up another', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    // A sleep the test completes by hand, so a paused call visibly waits.
    const sleeping: { ms: number; wake: () => void }[] = [];
    const sleep = (ms: number) => new Promise<void>((wake) => sleeping.push({ ms, wake }));
    const throttles = new AccountThrottles({ concurrency: 1, intervalMs: 0, clock, sleep });
    const a = throttles.for('binance:key-a');
    const b = throttles.for('binance:key-b');
    const c = throttles.for('binance:key-c');

    a.pauseUntil(t0 + 10_000);
    expect(b.pausedUntil).toBe(0);
    let aAt = -1;
    const onA = a.run(async () => void (aAt = clock.now().getTime()));
    await flush();
    expect(aAt).toBe(-1);
    expect(sleeping.map((s) => s.ms)).toEqual([10_000]);

    // b runs at once despite a's pause; c runs at once while b's only slot is busy.
    const g = gate();
    let bAt = -1;
    const busyB = b.run(async () => {
      bAt = clock.now().getTime();
      await g.done;
    });
    let cAt = -1;
    await c.run(async () => void (cAt = clock.now().getTime()));
    await flush();
    expect(bAt).toBe(t0);
    expect(cAt).toBe(t0);
    expect(aAt).toBe(-1);

    clock.advance(10_000);
    sleeping.shift()!.wake();
    await onA;
    expect(aAt).toBe(t0 + 10_000);
    g.release();
    await busyB;
    expect([a.peakInFlight, b.peakInFlight, c.peakInFlight]).toEqual([1, 1, 1]);
  });
});
