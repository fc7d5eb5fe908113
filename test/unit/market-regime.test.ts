// The router's market regime: one synthetic series per rule (and per precedence between rules),
// the metrics against independent arithmetic, daily candles from shorter ones, and real BTC daily
// candles 2020–2022 read through the project's CSV loader.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MARKET_REGIME_RULES as RULES,
  dailyCandles,
  detectMarketRegime,
  marketMetrics,
  marketRegimeLabel,
  minimumBars,
  type MarketRegime,
  type RegimeReading,
} from '../../src/engine/market-regime.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { emptyCandle, readCandle, type CandleView } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

/** Daily candles with these closes (open = previous close). */
function daily(closes: readonly number[], start = T0): CandleView[] {
  return closes.map((close, i) => {
    const open = i === 0 ? close : closes[i - 1]!;
    return { time: start + i * DAY, open, high: Math.max(open, close), low: Math.min(open, close), close, volume: 1 };
  });
}

/**
 * `n` closes from `from` compounding `drift` (fraction a day) with a ±`swing` zig-zag on top (so
 * day-to-day log returns of about ±2·swing: 0.015 gives ~57% annualised volatility).
 */
function path(n: number, drift: number, swing: number, from = 100): number[] {
  const out: number[] = [];
  let price = from;
  for (let i = 0; i < n; i++) {
    price *= 1 + drift;
    out.push(price * (i % 2 === 0 ? 1 + swing : 1 - swing));
  }
  return out;
}

function read(crypto: readonly number[], equity: readonly number[] | null = null): RegimeReading {
  const detected = detectMarketRegime(daily(crypto), equity ? daily(equity) : null);
  if (!detected.ok) throw new Error(detected.problem);
  return detected.reading;
}

