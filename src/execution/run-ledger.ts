// A paper or live run's own book: its slice of the account (the run's capital, not the whole
// exchange balance, which other runs share), its open orders and its average-cost P&L. The
// runner sees it as a Venue, exactly like the backtest's SimVenue, so the one trade loop drives
// every mode. The difference is time: an intent only queues an exchange action here (the run
// engine sends it after the step), and fills arrive later from the exchange and are handed to the
// strategy at the next step — settled first, then told, as in the simulator.
import type { CandleView } from '../market-data/candles.ts';
import type { Fill, OpenOrderView, OrderIntent, OrderType, PositionView, Rejection, Side, Venue } from '../engine/types.ts';
import type { MarketRules } from '../exchange/venue.ts';
import { clientOrderId } from './client-order-id.ts';

export type LedgerOrderState = 'pending' | 'open' | 'unknown' | 'canceling';

export interface LedgerOrder extends OpenOrderView {
  readonly clientOrderId: string;
  filledQty: number;
  state: LedgerOrderState;
  /** Funds held back for the unfilled part (quote for buys, base for sells). */
  locked: number;
}

export type OutboundAction = { readonly kind: 'place'; readonly order: LedgerOrder } | { readonly kind: 'cancel'; readonly order: LedgerOrder };

export interface LedgerFill {
  readonly clientOrderId: string;
  readonly tradeId: string;
  readonly price: number;
  readonly qty: number;
  /** In quote currency. */
  readonly fee: number;
  readonly liquidity: 'maker' | 'taker';
  readonly time: number;
}

/** What a delivered fill did to the books (persisted with it). */
export interface SettledFill {
  readonly fill: LedgerFill;
  readonly order: LedgerOrder;
  readonly realizedPnl: number;
  readonly complete: boolean;
}

export interface LedgerState {
  readonly base: number;
  readonly quote: number;
  /** Quote paid for the base held (fees included): the average-cost basis. */
  readonly costBasis: number;
  readonly realizedPnl: number;
  readonly orders: readonly LedgerOrder[];
  /** Highest attempt used per leg tag (the next placement of a tag uses the next number). */
  readonly attempts: ReadonlyMap<string, number>;
}

export interface LedgerOptions {
  readonly runId: string;
  readonly rules: MarketRules;
  /** Taker fee (%) held back on buys so a fill never overdraws the run's quote. */
  readonly feeReservePct: number;
}

export class RunLedger implements Venue {
  readonly #position = { base: 0, quote: 0, freeQuote: 0, freeBase: 0 };
  readonly #orders: LedgerOrder[] = [];
  readonly #attempts = new Map<string, number>();
  readonly #outbound: OutboundAction[] = [];
  readonly #incoming: LedgerFill[] = [];
  readonly #seenTrades = new Set<string>();
  /** Orders the exchange reported closed while fills of theirs were still queued. */
  readonly #closedRemotely = new Set<string>();
  #costBasis = 0;
  #realizedPnl = 0;
  /** Fills handed to the strategy since the last drain, for persistence. */
  readonly #settled: SettledFill[] = [];

  constructor(
    private readonly options: LedgerOptions,
    state: LedgerState,
  ) {
    this.#position.base = state.base;
    this.#position.quote = state.quote;
    this.#costBasis = state.costBasis;
    this.#realizedPnl = state.realizedPnl;
    for (const order of state.orders) this.#orders.push(order);
    for (const [tag, n] of state.attempts) this.#attempts.set(tag, n);
    this.#refreshFree();
  }

  get position(): PositionView {
    return this.#position;
  }

  /** Orders the strategy sees: a leg being cancelled is already gone from its point of view. */
  get openOrders(): readonly OpenOrderView[] {
    return this.#orders.filter((o) => o.state !== 'canceling');
  }

  /** Every order not yet final on the exchange, including those being cancelled. */
  get liveOrders(): readonly LedgerOrder[] {
    return this.#orders;
  }

  get realizedPnl(): number {
    return this.#realizedPnl;
  }

