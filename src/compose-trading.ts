// Composition root, trading part (main.ts calls it; integration tests build the same thing).
// The one place that knows the modes: paper runs trade on a PaperExchange (the backtester's
// simulated venue), live runs on the exchange through ccxt; market data comes from the exchange
// or from CSV replay. Everything it returns talks to ports only.
import type { AppDeps } from './app/deps.ts';
import { decryptCredentials } from './app/credentials.ts';
import { runEventAlert } from './app/run-alerts.ts';
import { AccountFactsCache } from './app/run-risk.ts';
import { verifyStoredKeys, type AccountVenueFactory } from './app/key-verification.ts';
import type { GuardLimits } from './engine/risk/limits.ts';
import { venueDefaultsFor } from './engine/run-spec.ts';
import { CcxtCandleSource } from './exchange/ccxt/ccxt-candle-source.ts';
import { CcxtVenue } from './exchange/ccxt/ccxt-venue.ts';
import { AlpacaCandleSource } from './exchange/alpaca/alpaca-candle-source.ts';
import { ALPACA_EXCHANGE_ID } from './exchange/alpaca/alpaca-errors.ts';
import { AlpacaVenue } from './exchange/alpaca/alpaca-venue.ts';
import type { AlpacaCredentials } from './exchange/alpaca/client.ts';
import { MarketHours, MarketHoursVenue } from './exchange/market-hours-venue.ts';
import { isEquityExchange } from './domain/exchanges.ts';
import { PaperExchange } from './exchange/sim/paper-exchange.ts';
import { VenueError, type ExchangeVenue, type MarketRules } from './exchange/venue.ts';
import { AccountThrottles } from './execution/account-throttle.ts';
import { accountThroughLane, type OrderPacer } from './execution/order-pacer.ts';
import { PriorityLanes } from './execution/priority-lane.ts';
import { priorityRank, type ExecutionPriority } from './domain/execution-priority.ts';
import type { RunRecord, VenueRestore } from './execution/run-engine.ts';
import type { RunEvent } from './execution/run-events.ts';
import { RunSupervisor } from './execution/supervisor.ts';
import { CopyMirror } from './execution/copy-mirror.ts';
import { ok } from './kernel/result.ts';
import { StepWriter } from './execution/step-writer.ts';
import type { Clock } from './kernel/clock.ts';
import type { Logger } from './kernel/logger.ts';
import type { CandleSeries } from './market-data/candles.ts';
import type { CandleSource, MarketFeed } from './market-data/feed.ts';
import { MarketDataService } from './market-data/market-data-service.ts';
import { REPLAY_EXCHANGE, ReplayCandleSource } from './market-data/replay-source.ts';
import type { Vault } from './vault/vault.ts';
import type { FeedHealth, ServiceMetrics } from './metrics/service-metrics.ts';

export interface TradingSettings {
  readonly exchangeApiUrl: string | null;
  /** False (LIVE_TRADING=off): this process runs paper runs only and leaves live ones alone. */
  readonly liveTrading?: boolean;
  /**
   * The equities venue (Alpaca): its trading and market-data hosts, and the service's own key for
   * stock data and the market clock (null: none; real Alpaca then serves no stock data). Absent:
   * Alpaca's paper and data hosts without a service key.
   */
  readonly alpaca?: { readonly apiUrl: string; readonly dataUrl: string; readonly serviceCredentials: AlpacaCredentials | null };
  /** Replay: candles by symbol (MARKET_DATA=replay); null: the exchange's own candles. */
  readonly replay: { readonly series: ReadonlyMap<string, CandleSeries>; readonly speed: number } | null;
  readonly orderConcurrency: number;
  readonly orderRateIntervalMs: number;
  readonly replace: { readonly timeoutMs: number; readonly slippagePct: number; readonly maxRetries: number };
  readonly guard: GuardLimits;
  /** Supervisor tick (ms). */
  readonly tickMs?: number;
  /** Market-data poll interval override (ms), e.g. for tests against a fast simulator. */
  readonly pollMs?: number;
  /** Run leases among replicas: how long one lasts without renewal (ms). */
  readonly runLeaseMs?: number;
  /** How long a user's account facts (tier, other runs, realised P&L, limits) are reused (ms); default 5 s. */
  readonly accountFactsTtlMs?: number;
  /** Copy trading: how often the mirror looks for master fills not mirrored yet (COPY_POLL_MS); default 1 s. */
  readonly copyPollMs?: number;
  /**
   * Per exchange, across every live account: calls in flight, spacing, and how long a waiting call
   * takes to rise one priority level (default DEFAULT_AGING_MS). Absent: no exchange-wide limit.
   */
  readonly executionLanes?: { readonly concurrency: number; readonly intervalMs: number; readonly agingMs?: number };
  /**
   * Runs stepping at once (default 8, below the connection pool). A step includes sending its
   * orders, so this also bounds how many runs' orders can wait in an exchange lane at once.
   */
  readonly maxConcurrentSteps?: number;
}

