// Paper and live runs as use-cases: start, list, stop, kill. These only change rows; the run
// supervisor (src/execution/supervisor.ts) acts on them when woken, and does the same on every
// start-up, so a command and a crash recovery take the same path.
import type { Prisma } from '../db/generated/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { checkRunStart, maxRunCapital } from '../engine/risk/gates.ts';
import { parseRiskOverrides, probeSeries, withRiskDefaults } from '../engine/risk/risk-overrides.ts';
import { buildRun, STRATEGIES, type StrategyName } from '../engine/run-spec.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { coinConcentration, DEFAULT_MAX_COIN_SHARE_PCT } from '../domain/scanner-mitigations.ts';
import { EXCHANGES, findExchange } from '../domain/exchanges.ts';
import { queueAlerts } from '../alerts/outbox.ts';
import { runEventAlert } from './run-alerts.ts';
import { stopFollowsOnKill } from './copy-stops.ts';
import type { Actor, AppDeps } from './deps.ts';

export type RunMode = 'paper' | 'live';
export type RunStatus = 'running' | 'stopping' | 'stopped' | 'killed' | 'failed';

export interface RunView {
  readonly id: string;
  readonly userId: string;
  readonly seq: number;
  readonly mode: RunMode;
  readonly strategy: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly capitalUsd: number;
  readonly params: Readonly<Record<string, string>>;
  readonly credentialLabel: string | null;
  readonly status: RunStatus;
  readonly stopReason: string | null;
  readonly stopDetail: string | null;
  readonly startedAt: Date;
  readonly stoppedAt: Date | null;
  readonly lastCandleAt: Date | null;
}

export interface RunSpecInput {
  readonly strategy: string;
  readonly symbol: string;
  readonly capitalUsd: number | null;
  readonly params: Readonly<Record<string, string>>;
  /** `exchange=<id>` in the spec (e.g. alpaca for US stocks); absent: the service's default exchange. */
  readonly exchange?: string;
}

/** What the running side offers the use-cases (implemented by the run supervisor). */
export interface RunControl {
  /** Re-reads the run's row and acts on it: start, stop, or nothing. */
  wake(runId: string): Promise<void>;
  /** Does the exchange list this market? (An unknown symbol is refused before a run exists.) */
  checkMarket(exchange: string, symbol: string): Promise<Result<void>>;
  /** Position, orders and P&L of an active run, or null when it is not loaded. */
  liveStatus(runId: string): LiveRunStatus | null;
}

export interface LiveRunStatus {
  readonly base: number;
  readonly quote: number;
  readonly equity: number;
  readonly realizedPnl: number;
  readonly openOrders: number;
  readonly regime: number | null;
  readonly lastClose: number;
  /** Open time (ms) of the last candle the run handled; null before its first. */
  readonly lastCandleTime: number | null;
}

export interface RunSettings {
  readonly defaultExchange: string;
  readonly paperFirstDays: number;
  /** Coin diversification for live runs: at most this % of the tier's capital on one coin (default 40). */
  readonly maxCoinSharePct?: number;
  /** Copy trading: the lowest tier whose members may publish a run (COPY_MASTER_MIN_TIER; default pro). */
  readonly copyMasterMinTier?: string;
  /** false: this deployment trades paper only (LIVE_TRADING=off); default true. */
  readonly liveTrading?: boolean;
}

export type RunDeps = AppDeps & { readonly runSettings: RunSettings };

const SYMBOL = /^[A-Z0-9]{2,12}\/[A-Z0-9]{2,12}$/;
const PARAM = /^([a-z_][a-z0-9_]{0,40})=(\S{1,64})$/;
export const MIN_RUN_CAPITAL_USD = 10;
const DEFAULT_RUN_CAPITAL_USD = 1000;
const GLOBAL_SCOPE = 'global';
const ACTIVE: RunStatus[] = ['running', 'stopping'];

type RunRow = Prisma.TradingRunGetPayload<object>;

export function toRunView(row: RunRow): RunView {
  return {
    id: row.id,
    userId: row.userId,
    seq: row.seq,
    mode: row.mode,
    strategy: row.strategy,
    exchange: row.exchange,
    symbol: row.symbol,
    timeframe: row.timeframe,
    capitalUsd: Number(row.capitalUsd),
    params: row.params as Record<string, string>,
    credentialLabel: row.credentialLabel,
    status: row.status,
    stopReason: row.stopReason,
    stopDetail: row.stopDetail,
    startedAt: row.startedAt,
    stoppedAt: row.stoppedAt,
    lastCandleAt: row.lastCandleAt,
  };
}

