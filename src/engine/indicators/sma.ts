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
import { encodeNumber, encodeNumbers, StateReader, type JsonObject } from '../snapshot.ts';
import type { JsonValue } from '../types.ts';

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

  /** The window, its write position and the running sum as JSON (the sum as is: it is not recomputed between wraps). */
  snapshot(): JsonObject {
    return { period: this.period, buf: encodeNumbers(this.buf), head: this.head, count: this.count, sum: encodeNumber(this.sum), value: encodeNumber(this.current) };
  }

  /** Loads a `snapshot()` of an Sma with the same period; throws (changing nothing) on anything else. */
  restore(state: JsonValue, path = 'sma'): void {
    const r = StateReader.open(state, path, ['period', 'buf', 'head', 'count', 'sum', 'value']);
    const period = r.int('period', 1, Number.MAX_SAFE_INTEGER);
    if (period !== this.period) r.fail('period', `snapshot has ${period}, this Sma has ${this.period}`);
    const buf = r.numbers('buf', period, 'one per period');
    const head = r.int('head', 0, period - 1);
    const count = r.int('count', 0, period);
    const sum = r.number('sum');
    const current = r.number('value');
    this.buf.set(buf);
    this.head = head;
    this.count = count;
    this.sum = sum;
    this.current = current;
  }

  reset(): void {
    this.buf.fill(0);
    this.head = 0;
    this.count = 0;
    this.sum = 0;
    this.current = NaN;
  }
}