describe('market regime rules (synthetic series)', () => {
  it('reads a wild sideways market as high volatility', () => {
    const r = read(path(90, 0, 0.03));
    expect(r.crypto.volatilityPct).toBeGreaterThanOrEqual(RULES.highVolatilityPct);
    expect(r.crypto.trend).toBe('flat');
    expect(r.regime).toBe('high_volatility');
  });

  it('reads a calm market as low volatility, even when it drifts', () => {
    const calm = read(path(90, 0, 0.004));
    expect(calm.regime).toBe('low_volatility');
    expect(calm.crypto.volatilityPct).toBeLessThanOrEqual(RULES.lowVolatilityPct);
    // A steady 0.4%/day climb is +12.7% a month, but calm: volatility decides first.
    const calmClimb = read(path(90, 0.004, 0.004));
    expect(calmClimb.crypto.trend).toBe('up');
    expect(calmClimb.regime).toBe('low_volatility');
  });

  it('reads a rise of 10%+ with a rising average (and ordinary volatility) as trending up', () => {
    const r = read(path(90, 0.005, 0.015));
    expect(r.crypto.volatilityPct).toBeGreaterThan(RULES.lowVolatilityPct);
    expect(r.crypto.volatilityPct).toBeLessThan(RULES.highVolatilityPct);
    expect(r.crypto.returnPct).toBeGreaterThanOrEqual(RULES.trendReturnPct);
    expect(r.crypto.emaSlopePct).toBeGreaterThan(0);
    expect(r.regime).toBe('trending_up');
  });

  it('reads a fall of 10%+ with a falling average as trending down', () => {
    const r = read(path(90, -0.004, 0.015));
    expect(r.crypto.drawdownPct).toBeLessThan(RULES.crashDrawdownPct);
    expect(r.crypto.returnPct).toBeLessThanOrEqual(-RULES.trendReturnPct);
    expect(r.regime).toBe('trending_down');
    expect(r.rule).toMatch(/falling average/);
  });

  it('reads a volatile crash as trending down, not high volatility', () => {
    const r = read(path(90, -0.012, 0.03));
    expect(r.crypto.volatilityPct).toBeGreaterThanOrEqual(RULES.highVolatilityPct);
    expect(r.crypto.drawdownPct).toBeGreaterThanOrEqual(RULES.crashDrawdownPct);
    expect(r.regime).toBe('trending_down');
    expect(r.rule).toMatch(/crash/);
  });

  it('reads ordinary volatility without a clear move as ranging', () => {
    const r = read(path(90, 0, 0.015));
    expect(r.crypto.trend).toBe('flat');
    expect(r.regime).toBe('ranging');
    expect(r.rule).toMatch(/within ±10%/);
  });

  it('reads a rise against a falling average as ranging (a bounce is not a trend)', () => {
    // Flat, a 12-day rally, then 18 days of decline: still well above the close a month ago,
    // but the average turned down.
    const closes = [...path(60, 0, 0.012), ...path(12, 0.03, 0.012), ...path(18, -0.012, 0.012, 100 * 1.03 ** 12)];
    const r = read(closes);
    expect(r.crypto.returnPct).toBeGreaterThanOrEqual(RULES.trendReturnPct);
    expect(r.crypto.emaSlopePct).toBeLessThan(0);
    expect(r.crypto.trend).toBe('flat');
    expect(r.regime).toBe('ranging');
    expect(r.rule).toMatch(/against its average/);
  });

  it('reads an equity index in a falling drawdown as risk-off, before any crypto rule', () => {
    const falling = [...path(45, 0, 0.005), ...path(20, -0.008, 0.005)];
    const r = read(path(90, 0, 0.03), falling); // crypto alone would be high volatility
    expect(r.equity).not.toBeNull();
    expect(r.equity!.drawdownPct).toBeGreaterThanOrEqual(RULES.riskOff.equityDrawdownPct);
    expect(r.regime).toBe('risk_off');
    expect(r.rule).toMatch(/equity index .* below its recent high and falling/);
    expect(read(path(90, 0, 0.03)).regime).toBe('high_volatility');
  });

  it('reads both markets falling hard together as risk-off, even when the index is not far off its high', () => {
    const crypto = path(90, -0.006, 0.015);
    const equity = [...path(40, 0.001, 0.004), ...path(25, -0.003, 0.004, 100 * 1.001 ** 40)];
    const r = read(crypto, equity);
    expect(r.equity!.drawdownPct).toBeLessThan(RULES.riskOff.equityDrawdownPct);
    expect(r.crypto.returnPct).toBeLessThanOrEqual(RULES.riskOff.cryptoReturnPct);
    expect(r.equity!.returnPct).toBeLessThanOrEqual(RULES.riskOff.equityReturnPct);
    expect(r.regime).toBe('risk_off');
    expect(r.rule).toMatch(/both markets falling hard/);
  });

  it('leaves the crypto rules in charge when the index is calm, and says why equity is missing', () => {
    const withCalmIndex = read(path(90, 0.005, 0.015), path(65, 0.0005, 0.004));
    expect(withCalmIndex.regime).toBe('trending_up');
    expect(withCalmIndex.equityProblem).toBeNull();

    const without = read(path(90, 0.005, 0.015));
    expect(without.equity).toBeNull();
    expect(without.equityProblem).toBe('no equity index data');

    const short = read(path(90, 0.005, 0.015), path(5, -0.05, 0));
    expect(short.equity).toBeNull();
    expect(short.equityProblem).toBe(`equity index: 5 daily candles, at least ${minimumBars(RULES.equity)} needed`);
    expect(short.regime).toBe('trending_up');
  });

  it('refuses too few crypto candles and unusable closes', () => {
    const need = minimumBars(RULES.crypto);
    expect(detectMarketRegime(daily(path(need - 1, 0, 0.01)), null)).toEqual({ ok: false, problem: `crypto: ${need - 1} daily candles, at least ${need} needed` });
    expect(detectMarketRegime(daily(path(need, 0, 0.01)), null).ok).toBe(true);
    const zero = daily(path(60, 0, 0.01));
    zero[10]!.close = 0;
    expect(detectMarketRegime(zero, null)).toMatchObject({ ok: false, problem: expect.stringMatching(/no usable close/) });
    const shuffled = daily(path(60, 0, 0.01));
    [shuffled[3], shuffled[4]] = [shuffled[4]!, shuffled[3]!];
    expect(detectMarketRegime(shuffled, null)).toMatchObject({ ok: false, problem: expect.stringMatching(/ascending/) });
  });

  it('names the regimes for people', () => {
    expect(marketRegimeLabel('risk_off')).toBe('risk-off');
    expect(marketRegimeLabel('high_volatility')).toBe('high volatility');
    expect(marketRegimeLabel('trending_down')).toBe('trending down');
  });
});

describe('market metrics', () => {
  it('annualises the sample standard deviation of daily log returns', () => {
    // Log returns alternate +x, -x: mean 0 over an even window, sample deviation x·sqrt(k/(k-1)).
    const x = 0.02;
    const closes = Array.from({ length: 61 }, (_, i) => 100 * Math.exp(i % 2 === 0 ? 0 : x));
    const m = marketMetrics(daily(closes), RULES.crypto, RULES.trendReturnPct);
    if (!m.ok) throw new Error(m.problem);
    const k = RULES.crypto.volatilityBars;
    expect(m.metrics.volatilityPct).toBeCloseTo(x * Math.sqrt(k / (k - 1)) * Math.sqrt(365) * 100, 9);
  });

  it('measures the return over the trend window and the drawdown from the window high', () => {
    const closes = Array.from({ length: 70 }, (_, i) => 100 + i); // 100 … 169
    closes[50] = 300; // the high, 19 bars before the end
    closes[69] = 150;
    const m = marketMetrics(daily(closes), RULES.crypto, RULES.trendReturnPct);
    if (!m.ok) throw new Error(m.problem);
    expect(m.metrics.returnPct).toBeCloseTo((150 / closes[69 - RULES.crypto.trendBars]! - 1) * 100, 9);
    expect(m.metrics.drawdownPct).toBeCloseTo(50, 9);
    expect(m.metrics.lastClose).toBe(150);
    expect(m.metrics.candles).toBe(70);
    // The high drops out of a shorter drawdown window.
    const short = marketMetrics(daily(closes), { ...RULES.crypto, drawdownBars: 10 }, RULES.trendReturnPct);
    if (!short.ok) throw new Error(short.problem);
    expect(short.metrics.drawdownPct).toBeCloseTo((1 - 150 / 168) * 100, 9);
  });
});

