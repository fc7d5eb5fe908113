// The tiered risk engine: every order intent passes four gates in a fixed order, and the first
// refusal wins (the blueprint's Capital Guard -> Drawdown Guard -> Volatility Guard -> Execution
// Gate). Pure: the caller passes the time and every fact in a RiskContext.
//
// Decisions:
// - An "entry" is a buy-side place/replace (long-only spot: buying adds exposure). Sells and
//   cancels never fail the drawdown or volatility gates, and sells pass the capital gate's
//   amount checks, so cutting risk stays possible.
// - Without a license (tierMaxCapitalUsd null) nothing new may be placed, sells included; cancels
//   still pass. (The brief is explicit about this; a lapsed license therefore also blocks
//   take-profit sells, and the caller is expected to stop such runs.)
// - The execution gate (kill switch, closed stock market, exchange health, data freshness) applies
//   to every place/replace on either side; cancels pass every gate.
// - Data is stale when `now - lastDataAt > staleTickerMs` (STALE_TICKER_MS is a maximum age) or
//   when no data has arrived yet. The run guard (guards.ts) uses the same rule.
// - Money is compared in whole cents, so float noise (2500 * 0.93 = 2325.0000000000005) does not
//   refuse an order that fits exactly. Limits that are "reached" refuse at equality.
// - Comparisons fail closed: a NaN figure (a bug upstream) refuses an entry rather than passing it.
// - A replace frees the unfilled remainder of the order it replaces (the filled part is held base,
//   still deployed); `replacedNotionalUsd` is that remainder.
import type { RiskGate } from '../runner.ts';
import { Regime, type RegimeCode } from '../regime-codes.ts';
import type { OpenOrderView, OrderIntent, Side, StrategyContext } from '../types.ts';
import type { GuardLimits } from './limits.ts';

export type GateName = 'capital' | 'drawdown' | 'volatility' | 'execution';

export type RiskRefusal =
  | 'no_license'
  | 'tier_capital_exceeded'
  | 'run_capital_exceeded'
  | 'daily_loss_cap'
  | 'global_drawdown'
  | 'extreme_regime'
  | 'black_swan'
  | 'kill_switch'
  | 'exchange_unhealthy'
  | 'market_closed'
  | 'stale_data';

export type KillSwitchScope = 'global' | 'user' | 'run';

/** The tier-level capital facts (run start and every entry). */
export interface TierCapital {
  /** The license's capital cap; null when the user has no active license. */
  readonly tierMaxCapitalUsd: number | null;
  /** Share of the tier cap kept in reserve, in percent (params.capital_reserve_pct). */
  readonly capitalReservePct: number;
  /** Capital assigned to the user's other active runs. */
  readonly otherRunsCapitalUsd: number;
}

export interface CapitalFacts extends TierCapital {
  /** Capital assigned to this run. */
  readonly runCapitalUsd: number;
  /** Quote in use by this run: cost of held base + open buy orders (their unfilled part). */
  readonly deployedUsd: number;
}

export interface RiskContext {
  readonly now: number;
  readonly capital: CapitalFacts;
  readonly drawdown: {
    /** Realized P&L since 00:00 UTC across the user's runs; negative = loss. */
    readonly dailyRealizedPnlUsd: number;
    /** Peak-to-now of the user's cumulative realized P&L, >= 0 (see realizedDrawdown). */
    readonly realizedDrawdownUsd: number;
  };
  readonly market: {
    readonly regime: RegimeCode;
    /** Absolute % move over the black-swan window (see movePct). */
    readonly movePct: number;
  };
  readonly execution: {
    readonly killSwitch: null | KillSwitchScope;
    readonly exchangeHealthy: boolean;
    /** When market data last arrived (ms); null before the first. */
    readonly lastDataAt: number | null;
    /** A stock market that is closed: when it opens (ms). Null or absent: open, or a 24/7 market. */
    readonly marketClosedUntil?: number | null;
  };
  readonly limits: GuardLimits;
}

export type GateRefusal = { readonly pass: false; readonly gate: GateName; readonly refusal: RiskRefusal; readonly message: string };
export type GateDecision = { readonly pass: true } | GateRefusal;

