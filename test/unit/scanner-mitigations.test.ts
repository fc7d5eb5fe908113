import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_PARAMS, parseStrategyParamSet } from '../../src/engine/params.ts';
import {
  coinConcentration,
  customerJitter,
  DEFAULT_STAGGER_WINDOW_MS,
  footprint,
  jitterParams,
  MAX_JITTER_PCT,
  releasedAt,
  rotationTarget,
  staggerOffsetMs,
  type RankedCoin,
} from '../../src/domain/scanner-mitigations.ts';

const ids = Array.from({ length: 1000 }, (_, i) => `c_${i.toString(36).padStart(6, '0')}`);

describe('customerJitter', () => {
  it('is the same for a customer on every call and differs between customers', () => {
    expect(customerJitter('c_abc123', 10)).toEqual(customerJitter('c_abc123', 10));
    const distinct = new Set(ids.map((id) => JSON.stringify(customerJitter(id, 10))));
    expect(distinct.size).toBe(ids.length);
    // tp and dev are drawn independently.
    expect(ids.filter((id) => customerJitter(id, 10).tp === customerJitter(id, 10).dev)).toEqual([]);
  });

  it('moves each factor by between half of maxPct and maxPct, both up and down', () => {
    for (const maxPct of [10, 4, MAX_JITTER_PCT]) {
      const moves = ids.flatMap((id) => {
        const j = customerJitter(id, maxPct);
        return [(j.tp - 1) * 100, (j.dev - 1) * 100];
      });
      for (const move of moves) {
        expect(Math.abs(move)).toBeGreaterThanOrEqual(maxPct / 2 - 1e-9);
        expect(Math.abs(move)).toBeLessThanOrEqual(maxPct + 1e-9);
      }
      const up = moves.filter((m) => m > 0).length;
      // A fair sign: about half up, half down (binomial, 2000 draws: ±5 sd is ±112).
      expect(up).toBeGreaterThan(1000 - 112);
      expect(up).toBeLessThan(1000 + 112);
      // Magnitudes spread over the whole [max/2, max] band, not stuck at one end.
      const mags = moves.map(Math.abs);
      expect(Math.min(...mags)).toBeLessThan(maxPct * 0.52);
      expect(Math.max(...mags)).toBeGreaterThan(maxPct * 0.98);
    }
  });

  it('is no jitter at 0 % and refuses a range outside [0, 20] %', () => {
    expect(customerJitter('c_abc123', 0)).toEqual({ tp: 1, dev: 1 });
    expect(() => customerJitter('c_abc123', 20.01)).toThrow(RangeError);
    expect(() => customerJitter('c_abc123', -1)).toThrow(RangeError);
    expect(() => customerJitter('c_abc123', NaN)).toThrow(RangeError);
    expect(() => customerJitter('', 10)).toThrow(RangeError);
  });
});

describe('jitterParams', () => {
  it('scales both ends of tp_range and deviation_range, rounded to 4 decimals, and nothing else', () => {
    const out = jitterParams(DEFAULT_STRATEGY_PARAMS, { tp: 1.07, dev: 0.9333333 });
    expect(out.params.tp_range).toEqual([0.642, 2.675]);
    expect(out.params.deviation_range).toEqual([1.12, 3.7333]);
    expect({ ...out.params, tp_range: null, deviation_range: null }).toEqual({
      ...DEFAULT_STRATEGY_PARAMS.params,
      tp_range: null,
      deviation_range: null,
    });
    expect(out.regimes).toEqual(DEFAULT_STRATEGY_PARAMS.regimes);
    expect(DEFAULT_STRATEGY_PARAMS.params.tp_range).toEqual([0.6, 2.5]);
    expect(Object.isFrozen(out.params)).toBe(true);
  });

  it('keeps every customer’s jittered set valid', () => {
    for (const id of ids.slice(0, 200)) {
      const out = jitterParams(DEFAULT_STRATEGY_PARAMS, customerJitter(id, MAX_JITTER_PCT));
      expect(parseStrategyParamSet(out).ok).toBe(true);
      const [lo, hi] = out.params.tp_range;
      expect(lo).toBeLessThanOrEqual(hi);
      expect(lo).not.toBe(0.6);
    }
  });

  it('refuses factors that are not positive numbers, and a result the schema rejects', () => {
    expect(() => jitterParams(DEFAULT_STRATEGY_PARAMS, { tp: 0, dev: 1 })).toThrow(RangeError);
    expect(() => jitterParams(DEFAULT_STRATEGY_PARAMS, { tp: 1, dev: NaN })).toThrow(RangeError);
    // 0.6 × 1e-5 rounds to 0 at 4 decimals: tp_range must be > 0.
    expect(() => jitterParams(DEFAULT_STRATEGY_PARAMS, { tp: 1e-5, dev: 1 })).toThrow(/tp_range/);
  });
});

