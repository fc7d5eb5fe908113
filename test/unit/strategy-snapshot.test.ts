// Crash-only recovery: a strategy snapshotted at any step, sent through JSON, and restored into a
// freshly built strategy continues exactly as the uninterrupted one, on real candles. The venue is
// not part of the snapshot, so the resumed run keeps the same SimVenue instance (in production the
// venue's state is the exchange's, reconciled separately).
import { describe, expect, it } from 'vitest';
import { Atr, Ema, Rsi, Sma } from '../../src/engine/indicators/index.ts';
import { RegimeDetector } from '../../src/engine/regime.ts';
import { Regime } from '../../src/engine/regime-codes.ts';
import { buildRun, sliceSeries, type RunSpec } from '../../src/engine/run-spec.ts';
import { Runner, type RiskGate } from '../../src/engine/runner.ts';
import { encodeNumber, SnapshotError } from '../../src/engine/snapshot.ts';
import { GridStrategy } from '../../src/engine/strategies/grid.ts';
import type { OrderIntent, Strategy, StrategySnapshot } from '../../src/engine/types.ts';
import { SimVenue } from '../../src/exchange/sim/sim-venue.ts';
import { emptyCandle, readCandle, type CandleSeries } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';

const loaded = await loadCandlesCsv(projectPath('../shared/data/candles/BTC_USDT-5m.csv'));
if (!loaded.ok) throw new Error(loaded.error.message);
/** 4,000 five-minute candles (~14 days of Jan 2024): DCA and grid both trade plenty in them. */
const series = sliceSeries(loaded.series, 0, 4_000);

function closeRange(s: CandleSeries): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < s.length; i++) {
    lo = Math.min(lo, s.close[i]!);
    hi = Math.max(hi, s.close[i]!);
  }
  return { lo, hi };
}
const { lo, hi } = closeRange(series);
/** A grid over the window's whole range, so that every level gets to trade. */
const wideGrid = { lower: String(lo * 0.98), upper: String(hi * 1.02), count: '12', per_trade_usd: '500' };

function build(spec: RunSpec): Strategy {
  const built = buildRun(spec, series);
  if (!built.ok) throw new Error(built.problem);
  return built.value.strategy;
}

function venueFor(spec: RunSpec): SimVenue {
  const built = buildRun(spec, series);
  if (!built.ok) throw new Error(built.problem);
  return new SimVenue(built.value.venue);
}

interface Trace {
  intents: OrderIntent[];
  equity: number[];
  regimes: number[];
  inMarket: boolean[];
  venue: SimVenue;
  strategy: Strategy;
}

const recordingGate = (log: OrderIntent[]): RiskGate => ({
  check: (intent) => {
    log.push(intent);
    return intent;
  },
});

/**
 * Runs the spec over the series. Before each step k in `cuts`, the strategy is snapshotted, the
 * snapshot goes through JSON, a new strategy is built from the same spec and restored from it,
 * and a new Runner continues over the same venue.
 */
function run(spec: RunSpec, cuts: ReadonlySet<number> = new Set()): Trace {
  const venue = venueFor(spec);
  const intents: OrderIntent[] = [];
  let strategy = build(spec);
  let runner = new Runner(strategy, venue, series.timeframeMs, recordingGate(intents));
  const equity: number[] = [];
  const regimes: number[] = [];
  const inMarket: boolean[] = [];
  const candle = emptyCandle();
  for (let k = 0; k < series.length; k++) {
    if (cuts.has(k)) {
      const stored = JSON.stringify(strategy.snapshot());
      const { regime, inMarket: holding } = strategy;
      strategy = build(spec);
      strategy.restore(JSON.parse(stored) as StrategySnapshot);
      // What reports read between steps is back too, and restore -> snapshot is the identity.
      expect([strategy.regime, strategy.inMarket]).toEqual([regime, holding]);
      expect(JSON.stringify(strategy.snapshot())).toBe(stored);
      runner = new Runner(strategy, venue, series.timeframeMs, recordingGate(intents));
    }
    readCandle(series, k, candle);
    runner.step(candle);
    if (runner.failure) throw runner.failure;
    equity.push(venue.equity(candle.close));
    regimes.push(strategy.regime);
    inMarket.push(strategy.inMarket);
  }
  return { intents, equity, regimes, inMarket, venue, strategy };
}

/** A deterministic spread of cut points: the first steps (warm-up, NaN indicators), and pseudo-random ones. */
function cutPoints(count: number, seed: number): Set<number> {
  const cuts = new Set([0, 1, 2, 60]);
  let x = seed;
  while (cuts.size < count) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    cuts.add(1 + (x % (series.length - 1)));
  }
  return cuts;
}

