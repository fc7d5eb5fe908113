// The coin scanner as users see it: the newest scan released to a customer (staggered
// delivery), gated by license and pool enforcement, with the customer's jittered parameters.
// Scans are written by src/app/scanner-scan.ts (the scheduled job).
import { inTransaction, read } from '../db/transaction.ts';
import { recordAudit } from './audit.ts';
import { customerJitter, jitterParams, releasedAt } from '../domain/scanner-mitigations.ts';
import { DEFAULT_STRATEGY_PARAMS, type StrategyParamSet } from '../engine/params.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { Customer } from './customers.ts';
import type { Actor, AppDeps } from './deps.ts';
import { entitlementOf } from './licenses.ts';
import { checkPoolAccess } from './pool.ts';

/** The scanner's rules, from configuration (src/main.ts maps SCANNER_* onto it). */
export interface ScannerPolicy {
  readonly rotationThresholdPct: number;
  /** Staggered delivery window: each customer sees a scan at a stable offset within it. */
  readonly staggerMs: number;
  /** Per-customer TP/deviation jitter, ±half this to ±this percent. */
  readonly jitterPct: number;
  readonly maxCoinSharePct: number;
  readonly footprintAlertPct: number;
  /** How many coins /scanner lists. */
  readonly topN: number;
}

export const DEFAULT_SCANNER_POLICY: ScannerPolicy = Object.freeze({
  rotationThresholdPct: 20,
  staggerMs: 3 * 3_600_000,
  jitterPct: 10,
  maxCoinSharePct: 40,
  footprintAlertPct: 20,
  topN: 10,
});

/** One ranked coin as stored with a scan; `symbol` is BASE/QUOTE. */
export interface RankingItem {
  readonly symbol: string;
  readonly composite_score: number;
  readonly daily_roi_pct: number;
  readonly cycles_per_day: number;
  readonly friendly_regime_pct: number;
  readonly max_drawdown_pct: number;
  readonly quote_volume_24h: number;
}

export interface ScanView {
  readonly id: bigint;
  readonly takenAt: Date;
  readonly nextScanAt: Date;
  readonly exchange: string;
  readonly timeframe: string;
  readonly lookbackDays: number;
  readonly rankings: readonly RankingItem[];
  readonly failures: readonly { readonly symbol: string; readonly problem: string }[];
}

/** Over-cap soft enforcement shows only this many coins (the seed's "degrade scanner access"). */
export const DEGRADED_TOP_N = 3;

/** The newest scan this customer may see now: a scan is released to each customer at a stable offset. */
export async function releasedScanFor(deps: AppDeps, customerId: string, staggerMs: number): Promise<ScanView | null> {
  const now = deps.clock.now();
  const windowStart = new Date(now.getTime() - staggerMs);
  // Scans inside the stagger window are released per customer; the newest one older than the
  // window is released to everyone, so it is the fallback (scans may come faster than the window).
  const recent = await read(() =>
    deps.db.scannerScan.findMany({ where: { takenAt: { lte: now, gt: windowStart } }, orderBy: { takenAt: 'desc' } }),
  );
  const released =
    recent.find((row) => releasedAt(row.takenAt, customerId, staggerMs) <= now) ??
    (await read(() => deps.db.scannerScan.findFirst({ where: { takenAt: { lte: windowStart } }, orderBy: { takenAt: 'desc' } })));
  return released ? toScanView(released) : null;
}

/** The newest scan, released or not (admins, the footprint monitor, rotations). */
export async function latestScan(deps: AppDeps): Promise<ScanView | null> {
  const row = await read(() => deps.db.scannerScan.findFirst({ orderBy: { takenAt: 'desc' } }));
  return row ? toScanView(row) : null;
}

export function toScanView(row: {
  id: bigint;
  takenAt: Date;
  nextScanAt: Date;
  exchange: string;
  timeframe: string;
  lookbackDays: number;
  rankings: unknown;
  failures: unknown;
}): ScanView {
  return {
    id: row.id,
    takenAt: row.takenAt,
    nextScanAt: row.nextScanAt,
    exchange: row.exchange,
    timeframe: row.timeframe,
    lookbackDays: row.lookbackDays,
    rankings: row.rankings as RankingItem[],
    failures: row.failures as ScanView['failures'],
  };
}

