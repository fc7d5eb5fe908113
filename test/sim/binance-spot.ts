// A Binance-spot-protocol server on 127.0.0.1 for the real ccxt client: market metadata
// (exchangeInfo) and candles (klines) served from real candle columns. The execution issue
// extends it with signed order endpoints.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CandleSeries } from '../../src/market-data/candles.ts';

const INTERVALS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1d': 86_400_000 };

export interface BinanceSimMarket {
  readonly base: string;
  readonly quote: string;
  readonly candles: CandleSeries;
}

export interface BinanceSimCall {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
}

export class BinanceSpotSim {
  readonly calls: BinanceSimCall[] = [];
  #server!: Server;
  /** Answer the next N requests to a path with this HTTP status (fault injection). */
  readonly #faults = new Map<string, { status: number; body: unknown; times: number }>();

  private constructor(private readonly markets: ReadonlyMap<string, BinanceSimMarket>) {}

  static async start(markets: readonly BinanceSimMarket[]): Promise<BinanceSpotSim> {
    const sim = new BinanceSpotSim(new Map(markets.map((m) => [`${m.base}${m.quote}`, m])));
    sim.#server = createServer((req, res) => sim.#handle(req, res));
    await new Promise<void>((resolve) => sim.#server.listen(0, '127.0.0.1', resolve));
    return sim;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  callsTo(path: string): BinanceSimCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  failNext(path: string, status: number, body: unknown = { code: -1003, msg: 'Too many requests.' }, times = 1): void {
    this.#faults.set(path, { status, body, times });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const query = Object.fromEntries(url.searchParams);
    this.calls.push({ method: req.method ?? 'GET', path: url.pathname, query });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fault = this.#faults.get(url.pathname);
    if (fault && fault.times > 0) {
      fault.times--;
      return send(fault.status, fault.body);
    }
    if (url.pathname === '/api/v3/ping') return send(200, {});
    if (url.pathname === '/api/v3/time') return send(200, { serverTime: Date.now() });
    if (url.pathname === '/api/v3/exchangeInfo') return send(200, this.#exchangeInfo());
    if (url.pathname === '/api/v3/klines') return this.#klines(query, send);
    send(404, { code: -1, msg: `simulator has no ${req.method} ${url.pathname}` });
  }

  #exchangeInfo() {
    return {
      timezone: 'UTC',
      serverTime: Date.now(),
      rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 }],
      exchangeFilters: [],
      symbols: [...this.markets.entries()].map(([symbol, m]) => ({
        symbol,
        status: 'TRADING',
        baseAsset: m.base,
        baseAssetPrecision: 8,
        quoteAsset: m.quote,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
        icebergAllowed: true,
        ocoAllowed: true,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [
          { filterType: 'PRICE_FILTER', minPrice: '0.01000000', maxPrice: '1000000.00000000', tickSize: '0.01000000' },
          { filterType: 'LOT_SIZE', minQty: '0.00001000', maxQty: '9000.00000000', stepSize: '0.00001000' },
          { filterType: 'NOTIONAL', minNotional: '5.00000000', applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5 },
        ],
        permissions: ['SPOT'],
        permissionSets: [['SPOT']],
        defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
        allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
      })),
    };
  }

  #klines(query: Record<string, string>, send: (status: number, body: unknown) => void): void {
    const market = this.markets.get(query.symbol ?? '');
    if (!market) return send(400, { code: -1121, msg: 'Invalid symbol.' });
    const tf = INTERVALS[query.interval ?? ''];
    if (!tf || tf !== market.candles.timeframeMs) return send(400, { code: -1120, msg: 'Invalid interval.' });
    const limit = Math.min(Number(query.limit ?? 500), 1000);
    const start = query.startTime ? Number(query.startTime) : -Infinity;
    const end = query.endTime ? Number(query.endTime) : Infinity;
    const c = market.candles;
    const rows: unknown[] = [];
    for (let i = 0; i < c.length && rows.length < limit; i++) {
      const t = c.time[i]!;
      if (t < start || t > end) continue;
      rows.push([t, String(c.open[i]), String(c.high[i]), String(c.low[i]), String(c.close[i]), String(c.volume[i]), t + tf - 1, '0', 0, '0', '0', '0']);
    }
    send(200, rows);
  }
}
