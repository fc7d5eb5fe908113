import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VenueError } from '../../src/exchange/venue.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries, CandleView } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { MarketDataService } from '../../src/market-data/market-data-service.ts';
import { loadReplaySeries, ReplayCandleSource } from '../../src/market-data/replay-source.ts';

const dataDir = projectPath('..', 'shared', 'data', 'candles');
const M5 = 300_000;
const NOW = '2026-03-01T12:00:00Z';

let ethBtc: CandleSeries;
beforeAll(async () => {
  const loaded = await loadCandlesCsv(join(dataDir, 'ETH_BTC-5m.csv'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  ethBtc = loaded.series;
});

const times = (candles: readonly CandleView[]): number[] => candles.map((c) => c.time);
const range = (series: CandleSeries, from: number, to: number): number[] => Array.from(series.time.subarray(from, to));

async function rejection(promise: Promise<unknown>): Promise<VenueError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VenueError);
  return error as VenueError;
}

describe('ReplayCandleSource', () => {
  it('reveals candles as the clock advances, scaled by speed, with their historical timestamps', async () => {
    const clock = new TestClock(NOW);
    const replay = new ReplayCandleSource({ series: ethBtc, clock, speed: 60 }); // a 5m candle every 5 s
    expect(replay.exchange).toBe('replay');
    expect(replay.symbols).toEqual(['ETH/BTC']);
    expect(replay.pollHintMs).toBe(2500);

    const newest = async (): Promise<number> => (await replay.fetchCandles('ETH/BTC', '5m', undefined, 1))[0]!.time;
    const latest = await replay.fetchCandles('ETH/BTC', '5m', undefined, 3);
    expect(times(latest)).toEqual(range(ethBtc, 198, 201)); // startIndex 200 is the forming candle
    expect(latest[2]).toEqual({
      time: ethBtc.time[200],
      open: ethBtc.open[200],
      high: ethBtc.high[200],
      low: ethBtc.low[200],
      close: ethBtc.close[200],
      volume: ethBtc.volume[200],
    });

    clock.advance(4999);
    expect(await newest()).toBe(ethBtc.time[200]);
    clock.advance(1);
    expect(await newest()).toBe(ethBtc.time[201]);
    clock.advance(10 * 5000);
    expect(await newest()).toBe(ethBtc.time[211]);

    // since/limit page through what is visible, never beyond it.
    expect(times(await replay.fetchCandles('ETH/BTC', '5m', ethBtc.time[150], 1000))).toEqual(range(ethBtc, 150, 212));
    expect(times(await replay.fetchCandles('ETH/BTC', '5m', ethBtc.time[150]! - 1, 3))).toEqual(range(ethBtc, 150, 153));
    expect(await replay.fetchCandles('ETH/BTC', '5m', ethBtc.time[212], 10)).toEqual([]);
    expect(await replay.fetchCandles('ETH/BTC', '5m', undefined, 0)).toEqual([]);

    const realTime = new ReplayCandleSource({ series: ethBtc, clock, speed: 1, startIndex: 10 });
    expect(realTime.pollHintMs).toBe(150_000);
    clock.advance(M5 - 1);
    expect((await realTime.fetchCandles('ETH/BTC', '5m', undefined, 1))[0]!.time).toBe(ethBtc.time[10]);
    clock.advance(1);
    expect((await realTime.fetchCandles('ETH/BTC', '5m', undefined, 1))[0]!.time).toBe(ethBtc.time[11]);
    expect(new ReplayCandleSource({ series: ethBtc, clock, speed: 1e6 }).pollHintMs).toBe(50);
  });

  it('keeps returning the last candles once the data runs out', async () => {
    const clock = new TestClock(NOW);
    const replay = new ReplayCandleSource({ series: ethBtc, clock, speed: 1000 });
    clock.advance(365 * 86_400_000);
    const end = ethBtc.length;
    expect(times(await replay.fetchCandles('ETH/BTC', '5m', undefined, 2))).toEqual(range(ethBtc, end - 2, end));
    clock.advance(86_400_000);
    expect(times(await replay.fetchCandles('ETH/BTC', '5m', ethBtc.time[end - 1], 5))).toEqual(range(ethBtc, end - 1, end));
    expect(await replay.fetchCandles('ETH/BTC', '5m', ethBtc.time[end - 1]! + M5, 5)).toEqual([]);
  });

  it('rejects unknown symbols and other timeframes as bad_symbol, with a clear message', async () => {
    const clock = new TestClock(NOW);
    const replay = new ReplayCandleSource({ series: ethBtc, clock, speed: 60 });

    const wrongTimeframe = await rejection(replay.fetchCandles('ETH/BTC', '1m', undefined, 10));
    expect(wrongTimeframe.kind).toBe('rejected');
    expect(wrongTimeframe.reason).toBe('bad_symbol');
    expect(wrongTimeframe.details.exchangeId).toBe('replay');
    expect(wrongTimeframe.message).toBe(
      'replay candles for ETH/BTC are 5m, not 1m; subscribe with timeframe 5m or load 1m candles',
    );

    const unknown = await rejection(replay.fetchCandles('DOGE/USDT', '5m', undefined, 10));
    expect(unknown.kind).toBe('rejected');
    expect(unknown.reason).toBe('bad_symbol');
    expect(unknown.message).toBe('replay has no candles for DOGE/USDT; it replays ETH/BTC');

    const nonsense = await rejection(replay.fetchCandles('ETH/BTC', 'five minutes', undefined, 10));
    expect(nonsense.reason).toBe('bad_symbol');
    expect(nonsense.message).toMatch(/unsupported timeframe "five minutes"/);

    expect(() => new ReplayCandleSource({ series: ethBtc, clock, speed: 0 })).toThrow(/speed must be a positive number/);
    expect(() => new ReplayCandleSource({ series: ethBtc, clock, speed: 1, startIndex: ethBtc.length })).toThrow(
      /hold 5760 candles, so startIndex 5760 leaves none to replay/,
    );
    expect(() => new ReplayCandleSource({ series: new Map(), clock, speed: 1 })).toThrow(/at least one symbol/);
  });
});