const CASES: { name: string; spec: RunSpec }[] = [
  { name: 'dca, default parameters', spec: { strategy: 'dca', overrides: {} } },
  { name: 'dca, partial fills (0.001% of candle volume)', spec: { strategy: 'dca', overrides: {}, venue: { maxVolumeParticipationPct: 0.001 } } },
  { name: 'grid, default range (±10% of the first close, 10 levels)', spec: { strategy: 'grid', overrides: {} } },
  { name: 'grid, 12 levels over the whole range', spec: { strategy: 'grid', overrides: wideGrid } },
  {
    name: 'grid, 12 levels over the whole range, partial fills (0.002% of candle volume)',
    spec: { strategy: 'grid', overrides: wideGrid, venue: { maxVolumeParticipationPct: 0.002 } },
  },
];

describe('strategy snapshot/restore on real candles (BTC/USDT 5m)', () => {
  for (const { name, spec } of CASES) {
    describe(name, () => {
      const whole = run(spec);
      const count = (kind: OrderIntent['kind']) => whole.intents.filter((i) => i.kind === kind).length;

      it('is a run that exercises the state: fills, closed cycles, re-placed legs', () => {
        expect(whole.venue.fills.length).toBeGreaterThan(50);
        expect(whole.strategy.cycles.length).toBeGreaterThan(20);
        expect(count('replace')).toBeGreaterThan(20);
        if (spec.strategy === 'dca') {
          expect(whole.venue.fills.filter((f) => f.tag.startsWith('so')).length).toBeGreaterThan(10);
          expect(count('cancel')).toBeGreaterThan(10);
        }
        if (spec.venue?.maxVolumeParticipationPct) expect(whole.venue.fills.filter((f) => !f.complete).length).toBeGreaterThan(20);
      });

      const resumedRuns: [string, () => Set<number>][] = [
        ['at 12 cut points', () => cutPoints(12, 7 + name.length)],
        ['at every step', () => new Set(Array.from({ length: series.length }, (_, k) => k))],
      ];
      for (const [label, cuts] of resumedRuns) {
        it(`resumed ${label} from a JSON snapshot, it trades exactly as the uninterrupted run`, () => {
          const resumed = run(spec, cuts());
          expect(resumed.intents).toEqual(whole.intents);
          expect(resumed.venue.fills).toEqual(whole.venue.fills);
          expect(resumed.strategy.cycles).toEqual(whole.strategy.cycles);
          expect(resumed.equity).toEqual(whole.equity);
          expect(resumed.equity.at(-1)).toBe(whole.equity.at(-1));
          expect(resumed.regimes).toEqual(whole.regimes);
          expect(resumed.inMarket).toEqual(whole.inMarket);
          expect(resumed.strategy.snapshot()).toEqual(whole.strategy.snapshot());
        });
      }
    });
  }

  it('writes plain JSON: NaN (warming indicators) and -0 are encoded, and a round trip changes nothing', () => {
    for (const { spec } of CASES) {
      const fresh = build(spec).snapshot();
      expect(JSON.stringify(fresh)).toContain('"NaN"'); // ATR and SMA before warm-up
      expect(JSON.parse(JSON.stringify(fresh))).toStrictEqual(fresh);
      const done = run(spec).strategy.snapshot();
      expect(JSON.parse(JSON.stringify(done))).toStrictEqual(done);
    }
    expect([NaN, Infinity, -Infinity, -0, 0, 1.5].map(encodeNumber)).toEqual(['NaN', 'Infinity', '-Infinity', '-0', 0, 1.5]);
  });

  it('has the documented shape', () => {
    const dca = run(CASES[0]!.spec).strategy.snapshot();
    expect(dca).toMatchObject({ strategy: 'dca', version: '1.0.0' });
    expect(Object.keys(dca.state as object).sort()).toEqual(['atr', 'atrValue', 'cycle', 'cycles', 'detector', 'regime']);
    expect((dca.state as { atr: unknown }).atr).toBeNull(); // the detector keeps the ATR
    expect(Object.keys((dca.state as { detector: object }).detector).sort()).toEqual(['atr', 'code', 'historyCount', 'historyHead', 'lookback', 'sma', 'smaHistory']);
    const grid = run(CASES[3]!.spec).strategy.snapshot() as { state: Record<string, unknown> };
    for (const key of ['levels', 'heldQty', 'heldCost', 'heldNotional', 'boughtAt', 'realised', 'armed', 'legPrice', 'legPlacedAt', 'retries']) {
      expect(grid.state[key], key).toHaveLength(13);
    }
    expect((grid.state.retries as number[]).some((r) => r > 0)).toBe(true);
  });
});

