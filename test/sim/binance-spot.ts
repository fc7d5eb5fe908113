// A Binance-spot-protocol server on 127.0.0.1 for the real ccxt client: market metadata
// (exchangeInfo), candles (klines) and tickers served from real candle columns, plus signed
// account endpoints (orders, trades, balances, key restrictions) and fault injection.
//
// Wire behaviour follows Binance's REST API: private calls carry `X-MBX-APIKEY` and an
// HMAC-SHA256 hex `signature` over the total params (query string + body, without the
// signature itself), and a `timestamp` inside `recvWindow` of the server clock. Errors are
// `{ code, msg }` with Binance's codes and messages.
//
// Market model (simplifications, on purpose):
//  - each market has a current price: initially the close of the candle at its cursor
//    (`startIndex`, default the last candle). `klines` serves candles up to and including the
//    cursor, the last one being the "forming" candle, as on Binance.
//  - `setPrice` moves the price and fills resting limits at their limit price (buy when
//    price <= limit, sell when price >= limit). `advanceCandle` moves the cursor to the next
//    historical candle and fills resting limits the candle reached (low <= buy limit,
//    high >= sell limit) at the limit price, or at the open when the candle gapped through.
//  - market orders, and limit orders that are marketable when placed, fill at once and whole
//    at the current price (taker). Resting limits fill whole (maker). No partial fills.
//  - every fee is 0.1% charged in the QUOTE asset (Binance charges buys in the base asset).
//    A resting buy therefore locks price × qty × 1.001 quote, so the fee is always covered.
//  - no order book, no other traders: our orders never move the price.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { FaultQueue, type SimFault } from './fault-queue.ts';

const INTERVALS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1d': 86_400_000 };
const DAY_MS = 86_400_000;
/** Maker and taker fee rate (0.1%), charged in the quote asset. */
export const SIM_FEE_RATE = 0.001;

export interface BinanceSimMarket {
  readonly base: string;
  readonly quote: string;
  readonly candles: CandleSeries;
  /** Index of the candle the market starts at (its close is the first price). Default: the last candle. */
  readonly startIndex?: number;
  /** exchangeInfo filters; defaults tick 0.01, step 0.00001, minQty 0.00001, minNotional 5. */
  readonly filters?: { readonly tickSize?: number; readonly stepSize?: number; readonly minQty?: number; readonly minNotional?: number };
}

export interface BinanceSimCall {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  /** Form-encoded body params (POST). */
  readonly body: Record<string, string>;
  /** The injected fault that answered (or swallowed) this call, if any. */
  readonly fault?: 'respond' | 'hang' | 'apply-then-respond' | 'apply-then-hang';
}

export type BinanceSimFault = SimFault;

export interface BinanceSimAccountSpec {
  readonly apiKey: string;
  readonly secret: string;
  readonly balances: Readonly<Record<string, number>>;
  readonly canWithdraw?: boolean;
  readonly canTrade?: boolean;
}

export interface BinanceSimOrder {
  readonly orderId: number;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: 'BUY' | 'SELL';
  readonly type: 'LIMIT' | 'MARKET';
  /** Limit price; 0 for market orders. */
  readonly price: number;
  readonly origQty: number;
  readonly executedQty: number;
  readonly cummulativeQuoteQty: number;
  readonly status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED';
  readonly time: number;
  readonly updateTime: number;
}

export interface BinanceSimTrade {
  readonly id: number;
  readonly orderId: number;
  readonly symbol: string;
  readonly price: number;
  readonly qty: number;
  readonly quoteQty: number;
  readonly commission: number;
  readonly commissionAsset: string;
  readonly time: number;
  readonly isBuyer: boolean;
  readonly isMaker: boolean;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

interface MarketState {
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  readonly candles: CandleSeries;
  readonly tickSize: number;
  readonly stepSize: number;
  readonly minQty: number;
  readonly maxQty: number;
  readonly minPrice: number;
  readonly maxPrice: number;
  readonly minNotional: number;
  cursor: number;
  price: number;
}

interface Account {
  readonly apiKey: string;
  readonly secret: string;
  readonly balances: Map<string, { free: number; locked: number }>;
  readonly canWithdraw: boolean;
  readonly canTrade: boolean;
  readonly createTime: number;
  readonly orders: SimOrder[];
  readonly trades: BinanceSimTrade[];
}

interface SimOrder {
  readonly orderId: number;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: 'BUY' | 'SELL';
  readonly type: 'LIMIT' | 'MARKET';
  readonly price: number;
  readonly origQty: number;
  executedQty: number;
  cummulativeQuoteQty: number;
  status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED';
  readonly time: number;
  updateTime: number;
  /** Funds still locked for the unfilled part (quote incl. fee for buys, base for sells). */
  locked: number;
  readonly fills: { price: number; qty: number; commission: number; commissionAsset: string; tradeId: number }[];
}

const err = (status: number, code: number, msg: string): Reply => ({ status, body: { code, msg } });
const ok = (body: unknown): Reply => ({ status: 200, body });
const round8 = (x: number): number => Math.round(x * 1e8) / 1e8;
const fmt = (x: number): string => round8(x).toFixed(8);
/** Whether x is a whole multiple of step (within float noise). */
const onStep = (x: number, step: number): boolean => Math.abs(x / step - Math.round(x / step)) < 1e-6;
const floorToStep = (x: number, step: number): number => round8(Math.floor(x / step + 1e-9) * step);

export class BinanceSpotSim {
  readonly calls: BinanceSimCall[] = [];
  /** Simulated clock skew: the server's time is Date.now() + clockOffsetMs. */
  clockOffsetMs = 0;
  #server!: Server;
  readonly #markets: Map<string, MarketState>;
  readonly #faults = new FaultQueue<BinanceSimFault>();
  readonly #accounts = new Map<string, Account>();
  readonly #hanging = new Set<ServerResponse>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #nextOrderId = 100_001;
  #nextTradeId = 500_001;

