// An Alpaca-protocol server on 127.0.0.1 for the real Alpaca SDK: the Trading API endpoints the
// equities venue calls (account, clock, assets, positions, orders, FILL activities) and the
// Market Data API's stock bars and latest trade/quote, on one port (point both ALPACA_API_URL
// and ALPACA_DATA_URL at `baseUrl`).
//
// Wire behaviour follows Alpaca's REST API: every call carries `APCA-API-KEY-ID` and
// `APCA-API-SECRET-KEY` (401 without a known key, 403 "forbidden" with a wrong secret); errors
// are `{ code, message }` with Alpaca's codes (40310000 insufficient buying power / qty,
// 40010001 invalid request, 40410000 not found, 42210000 not cancelable); 204 on cancel;
// timestamps RFC 3339; money and quantities as decimal strings.
//
// Market model (simplifications, on purpose):
//  - the market is open during the sessions the test sets (`setSessions`, or `setMarketOpen`
//    for an open/closed switch with explicit next open/close); `/v2/clock` reports them at the
//    sim's time (`now`, injectable so a test clock drives bars and hours alike);
//  - each symbol has bars per timeframe (`addBars`); a bar is served once its open time has
//    come. The price is the last served bar's close unless `setPrice` set one;
//  - orders are accepted while the market is closed and wait for the open ('accepted'), as
//    Alpaca does for day orders (`rejectOrdersWhileClosed` makes it refuse them instead). While
//    open, market orders and marketable limits fill at once, whole, at the price; resting limits
//    fill at their limit when `setPrice` reaches them. No fees (stock trades are commission-free).
//  - a cash account: buys need cash not already held by open buy orders; sells need shares not
//    held by open sells.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CandleView } from '../../src/market-data/candles.ts';
import { FaultQueue, type SimFault } from './fault-queue.ts';

export interface AlpacaSimAsset {
  readonly symbol: string;
  readonly fractionable?: boolean;
  readonly tradable?: boolean;
  readonly status?: 'active' | 'inactive';
  /** As Alpaca reports them (strings on the wire); absent for most US equities. */
  readonly minOrderSize?: string;
  readonly minTradeIncrement?: string;
  readonly priceIncrement?: string;
}

export interface AlpacaSimAccountSpec {
  readonly keyId: string;
  readonly secret: string;
  readonly cash: number;
  readonly positions?: Readonly<Record<string, number>>;
  readonly status?: string;
  readonly tradingBlocked?: boolean;
}

export interface AlpacaSimCall {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  /** JSON body (POST), parsed. */
  readonly body: Record<string, unknown> | null;
  /** The key id the call carried, if any. */
  readonly keyId: string | null;
  readonly fault?: 'respond' | 'hang' | 'apply-then-respond' | 'apply-then-hang';
}

export type AlpacaSimFault = SimFault;

export interface AlpacaSimOrder {
  readonly id: string;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly type: 'market' | 'limit';
  readonly timeInForce: string;
  readonly qty: number;
  readonly limitPrice: number | null;
  readonly filledQty: number;
  readonly filledAvgPrice: number | null;
  readonly status: OrderStatus;
  readonly submittedAt: number;
}

type OrderStatus = 'accepted' | 'new' | 'filled' | 'canceled';

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

interface AssetState {
  readonly id: string;
  readonly spec: AlpacaSimAsset;
  /** Bars by Alpaca timeframe (1Min, 5Min, 1Day…), oldest first. */
  readonly bars: Map<string, CandleView[]>;
  price: number | null;
}

interface Account {
  readonly id: string;
  readonly keyId: string;
  readonly secret: string;
  cash: number;
  readonly positions: Map<string, number>;
  readonly status: string;
  readonly tradingBlocked: boolean;
  readonly createdAt: number;
  readonly orders: SimOrder[];
  readonly fills: SimFill[];
}

interface SimOrder {
  readonly id: string;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly assetId: string;
  readonly side: 'buy' | 'sell';
  readonly type: 'market' | 'limit';
  readonly timeInForce: string;
  readonly qty: number;
  readonly limitPrice: number | null;
  readonly createdAt: number;
  updatedAt: number;
  filledQty: number;
  filledAvgPrice: number | null;
  filledAt: number | null;
  canceledAt: number | null;
  status: OrderStatus;
}