describe('restore refuses what does not fit', () => {
  const dcaSpec = CASES[0]!.spec;
  const gridSpec = CASES[3]!.spec;
  const gridState = () => run(gridSpec).strategy.snapshot();
  const withState = (s: StrategySnapshot, patch: Record<string, unknown>): StrategySnapshot => ({ ...s, state: { ...(s.state as object), ...patch } as never });

  it('a snapshot of another strategy or version', () => {
    const grid = build(gridSpec).snapshot();
    expect(() => build(dcaSpec).restore(grid)).toThrow(new SnapshotError('snapshot is from grid 1.0.0, this is dca 1.0.0'));
    expect(() => build(gridSpec).restore(build(dcaSpec).snapshot())).toThrow('snapshot is from dca 1.0.0, this is grid 1.0.0');
    expect(() => build(gridSpec).restore({ ...grid, version: '0.9.0' })).toThrow('snapshot is from grid 0.9.0, this is grid 1.0.0');
    expect(() => build(gridSpec).restore(null as never)).toThrow(/not a strategy snapshot/);
  });

  it('a grid rebuilt with a different level count or range', () => {
    const snap = gridState();
    expect(() => build({ strategy: 'grid', overrides: { ...wideGrid, count: '6' } }).restore(snap)).toThrow(
      "grid state.levels: the snapshot's grid has 13 levels, this grid 7 (was it rebuilt with a different count?)",
    );
    expect(() => build({ strategy: 'grid', overrides: { ...wideGrid, upper: String(hi * 1.05) } }).restore(snap)).toThrow(
      /grid state\.levels: level 1 is .* in the snapshot, .* in this grid \(was it rebuilt with a different lower, upper or spacing\?\)/,
    );
  });

  it('malformed state: wrong array lengths, types, ranges, missing or unknown fields', () => {
    const snap = gridState();
    const state = snap.state as { heldQty: unknown[]; armed: number[] };
    const grid = () => build(gridSpec);
    expect(() => grid().restore(withState(snap, { heldQty: state.heldQty.slice(1) }))).toThrow(
      'grid state.heldQty: has 12 entries, expected 13 (one per grid level)',
    );
    expect(() => grid().restore(withState(snap, { armed: [2, ...state.armed.slice(1)] }))).toThrow('grid state.armed[0]: expected an integer in 0..1, got 2');
    expect(() => grid().restore(withState(snap, { heldCost: 'lots' }))).toThrow('grid state.heldCost: expected an array, got "lots"');
    expect(() => grid().restore(withState(snap, { nearest: 13 }))).toThrow('grid state.nearest: expected an integer in -1..12, got 13');
    expect(() => grid().restore(withState(snap, { started: 1 }))).toThrow('grid state.started: expected true or false, got 1');
    expect(() => grid().restore(withState(snap, { extra: 1 }))).toThrow('grid state: unexpected extra');
    const { cycles: _cycles, ...noCycles } = snap.state as Record<string, unknown>;
    expect(() => grid().restore({ ...snap, state: noCycles as never })).toThrow('grid state: missing cycles');
    expect(() => grid().restore(withState(snap, { cycles: [{ openedAt: 1, closedAt: 2, pnl: null }] }))).toThrow(
      'grid state.cycles[0].pnl: expected a number, got null',
    );

    const dca = run(dcaSpec).strategy.snapshot();
    const cycle = (dca.state as { cycle: Record<string, unknown> }).cycle;
    expect(() => build(dcaSpec).restore(withState(dca, { cycle: { ...cycle, qty: 'NaNa' } }))).toThrow('dca state.cycle.qty: expected a number, got "NaNa"');
    expect(() => build(dcaSpec).restore(withState(dca, { cycle: { ...cycle, nextSo: 0 } }))).toThrow('dca state.cycle.nextSo: expected an integer in 1..9, got 0');
  });

  it('a regime detector or indicator built with other periods', () => {
    const dca = run(dcaSpec).strategy.snapshot();
    expect(() => build({ strategy: 'dca', overrides: { sma_period: '20' } }).restore(dca)).toThrow(
      'dca state.detector.sma.period: snapshot has 50, this Sma has 20',
    );
    const detector = (dca.state as { detector: Record<string, unknown> }).detector;
    expect(() => build(dcaSpec).restore(withState(dca, { detector: { ...detector, smaHistory: [1, 2] } }))).toThrow(
      'dca state.detector.smaHistory: has 2 entries, expected 50 (one per lookback candle)',
    );
  });

  it('detector state the strategy cannot take, or lacks', () => {
    const stateless = new GridStrategy({ ...buildGridParams(), lower: lo * 0.98, upper: hi * 1.02 }, { update: () => Regime.RANGING });
    const snap = gridState();
    expect(() => stateless.restore(snap)).toThrow('grid state.detector: the snapshot has regime detector state, but this regime detector keeps none');
    expect(() => build(gridSpec).restore(stateless.snapshot())).toThrow(
      'grid state.detector: the snapshot has no regime detector state, but this regime detector keeps state',
    );
  });

  it('a refused snapshot changes nothing, even when the last check fails deep in the detector', () => {
    const done = run(dcaSpec).strategy.snapshot();
    const detector = (done.state as { detector: Record<string, unknown> }).detector;
    const fresh = build(dcaSpec);
    const before = JSON.stringify(fresh.snapshot());
    const broken = withState(done, { detector: { ...detector, atr: { ...(detector.atr as object), count: -1 } } });
    expect(() => fresh.restore(broken)).toThrow('dca state.detector.atr.count: expected an integer in 0..14, got -1');
    expect(JSON.stringify(fresh.snapshot())).toBe(before);
    fresh.restore(done);
    expect(fresh.snapshot()).toEqual(done);
  });
});

