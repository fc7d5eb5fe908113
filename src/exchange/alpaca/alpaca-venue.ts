// The equities venue: one Alpaca account through Alpaca's official SDK (paper endpoint unless
// ALPACA_API_URL says otherwise). Unified symbols are `TICKER/USD` (AAPL/USD). Every SDK failure
// leaves as a VenueError (alpaca-errors.ts); the venue never retries.
//
// Alpaca specifics:
//  - orders are `day` orders (Alpaca takes fractional quantities only as day orders), sized in
//    shares with up to 9 decimals where the asset is fractionable;
//  - an order is cancelled by Alpaca's id, so a cancel by client order id looks the order up first;
//  - fills come from the account's FILL activities. They are read through the SDK's `...Raw`
//    call: its typed parser reads every activity as a non-trade one and drops price, side and
//    order id;
//  - stock trades are commission-free: fees are 0.
// Market hours are not this class's concern: the composition root wraps it in MarketHoursVenue,
// using the market clock it reads (`readMarketClock`).
import { marketData, trading } from '@alpacahq/alpaca-trade-api/rest';
import type { Balances, ExchangeVenue, KeyPermissions, MarketRules, OrderRequest, Ticker, VenueOrder, VenueOrderStatus, VenueTrade } from '../venue.ts';
import { VenueError } from '../venue.ts';
import type { MarketClockReading, MarketClockSource } from '../market-hours-venue.ts';
import { ALPACA_EXCHANGE_ID, isAlpacaNotFound, isAlpacaStatus, translateAlpacaError, type AlpacaOperation } from './alpaca-errors.ts';
import { alpacaTicker, marketDataConfiguration, secretsOf, tradingConfiguration, type AlpacaEndpoints } from './client.ts';

export interface AlpacaVenueOptions extends AlpacaEndpoints {
  /** Market data feed for tickers: `iex` (free, the default) or `sip` (paid). */
  readonly feed?: 'iex' | 'sip' | undefined;
}

/** Alpaca's smallest fractional quantity (9 decimals) and its minimum order value for fractional orders. */
export const FRACTIONAL_LOT = 1e-9;
export const FRACTIONAL_MIN_NOTIONAL_USD = 1;
/** The largest page of account activities Alpaca serves. */
const ACTIVITY_PAGE = 100;
const OPEN_ORDERS_LIMIT = 500;

export class AlpacaVenue implements ExchangeVenue, MarketClockSource {
  readonly exchangeId = ALPACA_EXCHANGE_ID;
  readonly #orders: trading.OrdersApi;
  readonly #account: trading.AccountsApi;
  readonly #assets: trading.AssetsApi;
  readonly #positions: trading.PositionsApi;
  readonly #activities: trading.AccountActivitiesApi;
  readonly #clock: trading.ClockApi;
  readonly #stocks: marketData.StockApi;
  readonly #feed: 'iex' | 'sip';
  readonly #secrets: string[];
  readonly #rules = new Map<string, Promise<MarketRules>>();

  constructor(options: AlpacaVenueOptions) {
    const config = tradingConfiguration(options);
    this.#orders = new trading.OrdersApi(config);
    this.#account = new trading.AccountsApi(config);
    this.#assets = new trading.AssetsApi(config);
    this.#positions = new trading.PositionsApi(config);
    this.#activities = new trading.AccountActivitiesApi(config);
    this.#clock = new trading.ClockApi(config);
    this.#stocks = new marketData.StockApi(marketDataConfiguration(options));
    this.#feed = options.feed ?? 'iex';
    this.#secrets = secretsOf(options.credentials);
  }

  /** The asset's trading rules, loaded once per symbol (a failed load is not kept). */
  market(symbol: string): Promise<MarketRules> {
    let rules = this.#rules.get(symbol);
    if (!rules) {
      rules = this.#loadRules(symbol);
      rules.catch(() => {
        if (this.#rules.get(symbol) === rules) this.#rules.delete(symbol);
      });
      this.#rules.set(symbol, rules);
    }
    return rules;
  }

  async #loadRules(symbol: string): Promise<MarketRules> {
    const ticker = this.#ticker(symbol);
    let asset: trading.Assets;
    try {
      asset = await this.#call('read', () => this.#assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: ticker }), true);
    } catch (error) {
      if (isAlpacaNotFound(error)) throw this.#badSymbol(symbol);
      throw error;
    }
    if ((asset._class !== undefined && asset._class !== 'us_equity') || asset.status !== 'active' || !asset.tradable) {
      throw new VenueError('rejected', `${this.exchangeId} does not trade ${symbol} (${asset.tradable ? (asset.status ?? 'inactive') : 'not tradable'})`, {
        exchangeId: this.exchangeId,
        reason: 'bad_symbol',
      });
    }
    const num = (value: string | number | undefined): number | undefined => {
      const n = Number(value);
      return value !== undefined && value !== null && Number.isFinite(n) && n > 0 ? n : undefined;
    };
    const fractional = asset.fractionable === true;
    const lot = fractional ? (num(asset.minTradeIncrement) ?? FRACTIONAL_LOT) : 1;
    return {
      symbol: `${ticker}/USD`,
      base: ticker,
      quote: 'USD',
      tickSize: num(asset.priceIncrement) ?? 0.01,
      lotSize: lot,
      minQty: fractional ? (num(asset.minOrderSize) ?? lot) : 1,
      minNotional: fractional ? FRACTIONAL_MIN_NOTIONAL_USD : 0,
    };
  }

