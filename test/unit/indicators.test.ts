// Streaming indicators against an independent reference (technicalindicators 3.1.0) on real
// candles, plus hand-computed worksheets where the reference's conventions differ from ours.
import { readFileSync } from 'node:fs';
import { ATR, AverageGain, AverageLoss, EMA, RSI, SMA } from 'technicalindicators';
import { describe, expect, it } from 'vitest';
import { Atr, Ema, Rsi, Sma } from '../../src/engine/indicators/index.ts';
import { projectPath } from '../../src/kernel/paths.ts';

interface Columns {
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

function loadCandles(file: string, rows = Infinity): Columns {
  const lines = readFileSync(projectPath('..', 'shared', 'data', 'candles', file), 'utf8').trim().split('\n');
  expect(lines[0]).toBe('timestamp_ms,open,high,low,close,volume');
  const out: Columns = { high: [], low: [], close: [], volume: [] };
  for (let i = 1; i < lines.length && i <= rows; i++) {
    const f = lines[i]!.split(',');
    out.high.push(Number(f[2]));
    out.low.push(Number(f[3]));
    out.close.push(Number(f[4]));
    out.volume.push(Number(f[5]));
  }
  return out;
}

const btc = loadCandles('BTC_USDT-5m.csv', 3000);

const relDiff = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));