function buildGridParams() {
  const built = buildRun(CASES[3]!.spec, series);
  if (!built.ok || !built.value.grid) throw new Error('grid spec');
  return built.value.grid;
}

describe('indicator snapshots', () => {
  const closes = Array.from(series.close.subarray(0, 500));
  const make = {
    sma: () => new Sma(20),
    ema: () => new Ema(20),
    rsi: () => new Rsi(14),
  };
  for (const [name, factory] of Object.entries(make)) {
    it(`${name}: restored mid-stream (warming up and warm) it continues bit for bit`, () => {
      for (const cut of [0, 5, 19, 20, 21, 137]) {
        const a = factory();
        const b = factory();
        for (let i = 0; i < cut; i++) a.update(closes[i]!);
        b.restore(JSON.parse(JSON.stringify(a.snapshot())));
        for (let i = cut; i < closes.length; i++) expect(b.update(closes[i]!)).toBe(a.update(closes[i]!));
      }
    });
  }

  it('atr: restored mid-stream it continues bit for bit; another period is refused', () => {
    for (const cut of [0, 1, 13, 14, 15, 300]) {
      const a = new Atr(14);
      const b = new Atr(14);
      const step = (x: Atr, i: number) => x.update(series.high[i]!, series.low[i]!, series.close[i]!);
      for (let i = 0; i < cut; i++) step(a, i);
      b.restore(JSON.parse(JSON.stringify(a.snapshot())));
      for (let i = cut; i < 500; i++) expect(step(b, i)).toBe(step(a, i));
    }
    expect(() => new Atr(10).restore(new Atr(14).snapshot())).toThrow('atr.period: snapshot has 14, this Atr has 10');
    expect(() => new Sma(5).restore({ ...new Sma(5).snapshot(), head: 5 })).toThrow('sma.head: expected an integer in 0..4, got 5');
  });

  it('regime detector: restored mid-stream it classifies exactly as the uninterrupted one', () => {
    const options = { smaPeriod: 50, atrPeriod: 14, atrBaselinePct: 0.8, extremeAtrMult: 2.5, trendThresholdPct: 0.5, trendSlopeLookback: 50 };
    for (const cut of [0, 49, 50, 98, 99, 100, 1234]) {
      const a = new RegimeDetector(options);
      const b = new RegimeDetector(options);
      const step = (d: RegimeDetector, i: number) => d.update(series.high[i]!, series.low[i]!, series.close[i]!);
      for (let i = 0; i < cut; i++) step(a, i);
      b.restore(JSON.parse(JSON.stringify(a.snapshot())));
      expect([b.value, b.ready, b.atrValue]).toEqual([a.value, a.ready, a.atrValue]);
      for (let i = cut; i < 2_000; i++) {
        expect(step(b, i)).toBe(step(a, i));
        expect(b.atrValue).toBe(a.atrValue);
      }
    }
    expect(() => new RegimeDetector({ ...options, trendSlopeLookback: 0 }).restore(new RegimeDetector(options).snapshot())).toThrow(
      'regime detector.lookback: snapshot has a slope lookback of 50, this detector 0',
    );
  });
});
