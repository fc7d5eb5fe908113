/**
 * Adaptive DCA with safety orders (seed `/strategy/params` 2.4.1), long-only spot.
 *
 * Per candle the strategy updates ATR(atr_period) and the regime detector. When no cycle is
 * open and the regime allows it, it opens one with a market base order. Formulas, with
 * ATR% = ATR / close × 100 and s = ATR% / atr_baseline_pct (s = 1 at baseline volatility):
 *
 *   m        = regime_multipliers[RANGING | TRENDING | EXTREME]    (TRENDING for bull and bear)
 *   tp%      = clamp(tp_range.min        × s × m.tp,  tp_range.min,        tp_range.max)
 *   dev%     = clamp(deviation_range.min × s × m.dev, deviation_range.min, deviation_range.max)
 *   L        = long share of the regime's allocation rule (RANGING 50, TRENDING bullish 75,
 *              bearish 25, EXTREME 0); 50 is neutral
 *   base     = equity × base_order_pct / 100 × L / 50              (quote currency)
 *   SO k     = base × so_volume_mult^k at basePrice × (1 − k × dev% / 100),   k = 1..max_safety_orders
 *   TP       = average entry × (1 + tp% / 100), for the whole position
 *
 * tp% and dev% are fixed when a cycle opens, so its ladder does not move under it. Safety orders
 * are placed one at a time (the next after the previous fills); the ladder stops early when the
 * next one would take the cycle above equity × (1 − capital_reserve_pct / 100) — with a 4% base
 * and a ×2 multiplier only a few of the 8 fit, which is the seed's intent: the reserve is kept.
 * After every buy fill the TP is re-placed for the whole position. A cycle closes when the TP
 * has sold the position; no cycle opens while the regime is WARMUP or L is 0 (EXTREME).
 *
 * Snapshot (crash-only recovery, `snapshot()` / `restore()`), state:
 *   { regime, atrValue, atr: Atr state | null (null when the detector keeps the ATR),
 *     detector: regime-detector state | null (a stateless regime source),
 *     cycle: { open, openedAt, basePrice, baseQuote, tpPct, devPct, nextSo, qty, cost, proceeds,
 *              committedQuote, cycleCap },
 *     cycles: [{ openedAt, closedAt, pnl }] }
 * The closed-cycles list is kept whole (see encodeCycles in snapshot.ts) unless the
 * owner calls forgetClosedCycles, as paper and live runs do after each step. Numbers are encoded as in snapshot.ts.
 */
import { Atr } from '../indicators/atr.ts';
import { Regime, type RegimeCode } from '../regime-codes.ts';
import { checkPart, encodeCycles, encodeNumber, openSnapshot, partState, StateReader } from '../snapshot.ts';
import {
  NO_INTENTS,
  type ClosedCycle,
  type Fill,
  type JsonValue,
  type OrderIntent,
  type Strategy,
  type StrategyContext,
  type StrategySnapshot,
} from '../types.ts';

export interface DcaParams {
  readonly base_order_pct: number;
  readonly max_safety_orders: number;
  readonly so_volume_mult: number;
  readonly tp_range: readonly [number, number];
  readonly deviation_range: readonly [number, number];
  readonly atr_period: number;
  readonly atr_baseline_pct: number;
  readonly regime_multipliers: Readonly<Record<'RANGING' | 'TRENDING' | 'EXTREME', { readonly tp: number; readonly dev: number }>>;
  readonly capital_reserve_pct: number;
}

export interface AllocationRules {
  readonly TRENDING: { readonly bullish: readonly [number, number]; readonly bearish: readonly [number, number] };
  readonly RANGING: readonly [number, number];
  readonly EXTREME: readonly [number, number];
}

/** Anything that classifies the market candle by candle (src/engine/regime.ts in production). */
export interface RegimeSource {
  update(high: number, low: number, close: number): RegimeCode;
  /** The source's own ATR, when it keeps one with the strategy's period (saves computing it twice). */
  readonly atrValue?: number;
  /** Its state for crash-only recovery (RegimeDetector keeps some; a fixed regime in tests none). */
  snapshot?(): JsonValue;
  restore?(state: JsonValue, path?: string): void;
}

const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

/** The adaptive TP and SO deviation for a given volatility and regime (exported for tests and the README). */
export function adaptiveLevels(params: DcaParams, atrPct: number, regime: RegimeCode): { tpPct: number; devPct: number } {
  const s = atrPct / params.atr_baseline_pct;
  const m =
    regime === Regime.EXTREME
      ? params.regime_multipliers.EXTREME
      : regime === Regime.TRENDING_BULL || regime === Regime.TRENDING_BEAR
        ? params.regime_multipliers.TRENDING
        : params.regime_multipliers.RANGING;
  const [tpMin, tpMax] = params.tp_range;
  const [devMin, devMax] = params.deviation_range;
  return { tpPct: clamp(tpMin * s * m.tp, tpMin, tpMax), devPct: clamp(devMin * s * m.dev, devMin, devMax) };
}

