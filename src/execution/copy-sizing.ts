// Copy trading's arithmetic, pure and in Decimal (copy P&L is what copy fees are charged on, so
// it must add up exactly): the proportional size of a copy with the follower's caps, the copied
// position under average-cost accounting (the run ledger's rule: buy fees go into the cost, sell
// fees come off the proceeds), and how far a copy's price was from the master's.
import { Prisma } from '../db/client.ts';
import type { MarketRules } from '../exchange/venue.ts';

/** Enough significant digits for DECIMAL(30, 12) products (the default 20 would round them). */
const Exact = Prisma.Decimal.clone({ precision: 40 });
export type Decimal = Prisma.Decimal;
export type DecimalValue = Decimal | string | number;
const D = (value: DecimalValue): Decimal => new Exact(value);
const ZERO = D(0);
/** The scale of the quantity and money columns (DECIMAL(30, 12)): what is stored is what is summed. */
export const SCALE = 12;
export const exact = D;
export const toScale = (value: DecimalValue): Decimal => D(value).toDecimalPlaces(SCALE);

/** Quote kept aside per unit of a copied buy's notional for its fee and slippage (0.1% + 0.1%). */
export const BUY_CAP_MARGIN = 0.002;

export interface CopyPosition {
  readonly baseQty: Decimal;
  /** Cost of the held base, buy fees included. */
  readonly costUsd: Decimal;
  readonly realizedPnlUsd: Decimal;
  readonly feesUsd: Decimal;
}

export interface SizingInput {
  readonly side: 'buy' | 'sell';
  readonly masterQty: DecimalValue;
  readonly masterPrice: DecimalValue;
  readonly masterCapitalUsd: DecimalValue;
  readonly followCapitalUsd: DecimalValue;
  /** The follower's own cap on what the copies hold at cost (null: the follow's capital). */
  readonly maxCapitalUsd: DecimalValue | null;
  readonly position: Pick<CopyPosition, 'baseQty' | 'costUsd'>;
  readonly rules: Pick<MarketRules, 'lotSize' | 'minQty' | 'minNotional' | 'base'>;
}

export type Sizing =
  | { readonly kind: 'order'; readonly qty: Decimal; readonly capped: boolean }
  | { readonly kind: 'skip'; readonly reason: 'nothing_held' | 'capital_cap' | 'below_minimum'; readonly message: string };

/** Rounds down to the market's lot (a lot of 0 means no step). */
export function floorToLot(qty: DecimalValue, lotSize: number): Decimal {
  const q = D(qty);
  if (!(lotSize > 0)) return q;
  const lot = D(lotSize);
  return q.div(lot).floor().mul(lot);
}

const fmtUsd = (d: Decimal) => `$${d.toFixed(2)}`;

/**
 * master qty × follow capital / master run capital, rounded down to the lot; a sell is capped at
 * what the copies hold, a buy so the copies' cost stays within min(capital, max capital) at the
 * master's price plus BUY_CAP_MARGIN. Below the market's minimum quantity or notional: skipped.
 */
