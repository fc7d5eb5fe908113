// The router's inputs: closed daily candles from a live candle source (the forming candle and a
// day in progress left out) and from a replayed 5m series (MARKET_DATA=replay).
import { describe, expect, it } from 'vitest';
import { detectMarketRegime } from '../../src/engine/market-regime.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { REGIME_LOOKBACK_DAYS, routerInputs, seriesDailyCandles, sourceDailyCandles } from '../../src/market-data/regime-inputs.ts';
import { ReplayCandleSource } from '../../src/market-data/replay-source.ts';

const DAY = 86_400_000;
const H4 = 4 * 3_600_000;

function series(symbol: string, timeframeMs: number, start: number, closes: readonly number[]): CandleSeries {
  const col = (f: (c: number) => number) => Float64Array.from(closes, f);
  return {
    symbol,
    timeframeMs,
    length: closes.length,
    time: Float64Array.from(closes, (_, i) => start + i * timeframeMs),
    open: col((c) => c - 1),
    high: col((c) => c + 1),
    low: col((c) => c - 2),
    close: col((c) => c),
    volume: col(() => 1),
  };
}

describe('router inputs', () => {
  it('reads closed candles of the lookback from a live source, merging 4h candles into whole UTC days', async () => {
    const start = Date.UTC(2026, 0, 1);
    // 100 days of 4h candles up to 2026-04-10 12:00 (the one opening then is still forming).
    const closes = Array.from({ length: 100 * 6 + 4 }, (_, i) => 100 + i);
    const clock = new TestClock(new Date(start + 100 * DAY + 3 * H4 + 1_000));
    const source = new ReplayCandleSource({ series: series('BTC/USDT', H4, start, closes), clock, speed: 1, startIndex: closes.length - 1 });
    const daily = await sourceDailyCandles(source, 'BTC/USDT', clock, { timeframe: '4h' })();
    expect(daily).toHaveLength(REGIME_LOOKBACK_DAYS); // today (half over) is left out
    expect(daily.at(-1)).toEqual({ time: start + 99 * DAY, open: 100 + 99 * 6 - 1, high: 100 + 99 * 6 + 5 + 1, low: 100 + 99 * 6 - 2, close: 100 + 99 * 6 + 5, volume: 6 });
    expect(daily[0]!.time).toBe(start + 10 * DAY);
    for (let i = 1; i < daily.length; i++) expect(daily[i]!.time - daily[i - 1]!.time).toBe(DAY);
  });

  it('leaves out the daily candle still forming', async () => {
    const start = Date.UTC(2026, 0, 1);
    const closes = Array.from({ length: 100 }, (_, i) => 100 + i);
    const clock = new TestClock(new Date(start + 99 * DAY + 5 * 3_600_000)); // candle 99 opened 5 h ago
    const source = new ReplayCandleSource({ series: series('SPY', DAY, start, closes), clock, speed: 1, startIndex: 99 });
    const daily = await sourceDailyCandles(source, 'SPY', clock)();
    expect(daily.at(-1)!.close).toBe(100 + 98);
    expect(daily).toHaveLength(90);
  });

  it('reads the last days of a replayed 5m series whatever the clock says, and a regime comes out', async () => {
    const loaded = await loadCandlesCsv(projectPath('..', 'shared', 'data', 'candles', 'BTC_USDT-5m.csv'));
    if (!loaded.ok) throw new Error(loaded.error.message);
    const s = loaded.series;
    const daily = await seriesDailyCandles(s)();
    // The file ends at 04:40 on its last day: that day is partial and left out.
    const lastFullDay = Math.floor(s.time[s.length - 1]! / DAY) * DAY - DAY;
    expect(daily.at(-1)!.time).toBe(lastFullDay);
    expect(daily.length).toBeGreaterThanOrEqual(REGIME_LOOKBACK_DAYS - 1);
    const dayStart = s.time.indexOf(lastFullDay);
    expect(daily.at(-1)!.open).toBe(s.open[dayStart]);
    expect(daily.at(-1)!.close).toBe(s.close[dayStart + 287]);
    expect(detectMarketRegime(daily, null).ok).toBe(true);
  });

  it('builds the port: no equity venue means no equity symbol and no candles; a missing replay symbol fails the crypto read', async () => {
    const clock = new TestClock();
    const inputs = routerInputs({ clock, cryptoSymbol: 'BTC/USDT', crypto: { replay: undefined }, equityIndexSymbol: 'SPY', equityIndex: null });
    expect(inputs.equityIndexSymbol).toBeNull();
    expect(await inputs.equityIndex()).toBeNull();
    await expect(inputs.crypto()).rejects.toThrow('the replayed candles have no BTC/USDT');
  });
});