describe('daily candles from shorter ones', () => {
  const H4 = 4 * 3_600_000;
  const bar = (time: number, close: number): CandleView => ({ time, open: close - 1, high: close + 2, low: close - 3, close, volume: 2 });

  it('merges complete UTC days and drops a day still in progress or with its end missing', () => {
    const day1 = Array.from({ length: 6 }, (_, i) => bar(T0 + i * H4, 100 + i));
    const day2 = Array.from({ length: 5 }, (_, i) => bar(T0 + DAY + i * H4, 200 + i)); // ends at 20:00: incomplete
    const day3 = Array.from({ length: 6 }, (_, i) => bar(T0 + 2 * DAY + i * H4, 300 + i));
    const today = [bar(T0 + 3 * DAY, 400)];
    const out = dailyCandles([...day1, ...day2, ...day3, ...today], H4);
    expect(out.map((c) => c.time)).toEqual([T0, T0 + 2 * DAY]);
    expect(out[0]).toEqual({ time: T0, open: 99, high: 107, low: 97, close: 105, volume: 12 });
    expect(out[1]!.close).toBe(305);
  });

  it('passes daily candles through as copies', () => {
    const candles = daily([1, 2, 3]);
    const out = dailyCandles(candles, DAY);
    expect(out).toEqual(candles);
    expect(out[0]).not.toBe(candles[0]);
  });
});

describe('real BTC daily candles', () => {
  let btc: CandleView[];
  const regimes = new Map<string, MarketRegime>(); // day (yyyy-mm-dd) → regime

  beforeAll(async () => {
    const loaded = await loadCandlesCsv(projectPath('..', 'shared', 'data', 'candles', 'BTC_USD-1d.csv'));
    if (!loaded.ok) throw new Error(loaded.error.message);
    btc = Array.from({ length: loaded.series.length }, (_, i) => readCandle(loaded.series, i, emptyCandle()));
    // What the hourly job sees each day: the last 90 daily candles.
    for (let i = 0; i < btc.length; i++) {
      const day = new Date(btc[i]!.time).toISOString().slice(0, 10);
      if (day < '2020-11-01' || day > '2022-12-31') continue;
      const detected = detectMarketRegime(btc.slice(i - 89, i + 1), null);
      if (!detected.ok) throw new Error(`${day}: ${detected.problem}`);
      regimes.set(day, detected.reading.regime);
    }
  });

  const between = (from: string, to: string) => [...regimes].filter(([day]) => day >= from && day <= to).map(([, r]) => r);
  const share = (list: MarketRegime[], wanted: MarketRegime[]) => list.filter((r) => wanted.includes(r)).length / list.length;

  it('varies over 2021–2022: several regimes, none taking over, changing every few weeks', () => {
    const days = between('2021-01-01', '2022-12-31');
    expect(days.length).toBeGreaterThan(720);
    const counts = new Map<MarketRegime, number>();
    for (const r of days) counts.set(r, (counts.get(r) ?? 0) + 1);
    expect(counts.size).toBeGreaterThanOrEqual(4);
    for (const n of counts.values()) expect(n / days.length).toBeLessThan(0.6);
    const changes = days.filter((r, i) => i > 0 && r !== days[i - 1]).length;
    expect(changes).toBeGreaterThanOrEqual(24);
    // Without equity data risk-off cannot be read.
    expect(counts.has('risk_off')).toBe(false);
  });

  it('reads the May–June 2022 crash as falling or high volatility, never as calm or rising', () => {
    const crash = between('2022-05-01', '2022-06-30');
    expect(crash.length).toBe(61);
    expect(share(crash, ['trending_down', 'high_volatility', 'risk_off'])).toBeGreaterThanOrEqual(0.8);
    expect(crash).not.toContain('trending_up');
    expect(crash).not.toContain('low_volatility');
  });

  it('reads the Nov–Dec 2020 rally as mostly trending up, never down', () => {
    const rally = between('2020-11-01', '2020-12-31');
    expect(share(rally, ['trending_up'])).toBeGreaterThanOrEqual(0.8);
    expect(rally).not.toContain('trending_down');
    expect(rally).not.toContain('risk_off');
  });
});
