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
 * The nearest buy leg is chased when stale: if the highest open buy is still unfilled after
 * `replace_timeout_ms` while the market trades more than `replace_slippage_pct` (a fraction)
 * above it, it is re-placed at close × (1 − replace_slippage_pct), at most `replace_max_retries`
 * times. Lower legs keep their levels — moving them would dissolve the grid.
 *
 * Both conditions, not either: a resting grid leg always sits at least one step (well over 0.3%)
 * below the market, so "drifted" alone — or "waited" alone — would re-place every leg that
 * becomes the nearest and turn the grid into a momentum chaser.
 *
 * Snapshot (crash-only recovery, `snapshot()` / `restore()`), state:
 *   { regime, detector: regime-detector state | null (a stateless regime source),
 *     started, nearest, holding,
 *     levels,                                              the level prices, to refuse a rebuilt grid
 *     heldQty, heldCost, heldNotional, boughtAt, realised, per level: the position and its take-profit
 *     armed, legPrice, legPlacedAt, retries,              per level: the buy leg, its price, timer, retries
 *     cycles: [{ openedAt, closedAt, pnl }] }
 * Every per-level array has count + 1 entries. The closed-cycles list is kept whole (see
 * encodeCycles in snapshot.ts) unless the owner calls forgetClosedCycles, as paper and live runs
 * do after each step. Numbers are encoded as in snapshot.ts.
 */
