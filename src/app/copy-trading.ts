// Copy trading between members, as use-cases: a member with a high enough tier publishes one of
// their running runs as a master (a code others type); members follow it with their own capital,
// mode (paper or live, with their own keys) and limits; the mirror (src/execution/copy-mirror.ts)
// copies each master fill to every follow. These only change rows; the mirror acts on them.
import { randomInt } from 'node:crypto';
import { queueAlerts } from '../alerts/outbox.ts';
import { Prisma } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { formatUsdAmount, maxRunCapital } from '../engine/risk/gates.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { followerJoinedAlert, stopFollows, type FollowRef } from './copy-stops.ts';
import type { Actor, AppDeps } from './deps.ts';
import { entitlementOf } from './licenses.ts';
import { capitalFacts, checkPaperFirst, findRun, type RunDeps, type RunMode } from './runs.ts';
import { findTier } from './tiers.ts';

/** Share of the tier cap kept in reserve, as for runs (their default capital_reserve_pct). */
export const FOLLOW_CAPITAL_RESERVE_PCT = 10;
export const MIN_FOLLOW_CAPITAL_USD = 10;
/** No 0/O, 1/I/L: codes are read aloud and typed from screenshots. 31^6 ≈ 887 million codes. */
const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const CODE_PATTERN = /^M-[2-9A-HJ-NP-Z]{6}$/;

export function newMasterCode(): string {
  let code = 'M-';
  for (let i = 0; i < 6; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** "m-7k2q9x" as typed → "M-7K2Q9X"; null when it cannot be a code. */
export function normalizeMasterCode(text: string): string | null {
  const code = text.trim().toUpperCase();
  return CODE_PATTERN.test(code) ? code : null;
}

export interface CopyStats {
  readonly filled: number;
  readonly refused: number;
  readonly failed: number;
  readonly skipped: number;
  readonly pending: number;
  readonly avgLatencyMs: number | null;
  readonly p95LatencyMs: number | null;
  readonly avgSlippageBps: number | null;
  /** Realised P&L of the copies (filled copy trades and close-outs), net of fees. */
  readonly realizedPnlUsd: number;
}

export interface MasterView {
  readonly id: string;
  readonly code: string;
  readonly runId: string;
  readonly run: { readonly seq: number; readonly mode: RunMode; readonly strategy: string; readonly symbol: string; readonly status: string };
  readonly status: string;
  readonly stopReason: string | null;
  readonly publishedAt: Date;
  readonly activeFollowers: number;
  readonly followerCapitalUsd: number;
}

export interface FollowView {
  readonly id: string;
  readonly code: string;
  readonly master: { readonly strategy: string; readonly symbol: string; readonly mode: RunMode };
  readonly mode: RunMode;
  readonly credentialLabel: string | null;
  readonly capitalUsd: number;
  readonly maxCapitalUsd: number | null;
  readonly maxLossUsd: number | null;
  readonly status: string;
  readonly stopReason: string | null;
  readonly stopDetail: string | null;
  readonly baseQty: number;
  readonly costUsd: number;
  readonly startedAt: Date;
  readonly stats: CopyStats;
}

// ---- publish / unpublish ----

export interface PublishInput {
  readonly userId: string;
  readonly runSeq: number;
  /** The lowest tier whose members may publish (config COPY_MASTER_MIN_TIER). */
  readonly masterMinTier: string;
  readonly actor: Actor;
}

export async function publishRun(deps: AppDeps, input: PublishInput): Promise<Result<MasterView>> {
  const run = await findRun(deps, input.userId, input.runSeq);
  if (!run.ok) return run;
  if (run.value.status !== 'running') return err(appError('run_not_active', { status: run.value.status }));
  const [entitlement, minTier] = await Promise.all([entitlementOf(deps, input.userId), findTier(deps.db, input.masterMinTier)]);
  if (!entitlement) return err(appError('no_license'));
  if (!minTier) throw new Error(`COPY_MASTER_MIN_TIER names no tier: ${input.masterMinTier}`);
  if (entitlement.rank < minTier.rank) {
    return err(appError('master_tier_too_low', { minTier: minTier.id }, `Publishing a run for copy trading needs the ${minTier.name} tier or higher (see /tiers).`));
  }
  const now = deps.clock.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await inTransaction(deps.db, async (tx): Promise<Result<string>> => {
        const existing = await tx.copyMaster.findUnique({ where: { runId: run.value.id } });
        if (existing?.status === 'active') return err(appError('already_published', { code: existing.code }, `Run #${run.value.seq} is already published as ${existing.code}.`));
        // Published again after an unpublish: the same code, followers must follow it again.
        const row = existing
          ? await tx.copyMaster.update({ where: { id: existing.id }, data: { status: 'active', stopReason: null, stoppedAt: null, publishedAt: now } })
          : await tx.copyMaster.create({ data: { code: newMasterCode(), runId: run.value.id, userId: input.userId, status: 'active', publishedAt: now } });
        await recordAudit(tx, { actor: input.actor, action: 'run.published', entityType: 'run', entityId: run.value.id, after: { code: row.code }, at: now });
        return ok(row.code);
      });
      if (!result.ok) return result;
      const [view] = await listMasters(deps, input.userId, { code: result.value });
      return ok(view!);
    } catch (error) {
      // Two codes collided (or two publishes raced): try once more with a fresh code.
      if (attempt === 0 && (error as { code?: string }).code === 'P2002') continue;
      throw error;
    }
  }
}

