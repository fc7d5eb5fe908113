/**
 * The multi-asset router's market regime (the seed's "Market Regime Detection"), from daily
 * candles of one crypto market (BTC/USDT stands for crypto) and, when available, of an equity
 * index proxy (SPY). Pure: the same candles always give the same regime.
 *
 * Not the DCA bot's per-market detector (src/engine/regime.ts): that one classifies every 5m
 * candle of the coin a run trades; this one reads weeks of daily candles once an hour to decide
 * how a user's capital is split across asset classes. It reuses the engine's EMA.
 *
 * Metrics per market (windows in bars, see DEFAULT_MARKET_REGIME_RULES; equity bars are trading
 * days, so its windows are shorter for the same calendar span):
 *   volatilityPct  annualised realised volatility: the sample standard deviation of the last
 *                  `volatilityBars` daily log returns × sqrt(periodsPerYear) × 100
 *   returnPct      close now against the close `trendBars` bars earlier, in %
 *   emaSlopePct    EMA(emaPeriod) of closes now against its value `slopeBars` bars earlier, in %
 *   drawdownPct    how far the close is below the highest close of the last `drawdownBars` bars (>= 0)
 *   trend          'up' when returnPct >= trendReturnPct and emaSlopePct > 0, 'down' when
 *                  returnPct <= -trendReturnPct and emaSlopePct < 0, else 'flat'
 *
 * Regime, first matching rule wins:
 *   1. risk_off         (needs the equity index) the index is at least riskOff.equityDrawdownPct
 *                       below its recent high and falling (returnPct < 0 and emaSlopePct < 0);
 *                       or both markets fall hard together (crypto returnPct <= riskOff.cryptoReturnPct
 *                       and index returnPct <= riskOff.equityReturnPct).
 *   2. trending_down    a crypto crash: crypto trend 'down' with drawdownPct >= crashDrawdownPct.
 *                       Checked before volatility because a crash is always volatile, and the
 *                       high-volatility split (90% crypto) is the wrong advice while it falls.
 *   3. high_volatility  crypto volatilityPct >= highVolatilityPct
 *   4. low_volatility   crypto volatilityPct <= lowVolatilityPct
 *   5. trending_up      crypto trend 'up'
 *   6. trending_down    crypto trend 'down'
 *   7. ranging          everything else
 * Without equity data rule 1 cannot fire; the reading says so (`equity: null`).
 */
import type { CandleView } from '../market-data/candles.ts';
import { Ema } from './indicators/ema.ts';

export const MARKET_REGIMES = ['trending_up', 'trending_down', 'ranging', 'high_volatility', 'low_volatility', 'risk_off'] as const;
export type MarketRegime = (typeof MARKET_REGIMES)[number];

export const isMarketRegime = (value: string): value is MarketRegime => (MARKET_REGIMES as readonly string[]).includes(value);

/** "risk-off", "high volatility", "trending up" … for people. */
export const marketRegimeLabel = (regime: MarketRegime): string => (regime === 'risk_off' ? 'risk-off' : regime.replace('_', ' '));

export interface MarketWindows {
  /** Bars a year, to annualise volatility: 365 for crypto (it trades every day), 252 for stocks. */
  readonly periodsPerYear: number;
  readonly volatilityBars: number;
  readonly trendBars: number;
  readonly emaPeriod: number;
  readonly slopeBars: number;
  readonly drawdownBars: number;
}

export interface MarketRegimeRules {
  readonly crypto: MarketWindows;
  readonly equity: MarketWindows;
  /** Crypto volatility (annualised %) at or above which the regime is high_volatility. */
  readonly highVolatilityPct: number;
  /** Crypto volatility (annualised %) at or below which the regime is low_volatility. */
  readonly lowVolatilityPct: number;
  /** |return over trendBars| (%) a market must move, with its EMA sloping the same way, to trend. */
  readonly trendReturnPct: number;
  /** A crypto downtrend this far (%) below its recent high is a crash: trending_down before volatility. */
  readonly crashDrawdownPct: number;
  readonly riskOff: {
    /** The index this far (%) below its recent high and falling. */
    readonly equityDrawdownPct: number;
    /** Both falling hard: crypto's return (%) at or below this … */
    readonly cryptoReturnPct: number;
    /** … and the index's return (%) at or below this. */
    readonly equityReturnPct: number;
  };
}