  private constructor(markets: readonly BinanceSimMarket[]) {
    this.#markets = new Map(
      markets.map((m) => {
        const symbol = `${m.base}${m.quote}`;
        const cursor = m.startIndex ?? m.candles.length - 1;
        if (cursor < 0 || cursor >= m.candles.length) throw new Error(`startIndex ${cursor} is outside ${symbol}'s ${m.candles.length} candles`);
        const state: MarketState = {
          symbol,
          base: m.base,
          quote: m.quote,
          candles: m.candles,
          tickSize: m.filters?.tickSize ?? 0.01,
          stepSize: m.filters?.stepSize ?? 0.00001,
          minQty: m.filters?.minQty ?? 0.00001,
          maxQty: 9000,
          minPrice: m.filters?.tickSize ?? 0.01,
          maxPrice: 1_000_000,
          minNotional: m.filters?.minNotional ?? 5,
          cursor,
          price: m.candles.close[cursor]!,
        };
        return [symbol, state];
      }),
    );
  }

  static async start(markets: readonly BinanceSimMarket[]): Promise<BinanceSpotSim> {
    const sim = new BinanceSpotSim(markets);
    sim.#server = createServer((req, res) => sim.#receive(req, res));
    await new Promise<void>((resolve) => sim.#server.listen(0, '127.0.0.1', resolve));
    return sim;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The sim's clock (ms), skew included. */
  serverTime(): number {
    return Date.now() + this.clockOffsetMs;
  }

  callsTo(path: string, method?: string): BinanceSimCall[] {
    return this.calls.filter((c) => c.path === path && (method === undefined || c.method === method));
  }

  // ---- fault injection --------------------------------------------------------------------
  // `path` is either a bare path ("/api/v3/order": every method) or "METHOD /path"
  // ("POST /api/v3/order"). Faults queue per key and are consumed in order, one per request;
  // a method-specific queue is consulted before the bare-path one.

  /** Answer the next `times` requests to `path` with this status, body and headers. */
  failNext(path: string, status: number, body: unknown = { code: -1003, msg: 'Too many requests.' }, times = 1, headers?: Record<string, string>): void {
    for (let i = 0; i < times; i++) this.#faults.push(path, { kind: 'respond', fault: { status, body, headers } });
  }

  /** Answer the next requests to `path` with these responses, one each (e.g. a 429 then a 418). */
  failSequence(path: string, faults: readonly BinanceSimFault[]): void {
    for (const fault of faults) this.#faults.push(path, { kind: 'respond', fault });
  }

  /** Never answer the next `times` requests to `path` (until close): the client times out. */
  hangNext(path: string, times = 1): void {
    for (let i = 0; i < times; i++) this.#faults.push(path, { kind: 'hang' });
  }

  /**
   * Process the next request to `path` for real (an order IS placed), then answer with this
   * status (default body: a non-JSON `<html>` page) or never answer at all ('hang').
   */
  applyThenFailNext(path: string, status: number | 'hang', body?: unknown, headers?: Record<string, string>): void {
    const then = status === 'hang' ? 'hang' : { status, body: body ?? `<html><body><h1>${status} Bad Gateway</h1></body></html>`, headers };
    this.#faults.push(path, { kind: 'apply-then', then });
  }

  /** Faults still queued for `path` (exact key). */
  pendingFaults(path: string): number {
    return this.#faults.pending(path);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  // ---- accounts and introspection ---------------------------------------------------------

  addAccount(spec: BinanceSimAccountSpec): void {
    const balances = new Map(Object.entries(spec.balances).map(([asset, free]) => [asset, { free, locked: 0 }]));
    this.#accounts.set(spec.apiKey, {
      apiKey: spec.apiKey,
      secret: spec.secret,
      balances,
      canWithdraw: spec.canWithdraw ?? false,
      canTrade: spec.canTrade ?? true,
      createTime: this.serverTime(),
      orders: [],
      trades: [],
    });
  }

  orders(apiKey: string): BinanceSimOrder[] {
    return this.#account(apiKey).orders.map(orderView);
  }

  openOrders(apiKey: string, symbol?: string): BinanceSimOrder[] {
    return this.#account(apiKey)
      .orders.filter((o) => isOpen(o) && (symbol === undefined || o.symbol === symbol.replace('/', '')))
      .map(orderView);
  }

  balances(apiKey: string): Record<string, { free: number; locked: number }> {
    return Object.fromEntries([...this.#account(apiKey).balances].map(([asset, b]) => [asset, { free: round8(b.free), locked: round8(b.locked) }]));
  }

  trades(apiKey: string): BinanceSimTrade[] {
    return this.#account(apiKey).trades.map((t) => ({ ...t }));
  }

  #account(apiKey: string): Account {
    const account = this.#accounts.get(apiKey);
    if (!account) throw new Error(`no simulated account with api key ${apiKey}`);
    return account;
  }

  // ---- price model ------------------------------------------------------------------------

  /** Current price of a market (symbol as BTCUSDT or BTC/USDT). */
  price(symbol: string): number {
    return this.#market(symbol).price;
  }

  /** Open time of the candle at the market's cursor (the forming candle). */
  cursorTime(symbol: string): number {
    const m = this.#market(symbol);
    return m.candles.time[m.cursor]!;
  }

  /** Moves the price; resting limits it reaches fill at their limit price. */
  setPrice(symbol: string, price: number): void {
    const market = this.#market(symbol);
    market.price = price;
    for (const { account, order } of this.#resting(market.symbol)) {
      if (order.side === 'BUY' ? price <= order.price : price >= order.price) this.#fill(account, order, market, order.price, true);
    }
  }

  /**
   * Moves the market to its next historical candle; resting limits the candle reached fill
   * (at the limit, or at the open when it gapped through) and the price becomes its close.
   * Returns false (and changes nothing) when there is no next candle.
   */
  advanceCandle(symbol: string): boolean {
    const market = this.#market(symbol);
    if (market.cursor + 1 >= market.candles.length) return false;
    const i = ++market.cursor;
    const c = market.candles;
    const open = c.open[i]!;
    for (const { account, order } of this.#resting(market.symbol)) {
      if (order.side === 'BUY') {
        if (open <= order.price) this.#fill(account, order, market, open, true);
        else if (c.low[i]! <= order.price) this.#fill(account, order, market, order.price, true);
      } else if (open >= order.price) this.#fill(account, order, market, open, true);
      else if (c.high[i]! >= order.price) this.#fill(account, order, market, order.price, true);
    }
    market.price = c.close[i]!;
    return true;
  }

  /** Calls advanceCandle every `everyMs` until the history runs out or stopAutoAdvance. */
  autoAdvance(symbol: string, everyMs: number): void {
    const key = this.#market(symbol).symbol;
    this.stopAutoAdvance(key);
    const timer = setInterval(() => {
      if (!this.advanceCandle(key)) this.stopAutoAdvance(key);
    }, everyMs);
    timer.unref();
    this.#timers.set(key, timer);
  }

  stopAutoAdvance(symbol?: string): void {
    for (const [key, timer] of this.#timers) {
      if (symbol !== undefined && key !== symbol.replace('/', '')) continue;
      clearInterval(timer);
      this.#timers.delete(key);
    }
  }

  close(): Promise<void> {
    this.stopAutoAdvance();
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #market(symbol: string): MarketState {
    const market = this.#markets.get(symbol.replace('/', ''));
    if (!market) throw new Error(`the simulator has no market ${symbol}`);
    return market;
  }

  #resting(symbol: string): { account: Account; order: SimOrder }[] {
    const out: { account: Account; order: SimOrder }[] = [];
    for (const account of this.#accounts.values()) for (const order of account.orders) if (order.symbol === symbol && isOpen(order)) out.push({ account, order });
    return out.sort((a, b) => a.order.orderId - b.order.orderId);
  }

  /** Fills the whole remaining quantity of `order` at `price`. */
  #fill(account: Account, order: SimOrder, market: MarketState, price: number, isMaker: boolean): void {
    const qty = round8(order.origQty - order.executedQty);
    const quoteQty = round8(qty * price);
    const commission = round8(quoteQty * SIM_FEE_RATE);
    const base = balanceOf(account, market.base);
    const quote = balanceOf(account, market.quote);
    if (order.side === 'BUY') {
      // The lock covered price × qty plus the fee at the limit; refund what a better price saved.
      quote.locked = round8(quote.locked - order.locked);
      quote.free = round8(quote.free + order.locked - quoteQty - commission);
      base.free = round8(base.free + qty);
    } else {
      base.locked = round8(base.locked - order.locked);
      base.free = round8(base.free + order.locked - qty);
      quote.free = round8(quote.free + quoteQty - commission);
    }
    order.locked = 0;
    const time = this.serverTime();
    const tradeId = this.#nextTradeId++;
    order.executedQty = round8(order.executedQty + qty);
    order.cummulativeQuoteQty = round8(order.cummulativeQuoteQty + quoteQty);
    order.status = 'FILLED';
    order.updateTime = time;
    order.fills.push({ price, qty, commission, commissionAsset: market.quote, tradeId });
    account.trades.push({
      id: tradeId,
      orderId: order.orderId,
      symbol: market.symbol,
      price,
      qty,
      quoteQty,
      commission,
      commissionAsset: market.quote,
      time,
      isBuyer: order.side === 'BUY',
      isMaker,
    });
  }

  // ---- HTTP -------------------------------------------------------------------------------

  #receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.#handle(req, res, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => res.destroy());
  }