export async function unpublishMaster(deps: AppDeps, input: { readonly userId: string; readonly code: string; readonly actor: Actor }): Promise<Result<{ master: MasterView; followersStopped: number }>> {
  const code = normalizeMasterCode(input.code);
  if (!code || !isUuid(input.userId)) return err(appError('master_not_found'));
  const now = deps.clock.now();
  const result = await inTransaction(deps.db, async (tx): Promise<Result<number>> => {
    const [master] = await tx.$queryRaw<{ id: string; status: string; run_id: string }[]>`
      SELECT id, status, run_id FROM copy_masters WHERE code = ${code} AND user_id = ${input.userId}::uuid FOR UPDATE`;
    if (!master || master.status !== 'active') return err(appError('master_not_found'));
    await tx.copyMaster.update({ where: { id: master.id }, data: { status: 'stopped', stopReason: 'unpublished', stoppedAt: now } });
    const stopped = await stopFollows(tx, { masterId: master.id }, { reason: 'master_unpublished', close: false }, now);
    await recordAudit(tx, { actor: input.actor, action: 'run.unpublished', entityType: 'run', entityId: master.run_id, before: { code }, at: now });
    return ok(stopped.stopped + stopped.stopping);
  });
  if (!result.ok) return result;
  const [master] = await listMasters(deps, input.userId, { code });
  return ok({ master: master!, followersStopped: result.value });
}

// ---- follow / unfollow ----

export interface FollowInput {
  readonly userId: string;
  readonly code: string;
  readonly capitalUsd: number;
  readonly mode: RunMode;
  readonly maxCapitalUsd?: number | null;
  readonly maxLossUsd?: number | null;
  /** Live follows: which stored key pair trades (default "default"). */
  readonly credentialLabel?: string | null;
}

export interface FollowPlan {
  readonly masterId: string;
  readonly code: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly strategy: string;
  readonly masterMode: RunMode;
  readonly credentialLabel: string | null;
  /** What the tier leaves for this follow. */
  readonly roomUsd: number;
  /** Copies are this fraction of the master's fills: the follow's capital / the master run's. */
  readonly sizeFactor: number;
}

const invalid = (message: string) => err(appError('invalid_input', undefined, message));