/**
 * About a month for trend and volatility, about two months for the drawdown high, on both
 * markets (21 / 42 trading days are 30 / 60 calendar days). Volatility thresholds from BTC's
 * 30-day realised volatility 2019–2024 (see test/unit/market-regime.test.ts): its calm stretches
 * sit below 40%, its stormy ones above 75%.
 */
export const DEFAULT_MARKET_REGIME_RULES: MarketRegimeRules = Object.freeze({
  crypto: Object.freeze({ periodsPerYear: 365, volatilityBars: 30, trendBars: 30, emaPeriod: 20, slopeBars: 5, drawdownBars: 60 }),
  equity: Object.freeze({ periodsPerYear: 252, volatilityBars: 21, trendBars: 21, emaPeriod: 20, slopeBars: 5, drawdownBars: 42 }),
  highVolatilityPct: 75,
  lowVolatilityPct: 40,
  trendReturnPct: 10,
  crashDrawdownPct: 25,
  riskOff: Object.freeze({ equityDrawdownPct: 10, cryptoReturnPct: -15, equityReturnPct: -5 }),
});

export type Trend = 'up' | 'down' | 'flat';

export interface MarketMetrics {
  /** Daily candles the metrics were computed from. */
  readonly candles: number;
  /** Open time (ms) of the newest candle used. */
  readonly lastTime: number;
  readonly lastClose: number;
  readonly volatilityPct: number;
  readonly returnPct: number;
  readonly emaSlopePct: number;
  readonly drawdownPct: number;
  readonly trend: Trend;
}

export type MarketMetricsResult = { readonly ok: true; readonly metrics: MarketMetrics } | { readonly ok: false; readonly problem: string };

export interface RegimeReading {
  readonly regime: MarketRegime;
  /** The rule that decided, in words (shown by /allocation). */
  readonly rule: string;
  readonly crypto: MarketMetrics;
  /** Null when there was no usable equity index data … */
  readonly equity: MarketMetrics | null;
  /** … and then why (null when `equity` is there). */
  readonly equityProblem: string | null;
}

export type RegimeDetection = { readonly ok: true; readonly reading: RegimeReading } | { readonly ok: false; readonly problem: string };

/** Bars needed for every metric of a market. */
export const minimumBars = (w: MarketWindows): number => Math.max(w.volatilityBars + 1, w.trendBars + 1, w.emaPeriod + w.slopeBars, 2);

const pct = (now: number, then: number): number => (now / then - 1) * 100;

/** The metrics of one market from its daily candles (oldest first); a problem when too few or unusable. */
export function marketMetrics(candles: readonly CandleView[], w: MarketWindows, trendReturnPct: number): MarketMetricsResult {
  const n = candles.length;
  const need = minimumBars(w);
  if (n < need) return { ok: false, problem: `${n} daily candles, at least ${need} needed` };
  for (let i = 0; i < n; i++) {
    const c = candles[i]!.close;
    if (!(Number.isFinite(c) && c > 0)) return { ok: false, problem: `candle ${i + 1} of ${n} has no usable close (${c})` };
    if (i > 0 && !(candles[i]!.time > candles[i - 1]!.time)) return { ok: false, problem: 'candles are not in ascending time order' };
  }
  const close = (i: number) => candles[i]!.close;
  const last = close(n - 1);

  // Sample standard deviation of the last volatilityBars log returns.
  const k = w.volatilityBars;
  let sum = 0;
  for (let i = n - k; i < n; i++) sum += Math.log(close(i) / close(i - 1));
  const mean = sum / k;
  let squares = 0;
  for (let i = n - k; i < n; i++) squares += (Math.log(close(i) / close(i - 1)) - mean) ** 2;
  const volatilityPct = Math.sqrt(squares / Math.max(1, k - 1)) * Math.sqrt(w.periodsPerYear) * 100;

  const returnPct = pct(last, close(n - 1 - w.trendBars));

  const ema = new Ema(w.emaPeriod);
  let emaAgo = NaN;
  for (let i = 0; i < n; i++) {
    ema.update(close(i));
    if (i === n - 1 - w.slopeBars) emaAgo = ema.value;
  }
  const emaSlopePct = pct(ema.value, emaAgo);

  let high = 0;
  for (let i = Math.max(0, n - w.drawdownBars); i < n; i++) high = Math.max(high, close(i));
  const drawdownPct = Math.max(0, (1 - last / high) * 100);

  const trend: Trend = returnPct >= trendReturnPct && emaSlopePct > 0 ? 'up' : returnPct <= -trendReturnPct && emaSlopePct < 0 ? 'down' : 'flat';
  return { ok: true, metrics: { candles: n, lastTime: candles[n - 1]!.time, lastClose: last, volatilityPct, returnPct, emaSlopePct, drawdownPct, trend } };
}

