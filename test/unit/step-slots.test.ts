import { describe, expect, it } from 'vitest';
import { StepSlots } from '../../src/execution/step-slots.ts';

const gate = () => {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { done, open };
};
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('StepSlots', () => {
  it('admits waiting steps by priority, first come first served within one, never more than max at once', async () => {
    const slots = new StepSlots(2);
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const step = (name: string, priority: number, hold?: Promise<void>) =>
      slots.run(
        async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(name);
          await (hold ?? tick());
          running--;
        },
        async () => priority,
      );
    const first = gate();
    const second = gate();
    const steps = [step('busy-1', 0, first.done), step('busy-2', 0, second.done)];
    await tick();
    steps.push(step('normal-a', 0), step('high', 1), step('dedicated', 3), step('normal-b', 0), step('very-high', 2));
    await tick();
    expect(slots.waiting).toBe(5);
    first.open();
    second.open();
    await Promise.all(steps);
    expect(order).toEqual(['busy-1', 'busy-2', 'dedicated', 'very-high', 'high', 'normal-a', 'normal-b']);
    expect(peak).toBe(2);
    expect(slots.waiting).toBe(0);
  });

  it('does not look the priority up while a slot is free, and a failed lookup counts as the lowest', async () => {
    const slots = new StepSlots(1);
    let lookups = 0;
    await slots.run(async () => undefined, async () => (lookups++, 5));
    expect(lookups).toBe(0);
    const hold = gate();
    const order: string[] = [];
    const busy = slots.run(() => hold.done, async () => 0);
    const broken = slots.run(async () => void order.push('broken'), async () => Promise.reject(new Error('facts unavailable')));
    const high = slots.run(async () => void order.push('high'), async () => 1);
    await tick();
    hold.open();
    await Promise.all([busy, broken, high]);
    expect(order).toEqual(['high', 'broken']);
  });

  it('frees the slot when a step throws', async () => {
    const slots = new StepSlots(1);
    await expect(slots.run(async () => Promise.reject(new Error('step failed')), async () => 0)).rejects.toThrow('step failed');
    let ran = false;
    await slots.run(async () => void (ran = true), async () => 0);
    expect(ran).toBe(true);
  });
});