export function sizeCopy(input: SizingInput): Sizing {
  const { rules } = input;
  const price = D(input.masterPrice);
  const masterCapital = D(input.masterCapitalUsd);
  if (!masterCapital.gt(0) || !price.gt(0)) return { kind: 'skip', reason: 'below_minimum', message: 'The master fill has no usable size.' };
  const proportional = floorToLot(D(input.masterQty).mul(input.followCapitalUsd).div(masterCapital), rules.lotSize);
  const belowMinimum = (q: Decimal): Sizing => ({
    kind: 'skip',
    reason: 'below_minimum',
    message: `Your share, ${q.toString()} ${rules.base} (${fmtUsd(q.mul(price))}), is below the market minimum (${rules.minQty} ${rules.base} and $${rules.minNotional}): raise your capital to copy this master's trades.`,
  });
  const tooSmall = (q: Decimal) => !q.gt(0) || q.lt(rules.minQty) || q.mul(price).lt(rules.minNotional);
  // Too small whatever the caps: the follow's capital is.
  if (tooSmall(proportional)) return belowMinimum(proportional);
  let qty = proportional;
  if (input.side === 'sell') {
    const held = floorToLot(input.position.baseQty, rules.lotSize);
    if (!held.gt(0)) return { kind: 'skip', reason: 'nothing_held', message: `The copies hold no ${rules.base} to sell.` };
    qty = Exact.min(qty, held);
  } else {
    const capital = D(input.followCapitalUsd);
    const limit = input.maxCapitalUsd === null ? capital : Exact.min(capital, input.maxCapitalUsd);
    const room = limit.sub(input.position.costUsd);
    const fits = room.gt(0) ? floorToLot(room.div(price.mul(1 + BUY_CAP_MARGIN)), rules.lotSize) : ZERO;
    if (!fits.gt(0) || !fits.gte(rules.minQty) || fits.mul(price).lt(rules.minNotional)) {
      return {
        kind: 'skip',
        reason: 'capital_cap',
        message: `The copies already hold ${fmtUsd(D(input.position.costUsd))} at cost of your ${fmtUsd(limit)} limit: no room for another buy.`,
      };
    }
    qty = Exact.min(qty, fits);
  }
  // What the copies hold is less than the market takes: it stays (dust).
  if (tooSmall(qty)) return belowMinimum(qty);
  return { kind: 'order', qty, capped: !qty.eq(proportional) };
}

/** A position read from the database, in this module's precision. */
export const exactPosition = (p: CopyPosition): CopyPosition => ({ baseQty: D(p.baseQty), costUsd: D(p.costUsd), realizedPnlUsd: D(p.realizedPnlUsd), feesUsd: D(p.feesUsd) });

/** The position after one copy fill, and the P&L that fill realised (sells), net of fees. */
export function applyCopyFill(
  position: CopyPosition,
  fill: { readonly side: 'buy' | 'sell'; readonly qty: DecimalValue; readonly price: DecimalValue; readonly fee: DecimalValue },
): { readonly position: CopyPosition; readonly realizedPnl: Decimal } {
  position = exactPosition(position);
  const qty = toScale(fill.qty);
  const notional = qty.mul(toScale(fill.price));
  const fee = toScale(fill.fee);
  if (fill.side === 'buy') {
    return {
      position: { ...position, baseQty: position.baseQty.add(qty), costUsd: toScale(position.costUsd.add(notional).add(fee)), feesUsd: position.feesUsd.add(fee) },
      realizedPnl: ZERO,
    };
  }
  const sold = Exact.min(qty, position.baseQty);
  const releasedCost = position.baseQty.gt(0) ? toScale(position.costUsd.mul(sold).div(position.baseQty)) : ZERO;
  const realizedPnl = toScale(notional.sub(fee).sub(releasedCost));
  const baseQty = position.baseQty.sub(sold);
  return {
    position: {
      baseQty,
      // The last of the position takes the rest of the cost, so no rounding crumbs stay behind.
      costUsd: baseQty.gt(0) ? position.costUsd.sub(releasedCost) : ZERO,
      realizedPnlUsd: position.realizedPnlUsd.add(realizedPnl),
      feesUsd: position.feesUsd.add(fee),
    },
    realizedPnl,
  };
}

/** How much worse the follower's price was than the master's, in basis points (negative: better). */
export function slippageBps(side: 'buy' | 'sell', masterPrice: DecimalValue, price: DecimalValue): Decimal {
  const master = D(masterPrice);
  if (!master.gt(0)) return ZERO;
  const worse = side === 'buy' ? D(price).sub(master) : master.sub(price);
  return worse.div(master).mul(10_000).toDecimalPlaces(4);
}

/** Realised plus open P&L of the copies at `markPrice` (negative: a loss). */
export function copyPnl(position: CopyPosition, markPrice: DecimalValue): Decimal {
  return D(position.realizedPnlUsd).add(position.baseQty.mul(markPrice)).sub(position.costUsd);
}

/** True when the copies' loss (realised plus open) has reached the follower's limit. */
export function maxLossReached(position: CopyPosition, markPrice: DecimalValue, maxLossUsd: DecimalValue | null): boolean {
  if (maxLossUsd === null) return false;
  return copyPnl(position, markPrice).neg().gte(maxLossUsd);
}
