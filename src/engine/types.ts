// The contract between strategies, the runner and venues. Strategies are pure: they read the
// context the runner hands them and return order intents; they never do I/O or read a clock.
// Hot-path note: the context, candle view and position view are single objects the runner
// overwrites every step, and a strategy with nothing to do returns the shared NO_INTENTS, so a
// quiet candle allocates nothing.
import type { CandleView } from '../market-data/candles.ts';
import type { RegimeCode } from './regime-codes.ts';

export type Side = 'buy' | 'sell';
export type OrderType = 'limit' | 'market';

/** Strategies name their order legs ("base", "so3", "tp", "grid-buy-7"); a tag is unique among open orders. */
export type LegTag = string;

export interface PlaceIntent {
  readonly kind: 'place';
  readonly tag: LegTag;
  readonly side: Side;
  readonly type: OrderType;
  /** Limit price (ignored for market orders). */
  readonly price: number;
  /** Base-asset quantity. */
  readonly qty: number;
}

export interface CancelIntent {
  readonly kind: 'cancel';
  readonly tag: LegTag;
}

/** Cancel the open leg and place it again at a new price/quantity (a new attempt of the same leg). */
export interface ReplaceIntent {
  readonly kind: 'replace';
  readonly tag: LegTag;
  readonly price: number;
  readonly qty: number;
}

export type OrderIntent = PlaceIntent | CancelIntent | ReplaceIntent;

export const NO_INTENTS: readonly OrderIntent[] = Object.freeze([]);

export interface OpenOrderView {
  readonly tag: LegTag;
  readonly side: Side;
  readonly type: OrderType;
  readonly price: number;
  readonly qty: number;
  readonly filledQty: number;
  /** When it was placed (ms), for replace-after-timeout rules. */
  readonly placedAt: number;
  /** How many times this leg was (re)placed. */
  readonly attempt: number;
}

export interface PositionView {
  /** Base asset held (free + locked in sell orders). */
  readonly base: number;
  /** Quote currency held (free + locked in buy orders). */
  readonly quote: number;
  /** Quote currency not locked by open buy orders. */
  readonly freeQuote: number;
  /** Base asset not locked by open sell orders. */
  readonly freeBase: number;
}

export interface Fill {
  readonly tag: LegTag;
  readonly side: Side;
  readonly price: number;
  readonly qty: number;
  /** Fee in quote currency. */
  readonly fee: number;
  readonly liquidity: 'maker' | 'taker';
  readonly time: number;
  /** True when the order is now completely filled. */
  readonly complete: boolean;
}

export interface StrategyContext {
  /** Close time of the current candle (ms): the moment the strategy decides. */
  readonly now: number;
  readonly candle: CandleView;
  readonly position: PositionView;
  readonly openOrders: readonly OpenOrderView[];
}

export interface Strategy {
  readonly id: string;
  /** Bumped whenever behaviour changes, so results name the logic that produced them. */
  readonly version: string;
  /** The regime the strategy currently sees (for the regime breakdown in reports). */
  readonly regime: RegimeCode;
  /** Regimes this strategy trades well in (the seed's friendly_regime_pct). */
  readonly friendlyRegimes: readonly RegimeCode[];
  /** True while the strategy holds (or is building) a position. */
  readonly inMarket: boolean;
  onCandle(ctx: StrategyContext): readonly OrderIntent[];
  onFill(fill: Fill, ctx: StrategyContext): readonly OrderIntent[];
  /** Round trips closed so far (for reports). */
  readonly cycles: readonly ClosedCycle[];
  /**
   * Drops the closed cycles kept so far. Paper and live runs record their round trips as fills
   * in Postgres, so they call this after each step: otherwise the list (and every snapshot) would
   * grow for as long as the run lives.
   */
  forgetClosedCycles(): void;
  /**
   * Everything that influences the strategy's future decisions (positions per level, armed legs,
   * retry counters, timers, cycle bookkeeping, indicator and regime-detector state, the current
   * regime, closed cycles) as plain JSON, for crash-only recovery of paper and live runs. Open
   * orders and balances are the venue's, not part of it. A cold path, outside the backtest loop.
   */
  snapshot(): StrategySnapshot;
  /**
   * Loads a snapshot into a freshly constructed strategy built with the same parameters, after
   * which it decides exactly as the one that wrote the snapshot would have. Throws on another
   * strategy or version ("snapshot is from grid 1.0.0, this is dca 1.0.0") and on state that does
   * not fit this instance (wrong array lengths, unknown fields, different indicator periods).
   * Everything is checked before anything is assigned: a refused snapshot changes nothing.
   */
  restore(snapshot: StrategySnapshot): void;
}

/** Any value JSON can hold. Numbers in it are finite: snapshots encode NaN, ±Infinity and -0 (src/engine/snapshot.ts). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A strategy's persisted state; `state` is strategy-specific and survives `JSON.parse(JSON.stringify(s))` unchanged. */
export interface StrategySnapshot {
  /** The strategy's id ('dca', 'grid'). */
  readonly strategy: string;
  /** The strategy's version: a snapshot only restores into the same logic that wrote it. */
  readonly version: string;
  readonly state: JsonValue;
}

export interface ClosedCycle {
  readonly openedAt: number;
  readonly closedAt: number;
  /** Net of fees, in quote currency. */
  readonly pnl: number;
}

/** Why the venue refused an intent; the runner reports it to the strategy's owner, never throws. */
export type Rejection = 'insufficient_funds' | 'below_min_notional' | 'qty_too_small' | 'unknown_leg' | 'duplicate_leg' | 'invalid_price';

export interface Venue {
  readonly position: PositionView;
  readonly openOrders: readonly OpenOrderView[];
  /**
   * Applies an intent at time `now`, with `refPrice` as the market price for market orders.
   * Market orders fill at once and report through `onFill`.
   */
  submit(intent: OrderIntent, now: number, refPrice: number, onFill: (fill: Fill) => void): Rejection | null;
  /** Matches open orders against a candle; calls `onFill` for each fill. */
  matchCandle(candle: CandleView, onFill: (fill: Fill) => void): void;
}