describe('staggerOffsetMs and releasedAt', () => {
  it('gives each customer a stable offset inside the window, spread over all of it', () => {
    const windowMs = DEFAULT_STAGGER_WINDOW_MS;
    expect(staggerOffsetMs('c_abc123', windowMs)).toBe(staggerOffsetMs('c_abc123', windowMs));
    const quarters = [0, 0, 0, 0];
    for (const id of ids) {
      const offset = staggerOffsetMs(id, windowMs);
      expect(Number.isInteger(offset)).toBe(true);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(windowMs);
      quarters[Math.floor((offset / windowMs) * 4)]!++;
    }
    // Uniform would be 250 each; ±5 sd of a binomial(1000, 1/4) is ±69.
    for (const count of quarters) expect(count).toBeGreaterThan(250 - 69);
    expect(new Set(ids.map((id) => staggerOffsetMs(id, windowMs))).size).toBeGreaterThan(990);
  });

  it('releases a scan at its time plus the customer’s offset; a zero window releases at once', () => {
    const takenAt = new Date('2026-02-16T00:07:11Z');
    const released = releasedAt(takenAt, 'c_abc123', 4 * 3_600_000);
    expect(released.getTime() - takenAt.getTime()).toBe(staggerOffsetMs('c_abc123', 4 * 3_600_000));
    expect(releasedAt(takenAt, 'c_abc123', 0).getTime()).toBe(takenAt.getTime());
    expect(() => staggerOffsetMs('c_abc123', -1)).toThrow(RangeError);
  });
});

describe('coinConcentration', () => {
  const base = { capitalBySymbol: { 'SOL/USDT': 3000, 'BTC/USDT': 2000 }, totalCapitalUsd: 10_000 };

  it('allows a coin up to exactly 40 % of the tier capital', () => {
    expect(coinConcentration({ ...base, symbol: 'SOL/USDT', addUsd: 1000 })).toEqual({ ok: true });
    expect(coinConcentration({ ...base, symbol: 'ETH/USDT', addUsd: 4000 })).toEqual({ ok: true });
  });

  it('refuses a cent over 40 %, saying how much may still go on the coin', () => {
    const check = coinConcentration({ ...base, symbol: 'SOL/USDT', addUsd: 1000.01 });
    expect(check).toMatchObject({ ok: false, sharePct: 40, maxUsd: 1000 });
    if (check.ok) throw new Error('expected a refusal');
    expect(check.message).toContain('SOL/USDT');
    expect(check.message).toContain('40%');
    expect(check.message).toContain('$4,000');
    expect(check.message).toContain('add up to $1,000 more');

    const big = coinConcentration({ ...base, symbol: 'SOL/USDT', addUsd: 2000 });
    expect(big).toMatchObject({ ok: false, sharePct: 50, maxUsd: 1000 });
  });

  it('says to pick another coin when the coin is already at its cap', () => {
    const check = coinConcentration({ ...base, capitalBySymbol: { 'SOL/USDT': 4000 }, symbol: 'SOL/USDT', addUsd: 5 });
    expect(check).toMatchObject({ ok: false, maxUsd: 0 });
    if (check.ok) throw new Error('expected a refusal');
    expect(check.message).toMatch(/pick another coin/);
    expect(check.message).not.toMatch(/add up to/);
  });

  it('honours another maximum share and refuses nonsense inputs', () => {
    expect(coinConcentration({ ...base, maxSharePct: 25, symbol: 'ETH/USDT', addUsd: 2500 })).toEqual({ ok: true });
    expect(coinConcentration({ ...base, maxSharePct: 25, symbol: 'ETH/USDT', addUsd: 2501 }).ok).toBe(false);
    expect(() => coinConcentration({ ...base, totalCapitalUsd: 0, symbol: 'X', addUsd: 1 })).toThrow(RangeError);
    expect(() => coinConcentration({ ...base, symbol: 'X', addUsd: -1 })).toThrow(RangeError);
    expect(() => coinConcentration({ ...base, maxSharePct: 0, symbol: 'X', addUsd: 1 })).toThrow(RangeError);
  });
});

