// The router's allocation rules: the seed's table for moderate, the tolerance rules, percentages
// summing to exactly 100 and cents summing to exactly the capital (largest remainder).
import { describe, expect, it } from 'vitest';
import {
  AGGRESSIVE_FROM_CASH_BP,
  allocate,
  allocationAlertText,
  ASSET_CLASSES,
  bpFromPercentString,
  bpToPercentString,
  changeReasons,
  CONSERVATIVE_TO_CASH_BP,
  describeSplit,
  formatBp,
  MODERATE_SPLITS,
  RISK_TOLERANCES,
  splitAmount,
  splitFor,
  type Split,
} from '../../src/domain/allocation.ts';
import { MARKET_REGIMES } from '../../src/engine/market-regime.ts';
import { cents, dollars } from '../../src/kernel/money.ts';

const pcts = (s: Split) => [s.crypto / 100, s.equity / 100, s.derivatives / 100, s.cash / 100];
const sum = (s: Split) => ASSET_CLASSES.reduce((total, c) => total + s[c], 0);

describe('allocation splits', () => {
  it("uses the seed's examples for moderate (crypto / equity / derivatives / cash)", () => {
    expect(pcts(splitFor('high_volatility', 'moderate'))).toEqual([90, 10, 0, 0]);
    expect(pcts(splitFor('low_volatility', 'moderate'))).toEqual([40, 60, 0, 0]);
    expect(pcts(splitFor('risk_off', 'moderate'))).toEqual([20, 30, 0, 50]);
    expect(pcts(splitFor('ranging', 'moderate'))).toEqual([50, 50, 0, 0]);
    // The seed's INVESTOR / moderate router example.
    expect(pcts(splitFor('trending_up', 'moderate'))).toEqual([60, 40, 0, 0]);
    expect(pcts(splitFor('trending_down', 'moderate'))).toEqual([30, 40, 0, 30]);
  });

  it('sums to exactly 100% for every regime and tolerance, with derivatives disabled and nothing negative', () => {
    for (const regime of MARKET_REGIMES) {
      for (const tolerance of RISK_TOLERANCES) {
        const s = splitFor(regime, tolerance);
        expect(sum(s), `${regime}/${tolerance}`).toBe(10_000);
        expect(s.derivatives).toBe(0);
        for (const c of ASSET_CLASSES) expect(Number.isInteger(s[c]) && s[c] >= 0).toBe(true);
      }
    }
  });

  it('conservative moves a quarter of crypto and of equities to cash', () => {
    expect(CONSERVATIVE_TO_CASH_BP).toBe(2_500);
    expect(pcts(splitFor('high_volatility', 'conservative'))).toEqual([67.5, 7.5, 0, 25]);
    expect(pcts(splitFor('risk_off', 'conservative'))).toEqual([15, 22.5, 0, 62.5]);
    for (const regime of MARKET_REGIMES) {
      const moderate = MODERATE_SPLITS[regime];
      const conservative = splitFor(regime, 'conservative');
      expect(conservative.crypto).toBe(moderate.crypto * 0.75);
      expect(conservative.equity).toBe(moderate.equity * 0.75);
      expect(conservative.cash - moderate.cash).toBe((moderate.crypto + moderate.equity) / 4);
    }
  });

  it('aggressive moves half of the cash into crypto and equities, evenly; without cash it is moderate', () => {
    expect(AGGRESSIVE_FROM_CASH_BP).toBe(5_000);
    expect(pcts(splitFor('risk_off', 'aggressive'))).toEqual([32.5, 42.5, 0, 25]);
    expect(pcts(splitFor('trending_down', 'aggressive'))).toEqual([37.5, 47.5, 0, 15]);
    for (const regime of MARKET_REGIMES) {
      const moderate = MODERATE_SPLITS[regime];
      const aggressive = splitFor(regime, 'aggressive');
      expect(aggressive.cash).toBe(moderate.cash / 2);
      expect(aggressive.crypto - moderate.crypto).toBe(aggressive.equity - moderate.equity);
      if (moderate.cash === 0) expect(aggressive).toEqual(moderate);
    }
  });

  it('holds more cash the more conservative the tolerance, in every regime', () => {
    for (const regime of MARKET_REGIMES) {
      const [c, m, a] = RISK_TOLERANCES.map((t) => splitFor(regime, t).cash);
      expect(c).toBeGreaterThan(m!);
      expect(m).toBeGreaterThanOrEqual(a!);
    }
  });
});

