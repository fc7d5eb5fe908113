// Simple moving average over a fixed window, streaming and allocation-free: the ring buffer is
// allocated once in the constructor and `update` only does arithmetic on numbers.
//
// Drift guard: the running sum is recomputed from the buffer every time the ring wraps (every
// `period` updates). That costs one extra add per update amortised, keeps the per-update path to
// two flops, and bounds the error to what `period` incremental updates can accumulate, so the
// sum never drifts over a long backtest. At each wrap the value is bit-identical to a fresh
// window sum. Kahan/Neumaier would also work but costs ~4 extra flops on every update, and
// a NaN/Infinity input would poison its compensation term forever; here it leaves at the next
// wrap after it has left the window.

export class Sma {
  readonly period: number;
  private readonly buf: Float64Array;
  private head = 0; // next slot to write (= the oldest value once full)
  private count = 0; // values seen, capped at period
  private sum = 0;
  private current = NaN;

  constructor(period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Sma period must be an integer >= 1, got ${period}`);
    this.period = period;
    this.buf = new Float64Array(period);
  }

  /** Adds one value; returns the mean of the last `period` values, NaN until that many arrived. */
  update(x: number): number {
    const buf = this.buf;
    const i = this.head;
    if (this.count < this.period) {
      this.count++;
      this.sum += x;
    } else {
      this.sum += x - buf[i]!;
    }
    buf[i] = x;
    if (i + 1 === this.period) {
      this.head = 0;
      let s = 0;
      for (let k = 0; k < this.period; k++) s += buf[k]!;
      this.sum = s;
    } else {
      this.head = i + 1;
    }
    this.current = this.count === this.period ? this.sum / this.period : NaN;
    return this.current;
  }

  get value(): number {
    return this.current;
  }

  get ready(): boolean {
    return this.count === this.period;
  }

  reset(): void {
    this.buf.fill(0);
    this.head = 0;
    this.count = 0;
    this.sum = 0;
    this.current = NaN;
  }
}