const invalidSpec = (message: string) => err(appError('invalid_run_spec', undefined, message));

/**
 * `<dca|grid> <symbol> [capital] [key=value ...]` as typed in chat. Every problem names the
 * offending word and says what would be accepted.
 */
export function parseRunSpec(words: readonly string[]): Result<RunSpecInput> {
  const [strategy, rawSymbol, ...rest] = words;
  if (!strategy || !(STRATEGIES as readonly string[]).includes(strategy.toLowerCase())) {
    return invalidSpec(`Start with the strategy: ${STRATEGIES.join(' or ')}, e.g. \`dca BTC/USDT 500\`.`);
  }
  if (!rawSymbol) return invalidSpec('Name the market after the strategy, e.g. `BTC/USDT`.');
  const symbol = rawSymbol.toUpperCase();
  if (!SYMBOL.test(symbol)) return invalidSpec(`'${rawSymbol.slice(0, 30)}' is not a market: write it like BTC/USDT.`);
  let capitalUsd: number | null = null;
  let exchange: string | undefined;
  const params: Record<string, string> = {};
  for (const [i, word] of rest.entries()) {
    if (i === 0 && /^\$?\d+(\.\d{1,2})?$/.test(word)) {
      capitalUsd = Number(word.replace('$', ''));
      continue;
    }
    const match = PARAM.exec(word);
    if (!match) return invalidSpec(`'${word.slice(0, 40)}' is not a setting: use key=value, e.g. tp_range=0.8,2.0.`);
    // Where the run trades, not a strategy setting.
    if (match[1] === 'exchange') {
      const found = findExchange(match[2]!);
      if (!found) return invalidSpec(`'${match[2]!.slice(0, 30)}' is not an exchange: use one of ${EXCHANGES.map((e) => e.id).join(', ')}.`);
      exchange = found.id;
      continue;
    }
    params[match[1]!] = match[2]!;
  }
  // The engine's own parser is the judge of keys and values.
  const probe = buildRun({ strategy: strategy.toLowerCase() as StrategyName, overrides: params, capital: capitalUsd ?? DEFAULT_RUN_CAPITAL_USD }, probeSeries(symbol));
  if (!probe.ok) return invalidSpec(`Settings: ${probe.problem}.`);
  return ok({ strategy: strategy.toLowerCase(), symbol, capitalUsd, params, ...(exchange ? { exchange } : {}) });
}

function timeframeOf(spec: RunSpecInput): string {
  const built = buildRun({ strategy: spec.strategy as StrategyName, overrides: spec.params, capital: spec.capitalUsd ?? DEFAULT_RUN_CAPITAL_USD }, probeSeries(spec.symbol));
  return built.ok ? built.value.paramSet.params.timeframe : '5m';
}

export async function globalKillEngaged(deps: AppDeps): Promise<boolean> {
  const row = await read(() => deps.db.killSwitch.findUnique({ where: { scope: GLOBAL_SCOPE } }));
  return row?.engaged === true;
}

/** The capital facts of the capital gate for one user and mode. */
export async function capitalFacts(deps: AppDeps, userId: string, mode: RunMode, excludeRunId?: string) {
  const [best, others, follows] = await Promise.all([
    read(() =>
      deps.db.license.findFirst({
        where: { userId, status: 'active' },
        orderBy: { tier: { rank: 'desc' } },
        select: { tier: { select: { maxCapitalUsd: true } } },
      }),
    ),
    read(() =>
      deps.db.tradingRun.aggregate({
        where: { userId, mode, status: { in: ACTIVE }, ...(excludeRunId ? { id: { not: excludeRunId } } : {}) },
        _sum: { capitalUsd: true },
      }),
    ),
    // Copy-trading follows use the tier's capital like runs do.
    read(() => deps.db.copyFollow.aggregate({ where: { userId, mode, status: { not: 'stopped' } }, _sum: { capitalUsd: true } })),
  ]);
  return {
    tierMaxCapitalUsd: best ? Number(best.tier.maxCapitalUsd) : null,
    otherRunsCapitalUsd: Number(others._sum.capitalUsd ?? 0) + Number(follows._sum.capitalUsd ?? 0),
  };
}

export interface PaperFirst {
  readonly eligible: boolean;
  readonly firstPaperAt: Date | null;
  readonly eligibleAt: Date | null;
}