  async fetchTicker(symbol: string): Promise<Ticker> {
    const ticker = this.#ticker(symbol);
    const latest = await this.#call('read', () => this.#stocks.stockLatestTradeSingle({ symbol: ticker, feed: this.#feed }));
    const price = Number(latest.trade?.p);
    if (!(price > 0)) throw new VenueError('temporary', `${this.exchangeId} sent no last trade for ${symbol}`, { exchangeId: this.exchangeId });
    return { last: price, time: toMs(latest.trade.t) };
  }

  async fetchBalance(): Promise<Balances> {
    const [account, positions] = await Promise.all([
      this.#call('read', () => this.#account.getAccount()),
      this.#call('read', () => this.#positions.getAllOpenPositions()),
    ]);
    const cash = Number(account.cash ?? 0);
    // Cash, not margin: a bot's buys must be paid for. Buying power is lower while orders are open.
    const buyingPower = Number(account.nonMarginableBuyingPower ?? account.buyingPower ?? cash);
    const free: Record<string, number> = { USD: Math.max(0, Math.min(cash, buyingPower)) };
    const total: Record<string, number> = { USD: cash };
    for (const p of positions) {
      if (p.side !== undefined && String(p.side) !== 'long') continue;
      const qty = Number(p.qty);
      free[p.symbol] = Number(p.qtyAvailable ?? qty);
      total[p.symbol] = qty;
    }
    return { free, total };
  }

  /** Alpaca API keys cannot withdraw; they may trade while the account is active and not blocked. */
  async keyPermissions(): Promise<KeyPermissions> {
    const account = await this.#call('read', () => this.#account.getAccount());
    const canTrade = String(account.status) === 'ACTIVE' && !account.tradingBlocked && !account.accountBlocked && !account.tradeSuspendedByUser;
    return { canTrade, canWithdraw: false };
  }

  async readMarketClock(): Promise<MarketClockReading> {
    const clock = await this.#call('read', () => this.#clock.legacyClock());
    return { isOpen: clock.isOpen, nextOpen: toMs(clock.nextOpen), nextClose: toMs(clock.nextClose) };
  }

  async placeOrder(request: OrderRequest): Promise<VenueOrder> {
    const rules = await this.market(request.symbol);
    const body: trading.PostOrderRequest = {
      symbol: rules.base,
      qty: decimal(request.qty, 9),
      side: request.side,
      type: request.type,
      timeInForce: 'day',
      clientOrderId: request.clientOrderId,
      ...(request.type === 'limit' ? { limitPrice: decimal(request.price, request.price >= 1 ? 2 : 4) } : {}),
    };
    const order = await this.#call('order', () => this.#orders.postOrder({ postOrderRequest: body }));
    return this.#toVenueOrder(order, request.symbol);
  }

  async cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    this.#ticker(symbol);
    const order = await this.#byClientId(clientOrderId);
    if (!order) return null;
    if (!isFinal(order.status)) {
      try {
        await this.#orders.deleteOrderByOrderID({ orderId: order.id! });
      } catch (error) {
        // 404: gone; 422: "order is not cancelable" (it filled or was cancelled meanwhile). Either way, read what it became.
        if (!isAlpacaNotFound(error) && !isAlpacaStatus(error, 422)) throw translateAlpacaError(error, { operation: 'order', redact: this.#secrets });
      }
    }
    const after = await this.#byClientId(clientOrderId);
    return after ? this.#toVenueOrder(after, symbol) : null;
  }

  async fetchOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    this.#ticker(symbol);
    const order = await this.#byClientId(clientOrderId);
    return order ? this.#toVenueOrder(order, symbol) : null;
  }

