// Paper trading's exchange: the backtester's SimVenue (same fill model, fees, rounding and
// minimums) behind the same port as a real exchange account, one per paper run. Resting orders
// match against each closed candle the run observes; market orders fill at once at the last
// close. The book lives in memory and is rebuilt from the database after a restart (restore).
import { DEFAULT_SIM_VENUE, SimVenue } from './sim-venue.ts';
import type { CandleView } from '../../market-data/candles.ts';
import type { Fill, Rejection } from '../../engine/types.ts';
import type { Clock } from '../../kernel/clock.ts';
import {
  VenueError,
  type Balances,
  type ExchangeVenue,
  type KeyPermissions,
  type MarketRules,
  type OrderRequest,
  type RejectionReason,
  type Ticker,
  type VenueOrder,
  type VenueTrade,
} from '../venue.ts';

export interface PaperExchangeOptions {
  readonly rules: MarketRules;
  /** The run's quote and base at the moment the book is (re)built. */
  readonly quote: number;
  readonly base: number;
  readonly makerFeePct?: number;
  readonly takerFeePct?: number;
  /**
   * Stamps trades, as an exchange stamps them with its own time. Candle times would do for live
   * data but not for a replay, whose candles are years old while the run lives now.
   */
  readonly clock: Clock;
}

interface PaperOrderRecord {
  order: VenueOrder;
}

const REJECTIONS: Record<Rejection, RejectionReason> = {
  insufficient_funds: 'insufficient_funds',
  below_min_notional: 'invalid_order',
  qty_too_small: 'invalid_order',
  invalid_price: 'invalid_order',
  unknown_leg: 'other',
  duplicate_leg: 'duplicate_order',
};

export class PaperExchange implements ExchangeVenue {
  readonly exchangeId = 'paper';
  readonly #sim: SimVenue;
  readonly #orders = new Map<string, PaperOrderRecord>();
  readonly #trades: VenueTrade[] = [];
  #lastPrice = 0;
  #lastTime = 0;

