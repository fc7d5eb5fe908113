// Fee arithmetic: the high-water mark, cent rounding that reconciles over any number of periods,
// and the copy-trading split. Expected totals in the random paths are computed independently, in
// BigInt units of 1e-12 dollars, not with the Decimal code under test.
import { describe, expect, it } from 'vitest';
import { copyFees, Decimal, feeDueOn, feeRate, highWaterStep, moneyText, performanceFee } from '../../src/domain/fees.ts';
import { seededRandom } from '../support/prng.ts';

const TEN_PCT = feeRate(10);

/** Runs periods through performanceFee as accrueFees chains them; returns each period's fee and the final state. */
function chain(cumulative: readonly string[], rate = TEN_PCT) {
  let hwm = new Decimal(0);
  let charged = new Decimal(0);
  const fees: string[] = [];
  for (const pnl of cumulative) {
    const step = performanceFee({ hwmBefore: hwm, charged, cumulativePnl: pnl, rate });
    expect(step.fee.gte(0)).toBe(true);
    expect(step.gain.eq(step.hwmAfter.minus(step.hwmBefore))).toBe(true);
    fees.push(step.fee.toFixed(2));
    hwm = step.hwmAfter;
    charged = charged.plus(step.fee);
  }
  return { fees, hwm: hwm.toString(), charged: charged.toFixed(2) };
}

const PICO = 10n ** 12n;
/** BigInt picodollars to a decimal string with 12 places. */
function picoText(value: bigint): string {
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  return `${sign}${abs / PICO}.${(abs % PICO).toString().padStart(12, '0')}`;
}
/** round-half-up(pct% × max(0, hwm)) in cents, for whole-number percentages. */
function expectedFeeCents(hwmPico: bigint, pct: bigint): bigint {
  const positive = hwmPico > 0n ? hwmPico : 0n;
  // pct/100 × pico/1e12 dollars = pct × pico / 1e14 dollars = pct × pico / 1e12 cents.
  return (positive * pct + PICO / 2n) / PICO;
}
const centsText = (c: bigint) => `${c / 100n}.${(c % 100n).toString().padStart(2, '0')}`;

describe('high-water mark', () => {
  it('charges a gain, nothing for the loss or for recovering it, then only the excess above the old mark', () => {
    const run = chain(['1000', '400', '900', '1000', '1200']);
    expect(run.fees).toEqual(['100.00', '0.00', '0.00', '0.00', '20.00']);
    expect(run.hwm).toBe('1200');
    expect(run.charged).toBe('120.00');
  });

  it('keeps the mark through a loss below zero and counts the first profit from zero', () => {
    expect(chain(['-50', '-20', '30']).fees).toEqual(['0.00', '0.00', '3.00']);
    const below = highWaterStep('0', '-50');
    expect(below.hwmAfter.toString()).toBe('0');
    expect(below.gain.toString()).toBe('0');
    // A loss after a gain never lowers the mark.
    const drop = highWaterStep('250.5', '-1000');
    expect(drop.hwmAfter.toString()).toBe('250.5');
    expect(drop.gain.isZero()).toBe(true);
  });

  it('charges nothing when P&L stays at zero or repeats the same high', () => {
    expect(chain(['0', '0', '500', '500', '500']).fees).toEqual(['0.00', '0.00', '50.00', '0.00', '0.00']);
  });

  it('refuses a negative mark, a fraction of a cent already charged, and a percentage out of range', () => {
    expect(() => highWaterStep('-1', '5')).toThrow(RangeError);
    expect(() => performanceFee({ hwmBefore: '0', charged: '0.005', cumulativePnl: '10', rate: TEN_PCT })).toThrow(RangeError);
    expect(() => performanceFee({ hwmBefore: '0', charged: '-1', cumulativePnl: '10', rate: TEN_PCT })).toThrow(RangeError);
    expect(() => feeRate(-1)).toThrow(RangeError);
    expect(() => feeRate(101)).toThrow(RangeError);
    expect(feeRate('2.5').toString()).toBe('0.025');
  });

  it('charges nothing more when more was charged than is due (a lowered rate) until the mark catches up', () => {
    const lowered = performanceFee({ hwmBefore: '1000', charged: '100.00', cumulativePnl: '1500', rate: feeRate(5) });
    expect(lowered.fee.toFixed(2)).toBe('0.00');
    const caughtUp = performanceFee({ hwmBefore: '1500', charged: '100.00', cumulativePnl: '2200', rate: feeRate(5) });
    expect(caughtUp.fee.toFixed(2)).toBe('10.00');
  });
});