export function longShare(rules: AllocationRules, regime: RegimeCode): number {
  switch (regime) {
    case Regime.TRENDING_BULL:
      return rules.TRENDING.bullish[0];
    case Regime.TRENDING_BEAR:
      return rules.TRENDING.bearish[0];
    case Regime.EXTREME:
      return rules.EXTREME[0];
    case Regime.RANGING:
      return rules.RANGING[0];
    default:
      return 0; // warming up: no new cycles
  }
}

export class DcaStrategy implements Strategy {
  readonly id = 'dca';
  readonly version = '1.0.0';
  readonly friendlyRegimes: readonly RegimeCode[] = [Regime.RANGING, Regime.TRENDING_BULL];
  readonly cycles: ClosedCycle[] = [];

  forgetClosedCycles(): void {
    this.cycles.length = 0;
  }
  regime: RegimeCode = Regime.WARMUP;

  /** Null when the regime source already keeps the ATR. */
  readonly #atr: Atr | null;
  #atrValue = NaN;
  // The open cycle.
  #open = false;
  #openedAt = 0;
  #basePrice = 0;
  #baseQuote = 0;
  #tpPct = 0;
  #devPct = 0;
  #nextSo = 1;
  #qty = 0;
  /** Quote spent on the position, fees included. */
  #cost = 0;
  /** Quote received from sells so far, fees deducted. */
  #proceeds = 0;
  #committedQuote = 0;
  #cycleCap = 0;

  constructor(
    private readonly params: DcaParams,
    private readonly allocation: AllocationRules,
    private readonly detector: RegimeSource,
  ) {
    this.#atr = detector.atrValue === undefined ? new Atr(params.atr_period) : null;
  }

  get inMarket(): boolean {
    return this.#open;
  }

