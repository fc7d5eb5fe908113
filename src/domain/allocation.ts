// How the multi-asset router splits a user's capital across crypto / equities / derivatives /
// cash, by market regime and risk tolerance. Pure: percentages in basis points (1% = 100) and
// money in cents, both integers, so the parts always add up exactly.
//
// Moderate is the seed's table ("Allocation examples"), plus trending up (the seed's INVESTOR /
// moderate example, 60/40) and trending down (between ranging and risk-off: 30/40 and 30% cash).
// The other tolerances are derived from it:
//   conservative  moves a quarter of each risky class (crypto, equities) to cash;
//   aggressive    moves half of the cash into the risky classes, split evenly between them
//                 (so it differs from moderate only where moderate holds cash).
// Derivatives are phase 2: always 0 (shown as "disabled").
import { marketRegimeLabel, type MarketRegime } from '../engine/market-regime.ts';
import { cents, formatUsd, type Cents } from '../kernel/money.ts';

export const RISK_TOLERANCES = ['conservative', 'moderate', 'aggressive'] as const;
export type RiskTolerance = (typeof RISK_TOLERANCES)[number];
export const DEFAULT_RISK_TOLERANCE: RiskTolerance = 'moderate';

export const isRiskTolerance = (value: string): value is RiskTolerance => (RISK_TOLERANCES as readonly string[]).includes(value);

export const ASSET_CLASSES = ['crypto', 'equity', 'derivatives', 'cash'] as const;
export type AssetClass = (typeof ASSET_CLASSES)[number];

/** Basis points per asset class; they sum to 10,000. */
export type Split = Readonly<Record<AssetClass, number>>;

export const FULL_BP = 10_000;

const split = (cryptoPct: number, equityPct: number, cashPct: number): Split =>
  Object.freeze({ crypto: cryptoPct * 100, equity: equityPct * 100, derivatives: 0, cash: cashPct * 100 });

/** The moderate split per regime (percent crypto / equities / cash). */
export const MODERATE_SPLITS: Readonly<Record<MarketRegime, Split>> = Object.freeze({
  high_volatility: split(90, 10, 0),
  low_volatility: split(40, 60, 0),
  risk_off: split(20, 30, 50),
  ranging: split(50, 50, 0),
  trending_up: split(60, 40, 0),
  trending_down: split(30, 40, 30),
});

/** Conservative: this share (bp) of each risky class goes to cash. */
export const CONSERVATIVE_TO_CASH_BP = 2_500;
/** Aggressive: this share (bp) of the cash goes to the risky classes, half each. */
export const AGGRESSIVE_FROM_CASH_BP = 5_000;

/** The split for a regime and tolerance; always sums to 10,000 bp with derivatives at 0. */
export function splitFor(regime: MarketRegime, tolerance: RiskTolerance): Split {
  const base = MODERATE_SPLITS[regime];
  if (tolerance === 'conservative') {
    const crypto = base.crypto - Math.round((base.crypto * CONSERVATIVE_TO_CASH_BP) / FULL_BP);
    const equity = base.equity - Math.round((base.equity * CONSERVATIVE_TO_CASH_BP) / FULL_BP);
    return { crypto, equity, derivatives: 0, cash: FULL_BP - crypto - equity };
  }
  if (tolerance === 'aggressive') {
    const moved = Math.round((base.cash * AGGRESSIVE_FROM_CASH_BP) / FULL_BP);
    const toCrypto = Math.ceil(moved / 2);
    const crypto = base.crypto + toCrypto;
    const equity = base.equity + (moved - toCrypto);
    return { crypto, equity, derivatives: 0, cash: FULL_BP - crypto - equity };
  }
  return base;
}

export type Amounts = Readonly<Record<AssetClass, Cents>>;

/**
 * `capital` split by `parts` (bp summing to 10,000) into cents that sum exactly to it: each class
 * gets the floor of its exact share, and the cents left over go one each to the largest
 * remainders (ties in ASSET_CLASSES order). BigInt, since cents × bp can pass 2^53.
 */