describe('loadReplaySeries', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ait-replay-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('finds the symbols by file name and loads them with their timeframes', async () => {
    const series = await loadReplaySeries(dataDir, ['ETH/BTC', 'ada/btc']);
    expect([...series.keys()].sort()).toEqual(['ADA/BTC', 'ETH/BTC']);
    expect(series.get('ETH/BTC')!.length).toBe(5760);
    expect(series.get('ADA/BTC')!.length).toBe(5720);
    expect(series.get('ADA/BTC')!.symbol).toBe('ADA/BTC');
    expect(series.get('ETH/BTC')!.timeframeMs).toBe(M5);

    const replay = new ReplayCandleSource({ series, clock: new TestClock(NOW), speed: 60 });
    expect(replay.symbols.sort()).toEqual(['ADA/BTC', 'ETH/BTC']);
    expect((await replay.fetchCandles('ADA/BTC', '5m', undefined, 1))[0]!.time).toBe(series.get('ADA/BTC')!.time[200]);
  });

  it('picks among several files of a symbol by timeframe and tag', async () => {
    await expect(loadReplaySeries(dataDir, ['BTC/USDT'])).rejects.toThrow(
      /several candle files in .* for BTC\/USDT \(BTC_USDT-1m\.csv, BTC_USDT-5m\.csv\); pass a timeframe/,
    );
    const tagged = await loadReplaySeries(dataDir, ['ETH/USDT'], { timeframe: '5m', tag: '2021' });
    const eth = tagged.get('ETH/USDT')!;
    expect(eth.length).toBe(65_742); // ETH_USDT-5m-2021.csv, not ETH_USDT-5m.csv
    expect(eth.time[0]).toBe(Date.parse('2020-12-01T00:00:00Z'));
  });

  it('names what is missing or unreadable', async () => {
    await expect(loadReplaySeries(dataDir, ['DOGE/USDT'])).rejects.toThrow(/no candle file for DOGE\/USDT in .*; found: ADA_BTC-5m\.csv, /);
    await expect(loadReplaySeries(dataDir, ['ETH/BTC'], { timeframe: '1h' })).rejects.toThrow(/no candle file for ETH\/BTC \(1h\)/);
    await expect(loadReplaySeries(join(scratch, 'nope'))).rejects.toThrow(/cannot read replay candles from .*nope: no such directory/);

    await writeFile(join(scratch, 'GOOD_USDT-5m.csv'), 'timestamp_ms,open,high,low,close,volume\n1700000100000,1,2,1,2,5\n1700000400000,2,2,1,1,5\n');
    await writeFile(join(scratch, 'BAD_USDT-5m.csv'), 'time,o,h,l,c,v\n1700000100000,1,2,1,2,5\n');
    await writeFile(join(scratch, 'SKEW_USDT-1m.csv'), 'timestamp_ms,open,high,low,close,volume\n1700000100000,1,2,1,2,5\n1700000400000,2,2,1,1,5\n');
    await writeFile(join(scratch, 'notes.txt'), 'not candles');
    const error = await loadReplaySeries(scratch).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^cannot load replay candles: /);
    expect(error?.message).toContain(`${join(scratch, 'BAD_USDT-5m.csv')}: line 1: header must be exactly`);
    expect(error?.message).toContain(`${join(scratch, 'SKEW_USDT-1m.csv')}: timeframeMs is 1m but the candles are 5m apart`);
    expect((await loadReplaySeries(scratch, ['GOOD/USDT'])).get('GOOD/USDT')!.length).toBe(2);
  });
});

describe('MarketDataService over a ReplayCandleSource', () => {
  it('delivers consecutive candles in order', async () => {
    const clock = new TestClock(NOW);
    const replay = new ReplayCandleSource({ series: ethBtc, clock, speed: 60 });
    const service = new MarketDataService({
      sources: () => replay,
      clock,
      logger: createLogger({ level: 'silent' }),
      pollMs: () => 5,
    });
    const received: CandleView[] = [];
    service.subscribe({ exchange: 'replay', symbol: 'ETH/BTC', timeframe: '5m' }, (c) => void received.push({ ...c }), { history: 20 });
    try {
      const deadline = performance.now() + 5000;
      const waitFor = async (n: number): Promise<void> => {
        while (received.length < n) {
          if (performance.now() > deadline) throw new Error(`only ${received.length} of ${n} candles arrived`);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      };
      await waitFor(20);
      for (let step = 1; step <= 15; step++) {
        clock.advance(5000); // one replayed 5m candle
        await waitFor(20 + step);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      // The present clock is past every historical candle's end, so each candle counts as closed
      // the moment it becomes visible: history ends at startIndex 200, then 201..215 arrive live.
      expect(times(received)).toEqual(range(ethBtc, 181, 216));
      expect(received.slice(1).every((c, i) => c.time - received[i]!.time === M5)).toBe(true);
      expect(received[20]!.close).toBe(ethBtc.close[201]);
      expect(service.healthy({ exchange: 'replay', symbol: 'ETH/BTC', timeframe: '5m' })).toBe(true);
    } finally {
      await service.close();
    }
  });
});
