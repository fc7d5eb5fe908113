// The live execution venue: one exchange account through ccxt. Every ccxt failure leaves as a
// VenueError (translate-error.ts). The venue never retries, with one exception: when the
// exchange refuses a request's timestamp (Binance -1021) it resynchronises its clock offset
// before reporting the (temporary) failure, so the caller's retry goes through.
import ccxt, { type Exchange, type MarketInterface, type Order, type Trade } from 'ccxt';
import type { Balances, ExchangeVenue, KeyPermissions, MarketRules, OrderRequest, Ticker, VenueOrder, VenueOrderStatus, VenueTrade } from '../venue.ts';
import { VenueError } from '../venue.ts';
import { createCcxtClient } from './client.ts';
import { isClockSkew, isOrderNotFound, recordHttpFailures, translateCcxtError, type VenueOperation } from './translate-error.ts';

export interface CcxtVenueOptions {
  /** ccxt exchange id, e.g. binance. */
  readonly exchange: string;
  /** Another API server for the exchange (tests, proxies): scheme://host:port. */
  readonly apiUrl?: string | undefined;
  readonly credentials?: { readonly apiKey: string; readonly apiSecret: string; readonly passphrase?: string | undefined } | undefined;
  /** Per-request timeout (ms); ccxt's default is 10 s. */
  readonly timeoutMs?: number | undefined;
}

/** Most trades one myTrades page returns on Binance (and a sane page size elsewhere). */
const TRADES_PAGE = 1000;

export class CcxtVenue implements ExchangeVenue {
  readonly exchangeId: string;
  readonly #client: Exchange;
  readonly #secrets: string[];
  #marketsLoaded: Promise<unknown> | null = null;

  constructor(options: CcxtVenueOptions) {
    // Throws UnknownExchangeError for an id ccxt does not know (a configuration error, not a VenueError).
    this.#client = createCcxtClient(options);
    recordHttpFailures(this.#client);
    this.exchangeId = options.exchange;
    const creds = options.credentials;
    this.#secrets = creds ? [creds.apiKey, creds.apiSecret, creds.passphrase ?? ''].filter((s) => s !== '') : [];
  }

  async market(symbol: string): Promise<MarketRules> {
    const market = await this.#market(symbol);
    return {
      symbol: market.symbol,
      base: market.base,
      quote: market.quote,
      tickSize: this.#step(market.precision.price),
      lotSize: this.#step(market.precision.amount),
      minQty: market.limits.amount?.min ?? 0,
      minNotional: market.limits.cost?.min ?? 0,
    };
  }

  async fetchTicker(symbol: string): Promise<Ticker> {
    await this.#market(symbol);
    const ticker = await this.#call('read', () => this.#client.fetchTicker(symbol));
    const last = ticker.last ?? ticker.close;
    if (last === undefined || last === null) throw new VenueError('temporary', `${this.exchangeId} sent a ticker for ${symbol} without a last price`, { exchangeId: this.exchangeId });
    return { last, time: ticker.timestamp ?? 0 }; // 0: the exchange did not say
  }

  async fetchBalance(): Promise<Balances> {
    await this.#loadMarkets();
    const balance = await this.#call('read', () => this.#client.fetchBalance());
    const free: Record<string, number> = {};
    const total: Record<string, number> = {};
    const skip = new Set(['info', 'timestamp', 'datetime', 'free', 'used', 'total', 'debt']);
    for (const [asset, entry] of Object.entries(balance)) {
      if (skip.has(asset) || !entry || typeof entry !== 'object') continue;
      const b = entry as { free?: number | undefined; used?: number | undefined; total?: number | undefined };
      free[asset] = b.free ?? 0;
      total[asset] = b.total ?? (b.free ?? 0) + (b.used ?? 0);
    }
    return { free, total };
  }

  async keyPermissions(): Promise<KeyPermissions> {
    if (this.exchangeId === 'binance') {
      const client = this.#client as Exchange & { sapiGetAccountApiRestrictions(params?: object): Promise<Record<string, unknown>> };
      const restrictions = await this.#call('read', () => client.sapiGetAccountApiRestrictions());
      const flag = (value: unknown) => (typeof value === 'boolean' ? value : null);
      return { canTrade: flag(restrictions.enableSpotAndMarginTrading), canWithdraw: flag(restrictions.enableWithdrawals) };
    }
    // Elsewhere: the key works if it can read the balance; what else it may do is not said.
    await this.fetchBalance();
    return { canTrade: null, canWithdraw: null };
  }

  async placeOrder(request: OrderRequest): Promise<VenueOrder> {
    await this.#market(request.symbol);
    const price = request.type === 'limit' ? request.price : undefined;
    const order = await this.#call('order', () =>
      this.#client.createOrder(request.symbol, request.type, request.side, request.qty, price, { clientOrderId: request.clientOrderId }),
    );
    return this.#toVenueOrder(order, request.clientOrderId, request);
  }