export interface GateIntent {
  readonly kind: 'place' | 'replace' | 'cancel';
  readonly side: Side;
  /** Quote value of the new order (price x qty). */
  readonly notionalUsd: number;
  /** For a replace: the unfilled notional of the order being replaced, which the replace frees. */
  readonly replacedNotionalUsd?: number;
}

export const PASS: GateDecision = Object.freeze({ pass: true });

const refuse = (gate: GateName, refusal: RiskRefusal, message: string): GateRefusal => Object.freeze({ pass: false, gate, refusal, message });

// ---- formatting (shared with guards.ts) ----

const toCents = (usd: number): number => Math.round(usd * 100);

/** "$1,234.56", "-$12.50", "$200.00": always two decimals (kernel formatUsd drops ".00" and takes cents). */
export function formatUsdAmount(usd: number): string {
  const c = toCents(usd);
  if (!Number.isFinite(c)) return `$${usd}`;
  const abs = Math.abs(c);
  return `${c < 0 ? '-' : ''}$${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
}

/** "10%", "12.5%", "16.23%": at most two decimals. */
export function formatPct(pct: number): string {
  return `${Number.isFinite(pct) ? String(Math.round(pct * 100) / 100) : String(pct)}%`;
}

/** "45 s", "5 min", "6 min 40 s", "1 h 5 min" (rounded to the second; below a second in ms). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms} ms`;
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', s ? `${s} s` : ''].filter(Boolean).join(' ');
}

/** True when `value` has reached `limit` (money, compared in cents); NaN counts as reached. */
export const reachedUsd = (value: number, limit: number): boolean => !(toCents(value) < toCents(limit));
/** True when `value` is above `limit` (money, compared in cents); NaN counts as above. */
export const exceedsUsd = (value: number, limit: number): boolean => !(toCents(value) <= toCents(limit));
/** Stale when no data yet, or older than the maximum age; NaN counts as stale. */
export const isStale = (now: number, lastDataAt: number | null, staleTickerMs: number): boolean =>
  lastDataAt === null || !(now - lastDataAt <= staleTickerMs);

const usd = formatUsdAmount;

// ---- capital ----

/** tierMax x (1 - reserve/100) - other runs, rounded to the cent and floored at 0; 0 without a license. */
export function maxRunCapital(c: TierCapital): number {
  if (c.tierMaxCapitalUsd === null) return 0;
  const left = c.tierMaxCapitalUsd * (1 - c.capitalReservePct / 100) - c.otherRunsCapitalUsd;
  return Math.max(0, toCents(left) / 100);
}

const NO_LICENSE_MESSAGE = 'You have no active license, so the run buys nothing new. Selling and cancelling still work.';

function tierCapitalGate(c: TierCapital, runCapitalUsd: number): GateRefusal | null {
  if (c.tierMaxCapitalUsd === null) return refuse('capital', 'no_license', NO_LICENSE_MESSAGE);
  const max = maxRunCapital(c);
  if (!exceedsUsd(runCapitalUsd, max)) return null;
  return refuse(
    'capital',
    'tier_capital_exceeded',
    `Run capital ${usd(runCapitalUsd)} is more than your tier allows: the ${usd(c.tierMaxCapitalUsd)} tier cap minus the ` +
      `${formatPct(c.capitalReservePct)} reserve minus ${usd(c.otherRunsCapitalUsd)} in your other runs leaves ${usd(max)}.`,
  );
}

/** The capital gate at run start: same arithmetic and messages as for an entry. */
export function checkRunStart(c: TierCapital, requestedCapitalUsd: number): GateDecision {
  return tierCapitalGate(c, requestedCapitalUsd) ?? PASS;
}

