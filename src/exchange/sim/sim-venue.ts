// The simulated exchange shared by backtests and paper trading. Orders placed at a candle's
// close can only fill from the next candle on, so no strategy ever trades on information it
// could not have had.
//
// Fill model:
//  - limit buy fills when the candle's low reaches the price ("touch": low <= price) or goes
//    through it ("trade-through": low < price); a sell mirrors this with the high. If the candle
//    opens beyond the limit, the fill is at the open (the better price), as on a real book.
//  - partial fills: with `maxVolumeParticipationPct` < 100, an order takes at most that share
//    of each candle's volume; the rest stays open.
//  - market orders fill at once at the reference price moved against the trader by
//    `slippagePct`, and pay the taker fee; limit fills pay the maker fee. Fees are in quote.
//  - prices are rounded to `tickSize` (buys down, sells up), quantities down to `lotSize`;
//    orders below `minNotional` are refused, as exchanges do.
import type { CandleView } from '../../market-data/candles.ts';
import type { Fill, OpenOrderView, OrderIntent, OrderType, PositionView, Rejection, Side, Venue } from '../../engine/types.ts';

export interface SimVenueConfig {
  readonly startQuote: number;
  readonly startBase?: number;
  readonly makerFeePct: number;
  readonly takerFeePct: number;
  readonly slippagePct: number;
  readonly fillModel: 'touch' | 'trade-through';
  /** 100 = an order may take the whole candle; lower values produce partial fills. */
  readonly maxVolumeParticipationPct: number;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly minNotional: number;
}

export const DEFAULT_SIM_VENUE: Omit<SimVenueConfig, 'startQuote'> = Object.freeze({
  makerFeePct: 0.1,
  takerFeePct: 0.1,
  slippagePct: 0.05,
  fillModel: 'touch',
  maxVolumeParticipationPct: 100,
  tickSize: 0.01,
  lotSize: 0.00001,
  minNotional: 5,
});

class SimOrder implements OpenOrderView {
  filledQty = 0;
  /** Funds still locked for the unfilled part (quote for buys, base for sells). */
  locked = 0;
  constructor(
    readonly tag: string,
    readonly side: Side,
    readonly type: OrderType,
    readonly price: number,
    readonly qty: number,
    readonly placedAt: number,
    readonly attempt: number,
  ) {}
}

interface MutablePosition {
  base: number;
  quote: number;
  freeQuote: number;
  freeBase: number;
}

export class SimVenue implements Venue {
  readonly #orders: SimOrder[] = [];
  readonly #position: MutablePosition;
  #lockedQuote = 0;
  #lockedBase = 0;
  /** Every fill, in order, for reports. */
  readonly fills: Fill[] = [];
  readonly #pending: { order: SimOrder; fill: Fill }[] = [];
  /**
   * The highest resting buy and lowest resting sell: a candle whose range reaches neither cannot
   * fill anything, so most candles are dismissed with two comparisons, however many orders rest.
   */
  #maxBuy = -Infinity;
  #minSell = Infinity;
  readonly #tradeThrough: boolean;
  /** 10^decimals of the tick and lot sizes: exact powers of ten keep rounding free of float dust. */
  readonly #tickScale: number;
  readonly #lotScale: number;

  constructor(readonly config: SimVenueConfig) {
    const base = config.startBase ?? 0;
    this.#position = { base, quote: config.startQuote, freeQuote: config.startQuote, freeBase: base };
    this.#tradeThrough = config.fillModel === 'trade-through';
    this.#tickScale = 10 ** decimalsOf(config.tickSize);
    this.#lotScale = 10 ** decimalsOf(config.lotSize);
  }

  get position(): PositionView {
    return this.#position;
  }

  get openOrders(): readonly OpenOrderView[] {
    return this.#orders;
  }

  equity(markPrice: number): number {
    return this.#position.quote + this.#position.base * markPrice;
  }

