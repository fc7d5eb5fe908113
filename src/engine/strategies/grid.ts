/**
 * Grid (seed tradebot-starter): buy low, sell one step higher, between two prices.
 *
 * Levels: count + 1 prices from `lower` to `upper`,
 *   arithmetic  L[i] = lower + i × (upper − lower) / count
 *   geometric   L[i] = lower × (upper / lower)^(i / count)
 * Size per level (quote): `per_trade_usd` when set, else `bankroll_usd × max_per_trade_pct`
 * (a fraction, as in the seed: 0.02 = 2%).
 *
 * On the first candle that closes inside the range, a buy leg `b<i>` is placed at every level
 * below the close. When `b<i>` fills, its take-profit `t<i>` sells the same quantity one grid step
 * higher (fill price × L[i+1] / L[i]); when that sells, the round trip is a closed cycle and
 * `b<i>` is placed again at L[i].
 *
 * Stale buy legs are chased: a buy leg still open after `replace_timeout_ms` while the market
 * trades more than `replace_slippage_pct` (a fraction) above it is re-placed at
 * close × (1 − replace_slippage_pct), at most `replace_max_retries` times per leg.
 */
import { Regime, type RegimeCode } from '../regime-codes.ts';
import { NO_INTENTS, type ClosedCycle, type Fill, type OrderIntent, type Strategy, type StrategyContext } from '../types.ts';
import type { RegimeSource } from './dca.ts';

export interface GridParams {
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  readonly spacing: 'arithmetic' | 'geometric';
  readonly per_trade_usd: number | null;
  readonly bankroll_usd: number;
  readonly max_per_trade_pct: number;
  readonly replace_timeout_ms: number;
  readonly replace_slippage_pct: number;
  readonly replace_max_retries: number;
}

/** The seed's defaults (BANKROLL_USD, MAX_PER_TRADE_PCT, REPLACE_*); the range comes from the run. */
export const DEFAULT_GRID_PARAMS: Omit<GridParams, 'lower' | 'upper'> = Object.freeze({
  count: 10,
  spacing: 'geometric',
  per_trade_usd: null,
  bankroll_usd: 200,
  max_per_trade_pct: 0.02,
  replace_timeout_ms: 600_000,
  replace_slippage_pct: 0.003,
  replace_max_retries: 3,
});

export function gridLevels(p: Pick<GridParams, 'lower' | 'upper' | 'count' | 'spacing'>): Float64Array {
  const levels = new Float64Array(p.count + 1);
  for (let i = 0; i <= p.count; i++) {
    levels[i] = p.spacing === 'arithmetic' ? p.lower + (i * (p.upper - p.lower)) / p.count : p.lower * (p.upper / p.lower) ** (i / p.count);
  }
  return levels;
}

export class GridStrategy implements Strategy {
  readonly id = 'grid';
  readonly version = '1.0.0';
  readonly friendlyRegimes: readonly RegimeCode[] = [Regime.RANGING];
  readonly cycles: ClosedCycle[] = [];
  regime: RegimeCode = Regime.WARMUP;

  readonly #levels: Float64Array;
  readonly #quotePerLevel: number;
  /** Per level: quantity bought and its cost (fees included), while its take-profit is open. */
  readonly #heldQty: Float64Array;
  readonly #heldCost: Float64Array;
  /** Quote paid for the held quantity, without fees: the take-profit is priced from this. */
  readonly #heldNotional: Float64Array;
  readonly #boughtAt: Float64Array;
  /** Realised PnL of a take-profit that sells in parts, until it completes. */
  readonly #realised: Float64Array;
  readonly #retries: Uint8Array;
  #started = false;
  #holding = 0;

