/**
 * The seed's "mitigations at scale": rules that keep many customers running the same strategy on
 * the same coins from eroding each other's edge. All pure; everything per customer is derived
 * from sha256 of the customer id, so a customer gets the same jitter and delivery slot on every
 * scan and every server, with nothing to store.
 *
 * 1. Staggered delivery: each customer sees a new scan at a stable offset within a window
 *    (the seed: "batch rotations over 2-4h"), so rotations do not all hit the book at once.
 * 2. Parameter jitter: TP and deviation ranges scaled per customer by ±(max/2 .. max) %
 *    (max 10 gives the seed's ±5-10 %), so safety orders and take-profits do not cluster.
 * 3. Coin concentration: at most 40 % of a customer's capital (their tier's maximum) on one coin.
 * 4. Footprint: alert when the capital we run on a coin reaches 20 % of its 24 h quote volume.
 *    We compare committed capital, not the seed's estimated daily traded footprint (~30 % of
 *    capital), so the alert fires early rather than late.
 * Plus the rotation rule: move to another coin only when it scores clearly better.
 */
import { createHash } from 'node:crypto';
import { parseStrategyParamSet, type StrategyParamSet } from '../engine/params.ts';

export const DEFAULT_JITTER_MAX_PCT = 10;
/** Beyond ±20 % the jitter would change the strategy, not just de-cluster it. */
export const MAX_JITTER_PCT = 20;
/** Scans run every 4 h; releasing each within the first 2 h leaves every customer's copy current. */
export const DEFAULT_STAGGER_WINDOW_MS = 2 * 3_600_000;
export const DEFAULT_MAX_COIN_SHARE_PCT = 40;
export const DEFAULT_FOOTPRINT_ALERT_PCT = 20;
export const DEFAULT_ROTATION_THRESHOLD_PCT = 20;

/** Multipliers for one customer's tp_range and deviation_range. */
export interface CustomerJitter {
  readonly tp: number;
  readonly dev: number;
}

/** 48 bits of sha256(`${customerId}:${purpose}`) as a number in [0, 1), starting at byte `from`. */
function hashUnit(customerId: string, purpose: string, from = 0): number {
  if (typeof customerId !== 'string' || customerId.length === 0) throw new RangeError('customerId must be a non-empty string');
  const digest = createHash('sha256').update(`${customerId}:${purpose}`).digest();
  return digest.readUIntBE(from, 6) / 2 ** 48;
}

/** u in [-1, -0.5] ∪ [0.5, 1): one hash bit picks the sign, 48 more the magnitude. */
function signedHalfToFull(customerId: string, purpose: string): number {
  const sign = hashUnit(customerId, purpose, 0) < 0.5 ? -1 : 1;
  const magnitude = 0.5 + 0.5 * hashUnit(customerId, purpose, 8);
  return sign * magnitude;
}

/**
 * Each factor is 1 + u × maxPct / 100 with |u| in [0.5, 1], drawn from the customer id: the
 * jitter is never smaller than half of maxPct, or it would not separate customers' orders.
 */