  async fetchOpenOrders(symbol: string): Promise<VenueOrder[]> {
    const ticker = this.#ticker(symbol);
    const orders = await this.#call('read', () => this.#orders.getAllOrders({ status: 'open', symbols: ticker, limit: OPEN_ORDERS_LIMIT, direction: 'asc' }));
    return orders.filter((o) => o.symbol === ticker).map((o) => this.#toVenueOrder(o, symbol));
  }

  async fetchMyTrades(symbol: string, since: number): Promise<VenueTrade[]> {
    const ticker = this.#ticker(symbol);
    const out: VenueTrade[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    for (;;) {
      const page = await this.#call('read', async () => {
        const response = await this.#activities.getAccountActivitiesByActivityTypeRaw({
          activityType: 'FILL',
          // `after` is exclusive: one millisecond earlier keeps a fill at exactly `since`.
          after: new Date(Math.max(0, since - 1)),
          direction: 'asc',
          pageSize: ACTIVITY_PAGE,
          ...(pageToken ? { pageToken } : {}),
        });
        return (await response.raw.json()) as unknown;
      });
      if (!Array.isArray(page)) throw new VenueError('temporary', `${this.exchangeId} sent account activities that are not a list`, { exchangeId: this.exchangeId });
      for (const raw of page as RawFill[]) {
        if (raw.symbol !== ticker || typeof raw.id !== 'string' || seen.has(raw.id)) continue;
        const trade = this.#toVenueTrade(raw, symbol);
        if (trade.time < since) continue;
        seen.add(raw.id);
        out.push(trade);
      }
      const last = (page as RawFill[]).at(-1);
      if (page.length < ACTIVITY_PAGE || typeof last?.id !== 'string' || last.id === pageToken) break;
      pageToken = last.id;
    }
    return out.sort((a, b) => a.time - b.time || (a.tradeId < b.tradeId ? -1 : a.tradeId > b.tradeId ? 1 : 0));
  }

  async close(): Promise<void> {
    // Plain fetch requests: nothing to release.
  }

  // ---- internals --------------------------------------------------------------------------

  /**
   * Runs one SDK call and translates its failure. `passNotFound` lets a 404 through
   * untranslated (the caller turns it into null or bad_symbol).
   */
  async #call<T>(operation: AlpacaOperation, fn: () => Promise<T>, passNotFound = false): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (passNotFound && isAlpacaNotFound(error)) throw error;
      throw translateAlpacaError(error, { operation, redact: this.#secrets });
    }
  }

  /** A lookup, even inside a cancel: a failed read leaves nothing unknown. */
  async #byClientId(clientOrderId: string): Promise<trading.Order | null> {
    try {
      return await this.#call('read', () => this.#orders.getOrderByClientOrderId({ clientOrderId }), true);
    } catch (error) {
      if (isAlpacaNotFound(error)) return null;
      throw error;
    }
  }

  #ticker(symbol: string): string {
    const ticker = alpacaTicker(symbol);
    if (!ticker) throw this.#badSymbol(symbol);
    return ticker;
  }

  #badSymbol(symbol: string): VenueError {
    return new VenueError('rejected', `${this.exchangeId} has no market ${symbol} (US stocks, quoted in USD, e.g. AAPL/USD)`, { exchangeId: this.exchangeId, reason: 'bad_symbol' });
  }

  #toVenueOrder(o: trading.Order, symbol: string): VenueOrder {
    const type = o.type === 'market' ? 'market' : 'limit';
    const price = type === 'market' ? Number(o.filledAvgPrice ?? 0) : Number(o.limitPrice ?? 0);
    return {
      clientOrderId: o.clientOrderId ?? '',
      exchangeOrderId: o.id ?? '',
      symbol,
      side: o.side === 'sell' ? 'sell' : 'buy',
      type,
      price: Number.isFinite(price) ? price : 0,
      qty: Number(o.qty ?? 0),
      filledQty: Number(o.filledQty ?? 0),
      status: orderStatus(o.status),
      updatedAt: (o.updatedAt ?? o.filledAt ?? o.submittedAt ?? o.createdAt)?.getTime() ?? 0,
    };
  }

  #toVenueTrade(t: RawFill, symbol: string): VenueTrade {
    return {
      tradeId: t.id!,
      exchangeOrderId: t.order_id ?? '',
      // FILL activities carry Alpaca's order id only: the engine matches them by exchangeOrderId.
      clientOrderId: null,
      symbol,
      side: t.side === 'buy' ? 'buy' : 'sell',
      price: Number(t.price ?? 0),
      qty: Number(t.qty ?? 0),
      fee: 0,
      feeCurrency: 'USD',
      liquidity: 'taker',
      time: t.transaction_time ? Date.parse(t.transaction_time) : 0,
    };
  }
}

/** A FILL account activity as Alpaca sends it. */
interface RawFill {
  readonly id?: string;
  readonly activity_type?: string;
  readonly transaction_time?: string;
  readonly type?: string;
  readonly price?: string;
  readonly qty?: string;
  readonly side?: string;
  readonly symbol?: string;
  readonly order_id?: string;
}

function orderStatus(status: trading.OrderStatus | undefined): VenueOrderStatus {
  switch (status) {
    case 'filled':
      return 'filled';
    case 'canceled':
    case 'replaced':
      return 'canceled';
    case 'expired':
      return 'expired';
    case 'rejected':
      return 'rejected';
    default:
      // new, accepted, pending_new, partially_filled, pending_cancel, done_for_day, held, …: still live.
      return 'open';
  }
}

const isFinal = (status: trading.OrderStatus | undefined): boolean => orderStatus(status) !== 'open';

const toMs = (value: Date | string | undefined): number => (value instanceof Date ? value.getTime() : value ? Date.parse(value) : 0);

/** A quantity or price as Alpaca's decimal string, without float noise or trailing zeros. */
function decimal(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, '');
}