/** Every check a follow makes, without writing anything (the live confirmation shows this). */
export async function planFollow(deps: RunDeps, input: FollowInput): Promise<Result<FollowPlan>> {
  const code = normalizeMasterCode(input.code);
  if (!code || !isUuid(input.userId)) return err(appError('master_not_found'));
  if (!(input.capitalUsd >= MIN_FOLLOW_CAPITAL_USD)) return invalid(`Follow with at least $${MIN_FOLLOW_CAPITAL_USD} of capital.`);
  if (input.maxCapitalUsd != null && !(input.maxCapitalUsd > 0)) return invalid('max_capital must be a positive amount of dollars.');
  if (input.maxLossUsd != null && !(input.maxLossUsd > 0)) return invalid('max_loss must be a positive amount of dollars.');
  const master = await read(() => deps.db.copyMaster.findUnique({ where: { code }, include: { run: true } }));
  if (!master || master.status !== 'active' || master.run.status !== 'running') return err(appError('master_not_found'));
  if (master.userId === input.userId) return err(appError('cannot_follow_self'));
  const existing = await read(() => deps.db.copyFollow.findUnique({ where: { masterId_userId: { masterId: master.id, userId: input.userId } } }));
  if (existing && existing.status !== 'stopped') return invalid(`You already follow ${code}. To change it, /unfollow ${code} first.`);

  const facts = await capitalFacts(deps, input.userId, input.mode);
  if (facts.tierMaxCapitalUsd === null) return err(appError('no_license'));
  const room = maxRunCapital({ ...facts, capitalReservePct: FOLLOW_CAPITAL_RESERVE_PCT });
  if (input.capitalUsd > room) {
    return err(
      appError(
        'copy_capital_exceeded',
        { room },
        `Your tier has ${formatUsdAmount(room)} left for ${input.mode} trading: the ${formatUsdAmount(facts.tierMaxCapitalUsd)} cap minus the ${FOLLOW_CAPITAL_RESERVE_PCT}% reserve minus ${formatUsdAmount(facts.otherRunsCapitalUsd)} in your runs and follows. Follow with at most that.`,
      ),
    );
  }

  let credentialLabel: string | null = null;
  if (input.mode === 'live') {
    if (master.run.mode !== 'live') return invalid(`${code} trades on paper: follow it with \`paper\`.`);
    const paper = await checkPaperFirst(deps, input.userId);
    if (!paper.ok) return paper;
    credentialLabel = input.credentialLabel ?? 'default';
    const keys = await read(() =>
      deps.db.exchangeCredential.findUnique({ where: { userId_exchange_label: { userId: input.userId, exchange: master.run.exchange, label: credentialLabel! } } }),
    );
    if (!keys) return err(appError('live_keys_missing', { exchange: master.run.exchange }));
  }
  return ok({
    masterId: master.id,
    code,
    exchange: master.run.exchange,
    symbol: master.run.symbol,
    strategy: master.run.strategy,
    masterMode: master.run.mode,
    credentialLabel,
    roomUsd: room,
    sizeFactor: input.capitalUsd / Number(master.run.capitalUsd),
  });
}

/** Starts (or restarts) a follow; the master is told that a follower joined. */
export async function followMaster(deps: RunDeps, input: FollowInput): Promise<Result<FollowView>> {
  const plan = await planFollow(deps, input);
  if (!plan.ok) return plan;
  const p = plan.value;
  const now = deps.clock.now();
  const data = {
    mode: input.mode,
    credentialLabel: p.credentialLabel,
    capitalUsd: input.capitalUsd.toFixed(2),
    maxCapitalUsd: input.maxCapitalUsd == null ? null : input.maxCapitalUsd.toFixed(2),
    maxLossUsd: input.maxLossUsd == null ? null : input.maxLossUsd.toFixed(2),
    status: 'active',
    stopReason: null,
    stopDetail: null,
    // A restarted follow starts flat: what earlier copies kept is the follower's own now.
    baseQty: 0,
    costUsd: 0,
    startedAt: now,
    stoppedAt: null,
  };
  const created = await inTransaction(deps.db, async (tx): Promise<Result<string>> => {
    // The master stays published while the follow is written (an unpublish waits, or wins first).
    const [master] = await tx.$queryRaw<{ status: string; user_id: string }[]>`SELECT status, user_id FROM copy_masters WHERE id = ${p.masterId}::uuid FOR SHARE`;
    if (master?.status !== 'active') return err(appError('master_not_found'));
    const existing = await tx.copyFollow.findUnique({ where: { masterId_userId: { masterId: p.masterId, userId: input.userId } } });
    if (existing && existing.status !== 'stopped') return invalid(`You already follow ${p.code}. To change it, /unfollow ${p.code} first.`);
    const row = existing
      ? await tx.copyFollow.update({ where: { id: existing.id }, data })
      : await tx.copyFollow.create({ data: { ...data, masterId: p.masterId, userId: input.userId } });
    const ref: FollowRef = { id: row.id, userId: input.userId, mode: input.mode, startedAt: now, code: p.code, masterUserId: master.user_id, strategy: p.strategy, symbol: p.symbol };
    await queueAlerts(tx, [followerJoinedAlert(ref, input.capitalUsd)], now);
    return ok(row.id);
  });
  if (!created.ok) return created;
  const view = (await listFollows(deps, input.userId)).find((f) => f.id === created.value);
  return ok(view!);
}

