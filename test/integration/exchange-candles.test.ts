// Candles fetched through the real ccxt client from a Binance-protocol simulator on 127.0.0.1,
// cached on disk, then served offline.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { fetchCandlesCached } from '../../src/market-data/exchange-candles.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

let sim: BinanceSpotSim;
let cacheDir: string;
let eth: CandleSeries;

beforeAll(async () => {
  const loaded = await loadCandlesCsv(projectPath('../shared/data/candles/ETH_USDT-5m.csv'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  eth = loaded.series;
  sim = await BinanceSpotSim.start([{ base: 'ETH', quote: 'USDT', candles: eth }]);
  cacheDir = await mkdtemp(join(tmpdir(), 'ait-candles-'));
});
afterAll(async () => {
  await sim?.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('exchange candles through ccxt', () => {
  const from = Date.parse('2024-03-01T00:00:00Z');
  const to = Date.parse('2024-03-08T00:00:00Z'); // 7 days of 5m = 2,016 candles: three pages
  const request = () => ({ exchange: 'binance', symbol: 'ETH/USDT', timeframe: '5m', from, to, cacheDir, apiUrl: sim.baseUrl });

  it('pages through fetchOHLCV, matches the source candles, and writes the cache', async () => {
    const result = await fetchCandlesCached(request());
    if (!result.ok) throw new Error(result.error.message);
    expect(result.fromCache).toBe(false);
    expect(result.series.length).toBe(2016);
    expect(sim.callsTo('/api/v3/klines').length).toBe(3);
    const first = eth.time.indexOf(from);
    for (const i of [0, 1000, 2015]) {
      expect(result.series.time[i]).toBe(eth.time[first + i]);
      expect(result.series.close[i]).toBe(eth.close[first + i]);
      expect(result.series.high[i]).toBe(eth.high[first + i]);
    }
    expect((await readFile(result.cachePath, 'utf8')).split('\n')[0]).toBe('timestamp_ms,open,high,low,close,volume');
  });

  it('serves a cached window without touching the network', async () => {
    const before = sim.calls.length;
    const again = await fetchCandlesCached(request());
    expect(again.ok && again.fromCache).toBe(true);
    expect(again.ok && again.series.length).toBe(2016);
    expect(sim.calls.length).toBe(before);
  });

  it('explains failures: unknown market, unknown exchange, unreachable server, rate limits', async () => {
    const unknown = await fetchCandlesCached({ ...request(), symbol: 'DOGE/USDT', cacheDir: join(cacheDir, 'x') });
    expect(unknown).toMatchObject({ ok: false, error: { message: 'binance has no market DOGE/USDT' } });
    const exchange = await fetchCandlesCached({ ...request(), exchange: 'notanexchange', cacheDir: join(cacheDir, 'y') });
    expect(exchange).toMatchObject({ ok: false, error: { message: "unknown exchange 'notanexchange' (use a ccxt id such as binance)" } });
    const down = await fetchCandlesCached({ ...request(), apiUrl: 'http://127.0.0.1:9', cacheDir: join(cacheDir, 'z') });
    expect(down.ok === false && down.error.message).toMatch(/^could not reach binance/);
    sim.failNext('/api/v3/exchangeInfo', 429);
    const limited = await fetchCandlesCached({ ...request(), cacheDir: join(cacheDir, 'w') });
    expect(limited).toMatchObject({ ok: false, error: { message: 'binance is rate limiting us; try again in a minute' } });
  });
});