import { Regime, type RegimeCode } from '../regime-codes.ts';
import { checkPart, encodeCycles, encodeNumbers, openSnapshot, partState, StateReader } from '../snapshot.ts';
import {
  NO_INTENTS,
  type ClosedCycle,
  type Fill,
  type OrderIntent,
  type Strategy,
  type StrategyContext,
  type StrategySnapshot,
} from '../types.ts';
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

  forgetClosedCycles(): void {
    this.cycles.length = 0;
  }
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
  /** Per level: 1 while its buy leg is open, with its current price and placement time. */
  readonly #armed: Uint8Array;
  readonly #legPrice: Float64Array;
  readonly #legPlacedAt: Float64Array;
  /** The highest level with an open buy leg (-1: none): the only leg that may be chased. */
  #nearest = -1;
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
    this.#armed = new Uint8Array(params.count + 1);
    this.#legPrice = new Float64Array(params.count + 1);
    this.#legPlacedAt = new Float64Array(params.count + 1);
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
      for (let i = 0; i < this.params.count; i++) if (this.#levels[i]! < c.close) intents.push(this.#buy(i, ctx.now));
      return intents;
    }
    return this.#chaseNearestBuy(ctx);
  }

  onFill(fill: Fill, ctx: StrategyContext): readonly OrderIntent[] {
    const i = Number(fill.tag.slice(1));
    if (fill.side === 'buy') {
      if (this.#armed[i] === 1) this.#disarm(i);
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
    return [this.#buy(i, ctx.now)];
  }

  snapshot(): StrategySnapshot {
    return {
      strategy: this.id,
      version: this.version,
      state: {
        regime: this.regime,
        detector: partState(this.detector),
        started: this.#started,
        nearest: this.#nearest,
        holding: this.#holding,
        levels: encodeNumbers(this.#levels),
        heldQty: encodeNumbers(this.#heldQty),
        heldCost: encodeNumbers(this.#heldCost),
        heldNotional: encodeNumbers(this.#heldNotional),
        boughtAt: encodeNumbers(this.#boughtAt),
        realised: encodeNumbers(this.#realised),
        armed: Array.from(this.#armed),
        legPrice: encodeNumbers(this.#legPrice),
        legPlacedAt: encodeNumbers(this.#legPlacedAt),
        retries: Array.from(this.#retries),
        cycles: encodeCycles(this.cycles),
      },
    };
  }

  restore(snapshot: StrategySnapshot): void {
    const r = StateReader.open(openSnapshot(snapshot, this.id, this.version), 'grid state', [
      'regime',
      'detector',
      'started',
      'nearest',
      'holding',
      'levels',
      'heldQty',
      'heldCost',
      'heldNotional',
      'boughtAt',
      'realised',
      'armed',
      'legPrice',
      'legPlacedAt',
      'retries',
      'cycles',
    ]);
    const n = this.#levels.length;
    const count = r.list('levels').length;
    if (count !== n) r.fail('levels', `the snapshot's grid has ${count} levels, this grid ${n} (was it rebuilt with a different count?)`);
    const levels = r.numbers('levels', n);
    for (let i = 0; i < n; i++) {
      const here = this.#levels[i]!;
      if (!(Math.abs(levels[i]! - here) <= 1e-9 * Math.abs(here))) {
        r.fail('levels', `level ${i} is ${levels[i]} in the snapshot, ${here} in this grid (was it rebuilt with a different lower, upper or spacing?)`);
      }
    }
    const what = 'one per grid level';
    const regime = r.int('regime', Regime.WARMUP, Regime.EXTREME) as RegimeCode;
    checkPart(r, 'detector', this.detector, 'regime detector');
    const started = r.bool('started');
    const nearest = r.int('nearest', -1, n - 1);
    const holding = r.int('holding', 0, n);
    const heldQty = r.numbers('heldQty', n, what);
    const heldCost = r.numbers('heldCost', n, what);
    const heldNotional = r.numbers('heldNotional', n, what);
    const boughtAt = r.numbers('boughtAt', n, what);
    const realised = r.numbers('realised', n, what);
    const armed = r.ints('armed', n, 0, 1, what);
    const legPrice = r.numbers('legPrice', n, what);
    const legPlacedAt = r.numbers('legPlacedAt', n, what);
    const retries = r.ints('retries', n, 0, 255, what);
    const cycles = r.cycles('cycles');

    // Everything checked; the detector checks its own state before it changes anything.
    if (r.raw('detector') !== null) this.detector.restore!(r.raw('detector'), r.at('detector'));
    this.regime = regime;
    this.#started = started;
    this.#nearest = nearest;
    this.#holding = holding;
    this.#heldQty.set(heldQty);
    this.#heldCost.set(heldCost);
    this.#heldNotional.set(heldNotional);
    this.#boughtAt.set(boughtAt);
    this.#realised.set(realised);
    this.#armed.set(armed);
    this.#legPrice.set(legPrice);
    this.#legPlacedAt.set(legPlacedAt);
    this.#retries.set(retries);
    this.cycles.length = 0;
    for (const closed of cycles) this.cycles.push(closed);
  }

  #buy(i: number, now: number): OrderIntent {
    const price = this.#levels[i]!;
    this.#armed[i] = 1;
    this.#legPrice[i] = price;
    this.#legPlacedAt[i] = now;
    if (i > this.#nearest) this.#nearest = i;
    return { kind: 'place', tag: `b${i}`, side: 'buy', type: 'limit', price, qty: this.#quotePerLevel / price };
  }

  #disarm(i: number): void {
    this.#armed[i] = 0;
    if (i !== this.#nearest) return;
    let j = i - 1;
    while (j >= 0 && this.#armed[j] === 0) j--;
    this.#nearest = j;
  }

  /** O(1) per candle: only the nearest open buy leg is ever looked at. */
  #chaseNearestBuy(ctx: StrategyContext): readonly OrderIntent[] {
    const i = this.#nearest;
    if (i < 0) return NO_INTENTS;
    const { replace_timeout_ms, replace_slippage_pct, replace_max_retries } = this.params;
    if (this.#retries[i]! >= replace_max_retries || ctx.now - this.#legPlacedAt[i]! < replace_timeout_ms) return NO_INTENTS;
    if (ctx.candle.close <= this.#legPrice[i]! * (1 + replace_slippage_pct)) return NO_INTENTS;
    this.#retries[i]!++;
    const price = ctx.candle.close * (1 - replace_slippage_pct);
    this.#legPrice[i] = price;
    this.#legPlacedAt[i] = ctx.now;
    return [{ kind: 'replace', tag: `b${i}`, price, qty: this.#quotePerLevel / price }];
  }
}
