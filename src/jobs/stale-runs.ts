// Scheduled: reports runs that say "running" but have not stepped for a while — a run the
// supervisor should be stepping but is not (a replica died holding it, its feed subscription was
// lost, its queue is stuck). It only REPORTS: one warning per run, and the count as the job's
// outcome. It never stops, fails or restarts a run: whether such a run should be re-opened,
// failed or alerted on is the run supervisor's decision (src/execution/supervisor.ts), which can
// call findStaleRuns itself once it has a policy.
//
// "Stepped" is judged by last_candle_at (the open time of the last candle the run handled), or by
// started_at while it has handled none. A run on long candles legitimately goes a long time
// between steps, so the threshold is measured beyond what its timeframe allows: last_candle_at
// normally lags the present by up to two candles (the candle is stamped with its open time and
// only delivered after it closes), a new run waits up to one candle for its first.
// Replay runs (MARKET_DATA=replay) are skipped: their candles keep historical timestamps.
import type { AppDeps } from '../app/deps.ts';
import type { Logger } from '../kernel/logger.ts';
import { timeframeToMs } from '../market-data/market-data-service.ts';
import { REPLAY_EXCHANGE } from '../market-data/replay-source.ts';
import type { JobDefinition } from './scheduler.ts';

export const DEFAULT_STALE_THRESHOLD_MS = 15 * 60_000;

export interface StaleRunOptions {
  /** How long past its timeframe's allowance a run may go without a step; default 15 minutes. */
  readonly thresholdMs?: number;
  /** Exchanges whose runs are not checked; default the replay feed. */
  readonly skipExchanges?: readonly string[];
}

export interface StaleRun {
  readonly id: string;
  readonly userId: string;
  readonly seq: number;
  readonly mode: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly timeframe: string;
  /** last_candle_at, or started_at when the run has handled no candle yet. */
  readonly lastProgressAt: Date;
  readonly sinceProgressMs: number;
  /** The replica holding the run's lease, if any (scale-out). */
  readonly ownerId: string | null;
  readonly leaseUntil: Date | null;
}

/** Runs with status running that have not stepped within threshold + their timeframe's allowance, oldest first. */
export async function findStaleRuns(deps: AppDeps, options: StaleRunOptions = {}): Promise<StaleRun[]> {
  const thresholdMs = options.thresholdMs ?? DEFAULT_STALE_THRESHOLD_MS;
  const skip = [...(options.skipExchanges ?? [REPLAY_EXCHANGE])];
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - thresholdMs);
  // Coarse filter in SQL (nothing newer than the bare threshold can be stale), then the timeframe allowance.
  const rows = await deps.db.tradingRun.findMany({
    where: {
      status: 'running',
      ...(skip.length > 0 ? { exchange: { notIn: skip } } : {}),
      OR: [{ lastCandleAt: { lt: cutoff } }, { lastCandleAt: null, startedAt: { lt: cutoff } }],
    },
    select: {
      id: true, userId: true, seq: true, mode: true, exchange: true, symbol: true, timeframe: true,
      lastCandleAt: true, startedAt: true, ownerId: true, leaseUntil: true,
    },
  });
  const stale: StaleRun[] = [];
  for (const row of rows) {
    const candleMs = timeframeMsOrZero(row.timeframe);
    const lastProgressAt = row.lastCandleAt ?? row.startedAt;
    const allowanceMs = row.lastCandleAt ? 2 * candleMs : candleMs;
    const sinceProgressMs = now.getTime() - lastProgressAt.getTime();
    if (sinceProgressMs <= thresholdMs + allowanceMs) continue;
    stale.push({
      id: row.id,
      userId: row.userId,
      seq: row.seq,
      mode: row.mode,
      exchange: row.exchange,
      symbol: row.symbol,
      timeframe: row.timeframe,
      lastProgressAt,
      sinceProgressMs,
      ownerId: row.ownerId,
      leaseUntil: row.leaseUntil,
    });
  }
  return stale.sort((a, b) => a.lastProgressAt.getTime() - b.lastProgressAt.getTime());
}

function timeframeMsOrZero(timeframe: string): number {
  try {
    return timeframeToMs(timeframe);
  } catch {
    return 0;
  }
}

/** Logs a warning per stale run and sums them up; changes nothing. */
export async function reportStaleRuns(deps: AppDeps, logger: Logger, options: StaleRunOptions = {}): Promise<string> {
  const stale = await findStaleRuns(deps, options);
  for (const run of stale) {
    logger.warn(
      {
        runId: run.id,
        userId: run.userId,
        seq: run.seq,
        mode: run.mode,
        market: `${run.exchange} ${run.symbol} ${run.timeframe}`,
        lastProgressAt: run.lastProgressAt,
        minutesSinceProgress: Math.floor(run.sinceProgressMs / 60_000),
        ownerId: run.ownerId,
        leaseUntil: run.leaseUntil,
      },
      'stale run: status running but not stepping',
    );
  }
  if (stale.length === 0) return '0 stale runs';
  const shown = stale.slice(0, 10).map((r) => r.id);
  const more = stale.length > shown.length ? ` and ${stale.length - shown.length} more` : '';
  return `${stale.length} stale ${stale.length === 1 ? 'run' : 'runs'}: ${shown.join(', ')}${more}`;
}

export function staleRunsJob(deps: AppDeps, logger: Logger, options: StaleRunOptions & { cron?: string } = {}): JobDefinition {
  const { cron, ...find } = options;
  const log = logger.child({ job: 'stale-runs' });
  return { name: 'stale-runs', cron: cron ?? '*/5 * * * *', run: () => reportStaleRuns(deps, log, find) };
}