describe('splitting the capital in cents', () => {
  const awkward = [1, 3, 7, 99, 100_00, 10_000_01, 12_345_67, 99_999_99, 2_500_000_00, 123_456_789_01];

  it('sums to exactly the capital and keeps each class within a cent of its exact share', () => {
    for (const capital of awkward) {
      for (const regime of MARKET_REGIMES) {
        for (const tolerance of RISK_TOLERANCES) {
          const parts = splitFor(regime, tolerance);
          const amounts = splitAmount(cents(capital), parts);
          expect(ASSET_CLASSES.reduce((total, c) => total + amounts[c], 0), `${capital} ${regime}/${tolerance}`).toBe(capital);
          for (const c of ASSET_CLASSES) {
            expect(Math.abs(amounts[c] - (capital * parts[c]) / 10_000)).toBeLessThan(1);
          }
          expect(amounts.derivatives).toBe(0);
        }
      }
    }
  });

  it('gives the cent left over to the largest remainder ($10,000.01 at 20/30/50)', () => {
    const amounts = splitAmount(dollars(10_000.01), splitFor('risk_off', 'moderate'));
    // Exact shares 2,000.002 / 3,000.003 / 5,000.005: cash has the largest remainder.
    expect(amounts).toEqual({ crypto: 2_000_00, equity: 3_000_00, derivatives: 0, cash: 5_000_01 });
  });

  it('breaks ties in class order (one cent at 50/50 goes to crypto)', () => {
    expect(splitAmount(cents(1), splitFor('ranging', 'moderate'))).toEqual({ crypto: 1, equity: 0, derivatives: 0, cash: 0 });
    expect(splitAmount(cents(3), splitFor('ranging', 'moderate'))).toEqual({ crypto: 2, equity: 1, derivatives: 0, cash: 0 });
  });

  it('stays exact beyond 2^53 / 10,000 cents', () => {
    const capital = cents(Number.MAX_SAFE_INTEGER - 1);
    const amounts = splitAmount(capital, splitFor('trending_down', 'conservative'));
    expect(BigInt(amounts.crypto) + BigInt(amounts.equity) + BigInt(amounts.derivatives) + BigInt(amounts.cash)).toBe(BigInt(capital));
  });

  it('refuses a split that does not sum to 100% and a negative capital', () => {
    expect(() => splitAmount(cents(100), { crypto: 5_000, equity: 4_000, derivatives: 0, cash: 0 })).toThrow(/sum to 10000/);
    expect(() => splitAmount(cents(-1), splitFor('ranging', 'moderate'))).toThrow(/negative/);
  });
});

describe('changes and wording', () => {
  const capital = dollars(25_000);

  it('names what changed since the previous decision', () => {
    const next = allocate('risk_off', 'moderate', capital);
    expect(changeReasons(null, next)).toEqual(['first']);
    expect(changeReasons({ regime: 'risk_off', tolerance: 'moderate', capital }, next)).toEqual([]);
    expect(changeReasons({ regime: 'ranging', tolerance: 'aggressive', capital: dollars(10_000) }, next)).toEqual(['regime', 'risk_tolerance', 'capital']);
  });

  it('words the alert as the issue does', () => {
    const a = allocate('risk_off', 'moderate', capital);
    expect(describeSplit(a)).toBe('your $25,000 is split crypto 20% ($5,000) · equities 30% ($7,500) · cash 50% ($12,500)');
    expect(allocationAlertText(a, ['regime']).split('\n')[0]).toBe(
      'Market regime is now risk-off: your $25,000 is split crypto 20% ($5,000) · equities 30% ($7,500) · cash 50% ($12,500).',
    );
    expect(allocationAlertText(allocate('risk_off', 'conservative', capital), ['risk_tolerance'])).toMatch(
      /^Your risk tolerance is now conservative \(market regime risk-off\): your \$25,000 is split crypto 15% \(\$3,750\) · equities 22\.5% \(\$5,625\) · cash 62\.5% \(\$15,625\)\./,
    );
    expect(allocationAlertText(a, ['capital'])).toMatch(/^Your capital is now \$25,000 \(market regime risk-off\)/);
    expect(allocationAlertText(a, ['first'])).toMatch(/^Market regime is risk-off:/);
  });

  it('writes percentages as NUMERIC(5,2) text and reads them back', () => {
    for (const bp of [0, 1, 750, 2_250, 6_250, 10_000]) expect(bpFromPercentString(bpToPercentString(bp))).toBe(bp);
    expect(bpToPercentString(2_250)).toBe('22.50');
    expect(bpFromPercentString('7.5')).toBe(750);
    expect(formatBp(2_250)).toBe('22.5%');
    expect(formatBp(9_000)).toBe('90%');
    expect(() => bpFromPercentString('12.345')).toThrow();
  });
});
