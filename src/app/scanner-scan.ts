// The scheduled scan: backtest every symbol of the universe over its recent candles, rank them
// (src/engine/scanner.ts), store the scan, then act on it: plan rotations for DCA runs on worse
// coins (staggered per customer) and check our footprint on each coin against its volume.
import { Prisma } from '../db/generated/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { footprint, releasedAt, rotationTarget, coinConcentration, type FootprintEntry } from '../domain/scanner-mitigations.ts';
import { scanUniverse, type ScanFailure } from '../engine/scanner.ts';
import type { CandleSeries } from '../market-data/candles.ts';
import type { ScannerCandleSource } from '../market-data/scanner-candles.ts';
import { queueAlerts } from '../alerts/outbox.ts';
import { ensureCustomerId } from './customers.ts';
import type { AppDeps } from './deps.ts';
import { toScanView, type RankingItem, type ScannerPolicy, type ScanView } from './scanner.ts';

export interface ScanSettings {
  readonly universe: readonly string[];
  readonly exchange: string;
  readonly timeframe: string;
  readonly lookbackDays: number;
  readonly candles: ScannerCandleSource;
  /** Symbols fetched at once: the exchange's rate limit, not our CPU, bounds a scan. */
  readonly fetchConcurrency?: number;
}

/** Scans the universe now and stores the result; `nextScanAt` is when the schedule runs again. */
export async function runScan(deps: AppDeps, settings: ScanSettings, nextScanAt: Date): Promise<ScanView> {
  const started = performance.now();
  const takenAt = deps.clock.now();
  const lookbackMs = settings.lookbackDays * 86_400_000;
  const series: CandleSeries[] = [];
  const fetchFailures: ScanFailure[] = [];
  const queue = [...settings.universe];
  const worker = async () => {
    for (let symbol = queue.shift(); symbol !== undefined; symbol = queue.shift()) {
      const got = await settings.candles.recent(symbol, settings.timeframe, lookbackMs, takenAt.getTime());
      if (got.ok) series.push(got.series);
      else fetchFailures.push({ symbol, code: 'run_failed', problem: got.problem });
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.fetchConcurrency ?? 4, Math.max(1, queue.length)) }, worker));
  if (series.length === 0 && fetchFailures.length > 0) {
    // Nothing to rank (the exchange is unreachable, say): keep the last good scan on show.
    throw new Error(`the scan got no candles for any of ${fetchFailures.length} symbols; first problem: ${fetchFailures[0]!.symbol}: ${fetchFailures[0]!.problem}`);
  }
  // Fetches finish in any order; the ranking does not depend on it, but ties and logs read better sorted.
  series.sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  const scanned = await scanUniverse(series);
  const rankings: RankingItem[] = scanned.rankings.map((r) => ({
    symbol: r.symbol,
    composite_score: r.composite_score,
    daily_roi_pct: r.daily_roi_pct,
    cycles_per_day: r.cycles_per_day,
    friendly_regime_pct: r.friendly_regime_pct,
    max_drawdown_pct: r.max_drawdown_pct,
    quote_volume_24h: r.quote_volume_24h,
  }));
  const failures = [...fetchFailures, ...scanned.failures].map((f) => ({ symbol: f.symbol, problem: f.problem })).sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  const row = await read(() =>
    deps.db.scannerScan.create({
      data: {
        takenAt,
        nextScanAt,
        exchange: settings.exchange,
        timeframe: settings.timeframe,
        lookbackDays: settings.lookbackDays,
        rankings: rankings as unknown as Prisma.InputJsonValue,
        failures,
        candles: scanned.candles,
        durationMs: Math.round(performance.now() - started),
      },
    }),
  );
  return toScanView(row);
}

interface RunCandidate {
  readonly id: string;
  readonly userId: string;
  readonly mode: string;
  readonly strategy: string;
  readonly symbol: string;
  readonly capitalUsd: number;
}

/**
 * Plans a rotation for every running DCA run whose coin another coin beats by the policy's
 * threshold: a suggestion, or the rotation itself when the owner opted in. Each is due when the
 * scan is released to that customer (staggered), so rotations do not all hit the market at once.
 * Returns how many were planned.
 */