/** Live trading opens `paperFirstDays` after the account's first paper run started. */
export async function paperFirstStatus(deps: RunDeps, userId: string): Promise<PaperFirst> {
  const first = await read(() =>
    deps.db.tradingRun.findFirst({ where: { userId, mode: 'paper' }, orderBy: { startedAt: 'asc' }, select: { startedAt: true } }),
  );
  if (!first) return { eligible: deps.runSettings.paperFirstDays === 0, firstPaperAt: null, eligibleAt: null };
  const eligibleAt = new Date(first.startedAt.getTime() + deps.runSettings.paperFirstDays * 86_400_000);
  return { eligible: deps.clock.now() >= eligibleAt, firstPaperAt: first.startedAt, eligibleAt };
}

/**
 * Live trading (runs and copy-trading follows) is refused, saying when it unlocks, until paper-first
 * is over; and always on a paper-only deployment (the one gate every live start passes).
 */
export async function checkPaperFirst(deps: RunDeps, userId: string): Promise<Result<void>> {
  if (deps.runSettings.liveTrading === false) return err(appError('live_trading_off'));
  const paper = await paperFirstStatus(deps, userId);
  if (paper.eligible) return ok(undefined);
  const when = paper.eligibleAt ? ` It unlocks on ${paper.eligibleAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.` : ' Start a paper run with /paper first.';
  return err(appError('paper_first', { eligibleAt: paper.eligibleAt?.toISOString() ?? null }, `Live trading unlocks after ${deps.runSettings.paperFirstDays} days of paper trading on this account.${when}`));
}

export interface StartRunInput {
  readonly userId: string;
  readonly mode: RunMode;
  readonly spec: RunSpecInput;
  readonly exchange?: string;
  readonly credentialLabel?: string | null;
  readonly actor: Actor;
}

export interface RunPlan {
  readonly capitalUsd: number;
  readonly exchange: string;
  readonly credentialLabel: string | null;
  readonly timeframe: string;
  /** The run's own settings over the account's risk defaults (`limits.risk`): what the run stores. */
  readonly params: Readonly<Record<string, string>>;
}

/** Every check a start makes, without starting anything (the /live confirmation shows this). */
export async function planRun(deps: RunDeps, input: StartRunInput): Promise<Result<RunPlan>> {
  if (!isUuid(input.userId)) return err(appError('invalid_input'));
  if (await globalKillEngaged(deps)) return err(appError('kill_switch_engaged'));
  const account = await read(() => deps.db.user.findUnique({ where: { id: input.userId }, select: { suspendedAt: true, limits: true } }));
  if (account?.suspendedAt) return err(appError('account_suspended'));
  // Stored limits were validated when set; one that no longer parses adds nothing.
  const risk = parseRiskOverrides(account?.limits ?? null);
  const params = withRiskDefaults(input.spec.strategy, risk.ok ? risk.value : {}, input.spec.params);
  const exchange = input.exchange ?? input.spec.exchange ?? deps.runSettings.defaultExchange;
  const facts = await capitalFacts(deps, input.userId, input.mode);
  if (facts.tierMaxCapitalUsd === null) return err(appError('no_license'));
  const reservePct = Number(params.capital_reserve_pct ?? 10);
  const room = maxRunCapital({ ...facts, capitalReservePct: reservePct });
  const capitalUsd = input.spec.capitalUsd ?? Math.min(DEFAULT_RUN_CAPITAL_USD, room);
  if (capitalUsd < MIN_RUN_CAPITAL_USD) {
    return err(
      appError('tier_capital_exceeded', { room }, room < MIN_RUN_CAPITAL_USD
        ? `Your tier has no capital left for another ${input.mode} run: stop one first (see /runs).`
        : `A run needs at least $${MIN_RUN_CAPITAL_USD} of capital.`),
    );
  }
  const gate = checkRunStart({ ...facts, capitalReservePct: reservePct }, capitalUsd);
  if (!gate.pass) return err(appError('tier_capital_exceeded', { room }, gate.message));

  let credentialLabel: string | null = null;
  if (input.mode === 'live') {
    const paper = await checkPaperFirst(deps, input.userId);
    if (!paper.ok) return paper;
    credentialLabel = input.credentialLabel ?? 'default';
    const keys = await read(() =>
      deps.db.exchangeCredential.findUnique({ where: { userId_exchange_label: { userId: input.userId, exchange, label: credentialLabel! } } }),
    );
    if (!keys) return err(appError('live_keys_missing', { exchange }));
    const concentration = await checkCoinConcentration(deps, input.userId, input.spec.symbol, capitalUsd, facts.tierMaxCapitalUsd);
    if (!concentration.ok) return concentration;
  }

  return ok({ capitalUsd, exchange, credentialLabel, timeframe: timeframeOf({ ...input.spec, params }), params });
}