function capitalGate(intent: GateIntent, entry: boolean, c: CapitalFacts): GateRefusal | null {
  // Without a license nothing new is bought, but a run may still sell what it holds: cutting
  // risk must always be possible (take-profits keep working while the license is sorted out).
  if (!entry) return null;
  if (c.tierMaxCapitalUsd === null) return refuse('capital', 'no_license', NO_LICENSE_MESSAGE);
  const tier = tierCapitalGate(c, c.runCapitalUsd);
  if (tier) return tier;
  const replaced = intent.kind === 'replace' ? (intent.replacedNotionalUsd ?? 0) : 0;
  const inUse = Math.max(0, c.deployedUsd - replaced);
  const after = inUse + intent.notionalUsd;
  if (!exceedsUsd(after, c.runCapitalUsd)) return null;
  return refuse(
    'capital',
    'run_capital_exceeded',
    `This ${usd(intent.notionalUsd)} buy would put ${usd(after)} to work, more than this run's ${usd(c.runCapitalUsd)} capital ` +
      `(${usd(inUse)} already in use).`,
  );
}

// ---- drawdown, volatility, execution ----

function drawdownGate(ctx: RiskContext): GateRefusal | null {
  const { dailyRealizedPnlUsd, realizedDrawdownUsd } = ctx.drawdown;
  const { maxDailyLossUsd, maxGlobalDrawdownUsd } = ctx.limits;
  const dailyLoss = -dailyRealizedPnlUsd;
  if (reachedUsd(dailyLoss, maxDailyLossUsd)) {
    return refuse(
      'drawdown',
      'daily_loss_cap',
      `Today's realized loss of ${usd(dailyLoss)} reached the ${usd(maxDailyLossUsd)} daily limit: no new buys until 00:00 UTC.`,
    );
  }
  if (reachedUsd(realizedDrawdownUsd, maxGlobalDrawdownUsd)) {
    return refuse(
      'drawdown',
      'global_drawdown',
      `Realized drawdown of ${usd(realizedDrawdownUsd)} across your runs reached the ${usd(maxGlobalDrawdownUsd)} limit: no new buys.`,
    );
  }
  return null;
}

function volatilityGate(ctx: RiskContext): GateRefusal | null {
  if (ctx.market.regime === Regime.EXTREME) {
    return refuse('volatility', 'extreme_regime', 'The market is in an extreme-volatility regime: no new buys until it calms down.');
  }
  const move = ctx.market.movePct;
  const limit = ctx.limits.blackSwanMovePct;
  if (!(move < limit)) {
    return refuse(
      'volatility',
      'black_swan',
      `Price moved ${formatPct(move)} within the black-swan window, at or above the ${formatPct(limit)} limit: no new buys.`,
    );
  }
  return null;
}

const KILL_SWITCH_MESSAGES: Readonly<Record<KillSwitchScope, string>> = {
  global: 'Trading is paused for everyone (global kill switch): no orders are sent.',
  user: 'Your kill switch is on: no orders are sent until you turn it off.',
  run: "This run's kill switch is on: no orders are sent.",
};

