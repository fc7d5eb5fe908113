// Fees on realised profit above a high-water mark (HWM), in exact decimals.
//
// The HWM is the highest cumulative realised P&L ever measured at a period end (it starts at 0, so
// the first profit counts from zero). A period's gain is how far it rose above the old HWM; a loss,
// and the recovery of that loss up to the old HWM, are never charged.
//
// Rounding reconciles to the cent: the fee due on the whole HWM is rate × HWM rounded half-up to
// cents, and a period charges that minus what was already charged. So the fees of all periods add
// up to exactly round(rate × final HWM): sub-cent gains accumulate instead of being lost or rounded
// up every period, and a gain is never charged twice.
import { Prisma } from '../db/generated/browser.ts';

/**
 * Prisma's Decimal (decimal.js) with room for NUMERIC(30,12) products: its default precision of 20
 * significant digits would round them before they reach the cent rounding.
 */
export const Decimal = Prisma.Decimal.clone({ precision: 60, rounding: Prisma.Decimal.ROUND_HALF_UP });
export type Decimal = InstanceType<typeof Prisma.Decimal>;

export type DecimalLike = Decimal | string;

const ZERO = new Decimal(0);
const dec = (value: DecimalLike): Decimal => new Decimal(value);

/** A percentage (10 = 10%) as a rate; 0–100. Config numbers come in through their text. */
export function feeRate(pct: number | string): Decimal {
  const rate = new Decimal(String(pct));
  if (!rate.isFinite() || rate.lt(0) || rate.gt(100)) throw new RangeError(`a fee percentage must be 0–100, got ${pct}`);
  return rate.div(100);
}

/** Half-up to cents (amounts here are never negative). */
export const toCents = (value: DecimalLike): Decimal => dec(value).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);

/** "1234.50": an exact decimal string with 2 places. */
export const moneyText = (value: DecimalLike): string => toCents(value).toFixed(2);

/** The fee due on the whole HWM: rate × HWM, half-up to cents. */
export const feeDueOn = (rate: Decimal, hwm: DecimalLike): Decimal => toCents(rate.times(dec(hwm)));

export interface HighWaterStep {
  readonly hwmBefore: Decimal;
  readonly hwmAfter: Decimal;
  /** How far the HWM rose this period (0 after a loss or a recovery below the old HWM). */
  readonly gain: Decimal;
}

/** Moves the HWM to the new cumulative realised P&L if that is higher. */
export function highWaterStep(hwmBefore: DecimalLike, cumulativePnl: DecimalLike): HighWaterStep {
  const before = dec(hwmBefore);
  if (before.lt(0)) throw new RangeError(`a high-water mark is never negative, got ${before.toString()}`);
  const after = Decimal.max(before, dec(cumulativePnl));
  return { hwmBefore: before, hwmAfter: after, gain: after.minus(before) };
}

/** What is still owed on the HWM at `rate` after `charged`; never negative. */
function feeStep(rate: Decimal, hwmAfter: Decimal, charged: DecimalLike): Decimal {
  const already = dec(charged);
  if (already.lt(0) || !already.eq(toCents(already))) throw new RangeError(`fees charged so far must be whole cents ≥ 0, got ${already.toString()}`);
  // Below zero only if more was charged than is due (the rate was lowered): nothing until the HWM catches up.
  return Decimal.max(ZERO, feeDueOn(rate, hwmAfter).minus(already));
}

export interface PerformanceFeeInput {
  /** The HWM after the previous period; 0 before the first. */
  readonly hwmBefore: DecimalLike;
  /** Performance fees charged in all earlier periods (whole cents). */
  readonly charged: DecimalLike;
  /** Cumulative realised P&L at this period's end. */
  readonly cumulativePnl: DecimalLike;
  /** feeRate(10) for 10%. */
  readonly rate: Decimal;
}

export interface PerformanceFee extends HighWaterStep {
  /** This period's fee, whole cents. */
  readonly fee: Decimal;
}

export function performanceFee(input: PerformanceFeeInput): PerformanceFee {
  const step = highWaterStep(input.hwmBefore, input.cumulativePnl);
  return { ...step, fee: feeStep(input.rate, step.hwmAfter, input.charged) };
}

export interface CopyFeeInput {
  /** The follow's HWM after the previous period; 0 before the first. */
  readonly hwmBefore: DecimalLike;
  /** Cumulative realised P&L of the follow's copies at this period's end. */
  readonly cumulativePnl: DecimalLike;
  /** Master and platform fees charged in all earlier periods (whole cents each). */
  readonly masterCharged: DecimalLike;
  readonly platformCharged: DecimalLike;
  readonly masterRate: Decimal;
  readonly platformRate: Decimal;
}

export interface CopyFees extends HighWaterStep {
  /** Owed to the master's owner, whole cents. */
  readonly masterFee: Decimal;
  /** The platform's facilitation fee, whole cents. */
  readonly platformFee: Decimal;
}

/** The same HWM rule with two rates; each share reconciles to the cent on its own. */
export function copyFees(input: CopyFeeInput): CopyFees {
  const step = highWaterStep(input.hwmBefore, input.cumulativePnl);
  return {
    ...step,
    masterFee: feeStep(input.masterRate, step.hwmAfter, input.masterCharged),
    platformFee: feeStep(input.platformRate, step.hwmAfter, input.platformCharged),
  };
}
