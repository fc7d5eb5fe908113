// Relative strength index, Wilder's smoothing. Allocation-free: only numbers in fields.
//   change_t = close_t - close_{t-1}; gain = max(change, 0); loss = max(-change, 0)
//   avgGain/avgLoss = simple means of the first `period` gains/losses (so the first RSI is
//   emitted on the (period+1)-th close), then avg = (avg * (period - 1) + x) / period
//   RSI = 100 when avgLoss = 0 (also when both are 0: a flat series), else 100 - 100 / (1 + RS)
// technicalindicators (3.1.0) uses the same seeding but rounds its RSI output to 2 decimals;
// its AverageGain/AverageLoss are unrounded and are what the tests compare to 1e-9.
import { encodeNumber, StateReader, type JsonObject } from '../snapshot.ts';
import type { JsonValue } from '../types.ts';

export class Rsi {
  readonly period: number;
  private count = 0; // closes seen, capped at period + 1
  private prevClose = 0;
  private gain = 0; // seed sum during warm-up, then the smoothed average
  private loss = 0;
  private current = NaN;

  constructor(period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Rsi period must be an integer >= 1, got ${period}`);
    this.period = period;
  }

  /** Adds one close; returns the RSI in [0, 100], NaN until `period + 1` closes arrived. */
  update(close: number): number {
    const count = this.count;
    const change = close - this.prevClose;
    this.prevClose = close;
    if (count === 0) {
      this.count = 1;
      return this.current;
    }
    const g = change > 0 ? change : 0;
    const l = change < 0 ? -change : 0;
    const p = this.period;
    if (count > p) {
      this.gain = (this.gain * (p - 1) + g) / p;
      this.loss = (this.loss * (p - 1) + l) / p;
    } else {
      this.gain += g;
      this.loss += l;
      this.count = count + 1;
      if (count < p) return this.current;
      this.gain /= p;
      this.loss /= p;
    }
    this.current = this.loss === 0 ? 100 : 100 - 100 / (1 + this.gain / this.loss);
    return this.current;
  }

  get value(): number {
    return this.current;
  }

  get ready(): boolean {
    return this.count > this.period;
  }

  /** Wilder-smoothed average gain (NaN until ready). */
  get avgGain(): number {
    return this.ready ? this.gain : NaN;
  }

  /** Wilder-smoothed average loss (NaN until ready). */
  get avgLoss(): number {
    return this.ready ? this.loss : NaN;
  }

  snapshot(): JsonObject {
    return {
      period: this.period,
      count: this.count,
      prevClose: encodeNumber(this.prevClose),
      gain: encodeNumber(this.gain),
      loss: encodeNumber(this.loss),
      value: encodeNumber(this.current),
    };
  }

  /** Loads a `snapshot()` of an Rsi with the same period; throws (changing nothing) on anything else. */
  restore(state: JsonValue, path = 'rsi'): void {
    const r = StateReader.open(state, path, ['period', 'count', 'prevClose', 'gain', 'loss', 'value']);
    const period = r.int('period', 1, Number.MAX_SAFE_INTEGER);
    if (period !== this.period) r.fail('period', `snapshot has ${period}, this Rsi has ${this.period}`);
    const count = r.int('count', 0, period + 1);
    const prevClose = r.number('prevClose');
    const gain = r.number('gain');
    const loss = r.number('loss');
    const current = r.number('value');
    this.count = count;
    this.prevClose = prevClose;
    this.gain = gain;
    this.loss = loss;
    this.current = current;
  }

  reset(): void {
    this.count = 0;
    this.prevClose = 0;
    this.gain = 0;
    this.loss = 0;
    this.current = NaN;
  }
}
