import type { Cents } from '../kernel/money.ts';
import { cents } from '../kernel/money.ts';

/** The pricing rule of the seed: a lifetime license costs 10% of the tier's max capital. */
export const PRICE_PERCENT_OF_CAPITAL = 10;

/** The one place prices come from: purchases, upgrades (the difference) and displays. */
export function priceForCapital(capital: Cents): Cents {
  return cents(Math.round((capital * PRICE_PERCENT_OF_CAPITAL) / 100));
}

export interface Tier {
  readonly id: string;
  readonly name: string;
  readonly rank: number;
  readonly maxCapital: Cents;
  readonly price: Cents;
  readonly active: boolean;
}
