// The execution venue port: what a paper or live run needs from an exchange account. The ccxt
// adapter (live) and the simulated exchange (paper) implement it; nothing above this port knows
// which one it talks to. Errors cross this boundary only as VenueError, already grouped by what
// the caller does next.
import type { OrderType, Side } from '../engine/types.ts';
import type { CandleView } from '../market-data/candles.ts';

/** An exchange's trading rules for one market (exchangeInfo filters on Binance). */
export interface MarketRules {
  /** Unified symbol, e.g. BTC/USDT. */
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly minQty: number;
  readonly minNotional: number;
}

export type VenueOrderStatus = 'open' | 'filled' | 'canceled' | 'rejected' | 'expired';

export interface VenueOrder {
  readonly clientOrderId: string;
  readonly exchangeOrderId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly type: OrderType;
  /** Limit price; for market orders the average fill price once known, else 0. */
  readonly price: number;
  readonly qty: number;
  readonly filledQty: number;
  readonly status: VenueOrderStatus;
  /** Exchange time of the last change (ms). */
  readonly updatedAt: number;
}

/** One of our own executions, as the exchange reports it. */
export interface VenueTrade {
  readonly tradeId: string;
  readonly exchangeOrderId: string;
  /** Null when the exchange does not report it on trades (then match by exchangeOrderId). */
  readonly clientOrderId: string | null;
  readonly symbol: string;
  readonly side: Side;
  readonly price: number;
  readonly qty: number;
  /** Fee converted to the quote currency where the exchange charged it in another asset at a known price; else as charged. */
  readonly fee: number;
  readonly feeCurrency: string;
  readonly liquidity: 'maker' | 'taker';
  readonly time: number;
}

export interface OrderRequest {
  /** Deterministic per (run, leg, attempt): a resent order is recognised as a duplicate. */
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly type: OrderType;
  /** Limit price, already rounded to the tick; ignored for market orders. */
  readonly price: number;
  /** Base quantity, already rounded to the lot. */
  readonly qty: number;
}

export interface Balances {
  /** Per asset: free and total (free + locked in orders). */
  readonly free: Readonly<Record<string, number>>;
  readonly total: Readonly<Record<string, number>>;
}

export interface KeyPermissions {
  readonly canTrade: boolean | null;
  /** Null when the exchange does not say (then the key is accepted with a warning). */
  readonly canWithdraw: boolean | null;
}

export interface Ticker {
  readonly last: number;
  /** Exchange time of the quote (ms). */
  readonly time: number;
}

/** Whether a venue that trades in sessions (a stock market) is open, and when that changes. */
export interface MarketSession {
  readonly open: boolean;
  /** When the current state began (ms); when that is not known, when it was first seen. */
  readonly since: number;
  /** The next open (ms): when a closed market opens, or the one after the current session. */
  readonly opensAt: number;
  /** The next close (ms). */
  readonly closesAt: number;
}

export interface ExchangeVenue {
  /** ccxt exchange id (binance, …), "alpaca", or "paper". */
  readonly exchangeId: string;
  market(symbol: string): Promise<MarketRules>;
  fetchTicker(symbol: string): Promise<Ticker>;
  fetchBalance(): Promise<Balances>;
  keyPermissions(): Promise<KeyPermissions>;
  placeOrder(request: OrderRequest): Promise<VenueOrder>;
  /** Null when the exchange does not know the order (never placed, or already gone). */
  cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null>;
  /** Null when the exchange does not know the order. */
  fetchOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null>;
  fetchOpenOrders(symbol: string): Promise<VenueOrder[]>;
  /** Our own trades at or after `since` (ms), oldest first. */
  fetchMyTrades(symbol: string, since: number): Promise<VenueTrade[]>;
  /**
   * A closed candle of a market this account trades. A simulated exchange matches its resting
   * orders against it; a real exchange has no use for it.
   */
  observe?(symbol: string, candle: Readonly<CandleView>): void;
  /**
   * Venues that trade in sessions (equities) only: the market's session now. While it is closed
   * no order is placed (placeOrder refuses with reason `market_closed`); 24/7 venues omit it.
   */
  marketSession?(): Promise<MarketSession>;
  close(): Promise<void>;
}

/**
 * What the caller does next:
 *  - temporary: retry with backoff (network blip, 5xx on a read, clock skew after a resync);
 *  - rate_limited: wait `retryAfterMs`, then retry; banned: the same, and alert (HTTP 418);
 *  - rejected: the exchange refused this order for good (`reason`); drop it and tell the user;
 *  - authentication: the keys are wrong or lack a permission; stop live runs on them;
 *  - unknown_outcome: an order call failed in a way that leaves its fate unknown (5xx or
 *    timeout): reconcile by client order id, never send it blindly again.
 */
export type VenueFailureKind = 'temporary' | 'rate_limited' | 'banned' | 'rejected' | 'authentication' | 'unknown_outcome';

export type RejectionReason =
  | 'insufficient_funds'
  | 'invalid_order'
  | 'duplicate_order'
  | 'bad_symbol'
  | 'market_closed'
  | 'other';

export class VenueError extends Error {
  constructor(
    readonly kind: VenueFailureKind,
    message: string,
    readonly details: {
      readonly exchangeId: string;
      readonly reason?: RejectionReason;
      /** For rate_limited and banned: how long to stay away (from Retry-After when given). */
      readonly retryAfterMs?: number;
      readonly cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'VenueError';
  }

  get reason(): RejectionReason | undefined {
    return this.details.reason;
  }

  get retryAfterMs(): number | undefined {
    return this.details.retryAfterMs;
  }
}

export const isVenueError = (error: unknown): error is VenueError => error instanceof VenueError;
