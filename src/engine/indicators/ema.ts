// Exponential moving average, alpha = 2 / (period + 1).
// Convention (the common one, also technicalindicators' and TA-Lib's): the first value, emitted on
// the `period`-th update, is the simple average of the first `period` inputs; after that
// ema += alpha * (x - ema). Allocation-free: only numbers in fields.
import { encodeNumber, StateReader, type JsonObject } from '../snapshot.ts';
import type { JsonValue } from '../types.ts';

export class Ema {
  readonly period: number;
  readonly alpha: number;
  private count = 0;
  private seedSum = 0;
  private current = NaN;

  constructor(period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Ema period must be an integer >= 1, got ${period}`);
    this.period = period;
    this.alpha = 2 / (period + 1);
  }

  /** Adds one value; returns the EMA, NaN until `period` values arrived. */
  update(x: number): number {
    if (this.count >= this.period) {
      this.current += this.alpha * (x - this.current);
    } else {
      this.seedSum += x;
      if (++this.count === this.period) this.current = this.seedSum / this.period;
    }
    return this.current;
  }

  get value(): number {
    return this.current;
  }

  get ready(): boolean {
    return this.count >= this.period;
  }

  snapshot(): JsonObject {
    return { period: this.period, count: this.count, seedSum: encodeNumber(this.seedSum), value: encodeNumber(this.current) };
  }

  /** Loads a `snapshot()` of an Ema with the same period; throws (changing nothing) on anything else. */
  restore(state: JsonValue, path = 'ema'): void {
    const r = StateReader.open(state, path, ['period', 'count', 'seedSum', 'value']);
    const period = r.int('period', 1, Number.MAX_SAFE_INTEGER);
    if (period !== this.period) r.fail('period', `snapshot has ${period}, this Ema has ${this.period}`);
    const count = r.int('count', 0, period);
    const seedSum = r.number('seedSum');
    const current = r.number('value');
    this.count = count;
    this.seedSum = seedSum;
    this.current = current;
  }

  reset(): void {
    this.count = 0;
    this.seedSum = 0;
    this.current = NaN;
  }
}