  submit(intent: OrderIntent, now: number, refPrice: number, onFill: (fill: Fill) => void): Rejection | null {
    if (intent.kind === 'cancel') return this.#cancel(intent.tag) ? null : 'unknown_leg';
    if (intent.kind === 'replace') {
      const old = this.#find(intent.tag);
      if (!old) return 'unknown_leg';
      this.#cancel(intent.tag);
      return this.#place(intent.tag, old.side, old.type, intent.price, intent.qty, now, refPrice, old.attempt + 1, onFill);
    }
    if (this.#find(intent.tag)) return 'duplicate_leg';
    return this.#place(intent.tag, intent.side, intent.type, intent.price, intent.qty, now, refPrice, 1, onFill);
  }

  #place(
    tag: string,
    side: Side,
    type: OrderType,
    rawPrice: number,
    rawQty: number,
    now: number,
    refPrice: number,
    attempt: number,
    onFill: (fill: Fill) => void,
  ): Rejection | null {
    const qty = this.#roundLot(rawQty);
    if (!(qty > 0)) return 'qty_too_small';
    const { makerFeePct, takerFeePct, slippagePct, minNotional } = this.config;

    if (type === 'market') {
      const slipped = refPrice * (side === 'buy' ? 1 + slippagePct / 100 : 1 - slippagePct / 100);
      const price = side === 'buy' ? this.#roundTickUp(slipped) : this.#roundTickDown(slipped);
      if (!(price > 0)) return 'invalid_price';
      const notional = price * qty;
      if (notional < minNotional) return 'below_min_notional';
      const fee = (notional * takerFeePct) / 100;
      const p = this.#position;
      if (side === 'buy' ? p.freeQuote < notional + fee : p.freeBase < qty) return 'insufficient_funds';
      this.#apply(side, price, qty, fee);
      const fill: Fill = { tag, side, price, qty, fee, liquidity: 'taker', time: now, complete: true };
      this.fills.push(fill);
      onFill(fill);
      return null;
    }

    const price = side === 'buy' ? this.#roundTickDown(rawPrice) : this.#roundTickUp(rawPrice);
    if (!(price > 0)) return 'invalid_price';
    if (price * qty < minNotional) return 'below_min_notional';
    const order = new SimOrder(tag, side, type, price, qty, now, attempt);
    const p = this.#position;
    if (side === 'buy') {
      order.locked = price * qty * (1 + makerFeePct / 100);
      if (p.freeQuote < order.locked) return 'insufficient_funds';
      this.#lockedQuote += order.locked;
    } else {
      order.locked = qty;
      if (p.freeBase < qty - 1e-12) return 'insufficient_funds';
      this.#lockedBase += qty;
    }
    this.#orders.push(order);
    if (side === 'buy' ? price > this.#maxBuy : price < this.#minSell) this.#refreshBounds();
    this.#refreshFree();
    return null;
  }

  #refreshBounds(): void {
    let maxBuy = -Infinity;
    let minSell = Infinity;
    for (const o of this.#orders) {
      if (o.side === 'buy') {
        if (o.price > maxBuy) maxBuy = o.price;
      } else if (o.price < minSell) minSell = o.price;
    }
    this.#maxBuy = maxBuy;
    this.#minSell = minSell;
  }