export function customerJitter(customerId: string, maxPct: number = DEFAULT_JITTER_MAX_PCT): CustomerJitter {
  if (!(Number.isFinite(maxPct) && maxPct >= 0 && maxPct <= MAX_JITTER_PCT)) {
    throw new RangeError(`jitter must be between 0 and ${MAX_JITTER_PCT} %, got ${maxPct}`);
  }
  return {
    tp: 1 + (signedHalfToFull(customerId, 'tp') * maxPct) / 100,
    dev: 1 + (signedHalfToFull(customerId, 'dev') * maxPct) / 100,
  };
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The parameter set with both ends of tp_range and deviation_range scaled, re-validated. */
export function jitterParams(paramSet: StrategyParamSet, jitter: CustomerJitter): StrategyParamSet {
  for (const [name, factor] of Object.entries(jitter)) {
    if (!(Number.isFinite(factor) && factor > 0)) throw new RangeError(`jitter factor ${name} must be a positive number, got ${factor}`);
  }
  const { tp_range: tp, deviation_range: dev } = paramSet.params;
  const draft = {
    ...paramSet,
    params: {
      ...paramSet.params,
      tp_range: [round4(tp[0] * jitter.tp), round4(tp[1] * jitter.tp)],
      deviation_range: [round4(dev[0] * jitter.dev), round4(dev[1] * jitter.dev)],
    },
  };
  const parsed = parseStrategyParamSet(draft);
  if (!parsed.ok) throw new RangeError(`jittered parameters are invalid: ${parsed.problem}`);
  return parsed.value;
}

/** A stable offset in [0, windowMs) for this customer; a window of 0 turns staggering off. */
export function staggerOffsetMs(customerId: string, windowMs: number = DEFAULT_STAGGER_WINDOW_MS): number {
  if (!(Number.isFinite(windowMs) && windowMs >= 0)) throw new RangeError(`stagger window must be >= 0 ms, got ${windowMs}`);
  return Math.floor(hashUnit(customerId, 'stagger') * windowMs);
}

/** When this customer may see the scan taken at `scanTakenAt`. */
export function releasedAt(scanTakenAt: Date, customerId: string, windowMs: number = DEFAULT_STAGGER_WINDOW_MS): Date {
  return new Date(scanTakenAt.getTime() + staggerOffsetMs(customerId, windowMs));
}

export interface ConcentrationInput {
  /** Capital (USD) the customer already runs, per symbol. */
  readonly capitalBySymbol: Readonly<Record<string, number>>;
  /** The customer's total: their tier's maximum capital. */
  readonly totalCapitalUsd: number;
  readonly maxSharePct?: number;
  readonly symbol: string;
  readonly addUsd: number;
}

export type ConcentrationCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Share of the total the coin would hold, %, 2 decimals. */
      readonly sharePct: number;
      /** The most that can still go on this coin (cap minus what is already there, >= 0), 2 decimals. */
      readonly maxUsd: number;
      readonly message: string;
    };

/** Below a cent the comparison is float noise, not money. */
const MONEY_EPSILON = 0.005;

const usd = (x: number): string =>
  '$' + x.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: Number.isInteger(x) ? 0 : 2 });
const round2 = (x: number): number => Math.round(x * 100) / 100 + 0;

/** Whether adding `addUsd` on `symbol` keeps that coin at or below maxSharePct % of the total. */
export function coinConcentration(input: ConcentrationInput): ConcentrationCheck {
  const { capitalBySymbol, totalCapitalUsd: total, symbol, addUsd } = input;
  const maxSharePct = input.maxSharePct ?? DEFAULT_MAX_COIN_SHARE_PCT;
  if (!(Number.isFinite(total) && total > 0)) throw new RangeError(`total capital must be positive, got ${total}`);
  if (!(Number.isFinite(maxSharePct) && maxSharePct > 0 && maxSharePct <= 100)) throw new RangeError(`max share must be in (0, 100] %, got ${maxSharePct}`);
  if (!(Number.isFinite(addUsd) && addUsd >= 0)) throw new RangeError(`amount to add must be >= 0, got ${addUsd}`);
  const current = capitalBySymbol[symbol] ?? 0;
  if (!(Number.isFinite(current) && current >= 0)) throw new RangeError(`capital on ${symbol} must be >= 0, got ${current}`);
  const capUsd = (total * maxSharePct) / 100;
  const after = current + addUsd;
  if (after <= capUsd + MONEY_EPSILON) return { ok: true };
  const sharePct = round2((after / total) * 100);
  const maxUsd = round2(Math.max(0, capUsd - current));
  const room = maxUsd > 0 ? `you can add up to ${usd(maxUsd)} more to ${symbol}, or pick another coin` : `pick another coin`;
  return {
    ok: false,
    sharePct,
    maxUsd,
    message:
      `${symbol} would hold ${usd(round2(after))} of your ${usd(total)} capital (${sharePct}%). ` +
      `At most ${maxSharePct}% (${usd(round2(capUsd))}) may sit on one coin: ${room}.`,
  };
}

export interface FootprintInput {
  /** Capital (USD) all our customers run on each symbol. */
  readonly capitalUsdBySymbol: Readonly<Record<string, number>>;
  /** The scanner's quote_volume_24h (USD) per symbol. */
  readonly quoteVolume24hBySymbol: Readonly<Record<string, number>>;
  readonly thresholdPct?: number;
}

export interface FootprintEntry {
  readonly symbol: string;
  readonly capitalUsd: number;
  readonly volumeUsd: number;
  /** capitalUsd / volumeUsd × 100, 2 decimals. */
  readonly pct: number;
}