  #handle(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://sim');
    const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
    const query = Object.fromEntries(url.searchParams);
    const body = rawBody && !rawBody.trimStart().startsWith('{') ? Object.fromEntries(new URLSearchParams(rawBody)) : {};
    const fault = this.#faults.take(method, url.pathname);
    const faultName = !fault ? undefined : fault.kind === 'apply-then' ? (fault.then === 'hang' ? 'apply-then-hang' : 'apply-then-respond') : fault.kind;
    this.calls.push({ method, path: url.pathname, query, body, ...(faultName ? { fault: faultName } : {}) });

    if (fault?.kind === 'hang') return this.#hang(res);
    if (fault?.kind === 'respond') return send(res, { status: fault.fault.status, body: fault.fault.body, headers: fault.fault.headers });

    let reply: Reply;
    try {
      // Query string parameters win over body parameters, as on Binance.
      reply = this.#route(method, url.pathname, { ...body, ...query }, req, rawQuery, rawBody);
    } catch (error) {
      reply = err(500, -1000, `simulator error: ${(error as Error).message}`);
    }
    if (fault?.kind === 'apply-then') {
      if (fault.then === 'hang') return this.#hang(res);
      return send(res, { status: fault.then.status, body: fault.then.body, headers: fault.then.headers });
    }
    send(res, reply);
  }

  #hang(res: ServerResponse): void {
    this.#hanging.add(res);
    res.on('close', () => this.#hanging.delete(res));
  }

  #route(method: string, path: string, params: Record<string, string>, req: IncomingMessage, rawQuery: string, rawBody: string): Reply {
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /api/v3/ping':
        return ok({});
      case 'GET /api/v3/time':
        return ok({ serverTime: this.serverTime() });
      case 'GET /api/v3/exchangeInfo':
        return ok(this.#exchangeInfo());
      case 'GET /api/v3/klines':
        return this.#klines(params);
      case 'GET /api/v3/ticker/24hr':
        return this.#tickers(params, (m) => this.#ticker24hr(m));
      case 'GET /api/v3/ticker/price':
        return this.#tickers(params, (m) => ({ symbol: m.symbol, price: fmt(m.price) }));
      case 'GET /api/v3/ticker/bookTicker':
        return this.#tickers(params, (m) => ({ symbol: m.symbol, bidPrice: fmt(m.price), bidQty: '1.00000000', askPrice: fmt(m.price + m.tickSize), askQty: '1.00000000' }));
    }
    const privateRoutes: Record<string, (account: Account, p: Record<string, string>) => Reply> = {
      'POST /api/v3/order': (a, p) => this.#newOrder(a, p),
      'GET /api/v3/order': (a, p) => this.#queryOrder(a, p),
      'DELETE /api/v3/order': (a, p) => this.#cancelOrder(a, p),
      'GET /api/v3/openOrders': (a, p) => this.#openOrders(a, p),
      'GET /api/v3/allOrders': (a, p) => this.#allOrders(a, p),
      'GET /api/v3/myTrades': (a, p) => this.#myTrades(a, p),
      'GET /api/v3/account': (a, p) => this.#accountInfo(a, p),
      'GET /sapi/v1/account/apiRestrictions': (a) => ok(this.#apiRestrictions(a)),
    };
    const handler = privateRoutes[route];
    if (!handler) return err(404, -1, `simulator has no ${method} ${path}`);
    const auth = this.#authenticate(req, params, rawQuery, rawBody);
    if ('status' in auth) return auth;
    return handler(auth, params);
  }

  /** Binance's SIGNED endpoint checks: api key, HMAC signature over the total params, timestamp. */
  #authenticate(req: IncomingMessage, params: Record<string, string>, rawQuery: string, rawBody: string): Account | Reply {
    const apiKey = req.headers['x-mbx-apikey'];
    if (typeof apiKey !== 'string' || apiKey === '') return err(401, -2014, 'API-key format invalid.');
    const account = this.#accounts.get(apiKey);
    if (!account) return err(401, -2015, 'Invalid API-key, IP, or permissions for action.');
    const signature = params.signature;
    if (!signature) return err(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
    const unsigned = (raw: string) =>
      raw
        .split('&')
        .filter((part) => part !== '' && !part.startsWith('signature='))
        .join('&');
    const totalParams = unsigned(rawQuery) + unsigned(rawBody);
    const expected = createHmac('sha256', account.secret).update(totalParams).digest('hex');
    if (signature.toLowerCase() !== expected) return err(400, -1022, 'Signature for this request is not valid.');
    const timestamp = Number(params.timestamp);
    if (!params.timestamp || !Number.isFinite(timestamp)) return err(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
    const recvWindow = params.recvWindow ? Number(params.recvWindow) : 5000;
    if (!(recvWindow > 0) || recvWindow > 60_000) return err(400, -1131, 'recvWindow must be less than 60000');
    const server = this.serverTime();
    if (timestamp > server + 1000 || server - timestamp > recvWindow) return err(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
    return account;
  }

  // ---- public endpoints -------------------------------------------------------------------

  #exchangeInfo() {
    return {
      timezone: 'UTC',
      serverTime: this.serverTime(),
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
        { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
      ],
      exchangeFilters: [],
      symbols: [...this.#markets.values()].map((m) => ({
        symbol: m.symbol,
        status: 'TRADING',
        baseAsset: m.base,
        baseAssetPrecision: 8,
        quoteAsset: m.quote,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        baseCommissionPrecision: 8,
        quoteCommissionPrecision: 8,
        orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
        icebergAllowed: true,
        ocoAllowed: true,
        quoteOrderQtyMarketAllowed: true,
        allowTrailingStop: true,
        cancelReplaceAllowed: true,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [
          { filterType: 'PRICE_FILTER', minPrice: fmt(m.minPrice), maxPrice: fmt(m.maxPrice), tickSize: fmt(m.tickSize) },
          { filterType: 'LOT_SIZE', minQty: fmt(m.minQty), maxQty: fmt(m.maxQty), stepSize: fmt(m.stepSize) },
          { filterType: 'NOTIONAL', minNotional: fmt(m.minNotional), applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5 },
        ],
        permissions: ['SPOT'],
        permissionSets: [['SPOT']],
        defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
        allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
      })),
    };
  }

  #klines(query: Record<string, string>): Reply {
    const market = this.#markets.get(query.symbol ?? '');
    if (!market) return err(400, -1121, 'Invalid symbol.');
    const tf = INTERVALS[query.interval ?? ''];
    if (!tf || tf !== market.candles.timeframeMs) return err(400, -1120, 'Invalid interval.');
    const limit = Math.min(Number(query.limit ?? 500), 1000);
    const start = query.startTime ? Number(query.startTime) : -Infinity;
    const end = query.endTime ? Number(query.endTime) : Infinity;
    const c = market.candles;
    const row = (i: number) => {
      const t = c.time[i]!;
      return [t, String(c.open[i]), String(c.high[i]), String(c.low[i]), String(c.close[i]), String(c.volume[i]), t + tf - 1, '0', 0, '0', '0', '0'];
    };
    const rows: unknown[] = [];
    if (start === -Infinity) {
      // No startTime: the most recent `limit` candles up to endTime, as Binance does.
      for (let i = market.cursor; i >= 0 && rows.length < limit; i--) if (c.time[i]! <= end) rows.unshift(row(i));
    } else {
      for (let i = 0; i <= market.cursor && rows.length < limit; i++) {
        const t = c.time[i]!;
        if (t >= start && t <= end) rows.push(row(i));
      }
    }
    return ok(rows);
  }

  #tickers(params: Record<string, string>, render: (m: MarketState) => unknown): Reply {
    if (params.symbol === undefined) return ok([...this.#markets.values()].map(render));
    const market = this.#markets.get(params.symbol);
    return market ? ok(render(market)) : err(400, -1121, 'Invalid symbol.');
  }

  #ticker24hr(m: MarketState) {
    const c = m.candles;
    const now = this.serverTime();
    const from = c.time[m.cursor]! - DAY_MS + c.timeframeMs;
    let first = m.cursor;
    while (first > 0 && c.time[first - 1]! >= from) first--;
    let high = -Infinity;
    let low = Infinity;
    let volume = 0;
    let quoteVolume = 0;
    for (let i = first; i <= m.cursor; i++) {
      high = Math.max(high, c.high[i]!);
      low = Math.min(low, c.low[i]!);
      volume += c.volume[i]!;
      quoteVolume += c.volume[i]! * c.close[i]!;
    }
    high = Math.max(high, m.price);
    low = Math.min(low, m.price);
    const open = c.open[first]!;
    return {
      symbol: m.symbol,
      priceChange: fmt(m.price - open),
      priceChangePercent: ((100 * (m.price - open)) / open).toFixed(3),
      weightedAvgPrice: fmt(volume > 0 ? quoteVolume / volume : m.price),
      prevClosePrice: fmt(first > 0 ? c.close[first - 1]! : open),
      lastPrice: fmt(m.price),
      lastQty: '0.00000000',
      bidPrice: fmt(m.price),
      bidQty: '1.00000000',
      askPrice: fmt(m.price + m.tickSize),
      askQty: '1.00000000',
      openPrice: fmt(open),
      highPrice: fmt(high),
      lowPrice: fmt(low),
      volume: fmt(volume),
      quoteVolume: fmt(quoteVolume),
      openTime: now - DAY_MS,
      closeTime: now,
      firstId: 0,
      lastId: 0,
      count: m.cursor - first + 1,
    };
  }

  // ---- private endpoints ------------------------------------------------------------------

  #newOrder(account: Account, p: Record<string, string>): Reply {
    const market = this.#markets.get(p.symbol ?? '');
    if (!market) return err(400, -1121, 'Invalid symbol.');
    const side = p.side;
    if (side !== 'BUY' && side !== 'SELL') return err(400, -1117, 'Invalid side.');
    const type = p.type;
    if (type !== 'LIMIT' && type !== 'MARKET') return err(400, -1116, 'Invalid orderType.');
    const missing = (name: string) => err(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
    const respType = p.newOrderRespType ?? 'FULL';
    if (!['ACK', 'RESULT', 'FULL'].includes(respType)) return err(400, -1100, "Illegal characters found in parameter 'newOrderRespType'.");
    let qty = p.quantity !== undefined ? Number(p.quantity) : NaN;
    let price = 0;
    if (type === 'LIMIT') {
      if (p.timeInForce === undefined) return missing('timeInForce');
      if (p.timeInForce !== 'GTC') return err(400, -1115, 'Invalid timeInForce.');
      if (p.price === undefined || !(Number(p.price) > 0)) return missing('price');
      if (!(qty > 0)) return missing('quantity');
      price = Number(p.price);
    } else {
      if (p.quantity === undefined && p.quoteOrderQty === undefined) return err(400, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!");
      if (p.quoteOrderQty !== undefined) {
        const quoteOrderQty = Number(p.quoteOrderQty);
        if (!(quoteOrderQty > 0)) return missing('quoteOrderQty');
        qty = floorToStep(quoteOrderQty / market.price, market.stepSize);
      } else if (!(qty > 0)) return missing('quantity');
    }
    const clientOrderId = p.newClientOrderId ?? `sim${randomBytes(9).toString('hex')}`;
    if (!/^[.A-Za-z0-9_:/-]{1,36}$/.test(clientOrderId)) return err(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.");
    if (!account.canTrade) return err(400, -2010, 'This account may not place or cancel orders.');
    if (account.orders.some((o) => isOpen(o) && o.clientOrderId === clientOrderId)) return err(400, -2010, 'Duplicate order sent.');

    if (type === 'LIMIT' && (price < market.minPrice || price > market.maxPrice || !onStep(price, market.tickSize))) return err(400, -1013, 'Filter failure: PRICE_FILTER');
    if (qty < market.minQty || qty > market.maxQty || !onStep(qty, market.stepSize)) return err(400, -1013, 'Filter failure: LOT_SIZE');
    const refPrice = type === 'LIMIT' ? price : market.price;
    if (qty * refPrice < market.minNotional) return err(400, -1013, 'Filter failure: NOTIONAL');

    const marketable = type === 'MARKET' || (side === 'BUY' ? price >= market.price : price <= market.price);
    // Funds needed: buys lock quote (at the limit, or the current price for market orders) plus the fee.
    const needed = side === 'BUY' ? round8(qty * refPrice * (1 + SIM_FEE_RATE)) : qty;
    const funds = balanceOf(account, side === 'BUY' ? market.quote : market.base);
    if (funds.free + 1e-9 < needed) return err(400, -2010, 'Account has insufficient balance for requested action.');

    const now = this.serverTime();
    const order: SimOrder = {
      orderId: this.#nextOrderId++,
      clientOrderId,
      symbol: market.symbol,
      side,
      type,
      price,
      origQty: qty,
      executedQty: 0,
      cummulativeQuoteQty: 0,
      status: 'NEW',
      time: now,
      updateTime: now,
      locked: needed,
      fills: [],
    };
    funds.free = round8(funds.free - needed);
    funds.locked = round8(funds.locked + needed);
    account.orders.push(order);
    if (marketable) this.#fill(account, order, market, market.price, false);

    if (respType === 'ACK') return ok({ symbol: order.symbol, orderId: order.orderId, orderListId: -1, clientOrderId, transactTime: now });
    const result = {
      symbol: order.symbol,
      orderId: order.orderId,
      orderListId: -1,
      clientOrderId,
      transactTime: now,
      price: fmt(order.price),
      origQty: fmt(order.origQty),
      executedQty: fmt(order.executedQty),
      origQuoteOrderQty: p.quoteOrderQty !== undefined ? fmt(Number(p.quoteOrderQty)) : '0.00000000',
      cummulativeQuoteQty: fmt(order.cummulativeQuoteQty),
      status: order.status,
      timeInForce: 'GTC',
      type,
      side,
      workingTime: now,
      selfTradePreventionMode: 'EXPIRE_MAKER',
    };
    if (respType === 'RESULT') return ok(result);
    return ok({
      ...result,
      fills: order.fills.map((f) => ({ price: fmt(f.price), qty: fmt(f.qty), commission: fmt(f.commission), commissionAsset: f.commissionAsset, tradeId: f.tradeId })),
    });
  }

  #findOrder(account: Account, p: Record<string, string>): SimOrder | undefined {
    const candidates = account.orders.filter((o) => o.symbol === p.symbol);
    if (p.orderId !== undefined) return candidates.find((o) => o.orderId === Number(p.orderId));
    // The newest order with that client id (client ids may be reused once an order is closed).
    return candidates.filter((o) => o.clientOrderId === p.origClientOrderId).at(-1);
  }

  #queryOrder(account: Account, p: Record<string, string>): Reply {
    if (!this.#markets.has(p.symbol ?? '')) return err(400, -1121, 'Invalid symbol.');
    if (p.orderId === undefined && p.origClientOrderId === undefined) return err(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    const order = this.#findOrder(account, p);
    return order ? ok(orderJson(order)) : err(400, -2013, 'Order does not exist.');
  }

  #cancelOrder(account: Account, p: Record<string, string>): Reply {
    const market = this.#markets.get(p.symbol ?? '');
    if (!market) return err(400, -1121, 'Invalid symbol.');
    if (p.orderId === undefined && p.origClientOrderId === undefined) return err(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    if (!account.canTrade) return err(400, -2010, 'This account may not place or cancel orders.');
    const order = this.#findOrder(account, p);
    if (!order || !isOpen(order)) return err(400, -2011, 'Unknown order sent.');
    const funds = balanceOf(account, order.side === 'BUY' ? market.quote : market.base);
    funds.locked = round8(funds.locked - order.locked);
    funds.free = round8(funds.free + order.locked);
    order.locked = 0;
    order.status = 'CANCELED';
    order.updateTime = this.serverTime();
    return ok({
      symbol: order.symbol,
      // As on Binance: clientOrderId is the cancel request's own id; the order's is origClientOrderId.
      origClientOrderId: order.clientOrderId,
      orderId: order.orderId,
      orderListId: -1,
      clientOrderId: p.newClientOrderId ?? `cancel${randomBytes(8).toString('hex')}`,
      transactTime: order.updateTime,
      price: fmt(order.price),
      origQty: fmt(order.origQty),
      executedQty: fmt(order.executedQty),
      origQuoteOrderQty: '0.00000000',
      cummulativeQuoteQty: fmt(order.cummulativeQuoteQty),
      status: order.status,
      timeInForce: 'GTC',
      type: order.type,
      side: order.side,
      selfTradePreventionMode: 'EXPIRE_MAKER',
    });
  }

  #openOrders(account: Account, p: Record<string, string>): Reply {
    if (p.symbol !== undefined && !this.#markets.has(p.symbol)) return err(400, -1121, 'Invalid symbol.');
    return ok(account.orders.filter((o) => isOpen(o) && (p.symbol === undefined || o.symbol === p.symbol)).map(orderJson));
  }

  #allOrders(account: Account, p: Record<string, string>): Reply {
    if (p.symbol === undefined) return err(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    if (!this.#markets.has(p.symbol)) return err(400, -1121, 'Invalid symbol.');
    const limit = Math.min(Number(p.limit ?? 500), 1000);
    const start = p.startTime ? Number(p.startTime) : -Infinity;
    const end = p.endTime ? Number(p.endTime) : Infinity;
    const fromId = p.orderId ? Number(p.orderId) : -Infinity;
    const rows = account.orders.filter((o) => o.symbol === p.symbol && o.orderId >= fromId && o.time >= start && o.time <= end);
    return ok((start === -Infinity && fromId === -Infinity ? rows.slice(-limit) : rows.slice(0, limit)).map(orderJson));
  }

  #myTrades(account: Account, p: Record<string, string>): Reply {
    if (p.symbol === undefined) return err(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    if (!this.#markets.has(p.symbol)) return err(400, -1121, 'Invalid symbol.');
    const limit = Math.min(Number(p.limit ?? 500), 1000);
    const start = p.startTime ? Number(p.startTime) : undefined;
    const end = p.endTime ? Number(p.endTime) : undefined;
    if (start !== undefined && end !== undefined && end - start > DAY_MS) return err(400, -1127, 'More than 24 hours between startTime and endTime.');
    const fromId = p.fromId ? Number(p.fromId) : undefined;
    if (fromId !== undefined && (start !== undefined || end !== undefined)) return err(400, -1128, 'Combination of optional parameters invalid.');
    const rows = account.trades.filter(
      (t) =>
        t.symbol === p.symbol &&
        (p.orderId === undefined || t.orderId === Number(p.orderId)) &&
        (fromId === undefined || t.id >= fromId) &&
        (start === undefined || t.time >= start) &&
        (end === undefined || t.time <= end),
    );
    // From a start (time or id): the oldest first; otherwise the most recent ones.
    const page = start !== undefined || fromId !== undefined ? rows.slice(0, limit) : rows.slice(-limit);
    return ok(
      page.map((t) => ({
        symbol: t.symbol,
        id: t.id,
        orderId: t.orderId,
        orderListId: -1,
        price: fmt(t.price),
        qty: fmt(t.qty),
        quoteQty: fmt(t.quoteQty),
        commission: fmt(t.commission),
        commissionAsset: t.commissionAsset,
        time: t.time,
        isBuyer: t.isBuyer,
        isMaker: t.isMaker,
        isBestMatch: true,
      })),
    );
  }

  #accountInfo(account: Account, p: Record<string, string>): Reply {
    const omitZero = p.omitZeroBalances === 'true';
    return ok({
      makerCommission: 10,
      takerCommission: 10,
      buyerCommission: 0,
      sellerCommission: 0,
      commissionRates: { maker: '0.00100000', taker: '0.00100000', buyer: '0.00000000', seller: '0.00000000' },
      canTrade: account.canTrade,
      canWithdraw: account.canWithdraw,
      canDeposit: true,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: this.serverTime(),
      accountType: 'SPOT',
      balances: [...account.balances]
        .filter(([, b]) => !omitZero || b.free !== 0 || b.locked !== 0)
        .map(([asset, b]) => ({ asset, free: fmt(b.free), locked: fmt(b.locked) })),
      permissions: ['SPOT'],
      uid: 354_937_868,
    });
  }

  #apiRestrictions(account: Account) {
    return {
      ipRestrict: false,
      createTime: account.createTime,
      enableReading: true,
      enableWithdrawals: account.canWithdraw,
      enableInternalTransfer: false,
      enableMargin: false,
      enableFutures: false,
      permitsUniversalTransfer: false,
      enableVanillaOptions: false,
      enableFixApiTrade: false,
      enableFixReadOnly: false,
      enableSpotAndMarginTrading: account.canTrade,
      enablePortfolioMarginTrading: false,
    };
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const text = typeof reply.body === 'string';
  res.writeHead(reply.status, { 'content-type': text ? 'text/html' : 'application/json', ...reply.headers });
  res.end(text ? (reply.body as string) : JSON.stringify(reply.body ?? {}));
}

function isOpen(order: SimOrder): boolean {
  return order.status === 'NEW' || order.status === 'PARTIALLY_FILLED';
}

function balanceOf(account: Account, asset: string): { free: number; locked: number } {
  let balance = account.balances.get(asset);
  if (!balance) account.balances.set(asset, (balance = { free: 0, locked: 0 }));
  return balance;
}

function orderView(o: SimOrder): BinanceSimOrder {
  return {
    orderId: o.orderId,
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    price: o.price,
    origQty: o.origQty,
    executedQty: o.executedQty,
    cummulativeQuoteQty: o.cummulativeQuoteQty,
    status: o.status,
    time: o.time,
    updateTime: o.updateTime,
  };
}

/** An order as GET /api/v3/order and openOrders render it. */
function orderJson(o: SimOrder) {
  return {
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    price: fmt(o.price),
    origQty: fmt(o.origQty),
    executedQty: fmt(o.executedQty),
    cummulativeQuoteQty: fmt(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: 'GTC',
    type: o.type,
    side: o.side,
    stopPrice: '0.00000000',
    icebergQty: '0.00000000',
    time: o.time,
    updateTime: o.updateTime,
    isWorking: true,
    workingTime: o.time,
    origQuoteOrderQty: '0.00000000',
    selfTradePreventionMode: 'EXPIRE_MAKER',
  };
}