const f1 = (n: number) => n.toFixed(1);

/** The regime from crypto and (optionally) equity index daily candles, oldest first. */
export function detectMarketRegime(
  crypto: readonly CandleView[],
  equity: readonly CandleView[] | null,
  rules: MarketRegimeRules = DEFAULT_MARKET_REGIME_RULES,
): RegimeDetection {
  const c = marketMetrics(crypto, rules.crypto, rules.trendReturnPct);
  if (!c.ok) return { ok: false, problem: `crypto: ${c.problem}` };
  const e = equity ? marketMetrics(equity, rules.equity, rules.trendReturnPct) : null;
  const decide = (regime: MarketRegime, rule: string): RegimeDetection => ({
    ok: true,
    reading: {
      regime,
      rule,
      crypto: c.metrics,
      equity: e?.ok ? e.metrics : null,
      equityProblem: e === null ? 'no equity index data' : e.ok ? null : `equity index: ${e.problem}`,
    },
  });
  const cm = c.metrics;
  if (e?.ok) {
    const em = e.metrics;
    const r = rules.riskOff;
    if (em.drawdownPct >= r.equityDrawdownPct && em.returnPct < 0 && em.emaSlopePct < 0) {
      return decide('risk_off', `equity index ${f1(em.drawdownPct)}% below its recent high and falling`);
    }
    if (cm.returnPct <= r.cryptoReturnPct && em.returnPct <= r.equityReturnPct) {
      return decide('risk_off', `both markets falling hard: crypto ${f1(cm.returnPct)}%, equity index ${f1(em.returnPct)}%`);
    }
  }
  if (cm.trend === 'down' && cm.drawdownPct >= rules.crashDrawdownPct) {
    return decide('trending_down', `crypto crash: ${f1(cm.drawdownPct)}% below its recent high and falling`);
  }
  if (cm.volatilityPct >= rules.highVolatilityPct) {
    return decide('high_volatility', `crypto volatility ${f1(cm.volatilityPct)}% ≥ ${rules.highVolatilityPct}%`);
  }
  if (cm.volatilityPct <= rules.lowVolatilityPct) {
    return decide('low_volatility', `crypto volatility ${f1(cm.volatilityPct)}% ≤ ${rules.lowVolatilityPct}%`);
  }
  if (cm.trend === 'up') return decide('trending_up', `crypto up ${f1(cm.returnPct)}% with a rising average`);
  if (cm.trend === 'down') return decide('trending_down', `crypto down ${f1(-cm.returnPct)}% with a falling average`);
  const moved = `crypto moved ${cm.returnPct >= 0 ? '+' : ''}${f1(cm.returnPct)}%`;
  return decide(
    'ranging',
    Math.abs(cm.returnPct) >= rules.trendReturnPct ? `${moved}, against its average (a bounce or a pullback)` : `${moved}, within ±${rules.trendReturnPct}%`,
  );
}

const DAY_MS = 86_400_000;

/**
 * Daily candles (UTC days) from shorter ones, oldest first. A day is kept only when it is
 * complete (its last candle ends at midnight), so a partial day never passes for a close.
 */
export function dailyCandles(candles: readonly CandleView[], timeframeMs: number): CandleView[] {
  if (timeframeMs >= DAY_MS) return candles.map((c) => ({ ...c }));
  const out: CandleView[] = [];
  let lastEnd = 0;
  for (const c of candles) {
    const day = c.time - (c.time % DAY_MS);
    const current = out[out.length - 1];
    if (current && current.time === day) {
      current.high = Math.max(current.high, c.high);
      current.low = Math.min(current.low, c.low);
      current.close = c.close;
      current.volume += c.volume;
    } else {
      if (current && lastEnd !== current.time + DAY_MS) out.pop();
      out.push({ time: day, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
    }
    lastEnd = c.time + timeframeMs;
  }
  const tail = out[out.length - 1];
  if (tail && lastEnd !== tail.time + DAY_MS) out.pop();
  return out;
}