describe('footprint', () => {
  it('reports coins at or over 20 % of their 24 h volume, largest first', () => {
    const report = footprint({
      capitalUsdBySymbol: { 'A/USDT': 200_000, 'B/USDT': 199_990, 'C/USDT': 500_000, 'D/USDT': 10 },
      quoteVolume24hBySymbol: { 'A/USDT': 1_000_000, 'B/USDT': 1_000_000, 'C/USDT': 1_000_000, 'D/USDT': 1_000_000 },
    });
    expect(report.over).toEqual([
      { symbol: 'C/USDT', capitalUsd: 500_000, volumeUsd: 1_000_000, pct: 50 },
      { symbol: 'A/USDT', capitalUsd: 200_000, volumeUsd: 1_000_000, pct: 20 },
    ]);
    expect(report.unassessed).toEqual([]);
  });

  it('reports coins without a known volume separately, never as over', () => {
    const report = footprint({
      capitalUsdBySymbol: { 'Z/USDT': 1000, 'Y/USDT': 1000, 'X/USDT': 1000, 'IDLE/USDT': 0 },
      quoteVolume24hBySymbol: { 'Y/USDT': 0, 'X/USDT': NaN },
    });
    expect(report.over).toEqual([]);
    expect(report.unassessed).toEqual(['X/USDT', 'Y/USDT', 'Z/USDT']);
  });

  it('takes another threshold', () => {
    const input = { capitalUsdBySymbol: { 'A/USDT': 100 }, quoteVolume24hBySymbol: { 'A/USDT': 1000 } };
    expect(footprint({ ...input, thresholdPct: 10 }).over.map((e) => e.symbol)).toEqual(['A/USDT']);
    expect(footprint({ ...input, thresholdPct: 10.01 }).over).toEqual([]);
  });
});

describe('rotationTarget', () => {
  const rankings: RankedCoin[] = [
    { symbol: 'TOP/USDT', composite_score: 60, daily_roi_pct: 0.3 },
    { symbol: 'TIE/USDT', composite_score: 60, daily_roi_pct: 0.2 },
    { symbol: 'MID/USDT', composite_score: 59.95, daily_roi_pct: 0.3 },
    { symbol: 'CUR/USDT', composite_score: 50, daily_roi_pct: 0.2 },
    { symbol: 'LOW/USDT', composite_score: 10, daily_roi_pct: 0.05 },
  ];

  it('rotates at exactly +20 % to the best-ranked other coin', () => {
    expect(rotationTarget({ currentSymbol: 'CUR/USDT', rankings })).toEqual({
      symbol: 'TOP/USDT',
      score: 60,
      currentScore: 50,
      improvementPct: 20,
    });
  });

  it('does not rotate at +19.9 %', () => {
    const below = rankings.filter((r) => r.composite_score !== 60);
    expect(rotationTarget({ currentSymbol: 'CUR/USDT', rankings: below })).toBeNull();
  });

  it('holds the +20 % boundary for scores whose product is not exact in binary', () => {
    // 10.3 × 1.2 = 12.360000000000001 in floats, yet 12.36 is exactly +20 %.
    const coins = [
      { symbol: 'A', composite_score: 10.3 },
      { symbol: 'B', composite_score: 12.36 },
    ];
    expect(rotationTarget({ currentSymbol: 'A', rankings: coins })).toMatchObject({ symbol: 'B', improvementPct: 20 });
    expect(rotationTarget({ currentSymbol: 'A', rankings: [coins[0]!, { symbol: 'B', composite_score: 12.35 }] })).toBeNull();
  });

  it('skips excluded coins and takes the next best that clears the threshold', () => {
    expect(rotationTarget({ currentSymbol: 'CUR/USDT', rankings, excluded: new Set(['TOP/USDT']) })?.symbol).toBe('TIE/USDT');
    expect(rotationTarget({ currentSymbol: 'CUR/USDT', rankings, excluded: new Set(['TOP/USDT', 'TIE/USDT']) })).toBeNull();
  });

  it('uses the ranking order even when the list is not sorted', () => {
    expect(rotationTarget({ currentSymbol: 'CUR/USDT', rankings: [...rankings].reverse() })?.symbol).toBe('TOP/USDT');
  });

  it('returns null when the current coin is not in the rankings', () => {
    expect(rotationTarget({ currentSymbol: 'GONE/USDT', rankings })).toBeNull();
  });

  it('leaves a losing coin for any coin that scores above 0, and never for one at 0', () => {
    const coins = [
      { symbol: 'LOSS', composite_score: 0 },
      { symbol: 'ALSO0', composite_score: 0 },
    ];
    expect(rotationTarget({ currentSymbol: 'LOSS', rankings: coins })).toBeNull();
    expect(rotationTarget({ currentSymbol: 'LOSS', rankings: [...coins, { symbol: 'WIN', composite_score: 0.01 }] })).toEqual({
      symbol: 'WIN',
      score: 0.01,
      currentScore: 0,
      improvementPct: null,
    });
  });

  it('takes another threshold and refuses a negative one', () => {
    expect(rotationTarget({ currentSymbol: 'CUR/USDT', rankings, thresholdPct: 21 })).toBeNull();
    expect(rotationTarget({ currentSymbol: 'LOW/USDT', rankings, thresholdPct: 100 })?.symbol).toBe('TOP/USDT');
    expect(() => rotationTarget({ currentSymbol: 'CUR/USDT', rankings, thresholdPct: -1 })).toThrow(RangeError);
  });
});