  onCandle(ctx: StrategyContext): readonly OrderIntent[] {
    const c = ctx.candle;
    this.regime = this.detector.update(c.high, c.low, c.close);
    this.#atrValue = this.#atr ? this.#atr.update(c.high, c.low, c.close) : this.detector.atrValue!;
    // A base order the venue refused leaves an "open" cycle with nothing in it: start over.
    if (this.#open && this.#qty === 0 && ctx.openOrders.length === 0) this.#open = false;
    if (this.#open || !(this.#atrValue > 0)) return NO_INTENTS;

    const share = longShare(this.allocation, this.regime);
    if (share <= 0) return NO_INTENTS;
    const equity = ctx.position.quote + ctx.position.base * c.close;
    const baseQuote = (equity * this.params.base_order_pct * share) / 100 / 50;
    if (!(baseQuote > 0) || baseQuote > ctx.position.freeQuote) return NO_INTENTS;

    const { tpPct, devPct } = adaptiveLevels(this.params, (this.#atrValue / c.close) * 100, this.regime);
    this.#open = true;
    this.#openedAt = ctx.now;
    this.#tpPct = tpPct;
    this.#devPct = devPct;
    this.#baseQuote = baseQuote;
    this.#nextSo = 1;
    this.#qty = 0;
    this.#cost = 0;
    this.#proceeds = 0;
    this.#committedQuote = baseQuote;
    this.#cycleCap = equity * (1 - this.params.capital_reserve_pct / 100);
    this.#basePrice = 0;
    return [{ kind: 'place', tag: 'base', side: 'buy', type: 'market', price: 0, qty: baseQuote / c.close }];
  }

  onFill(fill: Fill, ctx: StrategyContext): readonly OrderIntent[] {
    if (fill.side === 'buy') {
      this.#qty += fill.qty;
      this.#cost += fill.price * fill.qty + fill.fee;
      if (fill.tag === 'base') this.#basePrice = fill.price;
      const intents: OrderIntent[] = [];
      // Re-price the take-profit for the whole position.
      const tpPrice = (this.#cost / this.#qty) * (1 + this.#tpPct / 100);
      const hasTp = ctx.openOrders.some((o) => o.tag === 'tp');
      intents.push(
        hasTp
          ? { kind: 'replace', tag: 'tp', price: tpPrice, qty: this.#qty }
          : { kind: 'place', tag: 'tp', side: 'sell', type: 'limit', price: tpPrice, qty: this.#qty },
      );
      if (fill.complete) this.#placeNextSafetyOrder(intents);
      return intents;
    }
    // A take-profit (part) sold.
    this.#qty -= fill.qty;
    this.#proceeds += fill.price * fill.qty - fill.fee;
    if (!fill.complete) return NO_INTENTS;
    this.cycles.push({ openedAt: this.#openedAt, closedAt: fill.time, pnl: this.#proceeds - this.#cost });
    this.#open = false;
    const so = `so${this.#nextSo - 1}`;
    return ctx.openOrders.some((o) => o.tag === so) ? [{ kind: 'cancel', tag: so }] : NO_INTENTS;
  }

  snapshot(): StrategySnapshot {
    return {
      strategy: this.id,
      version: this.version,
      state: {
        regime: this.regime,
        atrValue: encodeNumber(this.#atrValue),
        atr: this.#atr ? this.#atr.snapshot() : null,
        detector: partState(this.detector),
        cycle: {
          open: this.#open,
          openedAt: encodeNumber(this.#openedAt),
          basePrice: encodeNumber(this.#basePrice),
          baseQuote: encodeNumber(this.#baseQuote),
          tpPct: encodeNumber(this.#tpPct),
          devPct: encodeNumber(this.#devPct),
          nextSo: this.#nextSo,
          qty: encodeNumber(this.#qty),
          cost: encodeNumber(this.#cost),
          proceeds: encodeNumber(this.#proceeds),
          committedQuote: encodeNumber(this.#committedQuote),
          cycleCap: encodeNumber(this.#cycleCap),
        },
        cycles: encodeCycles(this.cycles),
      },
    };
  }

  restore(snapshot: StrategySnapshot): void {
    const r = StateReader.open(openSnapshot(snapshot, this.id, this.version), 'dca state', ['regime', 'atrValue', 'atr', 'detector', 'cycle', 'cycles']);
    const regime = r.int('regime', Regime.WARMUP, Regime.EXTREME) as RegimeCode;
    const atrValue = r.number('atrValue');
    const atrState = r.raw('atr');
    if (this.#atr) {
      if (atrState === null) r.fail('atr', 'the snapshot has no ATR state, but this strategy keeps its own ATR');
      new Atr(this.#atr.period).restore(atrState, r.at('atr')); // checks it without touching ours
    } else if (atrState !== null) {
      r.fail('atr', 'the snapshot has ATR state, but this strategy reads the ATR from its regime detector');
    }
    checkPart(r, 'detector', this.detector, 'regime detector');
    const c = StateReader.open(r.raw('cycle'), r.at('cycle'), [
      'open',
      'openedAt',
      'basePrice',
      'baseQuote',
      'tpPct',
      'devPct',
      'nextSo',
      'qty',
      'cost',
      'proceeds',
      'committedQuote',
      'cycleCap',
    ]);
    const cycle = {
      open: c.bool('open'),
      openedAt: c.number('openedAt'),
      basePrice: c.number('basePrice'),
      baseQuote: c.number('baseQuote'),
      tpPct: c.number('tpPct'),
      devPct: c.number('devPct'),
      nextSo: c.int('nextSo', 1, Math.max(1, this.params.max_safety_orders + 1)),
      qty: c.number('qty'),
      cost: c.number('cost'),
      proceeds: c.number('proceeds'),
      committedQuote: c.number('committedQuote'),
      cycleCap: c.number('cycleCap'),
    };
    const cycles = r.cycles('cycles');

    // Everything checked; the detector checks its own state before it changes anything.
    if (r.raw('detector') !== null) this.detector.restore!(r.raw('detector'), r.at('detector'));
    this.#atr?.restore(atrState, r.at('atr'));
    this.regime = regime;
    this.#atrValue = atrValue;
    this.#open = cycle.open;
    this.#openedAt = cycle.openedAt;
    this.#basePrice = cycle.basePrice;
    this.#baseQuote = cycle.baseQuote;
    this.#tpPct = cycle.tpPct;
    this.#devPct = cycle.devPct;
    this.#nextSo = cycle.nextSo;
    this.#qty = cycle.qty;
    this.#cost = cycle.cost;
    this.#proceeds = cycle.proceeds;
    this.#committedQuote = cycle.committedQuote;
    this.#cycleCap = cycle.cycleCap;
    this.cycles.length = 0;
    for (const closed of cycles) this.cycles.push(closed);
  }

  #placeNextSafetyOrder(intents: OrderIntent[]): void {
    const k = this.#nextSo;
    if (k > this.params.max_safety_orders) return;
    const quote = this.#baseQuote * this.params.so_volume_mult ** k;
    if (this.#committedQuote + quote > this.#cycleCap) return; // keep the reserve
    const price = this.#basePrice * (1 - (k * this.#devPct) / 100);
    if (!(price > 0)) return;
    this.#committedQuote += quote;
    this.#nextSo = k + 1;
    intents.push({ kind: 'place', tag: `so${k}`, side: 'buy', type: 'limit', price, qty: quote / price });
  }
}