/** An account some order sender trades for (a run, or copy trading on a follower's keys). */
export interface OrderAccount {
  readonly userId: string;
  readonly exchange: string;
  readonly credentialLabel: string | null;
  readonly mode: RunRecord['mode'];
  /** Place in the exchange's queue; default: the user's best active license's tier's. */
  readonly priority?: ExecutionPriority;
}

export interface Trading {
  readonly supervisor: RunSupervisor;
  readonly feed: HealthReportingFeed;
  readonly openAccount: AccountVenueFactory;
  /** Checks a stored key with its exchange (balance readable, no withdrawal permission). */
  verifyKeys(ref: { userId: string; exchange: string; label: string }): ReturnType<typeof verifyStoredKeys>;
  /** Paces order calls for an account: the same account throttle and exchange lane its runs use. */
  orderPacer(account: OrderAccount): OrderPacer;
  /** Copy trading's mirror (started by the caller, stopped by close). */
  readonly copy: CopyMirror;
  close(): Promise<void>;
}

export type HealthReportingFeed = MarketFeed & { feedHealth(): FeedHealth[] };

export function composeTrading(options: {
  readonly app: AppDeps;
  readonly vault: Vault;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: TradingSettings;
  /** Extra listener for run events (tests). */
  readonly onEvent?: (event: RunEvent) => void;
  readonly metrics?: ServiceMetrics;
  /** This process among the replicas, and how to tell that another one is dead. */
  readonly replicaId: string;
  readonly isReplicaDead?: (replicaId: string) => boolean;
  /** Market data from elsewhere than the exchanges or the replay files (the service benchmark drives its own). */
  readonly feed?: HealthReportingFeed;
}): Trading {
  const { app, vault, clock, logger, settings } = options;
  const apiUrl = settings.exchangeApiUrl ?? undefined;
  const replay = settings.replay;
  const replaySource = replay ? new ReplayCandleSource({ series: replay.series, clock, speed: replay.speed }) : null;
  // Equities trade through Alpaca's SDK, not ccxt (whose "alpaca" is Alpaca's crypto side). Stock
  // data and the market clock are read with the service's key; accounts trade with their own.
  const alpaca = settings.alpaca;
  const alpacaService = new AlpacaVenue({ apiUrl: alpaca?.apiUrl, dataUrl: alpaca?.dataUrl, credentials: alpaca?.serviceCredentials });
  const equityHours = new MarketHours(alpacaService, clock);
  const sources = (exchange: string): CandleSource =>
    replaySource ??
    (exchange === ALPACA_EXCHANGE_ID
      ? new AlpacaCandleSource({ dataUrl: alpaca?.dataUrl, credentials: alpaca?.serviceCredentials, clock })
      : new CcxtCandleSource({ exchange, apiUrl }));
  const feed = options.feed ?? new MarketDataService({ sources, clock, logger, ...(settings.pollMs ? { pollMs: () => settings.pollMs! } : {}) });

  // Market metadata through an unauthenticated client per exchange (Alpaca: the service's key), loaded once.
  const publicVenues = new Map<string, ExchangeVenue>();
  const publicVenue = (exchange: string): ExchangeVenue => {
    let venue = publicVenues.get(exchange);
    if (!venue) {
      venue = exchange === ALPACA_EXCHANGE_ID ? alpacaService : new CcxtVenue({ exchange, apiUrl });
      publicVenues.set(exchange, venue);
    }
    return venue;
  };
  const marketRules = async (exchange: string, symbol: string): Promise<MarketRules> => {
    if (replay) {
      const series = replay.series.get(symbol);
      if (!series) throw new VenueError('rejected', `The replay has no candles for ${symbol}.`, { exchangeId: REPLAY_EXCHANGE, reason: 'bad_symbol' });
      const d = venueDefaultsFor(series);
      const [base, quote] = symbol.split('/') as [string, string];
      return { symbol, base, quote, tickSize: d.tickSize, lotSize: d.lotSize, minQty: d.lotSize, minNotional: d.minNotional };
    }
    return publicVenue(exchange).market(symbol);
  };

  const openAccount: AccountVenueFactory = (exchange, secrets) => {
    if (exchange === ALPACA_EXCHANGE_ID) {
      const account = new AlpacaVenue({ apiUrl: alpaca?.apiUrl, dataUrl: alpaca?.dataUrl, credentials: { keyId: secrets.apiKey, secret: secrets.apiSecret } });
      // No order while the market is closed; without a service key the account reads the clock with its own.
      return new MarketHoursVenue(account, alpaca?.serviceCredentials ? equityHours : new MarketHours(account, clock));
    }
    return new CcxtVenue({ exchange, apiUrl, credentials: { apiKey: secrets.apiKey, apiSecret: secrets.apiSecret, passphrase: secrets.passphrase } });
  };

  const openVenue = async (run: RunRecord, rules: MarketRules, restore: VenueRestore): Promise<ExchangeVenue> => {
    if (run.mode === 'paper') {
      const equity = isEquityExchange(run.exchange);
      // Stock trades are commission-free at Alpaca.
      const paper = new PaperExchange({ rules, quote: restore.quote, base: restore.base, clock, ...(equity ? { makerFeePct: 0, takerFeePct: 0 } : {}) });
      paper.restoreOrders(restore.orders, 0, 0);
      // Paper keeps the stock market's hours too (not a replay: its candles are history).
      return equity && !replay ? new MarketHoursVenue(paper, equityHours) : paper;
    }
    const secrets = await decryptCredentials({ ...app, vault }, { userId: run.userId, exchange: run.exchange, label: run.credentialLabel });
    if (!secrets.ok) throw new VenueError('authentication', secrets.error.message, { exchangeId: run.exchange });
    return openAccount(run.exchange, secrets.value);
  };

  const liveThrottles = new AccountThrottles({ concurrency: settings.orderConcurrency, intervalMs: settings.orderRateIntervalMs, clock });
  // Live orders then share their exchange's lane, where higher tiers go first.
  const lanesSettings = settings.executionLanes;
  const lanes = new PriorityLanes({
    concurrency: lanesSettings?.concurrency ?? Number.MAX_SAFE_INTEGER,
    intervalMs: lanesSettings?.intervalMs ?? 0,
    ...(lanesSettings?.agingMs ? { agingMs: lanesSettings.agingMs } : {}),
    clock,
    ...(options.metrics ? { onStart: (exchange: string, priority: ExecutionPriority, waitedMs: number) => options.metrics?.orderLaneWait(exchange, priority, waitedMs / 1000) } : {}),
  });
  options.metrics?.setOrderLaneSource(() => lanes.waiting());
  // A paper account is the run's own: no exchange to protect, so no pacing.
  const paperThrottles = new AccountThrottles({ concurrency: 64, intervalMs: 0, clock });
  const accountKey = (a: { userId: string; exchange: string; credentialLabel: string | null }) => `${a.userId}:${a.exchange}:${a.credentialLabel ?? 'default'}`;
  // From the cached account facts. Should they fail to load, the order still goes, as normal.
  const tierPriority = (userId: string) => () => facts.executionPriority({ userId, mode: 'live' }).catch((): ExecutionPriority => 'normal');
  const livePacer = (account: OrderAccount, priority: () => Promise<ExecutionPriority>): OrderPacer =>
    accountThroughLane(liveThrottles.for(accountKey(account)), lanes.for(account.exchange), priority);
  const throttle = (run: RunRecord): OrderPacer => (run.mode === 'live' ? livePacer(run, tierPriority(run.userId)) : paperThrottles.for(run.id));
  const orderPacer = (account: OrderAccount): OrderPacer => {
    if (account.mode === 'paper') return paperThrottles.for(accountKey(account));
    const fixed = account.priority;
    return livePacer(account, fixed ? async () => fixed : tierPriority(account.userId));
  };

  // Alerts go to the outbox inside the run's own transactions; the dispatcher delivers them.
  const emit = (event: RunEvent) => {
    options.onEvent?.(event);
    if (event.type === 'guard_tripped') options.metrics?.guardTripped(event.guard, event.run.mode);
    // A published run's fills are mirrored at once, and its end stops its follows.
    if (event.type === 'fill' || event.type === 'run_stopped') copy.nudge(event.run.id);
  };

  const facts = new AccountFactsCache(app, settings.guard, settings.accountFactsTtlMs ?? 5_000);

  // Copy trading: each master fill, sized for each follower and sent through their own account,
  // pacer and risk gate. Paper copies fill at the public price (replay: the replayed close).
  const copy = new CopyMirror({
    db: app.db,
    clock,
    logger,
    pollMs: settings.copyPollMs ?? 1_000,
    ...(settings.liveTrading === false ? { modes: ['paper'] as const } : {}),
    marketRules,
    currentPrice: async (exchange, symbol) => {
      if (replaySource) {
        const [last] = await replaySource.fetchCandles(symbol, '5m', undefined, 1);
        if (!last) throw new VenueError('rejected', `The replay has no candles for ${symbol}.`, { exchangeId: REPLAY_EXCHANGE, reason: 'bad_symbol' });
        return { last: last.close, time: clock.now().getTime() };
      }
      return publicVenue(exchange).fetchTicker(symbol);
    },
    openLiveAccount: async (account) => {
      const secrets = await decryptCredentials({ ...app, vault }, { userId: account.userId, exchange: account.exchange, label: account.credentialLabel });
      return secrets.ok ? ok(openAccount(account.exchange, secrets.value)) : secrets;
    },
    pacer: (account) => orderPacer(account),
    accountFacts: (follow) => facts.forRun(follow),
  });
  const stepWriter = new StepWriter({ db: app.db, clock });

  const supervisor = new RunSupervisor({
    db: app.db,
    clock,
    logger,
    feed,
    replicaId: options.replicaId,
    ...(settings.runLeaseMs ? { leaseMs: settings.runLeaseMs } : {}),
    ...(options.isReplicaDead ? { isOwnerDead: options.isReplicaDead } : {}),
    marketKey: (run) => ({ exchange: replay ? REPLAY_EXCHANGE : run.exchange, symbol: run.symbol, timeframe: run.timeframe }),
    marketRules,
    ...(settings.tickMs ? { tickMs: settings.tickMs } : {}),
    ...(settings.maxConcurrentSteps ? { maxConcurrentSteps: settings.maxConcurrentSteps } : {}),
    ...(settings.liveTrading === false ? { modes: ['paper'] as const } : {}),
    // Steps send their orders, so a saturated step limit admits higher tiers first too.
    stepPriority: async (run) => priorityRank(await tierPriority(run.userId)()),
    engine: {
      db: app.db,
      clock,
      logger,
      marketRules: (run) => marketRules(run.exchange, run.symbol),
      openVenue,
      throttle,
      accountFacts: (run) => facts.forRun(run),
      accountChanged: (run) => facts.invalidate(run.userId),
      realized: (run, pnlUsd, at) => facts.recordRealized(run, pnlUsd, at),
      stepWriter,
      emit,
      alertsFor: (events) => events.map(runEventAlert),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      gridDefaults: {
        replace_timeout_ms: String(settings.replace.timeoutMs),
        replace_slippage_pct: String(settings.replace.slippagePct),
        replace_max_retries: String(settings.replace.maxRetries),
      },
    },
  });

  return {
    supervisor,
    feed,
    openAccount,
    verifyKeys: (ref) => verifyStoredKeys({ ...app, vault, openAccount }, { ...ref, actor: { type: 'user', id: ref.userId } }),
    orderPacer,
    copy,
    async close() {
      await copy.stop();
      await supervisor.close();
      await stepWriter.flush();
      await feed.close();
      await Promise.all([...publicVenues.values()].map((v) => v.close()));
    },
  };
}