  matchCandle(candle: CandleView, onFill: (fill: Fill) => void): void {
    // Nothing rests where this candle traded (the common case): done.
    if (candle.low > this.#maxBuy && candle.high < this.#minSell) return;
    const orders = this.#orders;
    const through = this.#tradeThrough;
    const cap = this.config.maxVolumeParticipationPct >= 100 ? Infinity : (candle.volume * this.config.maxVolumeParticipationPct) / 100;
    for (let i = 0; i < orders.length; i++) {
      const o = orders[i]!;
      let price: number;
      if (o.side === 'buy') {
        if (through ? !(candle.low < o.price) : !(candle.low <= o.price)) continue;
        price = candle.open < o.price ? candle.open : o.price;
      } else {
        if (through ? !(candle.high > o.price) : !(candle.high >= o.price)) continue;
        price = candle.open > o.price ? candle.open : o.price;
      }
      const remaining = o.qty - o.filledQty;
      const qty = this.#roundLot(remaining < cap ? remaining : cap);
      if (!(qty > 0)) continue;
      const fee = (price * qty * this.config.makerFeePct) / 100;
      // Release this part's lock, then settle it.
      if (o.side === 'buy') {
        const release = o.locked * (qty / remaining);
        o.locked -= release;
        this.#lockedQuote -= release;
      } else {
        o.locked -= qty;
        this.#lockedBase -= qty;
      }
      this.#apply(o.side, price, qty, fee);
      o.filledQty += qty;
      const complete = o.qty - o.filledQty < this.config.lotSize / 2;
      const fill: Fill = { tag: o.tag, side: o.side, price, qty, fee, liquidity: 'maker', time: candle.time, complete };
      this.fills.push(fill);
      this.#pending.push({ order: o, fill });
    }
    if (this.#pending.length === 0) return;
    // Settle first, then tell the strategy: orders it places in reaction wait for the next candle.
    for (const { order, fill } of this.#pending) if (fill.complete) this.#remove(order);
    const pending = this.#pending.splice(0);
    for (const { fill } of pending) onFill(fill);
  }

  #apply(side: Side, price: number, qty: number, fee: number): void {
    const p = this.#position;
    if (side === 'buy') {
      p.quote -= price * qty + fee;
      p.base += qty;
    } else {
      p.quote += price * qty - fee;
      p.base -= qty;
    }
    this.#refreshFree();
  }

  #refreshFree(): void {
    const p = this.#position;
    p.freeQuote = p.quote - this.#lockedQuote;
    p.freeBase = p.base - this.#lockedBase;
  }

  #find(tag: string): SimOrder | undefined {
    for (const o of this.#orders) if (o.tag === tag) return o;
    return undefined;
  }

  #cancel(tag: string): boolean {
    const order = this.#find(tag);
    if (!order) return false;
    if (order.side === 'buy') this.#lockedQuote -= order.locked;
    else this.#lockedBase -= order.locked;
    order.locked = 0;
    this.#remove(order);
    return true;
  }

  #remove(order: SimOrder): void {
    const i = this.#orders.indexOf(order);
    if (i >= 0) this.#orders.splice(i, 1);
    if (order.price === this.#maxBuy || order.price === this.#minSell) this.#refreshBounds();
    if (order.locked !== 0) {
      if (order.side === 'buy') this.#lockedQuote -= order.locked;
      else this.#lockedBase -= order.locked;
      order.locked = 0;
    }
    this.#refreshFree();
  }

  // A small epsilon keeps 0.30000000000000004 from losing (or gaining) a whole step; relative, as
  // a 1e-9 lot (fractional shares) makes step counts of 1e8 whose float error passes 1e-9.
  #roundLot(qty: number): number {
    const steps = qty / this.config.lotSize;
    return roundTo(Math.floor(steps + Math.max(1e-9, steps * 1e-12)) * this.config.lotSize, this.#lotScale);
  }
  #roundTickDown(price: number): number {
    return roundTo(Math.floor(price / this.config.tickSize + 1e-9) * this.config.tickSize, this.#tickScale);
  }
  #roundTickUp(price: number): number {
    return roundTo(Math.ceil(price / this.config.tickSize - 1e-9) * this.config.tickSize, this.#tickScale);
  }
}

/** Decimal places of a step size such as 0.00001 (5) or 0.5 (1). */
function decimalsOf(step: number): number {
  let d = 0;
  // A scaled step below 1 is not whole yet: the tolerance alone took a 1e-9 step (fractional shares) for 0.
  const fractional = (x: number) => (x > 0 && x < 1) || Math.abs(Math.round(x) - x) > 1e-9;
  while (d < 15 && fractional(step * 10 ** d)) d++;
  return d;
}

const roundTo = (value: number, scale: number): number => Math.round(value * scale) / scale;