interface SimFill {
  readonly id: string;
  readonly orderId: string;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly price: number;
  readonly qty: number;
  readonly time: number;
}

interface Session {
  readonly open: number;
  readonly close: number;
}

const err = (status: number, code: number | null, message: string): Reply => ({ status, body: code === null ? { message } : { code, message } });
const ok = (body: unknown): Reply => ({ status: 200, body });
const round9 = (x: number): number => Math.round(x * 1e9) / 1e9;
const dec = (x: number): string => String(round9(x));
const iso = (ms: number): string => new Date(ms).toISOString();
const DECIMAL = /^\d+(\.\d+)?$/;
const TIMEFRAME = /^([1-9]\d*)(Min|T|Hour|H|Day|D|Week|W|Month|M)$/;

export class AlpacaSim {
  readonly calls: AlpacaSimCall[] = [];
  /** Refuse orders while the market is closed (422) instead of queueing them for the open. */
  rejectOrdersWhileClosed = false;
  /** Key pairs that may read market data without an account (the service's data key). */
  readonly #dataKeys = new Map<string, string>();
  #server!: Server;
  readonly #now: () => number;
  readonly #assets = new Map<string, AssetState>();
  readonly #accounts = new Map<string, Account>();
  readonly #faults = new FaultQueue<AlpacaSimFault>();
  readonly #hanging = new Set<ServerResponse>();
  #sessions: Session[] = [];
  /** setMarketOpen's explicit answer, which wins over the sessions while set. */
  #clockOverride: { isOpen: boolean; nextOpen: number; nextClose: number } | null = null;

  private constructor(options: { now?: () => number; assets: readonly AlpacaSimAsset[] }) {
    this.#now = options.now ?? Date.now;
    for (const spec of options.assets) this.#assets.set(spec.symbol, { id: randomUUID(), spec, bars: new Map(), price: null });
  }