/** This customer's strategy parameters: the current set with their stable TP/deviation jitter. */
export function customerParams(customerId: string, policy: Pick<ScannerPolicy, 'jitterPct'>, base: StrategyParamSet = DEFAULT_STRATEGY_PARAMS) {
  const jitter = customerJitter(customerId, policy.jitterPct);
  return { jitter, paramSet: jitterParams(base, jitter) };
}

export interface Recommendation {
  readonly scan: ScanView;
  /** Best first; cut to DEGRADED_TOP_N while the pool is softly over its cap. */
  readonly rankings: readonly RankingItem[];
  readonly degraded: boolean;
  readonly warning: string | null;
  readonly rotationThresholdPct: number;
  readonly jitter: { readonly tp: number; readonly dev: number };
  readonly paramSet: StrategyParamSet;
}

/**
 * What a customer may see of the scanner now: needs an active license; the pool's over-cap
 * enforcement degrades (soft) or refuses (hard) it; no_scan_yet before the first scan.
 */
export async function recommendationFor(deps: AppDeps, policy: ScannerPolicy, customer: Customer): Promise<Result<Recommendation>> {
  if (!(await entitlementOf(deps, customer.userId))) return err(appError('no_license'));
  const access = await checkPoolAccess(deps, 'scanner');
  if (!access.ok) return access;
  const scan = await releasedScanFor(deps, customer.customerId, policy.staggerMs);
  if (!scan) return err(appError('no_scan_yet'));
  const degraded = access.value.level === 'soft';
  const { jitter, paramSet } = customerParams(customer.customerId, policy);
  return ok({
    scan,
    rankings: degraded ? scan.rankings.slice(0, DEGRADED_TOP_N) : scan.rankings,
    degraded,
    warning: degraded ? `${access.value.warning} Only the top ${DEGRADED_TOP_N} coins are shown until then.` : null,
    rotationThresholdPct: policy.rotationThresholdPct,
    jitter,
    paramSet,
  });
}

/** BTC/USDT → BTCUSDT, the exchange-native form the seed's API uses. */
export const nativeSymbol = (pair: string): string => pair.replace('/', '');

/** The seed's GET /scanner/recommendation body. */
export function recommendationJson(rec: Recommendation) {
  return {
    timestamp: rec.scan.takenAt.toISOString(),
    rankings: rec.rankings.map((r) => ({
      symbol: nativeSymbol(r.symbol),
      pair: r.symbol,
      composite_score: r.composite_score,
      daily_roi_pct: r.daily_roi_pct,
      cycles_per_day: r.cycles_per_day,
      friendly_regime_pct: r.friendly_regime_pct,
    })),
    rotation_threshold_pct: rec.rotationThresholdPct,
    next_scan: rec.scan.nextScanAt.toISOString(),
    degraded: rec.degraded,
    warning: rec.warning,
  };
}

/** The user's rotation opt-in: true rotates DCA runs automatically, false only suggests. */
export async function autoRotateOf(deps: AppDeps, userId: string): Promise<boolean> {
  const user = await read(() => deps.db.user.findUnique({ where: { id: userId }, select: { autoRotate: true } }));
  return user?.autoRotate ?? false;
}

export async function setAutoRotate(deps: AppDeps, userId: string, on: boolean, actor: Actor): Promise<void> {
  await inTransaction(deps.db, async (tx) => {
    const before = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { autoRotate: true } });
    if (before.autoRotate === on) return;
    await tx.user.update({ where: { id: userId }, data: { autoRotate: on } });
    await recordAudit(tx, { actor, action: 'scanner.autorotate', entityType: 'user', entityId: userId, before, after: { autoRotate: on }, at: deps.clock.now() });
  });
}

/** The universe when SCANNER_SYMBOLS is unset: large, liquid USDT pairs listed on most exchanges. */
export const DEFAULT_SCANNER_UNIVERSE: readonly string[] = Object.freeze([
  'BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'BNB/USDT', 'DOGE/USDT', 'ADA/USDT', 'TRX/USDT', 'AVAX/USDT', 'LINK/USDT',
  'DOT/USDT', 'LTC/USDT', 'BCH/USDT', 'NEAR/USDT', 'UNI/USDT', 'APT/USDT', 'ATOM/USDT', 'ARB/USDT', 'OP/USDT', 'SUI/USDT',
]);