  /** Quote in use: the cost of the base held plus what open buy orders hold back. */
  get deployed(): number {
    let locked = 0;
    for (const o of this.#orders) if (o.side === 'buy') locked += o.locked;
    return this.#costBasis + locked;
  }

  equity(markPrice: number): number {
    return this.#position.quote + this.#position.base * markPrice;
  }

  hasPendingFills(): boolean {
    return this.#incoming.length > 0;
  }

  submit(intent: OrderIntent, now: number, refPrice: number): Rejection | null {
    if (intent.kind === 'cancel') {
      const order = this.#find(intent.tag);
      if (!order) return 'unknown_leg';
      this.#cancel(order);
      return null;
    }
    if (intent.kind === 'replace') {
      const old = this.#find(intent.tag);
      if (!old) return 'unknown_leg';
      this.#cancel(old);
      return this.#place(intent.tag, old.side, old.type, intent.price, intent.qty, now, refPrice);
    }
    if (this.#find(intent.tag)) return 'duplicate_leg';
    return this.#place(intent.tag, intent.side, intent.type, intent.price, intent.qty, now, refPrice);
  }

  /** Cancels every open order (stop, kill). */
  cancelAll(): void {
    for (const order of [...this.#orders]) if (order.state !== 'canceling') this.#cancel(order);
  }

  /** Queues a market sell of everything the run holds (kill with flatten). Null when there is nothing worth selling. */
  flatten(now: number, refPrice: number): Rejection | null {
    const qty = this.#roundLot(this.#position.freeBase);
    if (!(qty > 0) || qty * refPrice < this.options.rules.minNotional) return null;
    return this.#place('flatten', 'sell', 'market', refPrice, qty, now, refPrice);
  }

  /** Exchange actions the last step produced, in order. */
  drainOutbound(): OutboundAction[] {
    return this.#outbound.splice(0);
  }

  /** A fill reported by the exchange. Returns false for a trade already known or an order that isn't ours. */
  receiveFill(fill: LedgerFill): boolean {
    if (this.#seenTrades.has(fill.tradeId)) return false;
    if (!this.#orders.some((o) => o.clientOrderId === fill.clientOrderId)) return false;
    this.#seenTrades.add(fill.tradeId);
    this.#incoming.push(fill);
    return true;
  }

  /** Marks trades as already applied (restored from the database). */
  rememberTrades(tradeIds: Iterable<string>): void {
    for (const id of tradeIds) this.#seenTrades.add(id);
  }

  /** The exchange says the order is done without (further) fills: cancelled, rejected or expired. */
  orderClosed(clientOrderId: string): LedgerOrder | null {
    const order = this.#orders.find((o) => o.clientOrderId === clientOrderId);
    if (!order) return null;
    // Fills still queued for it must settle first; the order is dropped once they have.
    if (this.#incoming.some((f) => f.clientOrderId === clientOrderId)) {
      order.state = 'canceling';
      this.#closedRemotely.add(clientOrderId);
      return order;
    }
    this.#remove(order);
    return order;
  }

  /** The exchange accepted the order. */
  orderAccepted(clientOrderId: string): void {
    const order = this.#orders.find((o) => o.clientOrderId === clientOrderId);
    if (order && order.state !== 'canceling') order.state = 'open';
  }

  orderUnknown(clientOrderId: string): void {
    const order = this.#orders.find((o) => o.clientOrderId === clientOrderId);
    if (order && order.state !== 'canceling') order.state = 'unknown';
  }

  /** Settle queued fills, then tell the strategy (the runner calls this at the start of a step). */
  matchCandle(_candle: CandleView, onFill: (fill: Fill) => void): void {
    if (this.#incoming.length === 0) return;
    const fills = this.#incoming.splice(0);
    const told: Fill[] = [];
    for (const [i, f] of fills.entries()) {
      const order = this.#orders.find((o) => o.clientOrderId === f.clientOrderId);
      if (!order) continue;
      const realizedPnl = this.#apply(order, f);
      const complete = order.qty - order.filledQty < this.options.rules.lotSize / 2;
      // An order the exchange already closed leaves once its last queued fill has settled.
      const lastOfClosed = this.#closedRemotely.has(order.clientOrderId) && !fills.slice(i + 1).some((g) => g.clientOrderId === order.clientOrderId);
      if (complete || lastOfClosed) this.#remove(order);
      this.#settled.push({ fill: f, order, realizedPnl, complete });
      told.push({ tag: order.tag, side: order.side, price: f.price, qty: f.qty, fee: f.fee, liquidity: f.liquidity, time: f.time, complete });
    }
    for (const fill of told) onFill(fill);
  }

  /** Fills settled since the last call, for persistence. */
  drainSettled(): SettledFill[] {
    return this.#settled.splice(0);
  }

  snapshotState(): LedgerState {
    return {
      base: this.#position.base,
      quote: this.#position.quote,
      costBasis: this.#costBasis,
      realizedPnl: this.#realizedPnl,
      orders: this.#orders.map((o) => ({ ...o })),
      attempts: new Map(this.#attempts),
    };
  }

  #place(tag: string, side: Side, type: OrderType, rawPrice: number, rawQty: number, now: number, refPrice: number): Rejection | null {
    const { rules, feeReservePct } = this.options;
    const qty = this.#roundLot(rawQty);
    if (!(qty > 0) || qty < rules.minQty) return 'qty_too_small';
    const price = type === 'market' ? refPrice : side === 'buy' ? this.#roundTickDown(rawPrice) : this.#roundTickUp(rawPrice);
    if (!(price > 0)) return 'invalid_price';
    if (price * qty < rules.minNotional) return 'below_min_notional';
    const p = this.#position;
    // Market buys hold back extra for the price moving before the fill.
    const locked = side === 'buy' ? price * qty * (1 + feeReservePct / 100) * (type === 'market' ? 1.02 : 1) : qty;
    if (side === 'buy' ? p.freeQuote < locked : p.freeBase < qty - 1e-12) return 'insufficient_funds';
    const attempt = (this.#attempts.get(tag) ?? 0) + 1;
    this.#attempts.set(tag, attempt);
    const order: LedgerOrder = {
      clientOrderId: clientOrderId(this.options.runId, tag, attempt),
      tag,
      side,
      type,
      price,
      qty,
      filledQty: 0,
      placedAt: now,
      attempt,
      state: 'pending',
      locked,
    };
    this.#orders.push(order);
    this.#outbound.push({ kind: 'place', order });
    this.#refreshFree();
    return null;
  }

  #cancel(order: LedgerOrder): void {
    order.state = 'canceling';
    this.#outbound.push({ kind: 'cancel', order });
  }

  #apply(order: LedgerOrder, f: LedgerFill): number {
    const p = this.#position;
    let realized = 0;
    if (order.side === 'buy') {
      const release = order.qty - order.filledQty > 0 ? order.locked * Math.min(1, f.qty / (order.qty - order.filledQty)) : order.locked;
      order.locked -= release;
      p.quote -= f.price * f.qty + f.fee;
      p.base += f.qty;
      this.#costBasis += f.price * f.qty + f.fee;
    } else {
      order.locked = Math.max(0, order.locked - f.qty);
      const avgCost = p.base > 0 ? this.#costBasis / p.base : 0;
      const sold = Math.min(f.qty, p.base);
      realized = f.price * f.qty - f.fee - avgCost * sold;
      this.#costBasis -= avgCost * sold;
      p.quote += f.price * f.qty - f.fee;
      p.base -= f.qty;
      if (p.base < this.options.rules.lotSize / 2) this.#costBasis = 0;
      this.#realizedPnl += realized;
    }
    order.filledQty += f.qty;
    this.#refreshFree();
    return realized;
  }

  #remove(order: LedgerOrder): void {
    this.#closedRemotely.delete(order.clientOrderId);
    const i = this.#orders.indexOf(order);
    if (i >= 0) this.#orders.splice(i, 1);
    order.locked = 0;
    this.#refreshFree();
  }

  #find(tag: string): LedgerOrder | undefined {
    return this.#orders.find((o) => o.tag === tag && o.state !== 'canceling');
  }

  #refreshFree(): void {
    let lockedQuote = 0;
    let lockedBase = 0;
    for (const o of this.#orders) {
      if (o.side === 'buy') lockedQuote += o.locked;
      else lockedBase += o.locked;
    }
    this.#position.freeQuote = this.#position.quote - lockedQuote;
    this.#position.freeBase = this.#position.base - lockedBase;
  }

  #roundLot(qty: number): number {
    const step = this.options.rules.lotSize;
    return roundTo(Math.floor(qty / step + 1e-9) * step, step);
  }
  #roundTickDown(price: number): number {
    const step = this.options.rules.tickSize;
    return roundTo(Math.floor(price / step + 1e-9) * step, step);
  }
  #roundTickUp(price: number): number {
    const step = this.options.rules.tickSize;
    return roundTo(Math.ceil(price / step - 1e-9) * step, step);
  }
}

/** Removes float dust by rounding to the step's decimals. */
function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, Math.min(15, Math.ceil(-Math.log10(step) - 1e-9)));
  return Number(value.toFixed(decimals));
}
