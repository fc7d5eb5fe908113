import { describe, expect, it } from 'vitest';
import type { ExecutionPriority } from '../../src/domain/execution-priority.ts';
import { AccountThrottle } from '../../src/execution/account-throttle.ts';
import { accountThroughLane } from '../../src/execution/order-pacer.ts';
import { PriorityLane, PriorityLanes } from '../../src/execution/priority-lane.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { fakeSleep, fakeTimers, flush, gate } from '../support/fake-timers.ts';

/** Enqueues named calls in this order; each records its name and start time (ms after t0), then returns at once. */
function enqueue(lane: PriorityLane, clock: TestClock, calls: readonly [string, ExecutionPriority][], started: { name: string; at: number }[], t0: number) {
  return calls.map(([name, priority]) => lane.run(priority, async () => void started.push({ name, at: clock.now().getTime() - t0 })));
}

/** Holds the lane's only slot until released. */
function occupy(lane: PriorityLane) {
  const g = gate();
  const done = lane.run('normal', () => g.done);
  return { release: g.release, done };
}

describe('priority lane', () => {
  it('starts waiting calls by priority, first come first served within one priority', async () => {
    const clock = new TestClock();
    const lane = new PriorityLane({ concurrency: 1, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    const busy = occupy(lane);
    const started: { name: string; at: number }[] = [];
    const calls = enqueue(
      lane,
      clock,
      [
        ['normal-1', 'normal'],
        ['high-1', 'high'],
        ['normal-2', 'normal'],
        ['dedicated-1', 'dedicated'],
        ['very-high-1', 'very_high'],
        ['high-2', 'high'],
        ['dedicated-2', 'dedicated'],
      ],
      started,
      clock.now().getTime(),
    );
    await flush();
    expect(started).toEqual([]);
    expect(lane.waiting()).toEqual({ normal: 2, high: 2, very_high: 1, dedicated: 2 });
    busy.release();
    await Promise.all([busy.done, ...calls]);
    expect(started.map((s) => s.name)).toEqual(['dedicated-1', 'dedicated-2', 'very-high-1', 'high-1', 'high-2', 'normal-1', 'normal-2']);
    expect(lane.waiting()).toEqual({ normal: 0, high: 0, very_high: 0, dedicated: 0 });
  });

  it('keeps at most `concurrency` calls in flight and spaces starts by at least intervalMs', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const timers = fakeTimers(clock);
    const lane = new PriorityLane({ concurrency: 2, intervalMs: 100, clock, sleep: timers.sleep });
    // Each call stays in flight 250 ms of clock time: the slots, not the interval, pace the later ones.
    const startedAt: number[] = [];
    const all = Promise.all(
      (['dedicated', 'dedicated', 'dedicated', 'dedicated', 'dedicated'] as const).map((p) =>
        lane.run(p, async () => {
          startedAt.push(clock.now().getTime() - t0);
          await timers.sleep(250);
        }),
      ),
    );
    await timers.runAll();
    await all;
    expect(startedAt).toEqual([0, 100, 250, 350, 500]);
    expect(lane.peakInFlight).toBe(2);
  });

  it('spaces back-to-back calls, and after a quiet gap starts one at once', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const timers = fakeTimers(clock);
    const lane = new PriorityLane({ concurrency: 5, intervalMs: 40, clock, sleep: timers.sleep });
    const started: { name: string; at: number }[] = [];
    const calls = enqueue(lane, clock, [['a', 'normal'], ['b', 'high'], ['c', 'normal']], started, t0);
    await timers.runAll();
    await Promise.all(calls);
    // `a` found the lane idle; then `b` outranks `c`.
    expect(started).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 40 },
      { name: 'c', at: 80 },
    ]);
    clock.advance(1_000);
    const sleeps = timers.slept.length;
    await Promise.all(enqueue(lane, clock, [['d', 'normal']], started, t0));
    expect(started.at(-1)).toEqual({ name: 'd', at: 1_080 });
    expect(timers.slept.length).toBe(sleeps);
  });

  it('picks who goes when a start is possible: a call arriving during the interval overtakes a lower one waiting before it', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const timers = fakeTimers(clock);
    const lane = new PriorityLane({ concurrency: 1, intervalMs: 100, clock, sleep: timers.sleep });
    const started: { name: string; at: number }[] = [];
    const first = enqueue(lane, clock, [['first', 'normal'], ['waiting-normal', 'normal']], started, t0);
    await flush();
    clock.advance(50); // the lane sleeps until t0 + 100
    const late = enqueue(lane, clock, [['late-high', 'high']], started, t0);
    await timers.runAll();
    await Promise.all([...first, ...late]);
    expect(started).toEqual([
      { name: 'first', at: 0 },
      { name: 'late-high', at: 100 },
      { name: 'waiting-normal', at: 200 },
    ]);
  });

  it('reserves the last free slot for dedicated calls', async () => {
    const clock = new TestClock();
    const lane = new PriorityLane({ concurrency: 2, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    const held = gate();
    const started: string[] = [];
    const slow = lane.run('very_high', async () => {
      started.push('very-high');
      await held.done;
    });
    const normal = lane.run('high', async () => void started.push('high'));
    await flush();
    // One slot is free, but it is dedicated's: the high call waits for the busy one.
    expect(started).toEqual(['very-high']);
    expect(lane.waiting().high).toBe(1);
    await lane.run('dedicated', async () => void started.push('dedicated'));
    expect(started).toEqual(['very-high', 'dedicated']);
    held.release();
    await Promise.all([slow, normal]);
    expect(started).toEqual(['very-high', 'dedicated', 'high']);
  });

  it('a one-slot lane reserves nothing: a normal call starts when nothing else waits', async () => {
    const clock = new TestClock();
    const lane = new PriorityLane({ concurrency: 1, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    await expect(lane.run('normal', async () => 'went')).resolves.toBe('went');
  });

  it('ages waiters: a call rises one level per agingMs waited, the longest waiter winning a tie', async () => {
    const order = async (waitedMs: number) => {
      const clock = new TestClock();
      const lane = new PriorityLane({ concurrency: 1, intervalMs: 0, agingMs: 1_000, clock, sleep: fakeSleep(clock) });
      const busy = occupy(lane);
      const started: { name: string; at: number }[] = [];
      const old = enqueue(lane, clock, [['old-normal', 'normal']], started, 0);
      clock.advance(waitedMs);
      const fresh = enqueue(lane, clock, [['high', 'high'], ['very-high', 'very_high']], started, 0);
      busy.release();
      await Promise.all([busy.done, ...old, ...fresh]);
      return started.map((s) => s.name);
    };
    // 1.999 s: the normal counts as high, older than the fresh high.
    expect(await order(1_999)).toEqual(['very-high', 'old-normal', 'high']);
    // 2 s: it counts as very high, older than the fresh very high.
    expect(await order(2_000)).toEqual(['old-normal', 'very-high', 'high']);
    // Not even dedicated starves it for ever: after 3 x agingMs it goes first.
    const clock = new TestClock();
    const lane = new PriorityLane({ concurrency: 1, intervalMs: 0, agingMs: 1_000, clock, sleep: fakeSleep(clock) });
    const busy = occupy(lane);
    const started: { name: string; at: number }[] = [];
    const old = enqueue(lane, clock, [['old-normal', 'normal']], started, 0);
    clock.advance(3_000);
    const fresh = enqueue(lane, clock, [['dedicated', 'dedicated']], started, 0);
    busy.release();
    await Promise.all([busy.done, ...old, ...fresh]);
    expect(started.map((s) => s.name)).toEqual(['old-normal', 'dedicated']);
  });

  it('pauseUntil holds every start until then, and never moves the pause back', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const timers = fakeTimers(clock);
    const lane = new PriorityLane({ concurrency: 3, intervalMs: 10, clock, sleep: timers.sleep });
    lane.pauseUntil(t0 + 5_000);
    lane.pauseUntil(t0 + 1_000);
    expect(lane.pausedUntil).toBe(t0 + 5_000);
    const started: { name: string; at: number }[] = [];
    const calls = enqueue(lane, clock, [['normal', 'normal'], ['dedicated', 'dedicated']], started, t0);
    await timers.runAll();
    await Promise.all(calls);
    expect(started).toEqual([
      { name: 'dedicated', at: 5_000 },
      { name: 'normal', at: 5_010 },
    ]);
  });

  it('applies a pause set while it waits out its interval', async () => {
    const clock = new TestClock();
    const t0 = clock.now().getTime();
    const lane: PriorityLane = new PriorityLane({
      concurrency: 1,
      intervalMs: 100,
      clock,
      sleep: async (ms) => {
        // Another account's call is answered 429 with Retry-After while the lane waits.
        lane.pauseUntil(t0 + 3_000);
        clock.advance(ms);
      },
    });
    const started: { name: string; at: number }[] = [];
    await Promise.all(enqueue(lane, clock, [['a', 'high'], ['b', 'high']], started, t0));
    expect(started.map((s) => s.at)).toEqual([0, 3_000]);
  });

  it('frees the slot when a call throws', async () => {
    const clock = new TestClock();
    const lane = new PriorityLane({ concurrency: 1, intervalMs: 0, clock, sleep: fakeSleep(clock) });
    await expect(lane.run('high', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lane.run('normal', async () => 'ok')).resolves.toBe('ok');
  });

  it('reports how long each call waited, with its priority', async () => {
    const clock = new TestClock();
    const timers = fakeTimers(clock);
    const waits: [ExecutionPriority, number][] = [];
    const lane = new PriorityLane({ concurrency: 1, intervalMs: 30, clock, sleep: timers.sleep, onStart: (p, ms) => waits.push([p, ms]) });
    const calls = enqueue(lane, clock, [['a', 'normal'], ['b', 'normal'], ['c', 'high']], [], clock.now().getTime());
    await timers.runAll();
    await Promise.all(calls);
    expect(waits).toEqual([
      ['normal', 0],
      ['high', 30],
      ['normal', 60],
    ]);
  });
});

describe('priority lanes', () => {
  it('one lane per exchange: a busy or paused exchange does not hold up another', async () => {
    const clock = new TestClock();
    const waits: string[] = [];
    const lanes = new PriorityLanes({ concurrency: 1, intervalMs: 0, clock, sleep: () => new Promise<void>(() => {}), onStart: (exchange, p) => waits.push(`${exchange}:${p}`) });
    const binance = lanes.for('binance');
    expect(lanes.for('binance')).toBe(binance);
    const busy = occupy(binance);
    void binance.run('dedicated', async () => undefined);
    lanes.for('kraken').pauseUntil(clock.now().getTime() + 60_000);
    await expect(lanes.for('alpaca').run('normal', async () => 'went')).resolves.toBe('went');
    await flush();
    expect(lanes.waiting()).toEqual(
      expect.arrayContaining([
        { exchange: 'binance', priority: 'dedicated', count: 1 },
        { exchange: 'binance', priority: 'normal', count: 0 },
        { exchange: 'alpaca', priority: 'normal', count: 0 },
      ]),
    );
    expect(waits).toEqual(['binance:normal', 'alpaca:normal']);
    busy.release();
    await flush();
    expect(waits).toEqual(['binance:normal', 'alpaca:normal', 'binance:dedicated']);
  });
});

/** A lane on fake timers, throttles for accounts on the same timers, and a log of call starts. */
function pacing(laneLimits: { concurrency: number; intervalMs: number }) {
  const clock = new TestClock();
  const t0 = clock.now().getTime();
  const timers = fakeTimers(clock);
  const lane = new PriorityLane({ ...laneLimits, clock, sleep: timers.sleep });
  const started: { name: string; at: number }[] = [];
  return {
    clock,
    t0,
    timers,
    lane,
    started,
    throttle: (concurrency: number, intervalMs: number) => new AccountThrottle({ concurrency, intervalMs, clock, sleep: timers.sleep }),
    record: (name: string) => async () => void started.push({ name, at: clock.now().getTime() - t0 }),
  };
}

describe('account through lane', () => {
  it("waits for its own account's spacing outside the lane, so other accounts go meanwhile", async () => {
    const { lane, timers, started, throttle, record } = pacing({ concurrency: 1, intervalMs: 10 });
    const whale = accountThroughLane(throttle(5, 1_000), lane, async () => 'dedicated');
    const starter = accountThroughLane(throttle(5, 1_000), lane, async () => 'normal');
    const calls = [whale.run(record('whale-1')), whale.run(record('whale-2')), starter.run(record('starter-1'))];
    await timers.runAll();
    await Promise.all(calls);
    expect(started).toEqual([
      { name: 'whale-1', at: 0 },
      { name: 'starter-1', at: 10 },
      { name: 'whale-2', at: 1_000 },
    ]);
  });

  it("keeps the account's spacing when its orders leave, even after they queued behind a busy lane", async () => {
    const { clock, lane, timers, started, throttle, record } = pacing({ concurrency: 1, intervalMs: 0 });
    const account = accountThroughLane(throttle(5, 100), lane, async () => 'dedicated');
    const busy = occupy(lane);
    const calls = ['a', 'b', 'c'].map((name) => account.run(record(name)));
    await flush();
    clock.advance(1_000); // all three waited a second for the lane
    busy.release();
    await timers.runAll();
    await Promise.all(calls);
    expect(started.map((s) => s.at)).toEqual([1_000, 1_100, 1_200]);
  });

  it('a newcomer that may start at once wakes a lane sleeping until some account may send again', async () => {
    const { clock, t0, lane, timers, started, throttle, record } = pacing({ concurrency: 1, intervalMs: 0 });
    const paused = throttle(1, 0);
    paused.pauseUntil(t0 + 1_000);
    const whale = accountThroughLane(paused, lane, async () => 'dedicated').run(record('paused-whale'));
    await flush();
    clock.advance(10);
    const starter = accountThroughLane(throttle(1, 0), lane, async () => 'normal').run(record('starter'));
    await flush();
    expect(started).toEqual([{ name: 'starter', at: 10 }]);
    await timers.runAll();
    await Promise.all([whale, starter]);
    expect(started).toEqual([
      { name: 'starter', at: 10 },
      { name: 'paused-whale', at: 1_000 },
    ]);
  });

  it('a 429 pauses the account and the whole lane; the pacer reports the later of the two', async () => {
    const { t0, lane, timers, started, throttle, record } = pacing({ concurrency: 2, intervalMs: 0 });
    const accountA = throttle(2, 0);
    const a = accountThroughLane(accountA, lane, async () => 'high');
    const b = accountThroughLane(throttle(2, 0), lane, async () => 'high');
    a.pauseUntil(t0 + 2_000);
    expect([accountA.pausedUntil, lane.pausedUntil, a.pausedUntil, b.pausedUntil]).toEqual([t0 + 2_000, t0 + 2_000, t0 + 2_000, t0 + 2_000]);
    accountA.pauseUntil(t0 + 5_000); // the account's own, longer ban
    expect([a.pausedUntil, b.pausedUntil]).toEqual([t0 + 5_000, t0 + 2_000]);
    const calls = [a.run(record('a')), b.run(record('b'))];
    await timers.runAll();
    await Promise.all(calls);
    expect(started).toEqual([
      { name: 'b', at: 2_000 },
      { name: 'a', at: 5_000 },
    ]);
  });
});
