// Average true range, Wilder's smoothing. Allocation-free: only numbers in fields.
//   TR_0 = high - low (no previous close yet)
//   TR_t = max(high - low, |high - prevClose|, |low - prevClose|)
//   ATR  = mean(TR_0 .. TR_{period-1})              emitted on the period-th candle
//   ATR  = (ATR_prev * (period - 1) + TR) / period  afterwards
// technicalindicators (3.1.0) instead emits no TR for the first candle, so its ATR starts one
// candle later and is seeded from TR_1..TR_period; the two converge geometrically (factor
// (period-1)/period per candle). See test/unit/indicators.test.ts.
import { encodeNumber, StateReader, type JsonObject } from '../snapshot.ts';
import type { JsonValue } from '../types.ts';

export class Atr {
  readonly period: number;
  private count = 0; // candles seen, capped at period
  private prevClose = 0;
  private seedSum = 0;
  private current = NaN;

  constructor(period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Atr period must be an integer >= 1, got ${period}`);
    this.period = period;
  }

  /** Adds one candle; returns the ATR (price units), NaN until `period` candles arrived. */
  update(high: number, low: number, close: number): number {
    let tr = high - low;
    if (this.count > 0) {
      const up = Math.abs(high - this.prevClose);
      const down = Math.abs(low - this.prevClose);
      if (up > tr) tr = up;
      if (down > tr) tr = down;
    }
    this.prevClose = close;
    if (this.count >= this.period) {
      this.current = (this.current * (this.period - 1) + tr) / this.period;
    } else {
      this.seedSum += tr;
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
    return { period: this.period, count: this.count, prevClose: encodeNumber(this.prevClose), seedSum: encodeNumber(this.seedSum), value: encodeNumber(this.current) };
  }

  /** Loads a `snapshot()` of an Atr with the same period; throws (changing nothing) on anything else. */
  restore(state: JsonValue, path = 'atr'): void {
    const r = StateReader.open(state, path, ['period', 'count', 'prevClose', 'seedSum', 'value']);
    const period = r.int('period', 1, Number.MAX_SAFE_INTEGER);
    if (period !== this.period) r.fail('period', `snapshot has ${period}, this Atr has ${this.period}`);
    const count = r.int('count', 0, period);
    const prevClose = r.number('prevClose');
    const seedSum = r.number('seedSum');
    const current = r.number('value');
    this.count = count;
    this.prevClose = prevClose;
    this.seedSum = seedSum;
    this.current = current;
  }

  reset(): void {
    this.count = 0;
    this.prevClose = 0;
    this.seedSum = 0;
    this.current = NaN;
  }
}
