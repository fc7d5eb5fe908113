// MARKET_DATA=replay:<file>: one candle CSV replayed, its symbol and timeframe read from its name
// (`BTC_USDT-5m.csv`) and checked against the data.
import { basename } from 'node:path';
import { timeframeToMs } from './market-data-service.ts';
import type { CandleSeries } from './candles.ts';
import { loadCandlesCsv, symbolFromFileName } from './csv-candles.ts';

/** The replay's candles keyed by symbol; throws an Error naming MARKET_DATA and the file when it cannot be used. */
export async function loadReplayFile(path: string): Promise<Map<string, CandleSeries>> {
  const timeframe = /-([1-9]\d*[smhdw])(?:-.+)?\.csv$/i.exec(path)?.[1]?.toLowerCase();
  if (!timeframe) throw new Error(`MARKET_DATA: cannot tell the timeframe of ${path}; name the file like BTC_USDT-5m.csv`);
  const result = await loadCandlesCsv(path, { symbol: symbolFromFileName(path).toUpperCase() });
  if (!result.ok) throw new Error(`MARKET_DATA: the replay file cannot be used: ${result.error.message}`);
  const { series } = result;
  if (series.timeframeMs !== timeframeToMs(timeframe)) {
    const minutes = series.timeframeMs / 60_000;
    throw new Error(`MARKET_DATA: ${basename(path)} says ${timeframe} but its candles are ${minutes} minute(s) apart; rename the file to match its data`);
  }
  return new Map([[series.symbol, series]]);
}
