// Exponential moving average, alpha = 2 / (period + 1).
// Convention (the common one, also technicalindicators' and TA-Lib's): the first value, emitted on
// the `period`-th update, is the simple average of the first `period` inputs; after that
// ema += alpha * (x - ema). Allocation-free: only numbers in fields.

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

  reset(): void {
    this.count = 0;
    this.seedSum = 0;
    this.current = NaN;
  }
}