/** Largest relative difference between ours[offset + j] and ref[j]; fails on NaN/length mismatch. */
function maxRelDiff(ours: number[], ref: number[], offset: number): number {
  expect(ref.length).toBe(ours.length - offset);
  let worst = 0;
  for (let j = 0; j < ref.length; j++) {
    const d = relDiff(ours[offset + j]!, ref[j]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

const run = (n: number, step: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => step(i));
const closesThrough = (ind: { update(x: number): number }, xs: number[]): number[] => xs.map((x) => ind.update(x));
const atrThrough = (atr: Atr, c: Columns): number[] => run(c.close.length, (i) => atr.update(c.high[i]!, c.low[i]!, c.close[i]!));

describe('Sma', () => {
  it.each([1, 14, 50])('matches technicalindicators SMA(%i) on 3,000 BTC 5m closes', (period) => {
    const ours = closesThrough(new Sma(period), btc.close);
    expect(maxRelDiff(ours, SMA.calculate({ period, values: btc.close }), period - 1)).toBeLessThan(1e-9);
  });

  it('is NaN for the first period-1 updates and a number from exactly the period-th', () => {
    const sma = new Sma(3);
    expect(sma.ready).toBe(false);
    expect(sma.update(1)).toBeNaN();
    expect(sma.update(2)).toBeNaN();
    expect(sma.value).toBeNaN();
    expect(sma.update(6)).toBe(3);
    expect(sma.ready).toBe(true);
    expect(sma.update(10)).toBe(6); // (2 + 6 + 10) / 3
    expect(sma.value).toBe(6);
  });

  it('does not drift over 130k 1m candles (closes and volumes) versus a fresh window sum', () => {
    const all = loadCandles('BTC_USDT-1m.csv');
    expect(all.close.length).toBe(130_708);
    const period = 50;
    for (const xs of [all.close, all.volume]) {
      const sma = new Sma(period);
      let naive = 0;
      let worst = 0;
      let worstNaive = 0;
      for (let i = 0; i < xs.length; i++) {
        const v = sma.update(xs[i]!);
        naive += xs[i]! - (i >= period ? xs[i - period]! : 0);
        if (i < period - 1) continue;
        let fresh = 0;
        for (let k = i - period + 1; k <= i; k++) fresh += xs[k]!;
        fresh /= period;
        worst = Math.max(worst, relDiff(v, fresh));
        worstNaive = Math.max(worstNaive, relDiff(naive / period, fresh));
      }
      // A few ulps, independent of the series length.
      expect(worst).toBeLessThan(1e-13);
      // Volumes span orders of magnitude: there a plain running sum drifts to ~1e-12, so the
      // guard is doing real work (prices are 2-decimal and happen to sum almost exactly).
      if (xs === all.volume) expect(worstNaive).toBeGreaterThan(10 * worst);
    }
  });

  it('recovers exactly after a huge value leaves the window (catastrophic cancellation)', () => {
    const sma = new Sma(4);
    sma.update(1e17);
    for (const x of [0.1, 0.2, 0.3]) sma.update(x);
    // 1e17 left the window at the wrap: the sum is recomputed from the buffer, not 1e17 - 1e17.
    for (const x of [0.4, 0.5, 0.6, 0.7]) sma.update(x);
    expect(sma.value).toBe((0.4 + 0.5 + 0.6 + 0.7) / 4);
  });

  it('reset() returns it to a fresh state', () => {
    const sma = new Sma(20);
    const first = closesThrough(sma, btc.close.slice(0, 500));
    sma.reset();
    expect(sma.ready).toBe(false);
    expect(sma.value).toBeNaN();
    expect(closesThrough(sma, btc.close.slice(0, 500))).toEqual(first);
  });

  it('rejects a period that is not a positive integer', () => {
    expect(() => new Sma(0)).toThrow(RangeError);
    expect(() => new Sma(2.5)).toThrow(RangeError);
  });
});

describe('Ema', () => {
  it.each([1, 12, 50])('matches technicalindicators EMA(%i) (same SMA seed) on 3,000 BTC 5m closes', (period) => {
    const ours = closesThrough(new Ema(period), btc.close);
    expect(maxRelDiff(ours, EMA.calculate({ period, values: btc.close }), period - 1)).toBeLessThan(1e-9);
  });

  it('seeds with the SMA of the first period values, then applies alpha = 2/(period+1)', () => {
    // Worksheet, period 3, alpha 0.5: seed (2+4+6)/3 = 4; then 4 + 0.5*(8-4) = 6; 6 + 0.5*(3-6) = 4.5
    const ema = new Ema(3);
    expect(ema.alpha).toBe(0.5);
    expect([2, 4, 6, 8, 3].map((x) => ema.update(x))).toEqual([NaN, NaN, 4, 6, 4.5]);
    expect(ema.ready).toBe(true);
    ema.reset();
    expect(ema.ready).toBe(false);
    expect(ema.value).toBeNaN();
    expect([2, 4, 6].map((x) => ema.update(x))).toEqual([NaN, NaN, 4]);
  });
});

describe('Atr (Wilder)', () => {
  const period = 14;

  it('matches technicalindicators ATR to 1e-9 once both see the same first true range', () => {
    // The reference emits no TR for its first candle. Prepending a copy of candle 0 (close
    // inside candle 0's range) makes its TR for candle 0 equal high - low, i.e. our convention;
    // after that both compute the same seed and the same Wilder recursion.
    const ref = ATR.calculate({
      period,
      high: [btc.high[0]!, ...btc.high],
      low: [btc.low[0]!, ...btc.low],
      close: [btc.close[0]!, ...btc.close],
    });
    const ours = atrThrough(new Atr(period), btc);
    expect(maxRelDiff(ours, ref, period - 1)).toBeLessThan(1e-9);
  });

  it('differs from the unaligned reference only by its seed, and converges geometrically', () => {
    // Unaligned, the reference's first ATR is at index `period` (seeded from TR_1..TR_14) while
    // ours is at index period-1 (TR_0..TR_13). The gap shrinks by (period-1)/period per candle.
    const ref = ATR.calculate({ period, high: btc.high, low: btc.low, close: btc.close });
    const ours = atrThrough(new Atr(period), btc);
    expect(ref.length).toBe(ours.length - period);
    const diff = (j: number): number => relDiff(ours[period + j]!, ref[j]!);
    expect(diff(0)).toBeGreaterThan(1e-4);
    const gapAt = (j: number): number => Math.abs(ours[period + j]! - ref[j]!);
    expect(gapAt(100) / gapAt(0)).toBeCloseTo(((period - 1) / period) ** 100, 9);
    const settled = 400; // ((13/14)^400 ~ 1e-13, comfortably below 1e-9 relative)
    expect(maxRelDiff(ours.slice(period + settled), ref.slice(settled), 0)).toBeLessThan(1e-9);
  });

  it('follows a hand-computed worksheet (period 3)', () => {
    // candle   high  low  close   TR                            ATR
    // 0        10    8    9       10-8 = 2 (no previous close)  -
    // 1        11    9    10      max(2, |11-9|, |9-9|) = 2     -
    // 2        12    9    11      max(3, 3, 1) = 3              (2+2+3)/3 = 7/3
    // 3        15    13   14      max(2, |15-11|, |13-11|) = 4  (7/3*2 + 4)/3 = 26/9
    // 4        14    10   10      max(4, 0, 4) = 4              (26/9*2 + 4)/3 = 88/27
    // 5        9     7    8       max(2, |9-10|, |7-10|) = 3    (88/27*2 + 3)/3 = 257/81
    const atr = new Atr(3);
    const rows = [[10, 8, 9], [11, 9, 10], [12, 9, 11], [15, 13, 14], [14, 10, 10], [9, 7, 8]] as const;
    const got = rows.map(([h, l, c]) => atr.update(h, l, c));
    expect(got.slice(0, 2)).toEqual([NaN, NaN]);
    expect(atr.ready).toBe(true);
    const want = [7 / 3, 26 / 9, 88 / 27, 257 / 81];
    want.forEach((w, k) => expect(got[k + 2]).toBeCloseTo(w, 12));
  });

  it('warms up on exactly the period-th candle and resets', () => {
    const atr = new Atr(period);
    const first = atrThrough(atr, btc);
    expect(first.slice(0, period - 1).every(Number.isNaN)).toBe(true);
    expect(Number.isFinite(first[period - 1])).toBe(true);
    atr.reset();
    expect(atr.ready).toBe(false);
    expect(atr.value).toBeNaN();
    expect(atrThrough(atr, btc)).toEqual(first);
  });
});

describe('Rsi (Wilder)', () => {
  const period = 14;

  it('matches technicalindicators average gain/loss to 1e-9 and its (2-decimal) RSI', () => {
    const rsi = new Rsi(period);
    const ours = { rsi: [] as number[], gain: [] as number[], loss: [] as number[] };
    for (const c of btc.close) {
      ours.rsi.push(rsi.update(c));
      ours.gain.push(rsi.avgGain);
      ours.loss.push(rsi.avgLoss);
    }
    const gain = AverageGain.calculate({ period, values: btc.close });
    const loss = AverageLoss.calculate({ period, values: btc.close });
    expect(maxRelDiff(ours.gain, gain, period)).toBeLessThan(1e-9);
    expect(maxRelDiff(ours.loss, loss, period)).toBeLessThan(1e-9);
    // Our RSI from the reference's unrounded averages: 1e-9.
    const fromRef = gain.map((g, j) => (loss[j] === 0 ? 100 : 100 - 100 / (1 + g / loss[j]!)));
    expect(maxRelDiff(ours.rsi, fromRef, period)).toBeLessThan(1e-9);
    // The reference's RSI itself is rounded with toFixed(2).
    const ref = RSI.calculate({ period, values: btc.close });
    expect(ref.length).toBe(ours.rsi.length - period);
    ref.forEach((r, j) => expect(Math.abs(ours.rsi[period + j]! - r)).toBeLessThanOrEqual(0.005 + 1e-9));
  });

  it('follows a hand-computed worksheet (period 3)', () => {
    // close  change  gain loss   avgGain              avgLoss              RSI
    // 10     -
    // 11     +1      1    0
    // 10     -1      0    1
    // 12     +2      2    0      3/3 = 1              1/3                  100 - 100/(1+3) = 75
    // 11     -1      0    1      (1*2 + 0)/3 = 2/3    (1/3*2 + 1)/3 = 5/9  100 - 100/(1+6/5) = 600/11
    const rsi = new Rsi(3);
    const got = [10, 11, 10, 12, 11].map((c) => rsi.update(c));
    expect(got.slice(0, 3)).toEqual([NaN, NaN, NaN]);
    expect(got[3]).toBeCloseTo(75, 12);
    expect(got[4]).toBeCloseTo(600 / 11, 12);
    expect(rsi.avgGain).toBeCloseTo(2 / 3, 14);
    expect(rsi.avgLoss).toBeCloseTo(5 / 9, 14);
  });

  it('is 100 when the average loss is 0 (rising or flat), 0 when only losses', () => {
    const up = new Rsi(3);
    expect([1, 2, 3, 4, 5].map((c) => up.update(c)).slice(3)).toEqual([100, 100]);
    const flat = new Rsi(3);
    expect([7, 7, 7, 7].map((c) => flat.update(c))[3]).toBe(100);
    const down = new Rsi(3);
    expect([5, 4, 3, 2].map((c) => down.update(c))[3]).toBe(0);
  });

  it('warms up on exactly the (period+1)-th close and resets', () => {
    const rsi = new Rsi(period);
    const first = closesThrough(rsi, btc.close.slice(0, 300));
    expect(first.slice(0, period).every(Number.isNaN)).toBe(true);
    expect(Number.isFinite(first[period])).toBe(true);
    rsi.reset();
    expect(rsi.ready).toBe(false);
    expect(rsi.value).toBeNaN();
    expect(rsi.avgGain).toBeNaN();
    expect(closesThrough(rsi, btc.close.slice(0, 300))).toEqual(first);
  });
});