/** Stops a follow; unless `keep`, the mirror sells the copies at market first. */
export async function unfollowMaster(deps: AppDeps, input: { readonly userId: string; readonly code: string; readonly keep: boolean }): Promise<Result<FollowView>> {
  const code = normalizeMasterCode(input.code);
  if (!code || !isUuid(input.userId)) return err(appError('follow_not_found'));
  const follow = await read(() => deps.db.copyFollow.findFirst({ where: { userId: input.userId, master: { code } } }));
  if (!follow || follow.status !== 'active') return err(appError('follow_not_found'));
  const stopped = await inTransaction(deps.db, (tx) =>
    stopFollows(tx, { followIds: [follow.id] }, { reason: 'unfollowed', close: !input.keep, tellMaster: true }, deps.clock.now()),
  );
  if (stopped.stopped + stopped.stopping === 0) return err(appError('follow_not_found'));
  const view = (await listFollows(deps, input.userId)).find((f) => f.id === follow.id);
  return ok(view!);
}

// ---- listings and stats ----

type StatsRow = {
  follow_id: string;
  filled: number;
  refused: number;
  failed: number;
  skipped: number;
  pending: number;
  avg_latency: number | null;
  p95_latency: number | null;
  avg_slippage: string | null;
};

const NO_STATS = { filled: 0, refused: 0, failed: 0, skipped: 0, pending: 0, avgLatencyMs: null, p95LatencyMs: null, avgSlippageBps: null } as const;

/** Copy counts, latency (average and 95th percentile) and average slippage per follow. */
async function statsByFollow(deps: AppDeps, followIds: readonly string[]): Promise<Map<string, Omit<CopyStats, 'realizedPnlUsd'>>> {
  if (followIds.length === 0) return new Map();
  const rows = await read(() =>
    deps.db.$queryRaw<StatsRow[]>`
      SELECT follow_id,
             count(*) FILTER (WHERE status = 'filled')::int AS filled,
             count(*) FILTER (WHERE status = 'refused')::int AS refused,
             count(*) FILTER (WHERE status = 'failed')::int AS failed,
             count(*) FILTER (WHERE status = 'skipped')::int AS skipped,
             count(*) FILTER (WHERE status = 'pending')::int AS pending,
             avg(latency_ms) FILTER (WHERE status = 'filled')::float8 AS avg_latency,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'filled' AND latency_ms IS NOT NULL) AS p95_latency,
             avg(slippage_bps) FILTER (WHERE status = 'filled')::text AS avg_slippage
      FROM copy_trades WHERE follow_id = ANY(${[...followIds]}::uuid[]) AND kind = 'mirror'
      GROUP BY follow_id`,
  );
  return new Map(
    rows.map((r) => [
      r.follow_id,
      {
        filled: r.filled,
        refused: r.refused,
        failed: r.failed,
        skipped: r.skipped,
        pending: r.pending,
        avgLatencyMs: r.avg_latency === null ? null : Number(r.avg_latency),
        p95LatencyMs: r.p95_latency === null ? null : Number(r.p95_latency),
        avgSlippageBps: r.avg_slippage === null ? null : Number(r.avg_slippage),
      },
    ]),
  );
}

export async function listFollows(deps: AppDeps, userId: string, options: { readonly includeStopped?: boolean } = {}): Promise<FollowView[]> {
  if (!isUuid(userId)) return [];
  const rows = await read(() =>
    deps.db.copyFollow.findMany({
      where: { userId, ...(options.includeStopped === false ? { status: { not: 'stopped' } } : {}) },
      include: { master: { include: { run: { select: { strategy: true, symbol: true, mode: true } } } } },
      orderBy: { startedAt: 'desc' },
      take: 50,
    }),
  );
  const stats = await statsByFollow(deps, rows.map((r) => r.id));
  return rows.map((r) => ({
    id: r.id,
    code: r.master.code,
    master: { strategy: r.master.run.strategy, symbol: r.master.run.symbol, mode: r.master.run.mode },
    mode: r.mode,
    credentialLabel: r.credentialLabel,
    capitalUsd: Number(r.capitalUsd),
    maxCapitalUsd: r.maxCapitalUsd === null ? null : Number(r.maxCapitalUsd),
    maxLossUsd: r.maxLossUsd === null ? null : Number(r.maxLossUsd),
    status: r.status,
    stopReason: r.stopReason,
    stopDetail: r.stopDetail,
    baseQty: Number(r.baseQty),
    costUsd: Number(r.costUsd),
    startedAt: r.startedAt,
    stats: { ...(stats.get(r.id) ?? NO_STATS), realizedPnlUsd: Number(r.realizedPnlUsd) },
  }));
}

