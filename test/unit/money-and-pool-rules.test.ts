import { describe, expect, it } from 'vitest';
import { available, enforcementLevel, fits, percentUsed, type PoolUsage } from '../../src/domain/pool.ts';
import { priceForCapital } from '../../src/domain/tiers.ts';
import { centsFromDecimalString, centsToDecimalString, dollars, formatUsd } from '../../src/kernel/money.ts';

const usage = (cap: number, committed: number, held = 0): PoolUsage => ({
  cap: dollars(cap),
  committed: dollars(committed),
  held: dollars(held),
});

describe('money', () => {
  it('round-trips NUMERIC text exactly', () => {
    for (const text of ['0.00', '0.01', '12.50', '2500000.00', '-3.07', '99999999999.99']) {
      expect(centsToDecimalString(centsFromDecimalString(text))).toBe(text);
    }
    expect(centsFromDecimalString('12.5')).toBe(1250);
    expect(() => centsFromDecimalString('1.001')).toThrow(RangeError);
    expect(() => centsFromDecimalString('abc')).toThrow(RangeError);
  });

  it('formats dollars for people', () => {
    expect(formatUsd(dollars(2_500_000))).toBe('$2,500,000');
    expect(formatUsd(centsFromDecimalString('12.5'))).toBe('$12.50');
  });
});

describe('tier pricing', () => {
  it('is 10% of max capital for every seed tier', () => {
    expect([5_000, 10_000, 25_000, 50_000, 100_000].map((c) => priceForCapital(dollars(c)) / 100)).toEqual([
      500, 1_000, 2_500, 5_000, 10_000,
    ]);
    // An upgrade pays the difference: Trader -> Elite holds $40,000 and costs $4,000.
    expect(priceForCapital(dollars(50_000 - 10_000))).toBe(dollars(4_000));
  });
});

describe('pool rules', () => {
  it('fits exactly up to the cap and not a cent beyond', () => {
    expect(fits(usage(100, 50, 25), dollars(25))).toBe(true);
    expect(fits(usage(100, 50, 25), dollars(25.01))).toBe(false);
    expect(available(usage(100, 120))).toBe(0);
    expect(percentUsed(usage(2_500_000, 1_000_000, 250_000))).toBe(50);
  });

  it('enforces soft then hard when committed capital exceeds the cap', () => {
    expect(enforcementLevel(usage(1_000, 1_000), 10)).toBe('normal');
    expect(enforcementLevel(usage(1_000, 1_050), 10)).toBe('soft');
    expect(enforcementLevel(usage(1_000, 1_100), 10)).toBe('hard');
    // Holds never count: they cannot push the pool over its cap.
    expect(enforcementLevel(usage(1_000, 900, 500), 10)).toBe('normal');
  });
});