  constructor(
    private readonly params: GridParams,
    private readonly detector: RegimeSource,
  ) {
    if (!(params.lower > 0 && params.upper > params.lower && params.count >= 1)) {
      throw new RangeError('grid needs 0 < lower < upper and at least one step');
    }
    this.#levels = gridLevels(params);
    this.#quotePerLevel = params.per_trade_usd ?? params.bankroll_usd * params.max_per_trade_pct;
    this.#heldQty = new Float64Array(params.count + 1);
    this.#heldCost = new Float64Array(params.count + 1);
    this.#heldNotional = new Float64Array(params.count + 1);
    this.#boughtAt = new Float64Array(params.count + 1);
    this.#realised = new Float64Array(params.count + 1);
    this.#retries = new Uint8Array(params.count + 1);
  }

  get inMarket(): boolean {
    return this.#holding > 0;
  }

  onCandle(ctx: StrategyContext): readonly OrderIntent[] {
    const c = ctx.candle;
    this.regime = this.detector.update(c.high, c.low, c.close);
    if (!this.#started) {
      if (c.close <= this.params.lower || c.close >= this.params.upper) return NO_INTENTS;
      this.#started = true;
      const intents: OrderIntent[] = [];
      for (let i = 0; i < this.params.count; i++) if (this.#levels[i]! < c.close) intents.push(this.#buy(i));
      return intents;
    }
    return this.#chaseStaleBuys(ctx);
  }

  onFill(fill: Fill, _ctx: StrategyContext): readonly OrderIntent[] {
    const i = Number(fill.tag.slice(1));
    if (fill.side === 'buy') {
      if (this.#heldQty[i] === 0) this.#holding++;
      this.#heldQty[i]! += fill.qty;
      this.#heldCost[i]! += fill.price * fill.qty + fill.fee;
      this.#heldNotional[i]! += fill.price * fill.qty;
      if (fill.complete) this.#boughtAt[i] = fill.time;
      if (!fill.complete) return NO_INTENTS;
      const stepUp = this.#levels[i + 1]! / this.#levels[i]!;
      const avgFill = this.#heldNotional[i]! / this.#heldQty[i]!;
      return [{ kind: 'place', tag: `t${i}`, side: 'sell', type: 'limit', price: avgFill * stepUp, qty: this.#heldQty[i]! }];
    }
    // Take-profit of level i sold (maybe in parts).
    const share = fill.qty / this.#heldQty[i]!;
    const cost = this.#heldCost[i]! * share;
    this.#heldQty[i]! -= fill.qty;
    this.#heldCost[i]! -= cost;
    this.#heldNotional[i]! -= this.#heldNotional[i]! * share;
    this.#realised[i]! += fill.price * fill.qty - fill.fee - cost;
    if (!fill.complete) return NO_INTENTS;
    this.cycles.push({ openedAt: this.#boughtAt[i]!, closedAt: fill.time, pnl: this.#realised[i]! });
    this.#realised[i] = 0;
    this.#heldQty[i] = 0;
    this.#heldCost[i] = 0;
    this.#heldNotional[i] = 0;
    this.#retries[i] = 0;
    this.#holding--;
    return [this.#buy(i)];
  }

  #buy(i: number): OrderIntent {
    const price = this.#levels[i]!;
    return { kind: 'place', tag: `b${i}`, side: 'buy', type: 'limit', price, qty: this.#quotePerLevel / price };
  }

  #chaseStaleBuys(ctx: StrategyContext): readonly OrderIntent[] {
    const { replace_timeout_ms, replace_slippage_pct, replace_max_retries } = this.params;
    let intents: OrderIntent[] | null = null;
    for (const o of ctx.openOrders) {
      if (o.side !== 'buy' || o.filledQty > 0 || ctx.now - o.placedAt < replace_timeout_ms) continue;
      if (ctx.candle.close <= o.price * (1 + replace_slippage_pct)) continue;
      const i = Number(o.tag.slice(1));
      if (this.#retries[i]! >= replace_max_retries) continue;
      this.#retries[i]!++;
      const price = ctx.candle.close * (1 - replace_slippage_pct);
      (intents ??= []).push({ kind: 'replace', tag: o.tag, price, qty: this.#quotePerLevel / price });
    }
    return intents ?? NO_INTENTS;
  }
}