export async function listMasters(deps: AppDeps, userId: string, filter: { readonly code?: string } = {}): Promise<MasterView[]> {
  if (!isUuid(userId)) return [];
  const rows = await read(() =>
    deps.db.copyMaster.findMany({
      where: { userId, ...(filter.code ? { code: filter.code } : {}) },
      include: { run: { select: { seq: true, mode: true, strategy: true, symbol: true, status: true } }, follows: { where: { status: { not: 'stopped' } }, select: { capitalUsd: true } } },
      orderBy: { publishedAt: 'desc' },
      take: 50,
    }),
  );
  return rows.map((m) => ({
    id: m.id,
    code: m.code,
    runId: m.runId,
    run: { seq: m.run.seq, mode: m.run.mode, strategy: m.run.strategy, symbol: m.run.symbol, status: m.run.status },
    status: m.status,
    stopReason: m.stopReason,
    publishedAt: m.publishedAt,
    activeFollowers: m.follows.length,
    followerCapitalUsd: m.follows.reduce((sum, f) => sum + Number(f.capitalUsd), 0),
  }));
}

/** One follower of a master, as its master sees it: no identity, only its numbers. */
export interface FollowerView {
  /** 1, 2, …: in the order they first followed. */
  readonly number: number;
  readonly mode: RunMode;
  readonly capitalUsd: number;
  readonly status: string;
  readonly stats: CopyStats;
}

export interface MasterFollowers {
  readonly master: MasterView;
  readonly followers: readonly FollowerView[];
  /** Over every copy of this master's fills. */
  readonly totals: CopyStats;
}

/** The followers of the user's masters (or of one, by code), with latency, slippage and P&L. */
export async function followersOf(deps: AppDeps, userId: string, code?: string): Promise<Result<MasterFollowers[]>> {
  let wanted: string | undefined;
  if (code !== undefined) {
    const normalized = normalizeMasterCode(code);
    if (!normalized) return err(appError('master_not_found'));
    wanted = normalized;
  }
  const masters = await listMasters(deps, userId, wanted ? { code: wanted } : {});
  if (wanted && masters.length === 0) return err(appError('master_not_found'));
  const out: MasterFollowers[] = [];
  for (const master of masters) {
    const follows = await read(() => deps.db.copyFollow.findMany({ where: { masterId: master.id }, orderBy: { createdAt: 'asc' } }));
    const stats = await statsByFollow(deps, follows.map((f) => f.id));
    const [totals] = await read(() =>
      deps.db.$queryRaw<StatsRow[]>`
        SELECT ''::text AS follow_id,
               count(*) FILTER (WHERE t.status = 'filled')::int AS filled,
               count(*) FILTER (WHERE t.status = 'refused')::int AS refused,
               count(*) FILTER (WHERE t.status = 'failed')::int AS failed,
               count(*) FILTER (WHERE t.status = 'skipped')::int AS skipped,
               count(*) FILTER (WHERE t.status = 'pending')::int AS pending,
               avg(t.latency_ms) FILTER (WHERE t.status = 'filled')::float8 AS avg_latency,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY t.latency_ms) FILTER (WHERE t.status = 'filled' AND t.latency_ms IS NOT NULL) AS p95_latency,
               avg(t.slippage_bps) FILTER (WHERE t.status = 'filled')::text AS avg_slippage
        FROM copy_trades t JOIN copy_follows f ON f.id = t.follow_id WHERE f.master_id = ${master.id}::uuid AND t.kind = 'mirror'`,
    );
    const followers = follows.map((f, i) => ({
      number: i + 1,
      mode: f.mode,
      capitalUsd: Number(f.capitalUsd),
      status: f.status,
      stats: { ...(stats.get(f.id) ?? NO_STATS), realizedPnlUsd: Number(f.realizedPnlUsd) },
    }));
    out.push({
      master,
      followers,
      totals: {
        filled: totals?.filled ?? 0,
        refused: totals?.refused ?? 0,
        failed: totals?.failed ?? 0,
        skipped: totals?.skipped ?? 0,
        pending: totals?.pending ?? 0,
        avgLatencyMs: totals?.avg_latency == null ? null : Number(totals.avg_latency),
        p95LatencyMs: totals?.p95_latency == null ? null : Number(totals.p95_latency),
        avgSlippageBps: totals?.avg_slippage == null ? null : Number(totals.avg_slippage),
        realizedPnlUsd: follows.reduce((sum, f) => sum.add(f.realizedPnlUsd), new Prisma.Decimal(0)).toNumber(),
      },
    });
  }
  return ok(out);
}