/** "The stock market is closed: orders wait until it opens at 2026-03-02 14:30 UTC." */
export function marketClosedMessage(opensAt: number): string {
  const when = Number.isFinite(opensAt) ? `${new Date(opensAt).toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'its next session';
  return `The stock market is closed: orders wait until it opens at ${when}.`;
}

function executionGate(ctx: RiskContext): GateRefusal | null {
  const { killSwitch, exchangeHealthy, lastDataAt, marketClosedUntil } = ctx.execution;
  if (killSwitch !== null) return refuse('execution', 'kill_switch', KILL_SWITCH_MESSAGES[killSwitch]);
  // Before health and data age: a closed market is why nothing trades or arrives.
  if (marketClosedUntil !== undefined && marketClosedUntil !== null) return refuse('execution', 'market_closed', marketClosedMessage(marketClosedUntil));
  if (!exchangeHealthy) return refuse('execution', 'exchange_unhealthy', 'The exchange is not responding normally, so orders are paused.');
  const limit = ctx.limits.staleTickerMs;
  if (isStale(ctx.now, lastDataAt, limit)) {
    if (lastDataAt === null) return refuse('execution', 'stale_data', 'No market data has arrived yet, so orders are paused.');
    const ageMs = ctx.now - lastDataAt;
    return refuse(
      'execution',
      'stale_data',
      `Market data is ${formatDuration(Math.ceil(ageMs / 1000) * 1000)} old, past the ${formatDuration(limit)} limit, so orders are paused.`,
    );
  }
  return null;
}

/** Runs an intent through capital -> drawdown -> volatility -> execution; the first refusal wins. */
export function checkIntent(intent: GateIntent, ctx: RiskContext): GateDecision {
  if (intent.kind === 'cancel') return PASS;
  const entry = intent.side === 'buy';
  return (
    capitalGate(intent, entry, ctx.capital) ??
    (entry ? (drawdownGate(ctx) ?? volatilityGate(ctx)) : null) ??
    executionGate(ctx) ??
    PASS
  );
}

// ---- the runner adapter ----

const findOpen = (orders: readonly OpenOrderView[], tag: string): OpenOrderView | undefined => {
  for (const order of orders) if (order.tag === tag) return order;
  return undefined;
};

const unfilledNotional = (order: OpenOrderView): number => order.price * Math.max(0, order.qty - order.filledQty);

/**
 * The runner's RiskGate. Derives side and notional from the intent (place: price x qty, market
 * orders at the candle close; replace: side from the open leg with that tag, freeing its unfilled
 * notional; an unknown tag passes through so the venue reports unknown_leg; cancel: passes).
 *
 * Step accounting: a strategy may return many buy legs at once, and together they must fit the
 * run's capital. A step is one value of the StrategyContext's `now` (the runner's decision time;
 * it is used rather than `context().now` because a live context may read a moving clock between
 * two intents of one batch). At the first intent of a step the gate reads
 * `context().capital.deployedUsd` as the step's baseline; afterwards it adds what it passed in the
 * step (buy places and replaces: + notional - freed notional; passed cancels of open buys:
 * - their unfilled notional). So `context()` may report either a once-per-step snapshot or live
 * venue state without the step's own orders being counted twice. Every other fact (kill switch,
 * data age, P&L) is read fresh from `context()` on each intent.
 */
export class TieredRiskGate implements RiskGate {
  #step = Number.NaN;
  #baselineDeployedUsd = 0;
  #pendingUsd = 0;

  constructor(
    readonly context: () => RiskContext,
    readonly onRefusal: (intent: OrderIntent, decision: GateRefusal) => void,
  ) {}

  /** Quote the intents passed in the current step deploy beyond the step's baseline (negative after cancels). */
  get pendingDeployedUsd(): number {
    return this.#pendingUsd;
  }

  check(intent: OrderIntent, ctx: StrategyContext): OrderIntent | null {
    const risk = this.context();
    if (ctx.now !== this.#step) {
      this.#step = ctx.now;
      this.#baselineDeployedUsd = risk.capital.deployedUsd;
      this.#pendingUsd = 0;
    }

    if (intent.kind === 'cancel') {
      const open = findOpen(ctx.openOrders, intent.tag);
      if (open?.side === 'buy') this.#pendingUsd -= unfilledNotional(open);
      return intent;
    }

    let side: Side;
    let notionalUsd: number;
    let replacedNotionalUsd = 0;
    if (intent.kind === 'place') {
      side = intent.side;
      notionalUsd = (intent.type === 'market' ? ctx.candle.close : intent.price) * intent.qty;
    } else {
      const open = findOpen(ctx.openOrders, intent.tag);
      if (!open) return intent;
      side = open.side;
      notionalUsd = (open.type === 'market' ? ctx.candle.close : intent.price) * intent.qty;
      replacedNotionalUsd = unfilledNotional(open);
    }

    const deployedUsd = Math.max(0, this.#baselineDeployedUsd + this.#pendingUsd);
    const view = deployedUsd === risk.capital.deployedUsd ? risk : { ...risk, capital: { ...risk.capital, deployedUsd } };
    const decision = checkIntent({ kind: intent.kind, side, notionalUsd, replacedNotionalUsd }, view);
    if (!decision.pass) {
      this.onRefusal(intent, decision);
      return null;
    }
    if (side === 'buy') this.#pendingUsd += notionalUsd - replacedNotionalUsd;
    return intent;
  }
}
