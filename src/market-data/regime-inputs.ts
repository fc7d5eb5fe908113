// Closed daily candles for the multi-asset router (src/app/allocation.ts `RegimeInputs`), from a
// live CandleSource (ccxt for crypto, Alpaca bars for the equity index) or from a replayed series.
import type { Clock } from '../kernel/clock.ts';
import { dailyCandles } from '../engine/market-regime.ts';
import type { CandleSeries, CandleView } from './candles.ts';
import { emptyCandle, readCandle } from './candles.ts';
import type { CandleSource } from './feed.ts';
import { timeframeToMs } from './market-data-service.ts';

const DAY_MS = 86_400_000;

/** How far back the router reads: its longest window (60 days) plus the EMA's warm-up. */
export const REGIME_LOOKBACK_DAYS = 90;

/** Fetches the closed daily candles of one market, oldest first. */
export type DailyCandles = () => Promise<CandleView[]>;

/**
 * The last `days` days of closed candles from a live source, as daily candles. The candle still
 * forming at the clock's now is left out; shorter candles (e.g. 4h) are merged into UTC days.
 */
export function sourceDailyCandles(
  source: CandleSource,
  symbol: string,
  clock: Clock,
  options: { timeframe?: string; days?: number } = {},
): DailyCandles {
  const timeframe = options.timeframe ?? '1d';
  const timeframeMs = timeframeToMs(timeframe);
  const days = options.days ?? REGIME_LOOKBACK_DAYS;
  return async () => {
    const now = clock.now().getTime();
    const since = Math.floor((now - days * DAY_MS) / DAY_MS) * DAY_MS;
    const limit = Math.ceil((now - since) / timeframeMs) + 1;
    const candles = await source.fetchCandles(symbol, timeframe, since, limit);
    const closed = candles.filter((c) => c.time >= since && c.time + timeframeMs <= now).sort((a, b) => a.time - b.time);
    return dailyCandles(closed, timeframeMs);
  };
}

/**
 * The last `days` days of a replayed series (MARKET_DATA=replay), whatever the clock says, as the
 * scanner's replay source does: the data is historical, and a demo should still get a regime.
 */
export function seriesDailyCandles(series: CandleSeries, days = REGIME_LOOKBACK_DAYS): DailyCandles {
  return async () => {
    if (series.length === 0) return [];
    const end = series.time[series.length - 1]! + series.timeframeMs;
    const out: CandleView[] = [];
    for (let i = 0; i < series.length; i++) {
      if (series.time[i]! >= end - days * DAY_MS) out.push(readCandle(series, i, emptyCandle()));
    }
    return dailyCandles(out, series.timeframeMs);
  };
}

export interface RouterMarkets {
  readonly clock: Clock;
  readonly cryptoSymbol: string;
  /** Live: an exchange's candles; replaying: the replayed series of the symbol (undefined when there is none). */
  readonly crypto: CandleSource | { readonly replay: CandleSeries | undefined };
  readonly equityIndexSymbol: string;
  /** The equities venue's daily bars; null while none is wired (the router then reads crypto alone). */
  readonly equityIndex: CandleSource | null;
}

/** The router's inputs (the `RegimeInputs` port of src/app/allocation.ts) from candle sources. */
export function routerInputs(m: RouterMarkets) {
  const crypto: DailyCandles =
    'replay' in m.crypto
      ? m.crypto.replay
        ? seriesDailyCandles(m.crypto.replay)
        : () => Promise.reject(new Error(`the replayed candles have no ${m.cryptoSymbol}`))
      : sourceDailyCandles(m.crypto, m.cryptoSymbol, m.clock);
  const equity = m.equityIndex ? sourceDailyCandles(m.equityIndex, m.equityIndexSymbol, m.clock) : null;
  return {
    cryptoSymbol: m.cryptoSymbol,
    equityIndexSymbol: equity ? m.equityIndexSymbol : null,
    crypto,
    equityIndex: async (): Promise<CandleView[] | null> => (equity ? equity() : null),
  };
}