  async cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    await this.#market(symbol);
    try {
      const order = await this.#call('order', () => this.#client.cancelOrder(clientOrderId, symbol, { origClientOrderId: clientOrderId }), true);
      // Binance answers a cancel with the cancel request's own clientOrderId: keep ours.
      return this.#toVenueOrder(order, clientOrderId);
    } catch (error) {
      if (isOrderNotFound(error)) return null;
      throw error;
    }
  }

  async fetchOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    await this.#market(symbol);
    try {
      const order = await this.#call('read', () => this.#client.fetchOrder(clientOrderId, symbol, { origClientOrderId: clientOrderId }), true);
      return this.#toVenueOrder(order, clientOrderId);
    } catch (error) {
      if (isOrderNotFound(error)) return null;
      throw error;
    }
  }

  async fetchOpenOrders(symbol: string): Promise<VenueOrder[]> {
    await this.#market(symbol);
    const orders = await this.#call('read', () => this.#client.fetchOpenOrders(symbol));
    return orders.map((o) => this.#toVenueOrder(o, o.clientOrderId ?? ''));
  }

  async fetchMyTrades(symbol: string, since: number): Promise<VenueTrade[]> {
    await this.#market(symbol);
    const seen = new Set<string>();
    const out: VenueTrade[] = [];
    const take = (page: Trade[]) => {
      let added = 0;
      for (const t of page) {
        const trade = this.#toVenueTrade(t);
        if (trade.time < since || seen.has(trade.tradeId)) continue;
        seen.add(trade.tradeId);
        out.push(trade);
        added++;
      }
      return added;
    };
    let page = await this.#call('read', () => this.#client.fetchMyTrades(symbol, since, TRADES_PAGE));
    take(page);
    // Further pages: Binance by trade id (`fromId`, which it cannot combine with a start time),
    // other exchanges by time from the last trade seen.
    while (page.length >= TRADES_PAGE) {
      const last = page[page.length - 1]!;
      const params = this.exchangeId === 'binance' ? { fromId: String(Number(last.id) + 1) } : {};
      const from = this.exchangeId === 'binance' ? undefined : (last.timestamp ?? since);
      page = await this.#call('read', () => this.#client.fetchMyTrades(symbol, from, TRADES_PAGE, params));
      if (take(page) === 0) break;
    }
    return out.sort((a, b) => a.time - b.time || compareIds(a.tradeId, b.tradeId));
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => undefined);
  }

  // ---- internals --------------------------------------------------------------------------

  /**
   * Runs one ccxt call and translates its failure. On a clock-skew refusal the venue
   * resynchronises its offset to the exchange's clock first. `passNotFound` lets OrderNotFound
   * through untranslated (the caller turns it into null).
   */
  async #call<T>(operation: VenueOperation, fn: () => Promise<T>, passNotFound = false): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (passNotFound && isOrderNotFound(error)) throw error;
      if (isClockSkew(error)) await this.#resyncClock();
      throw translateCcxtError(error, { exchangeId: this.exchangeId, operation, redact: this.#secrets });
    }
  }

  async #resyncClock(): Promise<void> {
    this.#client.options['adjustForTimeDifference'] = true;
    // Best effort: if even the time call fails, the next skew refusal tries again.
    await this.#client.loadTimeDifference().catch(() => undefined);
  }

  #loadMarkets(): Promise<unknown> {
    if (!this.#marketsLoaded) {
      const loading = this.#call('read', () => this.#client.loadMarkets());
      // A failed load is not cached: the next call tries again.
      loading.catch(() => {
        if (this.#marketsLoaded === loading) this.#marketsLoaded = null;
      });
      this.#marketsLoaded = loading;
    }
    return this.#marketsLoaded;
  }

  async #market(symbol: string): Promise<MarketInterface> {
    await this.#loadMarkets();
    const market = (this.#client.markets as Record<string, MarketInterface | undefined>)[symbol];
    if (!market) throw new VenueError('rejected', `${this.exchangeId} has no market ${symbol}`, { exchangeId: this.exchangeId, reason: 'bad_symbol' });
    return market;
  }

  /** A precision as a step: ccxt's binance reports ticks (TICK_SIZE mode); others may count decimals. */
  #step(precision: number | undefined): number {
    if (precision === undefined || precision === null) return 0;
    if (this.#client.precisionMode === ccxt.TICK_SIZE) return precision;
    if (this.#client.precisionMode === ccxt.DECIMAL_PLACES) return Number((10 ** -precision).toFixed(Math.max(0, precision)));
    return 0; // significant digits: no fixed step
  }

  #toVenueOrder(o: Order, clientOrderId: string, request?: OrderRequest): VenueOrder {
    const type = o.type === 'market' || o.type === 'limit' ? o.type : (request?.type ?? 'limit');
    const price = type === 'market' ? (o.average ?? (o.filled && o.cost ? o.cost / o.filled : 0)) : (o.price ?? request?.price ?? 0);
    return {
      clientOrderId: clientOrderId || (o.clientOrderId ?? ''),
      exchangeOrderId: String(o.id ?? ''),
      symbol: o.symbol ?? request?.symbol ?? '',
      side: o.side === 'sell' ? 'sell' : o.side === 'buy' ? 'buy' : (request?.side ?? 'buy'),
      type,
      price,
      qty: o.amount ?? request?.qty ?? 0,
      filledQty: o.filled ?? 0,
      status: orderStatus(o.status),
      updatedAt: o.lastUpdateTimestamp ?? o.lastTradeTimestamp ?? o.timestamp ?? 0,
    };
  }

  #toVenueTrade(t: Trade): VenueTrade {
    const market = (this.#client.markets as Record<string, MarketInterface | undefined>)[t.symbol ?? ''];
    const price = t.price ?? 0;
    let fee = t.fee?.cost ?? 0;
    let feeCurrency = t.fee?.currency ?? market?.quote ?? '';
    // Binance charges buys in the base asset: convert at the trade's price.
    if (market && feeCurrency === market.base && price > 0) {
      fee *= price;
      feeCurrency = market.quote;
    }
    return {
      tradeId: String(t.id ?? ''),
      exchangeOrderId: String(t.order ?? ''),
      // Binance trades carry no client order id: match them by exchangeOrderId.
      clientOrderId: typeof t.info?.clientOrderId === 'string' ? t.info.clientOrderId : null,
      symbol: t.symbol ?? '',
      side: t.side === 'sell' ? 'sell' : 'buy',
      price,
      qty: t.amount ?? 0,
      fee,
      feeCurrency,
      liquidity: t.takerOrMaker === 'maker' ? 'maker' : 'taker',
      time: t.timestamp ?? 0,
    };
  }
}

function orderStatus(status: string | undefined): VenueOrderStatus {
  switch (status) {
    case 'closed':
      return 'filled';
    case 'canceled':
      return 'canceled';
    case 'rejected':
      return 'rejected';
    case 'expired':
      return 'expired';
    default:
      return 'open'; // open, and 'canceling' (still on the book until the exchange confirms)
  }
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