export async function planRotations(deps: AppDeps, policy: ScannerPolicy, scan: ScanView): Promise<number> {
  const active = await read(() =>
    deps.db.tradingRun.findMany({
      where: { status: { in: ['running', 'stopping'] } },
      select: { id: true, userId: true, mode: true, strategy: true, symbol: true, capitalUsd: true, status: true },
    }),
  );
  const byUser = new Map<string, RunCandidate[]>();
  for (const run of active) {
    const list = byUser.get(run.userId) ?? [];
    list.push({ id: run.id, userId: run.userId, mode: run.mode, strategy: run.strategy, symbol: run.symbol, capitalUsd: Number(run.capitalUsd) });
    byUser.set(run.userId, list);
  }
  const runningDca = new Set(active.filter((r) => r.status === 'running' && r.strategy === 'dca').map((r) => r.id));
  let planned = 0;
  for (const [userId, runs] of byUser) {
    const candidates = runs.filter((r) => runningDca.has(r.id));
    if (candidates.length === 0) continue;
    const [user, best] = await Promise.all([
      read(() => deps.db.user.findUniqueOrThrow({ where: { id: userId }, select: { autoRotate: true } })),
      read(() =>
        deps.db.license.findFirst({ where: { userId, status: 'active' }, orderBy: { tier: { rank: 'desc' } }, select: { tier: { select: { maxCapitalUsd: true } } } }),
      ),
    ]);
    const tierCapital = best ? Number(best.tier.maxCapitalUsd) : 0;
    const customerId = await ensureCustomerId(deps.db, userId);
    const dueAt = releasedAt(scan.takenAt, customerId, policy.staggerMs);
    for (const run of candidates) {
      const sameMode = runs.filter((r) => r.mode === run.mode);
      // Never onto a coin the user already runs in this mode; live money also keeps to the
      // coin-diversification rule (paper has no market footprint).
      const excluded = new Set(sameMode.map((r) => r.symbol));
      if (run.mode === 'live' && tierCapital > 0) {
        const capitalBySymbol: Record<string, number> = {};
        for (const other of sameMode) if (other.id !== run.id) capitalBySymbol[other.symbol] = (capitalBySymbol[other.symbol] ?? 0) + other.capitalUsd;
        for (const coin of scan.rankings) {
          const check = coinConcentration({ capitalBySymbol, totalCapitalUsd: tierCapital, maxSharePct: policy.maxCoinSharePct, symbol: coin.symbol, addUsd: run.capitalUsd });
          if (!check.ok) excluded.add(coin.symbol);
        }
      }
      const target = rotationTarget({ currentSymbol: run.symbol, rankings: scan.rankings, thresholdPct: policy.rotationThresholdPct, excluded });
      const created = await inTransaction(deps.db, async (tx) => {
        // The newest scan's verdict replaces an older one not yet acted on (an opted-in run
        // waiting for its deal to close must not move on advice the newest scan no longer gives).
        await tx.scannerRotation.updateMany({
          where: { runId: run.id, status: 'pending', scanId: { lt: scan.id } },
          data: { status: 'skipped', detail: target ? 'superseded by a newer scan' : 'the newer scan no longer recommends a move', processedAt: deps.clock.now() },
        });
        if (!target) return { count: 0 };
        return tx.scannerRotation.createMany({
          data: [
            {
              scanId: scan.id,
              runId: run.id,
              userId,
              fromSymbol: run.symbol,
              toSymbol: target.symbol,
              fromScore: target.currentScore.toFixed(2),
              toScore: target.score.toFixed(2),
              action: user.autoRotate ? 'rotate' : 'suggest',
              dueAt,
            },
          ],
          skipDuplicates: true,
        });
      });
      planned += created.count;
    }
  }
  return planned;
}

const USD_QUOTES = new Set(['USDT', 'USDC', 'USD', 'FDUSD', 'BUSD', 'TUSD', 'DAI']);
/** A self-hosted bot's status older than this no longer says where its capital is. */
const BOT_STATUS_FRESH_MS = 60 * 60_000;

/** Our capital on each coin: live runs here plus self-hosted bots' last reported positions. */
export async function capitalOnCoins(deps: AppDeps): Promise<Record<string, number>> {
  const since = new Date(deps.clock.now().getTime() - BOT_STATUS_FRESH_MS);
  const [live, reports] = await Promise.all([
    read(() => deps.db.tradingRun.groupBy({ by: ['symbol'], where: { mode: 'live', status: { in: ['running', 'stopping'] } }, _sum: { capitalUsd: true } })),
    read(() =>
      deps.db.$queryRaw<{ positions: unknown }[]>`
        SELECT DISTINCT ON (user_id) positions FROM bot_status_reports
        WHERE received_at >= ${since} ORDER BY user_id, received_at DESC`,
    ),
  ]);
  const total: Record<string, number> = {};
  for (const group of live) total[group.symbol] = (total[group.symbol] ?? 0) + Number(group._sum.capitalUsd ?? 0);
  for (const report of reports) {
    if (!Array.isArray(report.positions)) continue;
    for (const position of report.positions as { symbol?: unknown; capital_usd?: unknown }[]) {
      const capital = Number(position.capital_usd);
      if (typeof position.symbol === 'string' && Number.isFinite(capital) && capital > 0) total[position.symbol] = (total[position.symbol] ?? 0) + capital;
    }
  }
  return total;
}

/**
 * The seed's volume monitoring: coins where our capital exceeds the policy's share of the 24 h
 * volume, each alerted once per scan to every admin. Volumes are in the quote currency, so only
 * USD-quoted coins are assessed.
 */
export async function checkFootprint(deps: AppDeps, policy: ScannerPolicy, scan: ScanView, adminUserIds: readonly string[]): Promise<{ over: FootprintEntry[]; unassessed: string[] }> {
  const volumes: Record<string, number> = {};
  for (const coin of scan.rankings) if (USD_QUOTES.has(coin.symbol.split('/')[1] ?? '')) volumes[coin.symbol] = coin.quote_volume_24h;
  const report = footprint({ capitalUsdBySymbol: await capitalOnCoins(deps), quoteVolume24hBySymbol: volumes, thresholdPct: policy.footprintAlertPct });
  const usd = (x: number) => `$${Math.round(x).toLocaleString('en-US')}`;
  const alerts = report.over.flatMap((entry) =>
    adminUserIds.map((userId) => ({
      eventId: `footprint:${scan.id}:${entry.symbol}:${userId}`,
      userId,
      alertType: 'operations',
      text:
        `⚠️ Market footprint: our capital on ${entry.symbol} is ${usd(entry.capitalUsd)}, ${entry.pct}% of its 24 h volume ` +
        `(${usd(entry.volumeUsd)}; alert at ${policy.footprintAlertPct}%). Consider steering new runs and rotations elsewhere.`,
      payload: { symbol: entry.symbol, capitalUsd: entry.capitalUsd, volumeUsd: entry.volumeUsd, pct: entry.pct, scanId: String(scan.id) },
    })),
  );
  await queueAlerts(deps.db, alerts, deps.clock.now());
  return report;
}
