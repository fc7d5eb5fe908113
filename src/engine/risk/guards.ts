// Run guards: circuit breakers the caller evaluates every candle / tick of a paper or live run;
// a trip stops the run (the seed's MAX_RUN_LOSS_USD, MAX_GLOBAL_DRAWDOWN_USD,
// MAX_API_ERRORS_PER_MIN, STALE_TICKER_MS). Pure: time and every figure are passed in.
//
// Decisions:
// - Loss, drawdown and error-count guards trip when the figure reaches the limit (>=; money in
//   whole cents). The stale-ticker guard trips when data is older than STALE_TICKER_MS (a maximum
//   age, so exactly the limit is still fresh), the same rule as the execution gate.
// - Before the first data point, staleness counts from the run's start.
// - When several guards trip at once, the first in this order is reported: max_run_loss,
//   max_global_drawdown, api_error_burst, stale_ticker.
// - NaN figures trip (fail closed): a guard that cannot tell must not keep trading.
// - ApiErrorWindow counts in fixed buckets (1 s by default) over a 60 s ring: memory is constant
//   however many errors arrive; an error counts for between 59 and 60 s.
// - movePct is the maximum excursion inside the window (largest move from an earlier close to a
//   later one, up or down), not just first-to-last, so a crash that rebounds inside the window is
//   still seen.
import { formatDuration, formatUsdAmount as usd, isStale, reachedUsd } from './gates.ts';
import type { GuardLimits } from './limits.ts';

export type GuardName = 'max_run_loss' | 'max_global_drawdown' | 'api_error_burst' | 'stale_ticker';

export interface GuardInput {
  readonly now: number;
  /** When the run started (ms): staleness counts from here until the first data point. */
  readonly startedAt: number;
  /** capital − equity (mark to market); positive = loss. */
  readonly runLossUsd: number;
  /** Peak-to-now of the user's cumulative realized P&L across runs (see realizedDrawdown). */
  readonly realizedDrawdownUsd: number;
  readonly apiErrorsLastMinute: number;
  /** When market data last arrived (ms); null before the first. */
  readonly lastDataAt: number | null;
}

export interface GuardTrip {
  readonly guard: GuardName;
  readonly message: string;
  readonly details: Readonly<Record<string, number>>;
}

const trip = (guard: GuardName, message: string, details: Record<string, number>): GuardTrip =>
  Object.freeze({ guard, message, details: Object.freeze(details) });

/** The first guard that trips, or null when the run may continue. */
export function evaluateGuards(input: GuardInput, limits: GuardLimits): GuardTrip | null {
  const { runLossUsd, realizedDrawdownUsd, apiErrorsLastMinute } = input;

  if (reachedUsd(runLossUsd, limits.maxRunLossUsd)) {
    return trip('max_run_loss', `Run loss ${usd(runLossUsd)} reached the ${usd(limits.maxRunLossUsd)} limit (MAX_RUN_LOSS_USD)`, {
      runLossUsd,
      limitUsd: limits.maxRunLossUsd,
    });
  }
  if (reachedUsd(realizedDrawdownUsd, limits.maxGlobalDrawdownUsd)) {
    return trip(
      'max_global_drawdown',
      `Realized drawdown ${usd(realizedDrawdownUsd)} reached the ${usd(limits.maxGlobalDrawdownUsd)} limit (MAX_GLOBAL_DRAWDOWN_USD)`,
      { realizedDrawdownUsd, limitUsd: limits.maxGlobalDrawdownUsd },
    );
  }
  if (!(apiErrorsLastMinute < limits.maxApiErrorsPerMin)) {
    return trip(
      'api_error_burst',
      `${apiErrorsLastMinute} exchange API errors in the last minute reached the limit of ${limits.maxApiErrorsPerMin} (MAX_API_ERRORS_PER_MIN)`,
      { apiErrorsLastMinute, limit: limits.maxApiErrorsPerMin },
    );
  }
  const since = input.lastDataAt ?? input.startedAt;
  if (isStale(input.now, since, limits.staleTickerMs)) {
    const ageMs = input.now - since;
    const age = formatDuration(Math.ceil(ageMs / 1000) * 1000);
    const what = input.lastDataAt === null ? `No market data since the run started ${age} ago` : `No market data for ${age}`;
    return trip('stale_ticker', `${what}, past the ${formatDuration(limits.staleTickerMs)} limit (STALE_TICKER_MS)`, {
      ageMs,
      limitMs: limits.staleTickerMs,
    });
  }
  return null;
}

/**
 * Exchange API errors in a sliding window (60 s by default) with constant memory: counts per
 * bucket (1 s by default) in a ring of window/bucket slots. An error recorded at `t` is counted
 * while its bucket is one of the newest window/bucket buckets, i.e. for window − bucket to window
 * ms. Records older than what the ring holds are ignored. Time only moves forward.
 */
export class ApiErrorWindow {
  readonly #bucketMs: number;
  readonly #ids: Float64Array;
  readonly #counts: Float64Array;

  constructor(windowMs = 60_000, bucketMs = 1_000) {
    if (!Number.isSafeInteger(windowMs) || !Number.isSafeInteger(bucketMs) || bucketMs <= 0 || windowMs < bucketMs || windowMs % bucketMs !== 0) {
      throw new RangeError(`window (${windowMs} ms) must be a positive whole multiple of the bucket (${bucketMs} ms)`);
    }
    this.#bucketMs = bucketMs;
    const slots = windowMs / bucketMs;
    this.#ids = new Float64Array(slots).fill(Number.NEGATIVE_INFINITY);
    this.#counts = new Float64Array(slots);
  }

  record(now: number): void {
    const id = Math.floor(now / this.#bucketMs);
    const slots = this.#ids.length;
    const i = ((id % slots) + slots) % slots;
    const held = this.#ids[i]!;
    if (held !== id) {
      if (held > id) return; // older than the window the ring still covers
      this.#ids[i] = id;
      this.#counts[i] = 0;
    }
    this.#counts[i]!++;
  }

  count(now: number): number {
    const id = Math.floor(now / this.#bucketMs);
    const oldest = id - this.#ids.length;
    let n = 0;
    for (let i = 0; i < this.#ids.length; i++) {
      const held = this.#ids[i]!;
      if (held > oldest && held <= id) n += this.#counts[i]!;
    }
    return n;
  }
}

/** Peak-to-current of the running sum of realized P&Ls (starting from 0), >= 0. */
export function realizedDrawdown(realizedPnls: Iterable<number>): number {
  let sum = 0;
  let peak = 0;
  for (const pnl of realizedPnls) {
    sum += pnl;
    if (sum > peak) peak = sum;
  }
  return peak - sum;
}

/**
 * The largest absolute % move inside the window: over every earlier close a and later close b,
 * max |b − a| / a × 100. 100 -> 90 -> 95 reads 10 (first-to-last would read 5). Non-positive or
 * non-finite closes (gaps) are skipped; fewer than two usable closes read 0.
 */
export function movePct(closes: ArrayLike<number>): number {
  let best = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (let i = 0; i < closes.length; i++) {
    const close = closes[i]!;
    if (!(close > 0) || close === Number.POSITIVE_INFINITY) continue;
    if (hi > 0) {
      const up = (close - lo) / lo;
      const down = (hi - close) / hi;
      if (up > best) best = up;
      if (down > best) best = down;
    }
    if (close < lo) lo = close;
    if (close > hi) hi = close;
  }
  return best * 100;
}