/**
 * The seed's coin diversification rule, for live money only (paper has no market footprint):
 * a coin may hold at most maxCoinSharePct % of the tier's capital across the user's live runs.
 */
async function checkCoinConcentration(deps: RunDeps, userId: string, symbol: string, addUsd: number, tierCapitalUsd: number): Promise<Result<void>> {
  const groups = await read(() =>
    deps.db.tradingRun.groupBy({ by: ['symbol'], where: { userId, mode: 'live', status: { in: ACTIVE } }, _sum: { capitalUsd: true } }),
  );
  const capitalBySymbol = Object.fromEntries(groups.map((g) => [g.symbol, Number(g._sum.capitalUsd ?? 0)]));
  const check = coinConcentration({
    capitalBySymbol,
    totalCapitalUsd: tierCapitalUsd,
    maxSharePct: deps.runSettings.maxCoinSharePct ?? DEFAULT_MAX_COIN_SHARE_PCT,
    symbol,
    addUsd,
  });
  return check.ok ? ok(undefined) : err(appError('coin_concentration', { symbol, sharePct: check.sharePct, maxUsd: check.maxUsd }, check.message));
}

/** Checks and records a new run (status running); the caller then wakes the supervisor. */
export async function startRun(deps: RunDeps, input: StartRunInput): Promise<Result<RunView>> {
  const plan = await planRun(deps, input);
  if (!plan.ok) return plan;
  const { capitalUsd, exchange, credentialLabel, timeframe, params } = plan.value;
  if (input.mode === 'live') {
    // /live verified the key with the exchange; a key replaced since then must be checked again.
    const keys = await read(() =>
      deps.db.exchangeCredential.findUnique({ where: { userId_exchange_label: { userId: input.userId, exchange, label: credentialLabel! } } }),
    );
    if (!keys?.verifiedAt) return err(appError('keys_rejected', { exchange }, 'Your API keys changed since /live checked them: run /live again.'));
  }
  const now = deps.clock.now();
  // The per-user number is max + 1; a concurrent start loses the unique race and retries once.
  for (let attempt = 0; ; attempt++) {
    try {
      const row = await inTransaction(deps.db, async (tx) => {
        const last = await tx.tradingRun.aggregate({ where: { userId: input.userId }, _max: { seq: true } });
        const created = await tx.tradingRun.create({
          data: {
            userId: input.userId,
            seq: (last._max.seq ?? 0) + 1,
            mode: input.mode,
            strategy: input.spec.strategy,
            exchange,
            symbol: input.spec.symbol,
            timeframe,
            capitalUsd: capitalUsd.toFixed(2),
            params,
            credentialLabel,
            startedAt: now,
          },
        });
        await queueAlerts(
          tx,
          [runEventAlert({ type: 'run_started', run: { id: created.id, userId: created.userId, seq: created.seq, mode: created.mode, strategy: created.strategy, symbol: created.symbol }, capitalUsd })],
          now,
        );
        await recordAudit(tx, {
          actor: input.actor,
          action: 'run.started',
          entityType: 'run',
          entityId: created.id,
          after: { userId: input.userId, seq: created.seq, mode: input.mode, strategy: created.strategy, symbol: created.symbol, capitalUsd },
          at: now,
        });
        return created;
      });
      return ok(toRunView(row));
    } catch (error) {
      if (attempt === 0 && (error as { code?: string }).code === 'P2002') continue;
      throw error;
    }
  }
}

export async function listRuns(deps: AppDeps, userId: string, options: { activeOnly?: boolean; limit?: number } = {}): Promise<RunView[]> {
  if (!isUuid(userId)) return [];
  const rows = await read(() =>
    deps.db.tradingRun.findMany({
      where: { userId, ...(options.activeOnly ? { status: { in: ACTIVE } } : {}) },
      orderBy: { seq: 'desc' },
      take: options.limit ?? 20,
    }),
  );
  return rows.map(toRunView);
}

/** A user's run by its number: another user's runs are simply not found. */
export async function findRun(deps: AppDeps, userId: string, seq: number): Promise<Result<RunView>> {
  if (!isUuid(userId) || !Number.isInteger(seq) || seq < 1) return err(appError('run_not_found'));
  const row = await read(() => deps.db.tradingRun.findUnique({ where: { userId_seq: { userId, seq } } }));
  return row ? ok(toRunView(row)) : err(appError('run_not_found'));
}