export function splitAmount(capital: Cents, parts: Split): Amounts {
  if (capital < 0) throw new RangeError(`capital must not be negative, got ${capital}`);
  const total = ASSET_CLASSES.reduce((sum, c) => sum + parts[c], 0);
  if (total !== FULL_BP) throw new RangeError(`split must sum to ${FULL_BP} bp, got ${total}`);
  const whole = BigInt(capital);
  const shares = ASSET_CLASSES.map((c, order) => {
    const exact = whole * BigInt(parts[c]);
    return { c, order, floor: exact / BigInt(FULL_BP), remainder: exact % BigInt(FULL_BP) };
  });
  let left = whole - shares.reduce((sum, s) => sum + s.floor, 0n);
  const byRemainder = [...shares].sort((a, b) => (a.remainder === b.remainder ? a.order - b.order : a.remainder > b.remainder ? -1 : 1));
  for (const s of byRemainder) {
    if (left === 0n) break;
    s.floor += 1n;
    left -= 1n;
  }
  const out = {} as Record<AssetClass, Cents>;
  for (const s of shares) out[s.c] = cents(Number(s.floor));
  return out;
}

export interface Allocation {
  readonly regime: MarketRegime;
  readonly tolerance: RiskTolerance;
  readonly capital: Cents;
  readonly split: Split;
  readonly amounts: Amounts;
}

export function allocate(regime: MarketRegime, tolerance: RiskTolerance, capital: Cents): Allocation {
  const parts = splitFor(regime, tolerance);
  return { regime, tolerance, capital, split: parts, amounts: splitAmount(capital, parts) };
}

/** What made a new allocation decision: stored comma-joined in allocation_decisions.reason. */
export type ChangeReason = 'first' | 'regime' | 'risk_tolerance' | 'capital';

/** The inputs that changed since the previous decision ([] when none did). */
export function changeReasons(
  previous: { readonly regime: string; readonly tolerance: string; readonly capital: Cents } | null,
  next: Pick<Allocation, 'regime' | 'tolerance' | 'capital'>,
): ChangeReason[] {
  if (!previous) return ['first'];
  const out: ChangeReason[] = [];
  if (previous.regime !== next.regime) out.push('regime');
  if (previous.tolerance !== next.tolerance) out.push('risk_tolerance');
  if (previous.capital !== next.capital) out.push('capital');
  return out;
}

/** Same percentages and the same amounts. */
export const sameSplit = (a: Pick<Allocation, 'split' | 'amounts'>, b: Pick<Allocation, 'split' | 'amounts'>): boolean =>
  ASSET_CLASSES.every((c) => a.split[c] === b.split[c] && a.amounts[c] === b.amounts[c]);

/** 2,250 bp → "22.5%", 9,000 → "90%". */
export const formatBp = (bp: number): string => `${Number((bp / 100).toFixed(2))}%`;

const CLASS_WORDS = { crypto: 'crypto', equity: 'equities', cash: 'cash' } as const;

/** "your $25,000 is split crypto 20% ($5,000) · equities 30% ($7,500) · cash 50% ($12,500)" (derivatives are disabled). */
export const describeSplit = (a: Pick<Allocation, 'capital' | 'split' | 'amounts'>): string =>
  `your ${formatUsd(a.capital)} is split ` +
  (['crypto', 'equity', 'cash'] as const).map((c) => `${CLASS_WORDS[c]} ${formatBp(a.split[c])} (${formatUsd(a.amounts[c])})`).join(' · ');

/** The allocation alert: what changed, then the split. */
export function allocationAlertText(a: Allocation, reasons: readonly ChangeReason[]): string {
  const regime = marketRegimeLabel(a.regime);
  const headline = reasons.includes('regime')
    ? `Market regime is now ${regime}`
    : reasons.includes('first')
      ? `Market regime is ${regime}`
      : reasons.includes('risk_tolerance')
        ? `Your risk tolerance is now ${a.tolerance} (market regime ${regime})`
        : `Your capital is now ${formatUsd(a.capital)} (market regime ${regime})`;
  return `${headline}: ${describeSplit(a)}.\nAdvice only: running runs are not resized. Details: /allocation`;
}

/** Basis points as the NUMERIC(5,2) text of a percentage ("22.50"), and back. */
export const bpToPercentString = (bp: number): string => (bp / 100).toFixed(2);
export function bpFromPercentString(text: string): number {
  const match = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) throw new RangeError(`not a percentage with at most 2 decimals: ${JSON.stringify(text)}`);
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
}