export interface FootprintReport {
  /** Coins at or over the threshold, largest share first. */
  readonly over: FootprintEntry[];
  /** Coins we run capital on whose 24 h volume is unknown or zero: they cannot be assessed. */
  readonly unassessed: string[];
}

export function footprint(input: FootprintInput): FootprintReport {
  const thresholdPct = input.thresholdPct ?? DEFAULT_FOOTPRINT_ALERT_PCT;
  if (!(Number.isFinite(thresholdPct) && thresholdPct > 0)) throw new RangeError(`footprint threshold must be positive, got ${thresholdPct}`);
  const over: FootprintEntry[] = [];
  const unassessed: string[] = [];
  for (const [symbol, capitalUsd] of Object.entries(input.capitalUsdBySymbol)) {
    if (!(Number.isFinite(capitalUsd) && capitalUsd > 0)) continue;
    const volumeUsd = input.quoteVolume24hBySymbol[symbol];
    if (volumeUsd === undefined || !(Number.isFinite(volumeUsd) && volumeUsd > 0)) {
      unassessed.push(symbol);
      continue;
    }
    // capital × 100 >= threshold × volume: the boundary compares without a rounding division.
    if (capitalUsd * 100 >= thresholdPct * volumeUsd) over.push({ symbol, capitalUsd, volumeUsd, pct: round2((capitalUsd / volumeUsd) * 100) });
  }
  over.sort((a, b) => b.capitalUsd / b.volumeUsd - a.capitalUsd / a.volumeUsd || (a.symbol < b.symbol ? -1 : 1));
  unassessed.sort();
  return { over, unassessed };
}

/** What rotation needs of a ranking item (the scanner's SymbolScan fits). */
export interface RankedCoin {
  readonly symbol: string;
  readonly composite_score: number;
  readonly daily_roi_pct?: number;
}

export interface RotationInput {
  readonly currentSymbol: string;
  readonly rankings: readonly RankedCoin[];
  readonly thresholdPct?: number;
  /** Coins not to move to: they would break the concentration rule, or the user already runs them. */
  readonly excluded?: ReadonlySet<string>;
}

export interface RotationTarget {
  readonly symbol: string;
  readonly score: number;
  readonly currentScore: number;
  /** (score / currentScore - 1) × 100, 2 decimals; null when the current coin scores 0. */
  readonly improvementPct: number | null;
}

/** Scores are 2-decimal numbers; this absorbs the float error of score × 1.2. */
const SCORE_EPSILON = 1e-9;

/**
 * The best-ranked other coin scoring at least thresholdPct % above the current one (and above 0),
 * or null. A current coin missing from the rankings (failed or not scanned) cannot be compared,
 * so it is never rotated away from on the scanner's word.
 */
export function rotationTarget(input: RotationInput): RotationTarget | null {
  const thresholdPct = input.thresholdPct ?? DEFAULT_ROTATION_THRESHOLD_PCT;
  if (!(Number.isFinite(thresholdPct) && thresholdPct >= 0)) throw new RangeError(`rotation threshold must be >= 0 %, got ${thresholdPct}`);
  const current = input.rankings.find((r) => r.symbol === input.currentSymbol);
  if (!current) return null;
  const currentScore = current.composite_score;
  const needed = currentScore * (1 + thresholdPct / 100) - SCORE_EPSILON;
  let best: RankedCoin | null = null;
  for (const coin of input.rankings) {
    if (coin.symbol === input.currentSymbol || input.excluded?.has(coin.symbol)) continue;
    if (!(coin.composite_score > 0 && coin.composite_score >= needed)) continue;
    if (best === null || isBetter(coin, best)) best = coin;
  }
  if (best === null) return null;
  return {
    symbol: best.symbol,
    score: best.composite_score,
    currentScore,
    improvementPct: currentScore > 0 ? round2((best.composite_score / currentScore - 1) * 100) : null,
  };
}

/** The scanner's ranking order: score, then daily ROI, descending; then symbol ascending. */
function isBetter(a: RankedCoin, b: RankedCoin): boolean {
  if (a.composite_score !== b.composite_score) return a.composite_score > b.composite_score;
  const roiA = a.daily_roi_pct ?? 0;
  const roiB = b.daily_roi_pct ?? 0;
  if (roiA !== roiB) return roiA > roiB;
  return a.symbol < b.symbol;
}