export interface StopRequest {
  readonly reason: string;
  readonly detail?: string | null;
  readonly flatten?: boolean;
  readonly actor: Actor;
}

/** Marks runs as stopping (once: a run already stopping or stopped is left as it is). */
async function markStopping(deps: AppDeps, where: Prisma.TradingRunWhereInput, request: StopRequest): Promise<RunView[]> {
  const now = deps.clock.now();
  return inTransaction(deps.db, async (tx) => {
    const rows = await tx.tradingRun.findMany({ where: { ...where, status: 'running' }, orderBy: { seq: 'asc' } });
    if (rows.length === 0) return [];
    await tx.tradingRun.updateMany({
      where: { id: { in: rows.map((r) => r.id) }, status: 'running' },
      data: { status: 'stopping', stopReason: request.reason, stopDetail: request.detail ?? null, flatten: request.flatten ?? false },
    });
    for (const row of rows) {
      await recordAudit(tx, {
        actor: request.actor,
        action: 'run.stop_requested',
        entityType: 'run',
        entityId: row.id,
        before: { status: row.status },
        after: { status: 'stopping', reason: request.reason, flatten: request.flatten ?? false },
        at: now,
      });
    }
    return rows.map((r) => toRunView({ ...r, status: 'stopping', stopReason: request.reason, stopDetail: request.detail ?? null }));
  });
}

export async function requestStop(deps: AppDeps, userId: string, seq: number, request: StopRequest): Promise<Result<RunView>> {
  const run = await findRun(deps, userId, seq);
  if (!run.ok) return run;
  if (run.value.status !== 'running') return err(appError('run_not_active', { status: run.value.status }));
  const [stopped] = await markStopping(deps, { id: run.value.id }, request);
  return stopped ? ok(stopped) : err(appError('run_not_active'));
}

/** Stops every running run of a user for `request.reason` (e.g. a suspension); the caller wakes them. */
export async function stopUserRuns(deps: AppDeps, userId: string, request: StopRequest): Promise<RunView[]> {
  return isUuid(userId) ? markStopping(deps, { userId }, request) : [];
}

/** A user's kill switch: every run of theirs stops, and so does every copy-trading follow. */
export async function killUserRuns(deps: AppDeps, userId: string, request: Omit<StopRequest, 'reason'>): Promise<{ runs: RunView[]; follows: number }> {
  if (!isUuid(userId)) return { runs: [], follows: 0 };
  const runs = await markStopping(deps, { userId }, { ...request, reason: 'kill' });
  const follows = await stopFollowsOnKill(deps, { userId, flatten: request.flatten ?? false });
  return { runs, follows };
}

/**
 * /admin killall and POST /admin/kill: engages the global kill switch (persisted: no run starts
 * and no order is placed until it is released) and stops every running run.
 */
export async function killAllRuns(deps: AppDeps, request: { actor: Actor; reason: string }): Promise<{ runs: RunView[]; alreadyEngaged: boolean }> {
  const now = deps.clock.now();
  const before = await read(() => deps.db.killSwitch.findUnique({ where: { scope: GLOBAL_SCOPE } }));
  if (!before?.engaged) {
    await inTransaction(deps.db, async (tx) => {
      await tx.killSwitch.upsert({
        where: { scope: GLOBAL_SCOPE },
        create: { scope: GLOBAL_SCOPE, engaged: true, reason: request.reason, actor: request.actor.id, engagedAt: now, updatedAt: now },
        update: { engaged: true, reason: request.reason, actor: request.actor.id, engagedAt: now, updatedAt: now },
      });
      await recordAudit(tx, { actor: request.actor, action: 'kill_switch.engaged', entityType: 'kill_switch', entityId: GLOBAL_SCOPE, after: { reason: request.reason }, at: now });
    });
  }
  const runs = await markStopping(deps, {}, { actor: request.actor, reason: 'killall', detail: request.reason });
  await stopFollowsOnKill(deps, 'global');
  return { runs, alreadyEngaged: before?.engaged === true };
}

export async function releaseGlobalKill(deps: AppDeps, actor: Actor): Promise<boolean> {
  const now = deps.clock.now();
  return inTransaction(deps.db, async (tx) => {
    const released = await tx.killSwitch.updateMany({ where: { scope: GLOBAL_SCOPE, engaged: true }, data: { engaged: false, updatedAt: now } });
    if (released.count === 0) return false;
    await recordAudit(tx, { actor, action: 'kill_switch.released', entityType: 'kill_switch', entityId: GLOBAL_SCOPE, at: now });
    return true;
  });
}