describe('rounding to the cent', () => {
  it('accumulates sub-cent gains across periods instead of losing or rounding them up each time', () => {
    // +$0.03 a period at 10% is $0.003 of fee: charged when the running total crosses a half cent.
    const cumulative = Array.from({ length: 10 }, (_, i) => centsText(3n * BigInt(i + 1)));
    const run = chain(cumulative);
    // Due on the mark: 0.003 → 0.00, 0.006 → 0.01, …, 0.015 → 0.02, …, 0.027 → 0.03, 0.030 → 0.03.
    expect(run.fees).toEqual(['0.00', '0.01', '0.00', '0.00', '0.01', '0.00', '0.00', '0.00', '0.01', '0.00']);
    expect(run.charged).toBe('0.03');
    // Rounding each period's own 10% would have charged nothing at all.
    expect(feeDueOn(TEN_PCT, '0.03').toFixed(2)).toBe('0.00');
  });

  it('rounds half-up on the whole mark, exactly, even beyond 20 significant digits', () => {
    expect(feeDueOn(TEN_PCT, '0.05').toFixed(2)).toBe('0.01');
    expect(feeDueOn(TEN_PCT, '0.049999999999').toFixed(2)).toBe('0.00');
    // 123456789012.3449999999999: decimal.js's default 20 digits would make it …012.345 → .35.
    expect(feeDueOn(TEN_PCT, '1234567890123.449999999999').toFixed(2)).toBe('123456789012.34');
    expect(moneyText('2.005')).toBe('2.01');
    expect(moneyText(new Decimal('7'))).toBe('7.00');
  });

  it('on random P&L paths the fees add up to round(rate × highest cumulative P&L) to the cent', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seededRandom(seed);
      const pct = BigInt(1 + Math.floor(random() * 30));
      const rate = feeRate(Number(pct));
      const periods = 1 + Math.floor(random() * 40);
      let pnl = 0n;
      let highest = 0n;
      const path: string[] = [];
      for (let i = 0; i < periods; i++) {
        // Steps from -$50 to +$50 with 12 decimals; every fifth path starts with a loss.
        const step = BigInt(Math.floor((random() - (seed % 5 === 0 && i < 3 ? 0.9 : 0.45)) * 50 * 1e6)) * 1_000_000n + BigInt(Math.floor(random() * 1e6));
        pnl += step;
        if (pnl > highest) highest = pnl;
        path.push(picoText(pnl));
      }
      const run = chain(path, rate);
      const expected = centsText(expectedFeeCents(highest, pct));
      expect(run.charged, `seed ${seed}`).toBe(expected);
      expect(new Decimal(run.hwm).eq(new Decimal(picoText(highest))), `seed ${seed}`).toBe(true);
    }
  });
});

describe('copy-trading fees', () => {
  it('splits each gain into the master and platform shares, each reconciling on its own', () => {
    const rates = { masterRate: feeRate(5), platformRate: feeRate(2) };
    const first = copyFees({ hwmBefore: '0', cumulativePnl: '333.33', masterCharged: '0', platformCharged: '0', ...rates });
    // 5% of 333.33 = 16.6665 → 16.67; 2% = 6.6666 → 6.67.
    expect([first.masterFee.toFixed(2), first.platformFee.toFixed(2)]).toEqual(['16.67', '6.67']);
    const dip = copyFees({ hwmBefore: first.hwmAfter, cumulativePnl: '100', masterCharged: first.masterFee, platformCharged: first.platformFee, ...rates });
    expect([dip.masterFee.toFixed(2), dip.platformFee.toFixed(2), dip.gain.toString()]).toEqual(['0.00', '0.00', '0']);
    const second = copyFees({
      hwmBefore: dip.hwmAfter,
      cumulativePnl: '666.66',
      masterCharged: first.masterFee,
      platformCharged: first.platformFee,
      ...rates,
    });
    // Due on 666.66: 33.333 → 33.33 and 13.3332 → 13.33, less what was charged.
    expect([second.masterFee.toFixed(2), second.platformFee.toFixed(2), second.gain.toString()]).toEqual(['16.66', '6.66', '333.33']);
    expect(first.masterFee.plus(second.masterFee).toFixed(2)).toBe('33.33');
    expect(first.platformFee.plus(second.platformFee).toFixed(2)).toBe('13.33');
  });

  it('charges a follow nothing while its copies are at a loss', () => {
    const fees = copyFees({ hwmBefore: '0', cumulativePnl: '-12.5', masterCharged: '0', platformCharged: '0', masterRate: feeRate(5), platformRate: feeRate(2) });
    expect([fees.masterFee.toFixed(2), fees.platformFee.toFixed(2), fees.hwmAfter.toString()]).toEqual(['0.00', '0.00', '0']);
  });
});