  static async start(options: { now?: () => number; assets: readonly AlpacaSimAsset[] }): Promise<AlpacaSim> {
    const sim = new AlpacaSim(options);
    sim.#server = createServer((req, res) => sim.#receive(req, res));
    await new Promise<void>((resolve) => sim.#server.listen(0, '127.0.0.1', resolve));
    return sim;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  now(): number {
    return this.#now();
  }

  callsTo(method: string, path: string | RegExp): AlpacaSimCall[] {
    return this.calls.filter((c) => c.method === method && (typeof path === 'string' ? c.path === path : path.test(c.path)));
  }

  // ---- fault injection --------------------------------------------------------------------
  // Keys are "METHOD /path" (e.g. "POST /v2/orders") or a bare path (every method); faults queue
  // per key and are consumed one per request, the method-specific queue first.

  /** Answer the next `times` requests to `key` with this status, body and headers. */
  failNext(key: string, status: number, body: unknown = { code: 42910000, message: 'rate limit exceeded' }, times = 1, headers?: Record<string, string>): void {
    for (let i = 0; i < times; i++) this.#faults.push(key, { kind: 'respond', fault: { status, body, headers } });
  }

  /** Never answer the next `times` requests to `key`: the client times out. */
  hangNext(key: string, times = 1): void {
    for (let i = 0; i < times; i++) this.#faults.push(key, { kind: 'hang' });
  }

  /** Process the next request to `key` for real (an order IS placed), then answer with this status or never. */
  applyThenFailNext(key: string, status: number | 'hang', body?: unknown): void {
    const then = status === 'hang' ? 'hang' : { status, body: body ?? `<html><body><h1>${status} Bad Gateway</h1></body></html>` };
    this.#faults.push(key, { kind: 'apply-then', then });
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  // ---- set-up and introspection -----------------------------------------------------------

  addAccount(spec: AlpacaSimAccountSpec): void {
    this.#accounts.set(spec.keyId, {
      id: randomUUID(),
      keyId: spec.keyId,
      secret: spec.secret,
      cash: spec.cash,
      positions: new Map(Object.entries(spec.positions ?? {})),
      status: spec.status ?? 'ACTIVE',
      tradingBlocked: spec.tradingBlocked ?? false,
      createdAt: this.now(),
      orders: [],
      fills: [],
    });
  }

  /** A key pair that may read market data, asset rules and the clock, but has no account to trade. */
  addDataKey(keyId: string, secret: string): void {
    this.#dataKeys.set(keyId, secret);
  }

  /** Bars of one symbol at one Alpaca timeframe (1Min, 5Min, 1Hour, 1Day…), any order. */
  addBars(symbol: string, timeframe: string, bars: readonly CandleView[]): void {
    const asset = this.#asset(symbol);
    const list = [...(asset.bars.get(timeframe) ?? []), ...bars].sort((a, b) => a.time - b.time);
    asset.bars.set(timeframe, list);
  }

  /** Moves the price; resting limits it reaches fill at their limit (while the market is open). */
  setPrice(symbol: string, price: number): void {
    this.#asset(symbol).price = price;
    this.#settle();
  }

  /** The current price: set by setPrice, else the close of the newest bar served so far. */
  price(symbol: string): number | null {
    const asset = this.#asset(symbol);
    if (asset.price !== null) return asset.price;
    const now = this.now();
    let best: CandleView | null = null;
    for (const bars of asset.bars.values()) for (const bar of bars) if (bar.time <= now && (!best || bar.time >= best.time)) best = bar;
    return best?.close ?? null;
  }

  /** Regular sessions: the market is open from `open` (inclusive) to `close` (exclusive). */
  setSessions(sessions: readonly Session[]): void {
    this.#sessions = [...sessions].sort((a, b) => a.open - b.open);
    this.#clockOverride = null;
    this.#settle();
  }

  /** Open or closed now, whatever the sessions say, with these next open and close times. */
  setMarketOpen(isOpen: boolean, next: { nextOpen: number; nextClose: number }): void {
    this.#clockOverride = { isOpen, ...next };
    this.#settle();
  }

  isOpen(): boolean {
    return this.#clock().isOpen;
  }

  orders(keyId: string): AlpacaSimOrder[] {
    return this.#account(keyId).orders.map((o) => ({
      id: o.id,
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      type: o.type,
      timeInForce: o.timeInForce,
      qty: o.qty,
      limitPrice: o.limitPrice,
      filledQty: o.filledQty,
      filledAvgPrice: o.filledAvgPrice,
      status: o.status,
      submittedAt: o.createdAt,
    }));
  }

  cash(keyId: string): number {
    return round9(this.#account(keyId).cash);
  }

  position(keyId: string, symbol: string): number {
    return round9(this.#account(keyId).positions.get(symbol) ?? 0);
  }

  close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #asset(symbol: string): AssetState {
    const asset = this.#assets.get(symbol.split('/')[0]!);
    if (!asset) throw new Error(`the simulator has no asset ${symbol}`);
    return asset;
  }

  #account(keyId: string): Account {
    const account = this.#accounts.get(keyId);
    if (!account) throw new Error(`no simulated account with key ${keyId}`);
    return account;
  }

  #clock(): { isOpen: boolean; nextOpen: number; nextClose: number } {
    if (this.#clockOverride) return this.#clockOverride;
    const now = this.now();
    const current = this.#sessions.find((s) => s.open <= now && now < s.close);
    const upcoming = this.#sessions.find((s) => s.open > now);
    const far = now + 365 * 86_400_000;
    if (current) return { isOpen: true, nextOpen: upcoming?.open ?? far, nextClose: current.close };
    return { isOpen: false, nextOpen: upcoming?.open ?? far, nextClose: upcoming?.close ?? far };
  }

  // ---- order matching ---------------------------------------------------------------------

  /** Fills what the market allows now: queued orders once it is open, limits the price reached. */
  #settle(): void {
    if (!this.#clock().isOpen) return;
    for (const account of this.#accounts.values()) {
      for (const order of account.orders) {
        if (order.status !== 'accepted' && order.status !== 'new') continue;
        const price = this.price(order.symbol);
        if (price === null) continue;
        if (order.type === 'market') this.#fill(account, order, price);
        else if (order.side === 'buy' ? price <= order.limitPrice! : price >= order.limitPrice!) {
          // Marketable on arrival: at the price; reached later by the price: at the limit.
          this.#fill(account, order, order.status === 'accepted' ? price : order.limitPrice!);
        } else if (order.status === 'accepted') {
          order.status = 'new';
          order.updatedAt = this.now();
        }
      }
    }
  }

  #fill(account: Account, order: SimOrder, price: number): void {
    const qty = round9(order.qty - order.filledQty);
    const now = this.now();
    if (order.side === 'buy') {
      account.cash = round9(account.cash - qty * price);
      account.positions.set(order.symbol, round9((account.positions.get(order.symbol) ?? 0) + qty));
    } else {
      account.cash = round9(account.cash + qty * price);
      account.positions.set(order.symbol, round9((account.positions.get(order.symbol) ?? 0) - qty));
    }
    order.filledQty = order.qty;
    order.filledAvgPrice = price;
    order.filledAt = now;
    order.updatedAt = now;
    order.status = 'filled';
    // Activity ids sort by time, as Alpaca's do ("<yyyymmddhhmmssmmm>::<uuid>").
    const stamp = iso(now).replace(/\D/g, '').slice(0, 17);
    account.fills.push({ id: `${stamp}::${randomUUID()}`, orderId: order.id, symbol: order.symbol, side: order.side, price, qty, time: now });
  }

  /** Cash held by open buys (at the limit, or the price for market orders); shares held by open sells. */
  #held(account: Account, side: 'buy' | 'sell', symbol?: string): number {
    let held = 0;
    for (const o of account.orders) {
      if ((o.status !== 'accepted' && o.status !== 'new') || o.side !== side || (symbol !== undefined && o.symbol !== symbol)) continue;
      const left = o.qty - o.filledQty;
      held += side === 'buy' ? left * (o.limitPrice ?? this.price(o.symbol) ?? 0) : left;
    }
    return round9(held);
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
    const path = decodeURIComponent(url.pathname);
    const query = Object.fromEntries(url.searchParams);
    let body: Record<string, unknown> | null = null;
    if (rawBody.trim() !== '') {
      try {
        body = JSON.parse(rawBody) as Record<string, unknown>;
      } catch {
        return send(res, err(400, 40010000, 'request body format is invalid'));
      }
    }
    const keyHeader = req.headers['apca-api-key-id'];
    const keyId = typeof keyHeader === 'string' ? keyHeader : null;
    const fault = this.#faults.take(method, path);
    const faultName = !fault ? undefined : fault.kind === 'apply-then' ? (fault.then === 'hang' ? 'apply-then-hang' : 'apply-then-respond') : fault.kind;
    this.calls.push({ method, path, query, body, keyId, ...(faultName ? { fault: faultName } : {}) });

    if (fault?.kind === 'hang') return this.#hang(res);
    if (fault?.kind === 'respond') return send(res, { status: fault.fault.status, body: fault.fault.body, headers: fault.fault.headers });

    let reply: Reply;
    try {
      this.#settle();
      reply = this.#route(method, path, query, body, req);
    } catch (error) {
      reply = err(500, 50010000, `simulator error: ${(error as Error).message}`);
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

  /** Alpaca's key check: both headers, a known key, its secret. Data keys may read data and the clock. */
  #authenticate(req: IncomingMessage, dataOnly: boolean): { readonly account: Account | null } | { readonly refused: Reply } {
    const keyId = req.headers['apca-api-key-id'];
    const secret = req.headers['apca-api-secret-key'];
    if (typeof keyId !== 'string' || typeof secret !== 'string' || keyId === '' || secret === '') return { refused: err(401, 40110000, 'request is not authorized') };
    const account = this.#accounts.get(keyId);
    if (account) return account.secret === secret ? { account } : { refused: err(403, null, 'forbidden') };
    const dataSecret = this.#dataKeys.get(keyId);
    if (dataSecret === undefined) return { refused: err(401, 40110000, 'request is not authorized') };
    if (dataSecret !== secret || !dataOnly) return { refused: err(403, null, 'forbidden') };
    return { account: null };
  }

  #route(method: string, path: string, query: Record<string, string>, body: Record<string, unknown> | null, req: IncomingMessage): Reply {
    // Market data and the clock: any valid key, the service's data key included.
    const stock = /^\/v2\/stocks\/([^/]+)\/(bars|trades\/latest|quotes\/latest)$/.exec(path);
    if ((stock && method === 'GET') || (method === 'GET' && path === '/v2/clock')) {
      const auth = this.#authenticate(req, true);
      if ('refused' in auth) return auth.refused;
      if (path === '/v2/clock') return this.#clockReply();
      const [, symbol, what] = stock!;
      if (what === 'bars') return this.#bars(symbol!, query);
      return what === 'trades/latest' ? this.#latestTrade(symbol!) : this.#latestQuote(symbol!);
    }
    // Assets: any valid key too (the service key reads asset rules).
    const asset = /^\/v2\/assets\/([^/]+)$/.exec(path);
    if (method === 'GET' && asset) {
      const auth = this.#authenticate(req, true);
      return 'refused' in auth ? auth.refused : this.#assetReply(asset[1]!);
    }
    const auth = this.#authenticate(req, false);
    if ('refused' in auth) return auth.refused;
    const account = auth.account!;
    if (method === 'GET' && path === '/v2/account') return ok(this.#accountJson(account));
    if (method === 'GET' && path === '/v2/positions') return ok([...account.positions].filter(([, qty]) => qty > 0).map(([symbol, qty]) => this.#positionJson(account, symbol, qty)));
    if (method === 'POST' && path === '/v2/orders') return this.#newOrder(account, body ?? {});
    if (method === 'GET' && path === '/v2/orders') return this.#listOrders(account, query);
    if (method === 'GET' && path === '/v2/orders:by_client_order_id') {
      const order = account.orders.find((o) => o.clientOrderId === query.client_order_id);
      return order ? ok(this.#orderJson(order)) : err(404, 40410000, 'order not found');
    }
    const byId = /^\/v2\/orders\/([^/]+)$/.exec(path);
    if (byId && method === 'GET') {
      const order = account.orders.find((o) => o.id === byId[1]);
      return order ? ok(this.#orderJson(order)) : err(404, 40410000, 'order not found');
    }
    if (byId && method === 'DELETE') return this.#cancel(account, byId[1]!);
    const activities = /^\/v2\/account\/activities\/([A-Z]+)$/.exec(path);
    if (method === 'GET' && activities) return this.#activities(account, activities[1]!, query);
    return err(404, 40410000, `endpoint not found: ${method} ${path}`);
  }

  // ---- market data ------------------------------------------------------------------------

  #clockReply(): Reply {
    const c = this.#clock();
    return ok({ timestamp: iso(this.now()), is_open: c.isOpen, next_open: iso(c.nextOpen), next_close: iso(c.nextClose) });
  }

  #bars(symbol: string, q: Record<string, string>): Reply {
    const tf = q.timeframe ?? '';
    if (!TIMEFRAME.test(tf)) return err(400, 40010001, `invalid timeframe: ${tf}`);
    if (q.feed !== undefined && !['iex', 'sip', 'otc', 'boats'].includes(q.feed)) return err(400, 40010001, `invalid feed: ${q.feed}`);
    if (q.sort !== undefined && q.sort !== 'asc' && q.sort !== 'desc') return err(400, 40010001, `invalid sort: ${q.sort}`);
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return err(400, 40010001, 'invalid limit: must be between 1 and 10000');
    const parseTime = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Date.parse(v));
    const now = this.now();
    // Without a start Alpaca begins at the start of the current day.
    const start = parseTime(q.start, Math.floor(now / 86_400_000) * 86_400_000);
    const end = Math.min(parseTime(q.end, now), now);
    if (Number.isNaN(start) || Number.isNaN(end)) return err(400, 40010001, 'invalid start or end: use RFC-3339');
    const all = this.#assets.get(symbol)?.bars.get(tf) ?? [];
    let rows = all.filter((b) => b.time >= start && b.time <= end);
    if (q.sort === 'desc') rows = rows.reverse();
    const offset = q.page_token ? Number(Buffer.from(q.page_token, 'base64url').toString('utf8')) : 0;
    const page = rows.slice(offset, offset + limit);
    const next = offset + limit < rows.length ? Buffer.from(String(offset + limit), 'utf8').toString('base64url') : null;
    return ok({
      bars: page.length ? page.map((b) => ({ t: iso(b.time), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume, n: 1, vw: b.close })) : null,
      symbol,
      next_page_token: next,
    });
  }

  #latestTrade(symbol: string): Reply {
    if (!this.#assets.has(symbol)) return err(404, 40410000, `no trade found for ${symbol}`);
    const price = this.price(symbol);
    if (price === null) return err(404, 40410000, `no trade found for ${symbol}`);
    return ok({ symbol, trade: { t: iso(this.now()), x: 'V', p: price, s: 100, c: ['@'], i: 1, z: 'C' } });
  }

  #latestQuote(symbol: string): Reply {
    if (!this.#assets.has(symbol)) return err(404, 40410000, `no quote found for ${symbol}`);
    const price = this.price(symbol) ?? 0;
    return ok({ symbol, quote: { t: iso(this.now()), ax: 'V', ap: round9(price + 0.01), as: 1, bx: 'V', bp: price, bs: 1, c: ['R'], z: 'C' } });
  }

  // ---- trading ----------------------------------------------------------------------------

  #assetReply(symbol: string): Reply {
    const asset = this.#assets.get(symbol);
    if (!asset) return err(404, 40410000, 'asset not found');
    const s = asset.spec;
    return ok({
      id: asset.id,
      class: 'us_equity',
      exchange: 'NASDAQ',
      symbol: s.symbol,
      name: `${s.symbol} Inc. Common Stock`,
      status: s.status ?? 'active',
      tradable: s.tradable ?? true,
      marginable: true,
      maintenance_margin_requirement: 30,
      shortable: true,
      easy_to_borrow: true,
      fractionable: s.fractionable ?? true,
      attributes: s.fractionable === false ? [] : ['fractional_eh_enabled', 'has_options'],
      ...(s.minOrderSize ? { min_order_size: s.minOrderSize } : {}),
      ...(s.minTradeIncrement ? { min_trade_increment: s.minTradeIncrement } : {}),
      ...(s.priceIncrement ? { price_increment: s.priceIncrement } : {}),
    });
  }

  #newOrder(account: Account, b: Record<string, unknown>): Reply {
    const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
    const symbol = str(b.symbol);
    const asset = symbol ? this.#assets.get(symbol) : undefined;
    if (!symbol || !asset) return err(422, 40010001, `could not find asset "${symbol ?? ''}"`);
    if (!(asset.spec.tradable ?? true) || (asset.spec.status ?? 'active') !== 'active') return err(422, 40010001, `asset ${symbol} is not tradable`);
    const side = str(b.side);
    if (side !== 'buy' && side !== 'sell') return err(422, 40010001, 'side must be buy or sell');
    const type = str(b.type);
    if (type !== 'market' && type !== 'limit') return err(422, 40010001, `order type ${type ?? ''} is not supported here`);
    const tif = str(b.time_in_force);
    if (!tif || !['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'].includes(tif)) return err(422, 40010001, 'invalid time_in_force');
    if (b.notional !== undefined && b.notional !== null) return err(422, 40010001, 'notional orders are not supported by this simulator');
    const qtyText = str(b.qty);
    if (!qtyText || !DECIMAL.test(qtyText) || !(Number(qtyText) > 0)) return err(422, 40010001, 'qty must be > 0');
    if ((qtyText.split('.')[1]?.length ?? 0) > 9) return err(422, 40010001, 'qty must have at most 9 decimal places');
    const qty = Number(qtyText);
    const fractional = !Number.isInteger(qty);
    if (fractional && !(asset.spec.fractionable ?? true)) return err(422, 40010001, `asset ${symbol} is not fractionable`);
    if (fractional && tif !== 'day') return err(422, 40010001, 'fractional orders must be DAY orders');
    let limitPrice: number | null = null;
    if (type === 'limit') {
      const text = str(b.limit_price);
      if (!text || !DECIMAL.test(text) || !(Number(text) > 0)) return err(422, 40010001, 'limit_price is required for limit orders');
      limitPrice = Number(text);
      const decimals = text.split('.')[1]?.length ?? 0;
      if (decimals > (limitPrice >= 1 ? 2 : 4)) return err(422, 40010001, `invalid limit_price ${text}. sub-penny increment does not fulfill minimum pricing criteria`);
    }
    const clientOrderId = str(b.client_order_id) ?? randomUUID();
    if (clientOrderId.length > 128) return err(422, 40010001, 'client_order_id must be no more than 128 characters');
    if (account.orders.some((o) => o.clientOrderId === clientOrderId)) return err(422, 40010001, 'client_order_id must be unique');
    if (account.status !== 'ACTIVE' || account.tradingBlocked) return err(403, null, 'trading is not allowed for this account');
    if (!this.#clock().isOpen && this.rejectOrdersWhileClosed) return err(422, 42210000, 'market is closed');

    const price = limitPrice ?? this.price(symbol);
    if (price === null) return err(422, 40010001, `no price for ${symbol} yet`);
    if (fractional && qty * price < 1) return err(422, 40010001, 'cost basis must be >= 1');
    if (side === 'buy') {
      const buyingPower = round9(account.cash - this.#held(account, 'buy'));
      if (qty * price > buyingPower + 1e-9) return err(403, 40310000, 'insufficient buying power');
    } else {
      const available = round9((account.positions.get(symbol) ?? 0) - this.#held(account, 'sell', symbol));
      if (qty > available + 1e-9) return err(403, 40310000, `insufficient qty available for order (requested: ${qtyText}, available: ${dec(available)})`);
    }
    const now = this.now();
    const order: SimOrder = {
      id: randomUUID(),
      clientOrderId,
      symbol,
      assetId: asset.id,
      side,
      type,
      timeInForce: tif,
      qty,
      limitPrice,
      createdAt: now,
      updatedAt: now,
      filledQty: 0,
      filledAvgPrice: null,
      filledAt: null,
      canceledAt: null,
      status: 'accepted',
    };
    account.orders.push(order);
    this.#settle();
    return ok(this.#orderJson(order));
  }

  #cancel(account: Account, id: string): Reply {
    const order = account.orders.find((o) => o.id === id);
    if (!order) return err(404, 40410000, 'order not found');
    if (order.status !== 'accepted' && order.status !== 'new') return err(422, 42210000, `order is not cancelable (status: ${order.status})`);
    const now = this.now();
    order.status = 'canceled';
    order.canceledAt = now;
    order.updatedAt = now;
    return { status: 204, body: null };
  }

  #listOrders(account: Account, q: Record<string, string>): Reply {
    const status = q.status ?? 'open';
    if (!['open', 'closed', 'all'].includes(status)) return err(422, 40010001, `invalid status: ${status}`);
    const symbols = q.symbols ? new Set(q.symbols.split(',')) : null;
    const limit = Math.min(Number(q.limit ?? 50), 500);
    let orders = account.orders.filter((o) => {
      const open = o.status === 'accepted' || o.status === 'new';
      return (status === 'all' || (status === 'open') === open) && (!symbols || symbols.has(o.symbol));
    });
    orders = q.direction === 'asc' ? orders : [...orders].reverse();
    return ok(orders.slice(0, limit).map((o) => this.#orderJson(o)));
  }

  #activities(account: Account, type: string, q: Record<string, string>): Reply {
    if (type !== 'FILL') return ok([]);
    const pageSize = q.page_size === undefined ? 100 : Number(q.page_size);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) return err(422, 40010001, 'page_size must be between 1 and 100');
    const after = q.after ? Date.parse(q.after) : -Infinity;
    const until = q.until ? Date.parse(q.until) : Infinity;
    let fills = account.fills.filter((f) => f.time > after && f.time < until);
    const asc = q.direction === 'asc';
    fills = asc ? fills : [...fills].reverse();
    // page_token: the id of the last activity of the previous page.
    if (q.page_token) {
      const i = fills.findIndex((f) => f.id === q.page_token);
      fills = i >= 0 ? fills.slice(i + 1) : [];
    }
    return ok(
      fills.slice(0, pageSize).map((f) => ({
        id: f.id,
        activity_type: 'FILL',
        transaction_time: iso(f.time),
        type: 'fill',
        price: dec(f.price),
        qty: dec(f.qty),
        side: f.side,
        symbol: f.symbol,
        leaves_qty: '0',
        order_id: f.orderId,
        cum_qty: dec(f.qty),
        order_status: 'filled',
      })),
    );
  }

  #accountJson(a: Account) {
    const buyingPower = dec(Math.max(0, a.cash - this.#held(a, 'buy')));
    let longValue = 0;
    for (const [symbol, qty] of a.positions) longValue += qty * (this.price(symbol) ?? 0);
    return {
      id: a.id,
      account_number: `PA${a.id.replace(/-/g, '').slice(0, 10).toUpperCase()}`,
      status: a.status,
      crypto_status: 'ACTIVE',
      currency: 'USD',
      cash: dec(a.cash),
      buying_power: buyingPower,
      regt_buying_power: buyingPower,
      daytrading_buying_power: '0',
      non_marginable_buying_power: buyingPower,
      effective_buying_power: buyingPower,
      portfolio_value: dec(a.cash + longValue),
      equity: dec(a.cash + longValue),
      last_equity: dec(a.cash + longValue),
      long_market_value: dec(longValue),
      short_market_value: '0',
      initial_margin: '0',
      maintenance_margin: '0',
      last_maintenance_margin: '0',
      sma: '0',
      daytrade_count: 0,
      multiplier: '1',
      pattern_day_trader: false,
      trading_blocked: a.tradingBlocked,
      transfers_blocked: false,
      account_blocked: false,
      trade_suspended_by_user: false,
      shorting_enabled: false,
      created_at: iso(a.createdAt),
      balance_asof: iso(this.now()).slice(0, 10),
    };
  }

  #positionJson(a: Account, symbol: string, qty: number) {
    const price = this.price(symbol) ?? 0;
    const available = round9(qty - this.#held(a, 'sell', symbol));
    return {
      asset_id: this.#assets.get(symbol)?.id ?? randomUUID(),
      symbol,
      exchange: 'NASDAQ',
      asset_class: 'us_equity',
      asset_marginable: true,
      qty: dec(qty),
      qty_available: dec(available),
      avg_entry_price: dec(price),
      side: 'long',
      market_value: dec(qty * price),
      cost_basis: dec(qty * price),
      unrealized_pl: '0',
      unrealized_plpc: '0',
      unrealized_intraday_pl: '0',
      unrealized_intraday_plpc: '0',
      current_price: dec(price),
      lastday_price: dec(price),
      change_today: '0',
    };
  }

  #orderJson(o: SimOrder) {
    return {
      id: o.id,
      client_order_id: o.clientOrderId,
      created_at: iso(o.createdAt),
      updated_at: iso(o.updatedAt),
      submitted_at: iso(o.createdAt),
      filled_at: o.filledAt === null ? null : iso(o.filledAt),
      expired_at: null,
      canceled_at: o.canceledAt === null ? null : iso(o.canceledAt),
      failed_at: null,
      replaced_at: null,
      replaced_by: null,
      replaces: null,
      asset_id: o.assetId,
      symbol: o.symbol,
      asset_class: 'us_equity',
      notional: null,
      qty: dec(o.qty),
      filled_qty: dec(o.filledQty),
      filled_avg_price: o.filledAvgPrice === null ? null : dec(o.filledAvgPrice),
      order_class: '',
      order_type: o.type,
      type: o.type,
      side: o.side,
      position_intent: o.side === 'buy' ? 'buy_to_open' : 'sell_to_close',
      time_in_force: o.timeInForce,
      limit_price: o.limitPrice === null ? null : dec(o.limitPrice),
      stop_price: null,
      status: o.status,
      extended_hours: false,
      legs: null,
      trail_percent: null,
      trail_price: null,
      hwm: null,
    };
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.status === 204) {
    res.writeHead(204, { ...reply.headers });
    res.end();
    return;
  }
  const text = typeof reply.body === 'string';
  res.writeHead(reply.status, { 'content-type': text ? 'text/html' : 'application/json', ...reply.headers });
  res.end(text ? (reply.body as string) : JSON.stringify(reply.body ?? {}));
}