  constructor(private readonly options: PaperExchangeOptions) {
    const { rules } = options;
    this.#sim = new SimVenue({
      ...DEFAULT_SIM_VENUE,
      makerFeePct: options.makerFeePct ?? DEFAULT_SIM_VENUE.makerFeePct,
      takerFeePct: options.takerFeePct ?? DEFAULT_SIM_VENUE.takerFeePct,
      tickSize: rules.tickSize,
      lotSize: rules.lotSize,
      minNotional: rules.minNotional,
      startQuote: options.quote,
      startBase: options.base,
    });
  }

  /** Matches resting orders against a closed candle; the last close becomes the market price. */
  observe(symbol: string, candle: Readonly<CandleView>): void {
    if (symbol !== this.options.rules.symbol) return;
    this.#lastTime = candle.time;
    this.#sim.matchCandle(candle as CandleView, (fill) => this.#record(fill));
    this.#lastPrice = candle.close;
  }

  async market(symbol: string): Promise<MarketRules> {
    this.#checkSymbol(symbol);
    return this.options.rules;
  }

  async fetchTicker(symbol: string): Promise<Ticker> {
    this.#checkSymbol(symbol);
    return { last: this.#lastPrice, time: this.#lastTime };
  }

  async fetchBalance(): Promise<Balances> {
    const p = this.#sim.position;
    const { base, quote } = this.options.rules;
    return { free: { [quote]: p.freeQuote, [base]: p.freeBase }, total: { [quote]: p.quote, [base]: p.base } };
  }

  async keyPermissions(): Promise<KeyPermissions> {
    return { canTrade: true, canWithdraw: false };
  }

  async placeOrder(request: OrderRequest): Promise<VenueOrder> {
    this.#checkSymbol(request.symbol);
    const existing = this.#orders.get(request.clientOrderId);
    if (existing && existing.order.status === 'open') {
      throw new VenueError('rejected', 'Duplicate order sent.', { exchangeId: this.exchangeId, reason: 'duplicate_order' });
    }
    if (request.type === 'market' && !(this.#lastPrice > 0)) {
      throw new VenueError('rejected', 'No market price yet for a market order.', { exchangeId: this.exchangeId, reason: 'market_closed' });
    }
    const exchangeOrderId = `P-${request.clientOrderId}`;
    const record: PaperOrderRecord = {
      order: { ...request, exchangeOrderId, filledQty: 0, status: 'open', updatedAt: this.#lastTime },
    };
    this.#orders.set(request.clientOrderId, record);
    const rejection = this.#sim.submit(
      { kind: 'place', tag: request.clientOrderId, side: request.side, type: request.type, price: request.price, qty: request.qty },
      this.#lastTime,
      this.#lastPrice,
      (fill) => this.#record(fill),
    );
    if (rejection) {
      record.order = { ...record.order, status: 'rejected' };
      throw new VenueError('rejected', `Paper exchange refused the order: ${rejection.replaceAll('_', ' ')}.`, {
        exchangeId: this.exchangeId,
        reason: REJECTIONS[rejection],
      });
    }
    return record.order;
  }

  async cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    this.#checkSymbol(symbol);
    const record = this.#orders.get(clientOrderId);
    if (!record || record.order.status !== 'open') return null;
    this.#sim.submit({ kind: 'cancel', tag: clientOrderId }, this.#lastTime, this.#lastPrice, () => undefined);
    record.order = { ...record.order, status: 'canceled', updatedAt: this.#lastTime };
    return record.order;
  }

  async fetchOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    this.#checkSymbol(symbol);
    return this.#orders.get(clientOrderId)?.order ?? null;
  }

  async fetchOpenOrders(symbol: string): Promise<VenueOrder[]> {
    this.#checkSymbol(symbol);
    return [...this.#orders.values()].map((r) => r.order).filter((o) => o.status === 'open');
  }

  async fetchMyTrades(symbol: string, since: number): Promise<VenueTrade[]> {
    this.#checkSymbol(symbol);
    return this.#trades.filter((t) => t.time >= since);
  }

  /** Re-creates the run's resting orders after a restart (funds were given in the options). */
  restoreOrders(orders: readonly VenueOrder[], lastPrice: number, lastTime: number): void {
    this.#lastPrice = lastPrice;
    this.#lastTime = lastTime;
    for (const o of orders) {
      const remaining = o.qty - o.filledQty;
      const refused = this.#sim.submit({ kind: 'place', tag: o.clientOrderId, side: o.side, type: 'limit', price: o.price, qty: remaining }, lastTime, lastPrice, () => undefined);
      // A remainder the simulator cannot hold (e.g. below the minimum notional) is reported
      // closed, so the run settles it instead of waiting forever for a fill.
      this.#orders.set(o.clientOrderId, { order: { ...o, status: refused ? 'canceled' : 'open' } });
    }
  }

  async close(): Promise<void> {}

  #record(fill: Fill): void {
    const record = this.#orders.get(fill.tag);
    if (!record) return;
    const filledQty = record.order.filledQty + fill.qty;
    const time = this.options.clock.now().getTime();
    record.order = { ...record.order, filledQty, status: fill.complete ? 'filled' : 'open', updatedAt: time };
    this.#trades.push({
      // Unique across restarts: an order's filled quantity only grows.
      tradeId: `${fill.tag}@${filledQty}`,
      exchangeOrderId: record.order.exchangeOrderId,
      clientOrderId: fill.tag,
      symbol: this.options.rules.symbol,
      side: fill.side,
      price: fill.price,
      qty: fill.qty,
      fee: fill.fee,
      feeCurrency: this.options.rules.quote,
      liquidity: fill.liquidity,
      time,
    });
  }

  #checkSymbol(symbol: string): void {
    if (symbol !== this.options.rules.symbol) {
      throw new VenueError('rejected', `This paper account trades ${this.options.rules.symbol} only.`, { exchangeId: this.exchangeId, reason: 'bad_symbol' });
    }
  }
}
