// Composition root: the only module that reads the environment, picks implementations and
// wires them together. Start-up and crash recovery are the same path.
import { ConfigError, parseConfig, type Config } from './config/config.ts';
import type { AppDeps } from './app/deps.ts';
import { systemActor } from './app/deps.ts';
import { getPoolStatus, setPoolCap } from './app/pool.ts';
import { createDb } from './db/client.ts';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrator.ts';
import { buildHttpServer } from './http/server.ts';
import { systemClock } from './kernel/clock.ts';
import { Lifecycle } from './kernel/lifecycle.ts';
import { createLogger, type Logger } from './kernel/logger.ts';
import { LogShipper } from './kernel/log-shipper.ts';
import { formatUsd } from './kernel/money.ts';
import { projectPath } from './kernel/paths.ts';
import { userInfo } from 'node:os';
import { commands } from '../commands/registry.ts';
import { ConsoleChat } from './chat/console/console-chat.ts';
import { startupBanner, unreachableNotice } from './chat/console/startup-banner.ts';
import { exchangeDisplayName } from './exchange/reachability.ts';
import { ChatNotifier } from './chat/notifier.ts';
import { CommandPipeline } from './chat/pipeline.ts';
import { RateLimiter } from './chat/rate-limit.ts';
import { TelegramChat } from './chat/telegram/telegram-chat.ts';
import { loadMasterKey } from './vault/master-key.ts';
import { Vault } from './vault/vault.ts';
import { composeTrading } from './compose-trading.ts';
import { AlertDispatcher, type AlertChannel, type ChannelPlatform } from './alerts/dispatcher.ts';
import { telegramAlertChannel } from './chat/telegram/alert-channel.ts';
import { DiscordChat } from './chat/discord/discord-chat.ts';
import { DiscordInteractions } from './chat/discord/discord-interactions.ts';
import { createRest, DiscordRest } from './chat/discord/discord-rest.ts';
import { discordAlertChannel } from './chat/discord/alert-channel.ts';
import { toDiscordMessages } from './chat/discord/discord-message.ts';
import { listTiers } from './app/tiers.ts';
import { adminUserIds } from './app/admins.ts';
import { CommunityAccessService } from './app/community.ts';
import { findIdentity } from './app/users.ts';
import { unknownTiers } from './domain/community.ts';
import { TelegramGroups } from './chat/telegram/telegram-groups.ts';
import { communityReconcileJob } from './jobs/community-reconcile.ts';
import { createStripe, StripeGateway } from './billing/stripe-gateway.ts';
import { StripeWebhook } from './billing/stripe-webhook.ts';
import { CHECKOUT_RETURN_PATHS } from './http/routes/stripe-webhook.ts';
import { isDeadLocalReplica } from './db/lease.ts';
import { ServiceMetrics } from './metrics/service-metrics.ts';
import { JobScheduler } from './jobs/scheduler.ts';
import { poolHoldExpiryJob } from './jobs/pool-hold-expiry.ts';
import { staleRunsJob } from './jobs/stale-runs.ts';
import { inboundCleanupJob } from './jobs/inbound-cleanup.ts';
import { pnlSummaryJob } from './jobs/pnl-summary.ts';
import { feeAccrualJob } from './jobs/fee-accrual.ts';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { loadReplaySeries, REPLAY_EXCHANGE } from './market-data/replay-source.ts';
import { loadReplayFile } from './market-data/replay-file.ts';
import { ReplayScannerCandles, RollingExchangeCandles } from './market-data/scanner-candles.ts';
import { createCandleDownloader } from './market-data/exchange-candles.ts';
import { DEFAULT_SCANNER_UNIVERSE, latestScan, type ScannerPolicy } from './app/scanner.ts';
import { SCANNER_JOB, scannerJob, scannerRotationJob } from './jobs/scanner.ts';
import { allocationJob } from './jobs/allocation.ts';
import { routerInputs } from './market-data/regime-inputs.ts';
import { CcxtCandleSource } from './exchange/ccxt/ccxt-candle-source.ts';
import { AlpacaCandleSource } from './exchange/alpaca/alpaca-candle-source.ts';

function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/** How long shutdown waits for the last log lines to reach LOG_INGEST_WEBHOOK. */
const LOG_SHIP_CLOSE_MS = 2_000;

/** This process among replicas: for leases on runs and alert claims. */
const replicaId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

async function start(config: Config, logger: Logger, lifecycle: Lifecycle): Promise<void> {
  const database = await openDatabase(config.database, logger);
  if (database.stop) lifecycle.onStop('embedded postgres', database.stop);
  logger.info({ database: database.description }, 'database ready');

  const migrations = await migrate(database.url, projectPath('prisma/migrations'), logger);
  logger.info({ applied: migrations.applied.length, alreadyApplied: migrations.alreadyApplied }, 'migrations up to date');

  const db = createDb(database.url);
  lifecycle.onStop('prisma', () => db.$disconnect());

  const deps: AppDeps = {
    db,
    clock: systemClock,
    pool: { holdTtlMs: config.pool.holdTtlMs, hardOveragePct: config.pool.hardOveragePct },
  };
  if (config.pool.capOverride !== null) await setPoolCap(deps, config.pool.capOverride, systemActor('config'));
  const pool = await getPoolStatus(deps);
  logger.info(
    { cap: formatUsd(pool.cap), committed: formatUsd(pool.committed), held: formatUsd(pool.held), enforcement: pool.enforcement },
    'capacity pool',
  );

  const masterKey = await loadMasterKey({ configured: config.masterKey, dataDir: config.dataDir, logger });
  const vault = await Vault.create(masterKey);
  logger.info({ keyVersion: masterKey.version, source: masterKey.source }, 'exchange-key vault ready');

  const notifier = new ChatNotifier(logger);
  const metrics = new ServiceMetrics();
  const execution = config.execution;
  const marketData = execution.marketData;
  const replay =
    marketData.kind === 'replay'
      ? {
          series: 'file' in marketData.source ? await loadReplayFile(marketData.source.file) : await loadReplaySeries(marketData.source.dir, undefined, { timeframe: '5m' }),
          speed: marketData.speed,
        }
      : null;
  const trading = composeTrading({
    app: deps,
    vault,
    clock: systemClock,
    logger,
    metrics,
    replicaId,
    isReplicaDead: (owner) => isDeadLocalReplica(owner, hostname()),
    settings: {
      exchangeApiUrl: execution.exchangeApiUrl,
      liveTrading: execution.liveTrading,
      alpaca: config.alpaca,
      replay,
      orderConcurrency: execution.orderConcurrency,
      orderRateIntervalMs: execution.orderRateIntervalMs,
      executionLanes: config.executionLanes,
      replace: execution.replace,
      guard: execution.guard,
      ...(execution.marketPollMs ? { pollMs: execution.marketPollMs } : {}),
      runLeaseMs: execution.runLeaseMs,
      copyPollMs: config.copy.pollMs,
    },
  });
  // Stopped before the database (registered after it): runs finish their step first.
  lifecycle.onStop('trading', () => trading.close());
  // Discord REST is shared by the interaction handler, the gated roles and DMs.
  const discordConfig = config.chat.discord;
  const discordRest = discordConfig ? new DiscordRest(createRest({ apiRoot: discordConfig.apiRoot, token: discordConfig.token })) : null;

  // Gated community: roles and groups follow the license tier. Built before the command pipeline
  // (/community uses it); its Telegram calls use their own client, not the chat adapter.
  const community = config.community ? await createCommunity(config, deps, discordRest, logger) : null;
  if (community) {
    community.start();
    lifecycle.onStop('community access', () => community.stop());
  }
  // Payments: Stripe Checkout for /buy and /upgrade; state changes only through the webhook.
  const stripe = config.billing ? createStripe({ secretKey: config.billing.secretKey, apiBase: config.billing.apiBase }) : null;
  const payments = stripe
    ? new StripeGateway(
        stripe,
        { successUrl: `${config.publicBaseUrl}${CHECKOUT_RETURN_PATHS.success}`, cancelUrl: `${config.publicBaseUrl}${CHECKOUT_RETURN_PATHS.cancel}` },
        () => systemClock.now(),
      )
    : null;
  const scannerPolicy: ScannerPolicy = {
    rotationThresholdPct: config.scanner.rotationThresholdPct,
    staggerMs: config.scanner.staggerMs,
    jitterPct: config.scanner.jitterPct,
    maxCoinSharePct: config.scanner.maxCoinSharePct,
    footprintAlertPct: config.scanner.footprintAlertPct,
    topN: config.scanner.topN,
  };
  const runSettings = {
    defaultExchange: replay ? REPLAY_EXCHANGE : execution.defaultExchange,
    paperFirstDays: execution.paperFirstDays,
    liveTrading: execution.liveTrading,
    maxCoinSharePct: config.scanner.maxCoinSharePct,
    copyMasterMinTier: config.copy.masterMinTier,
  };
  const pipeline = new CommandPipeline({
    commands,
    services: {
      app: deps,
      vault,
      publicBaseUrl: config.publicBaseUrl,
      trading: { control: trading.supervisor, settings: runSettings, guardDefaults: execution.guard, verifyKeys: (ref) => trading.verifyKeys(ref) },
      ...(community ? { community } : {}),
      ...(payments ? { payments } : {}),
      scannerPolicy,
    },
    logger,
    rateLimiter: new RateLimiter(config.chat.rateLimit, systemClock),
    metrics,
    adminIds: { telegram: config.chat.adminIds.telegram, discord: config.chat.adminIds.discord },
  });

  const wantConsole =
    config.chat.console === 'on' || (config.chat.console === 'auto' && !config.chat.telegram && !config.chat.discord && process.stdin.isTTY === true);

  // Discord: one interaction handler for the gateway and for POST /discord/interactions.
  const discordInteractions =
    discordConfig && discordRest
      ? new DiscordInteractions({ pipeline, webhook: discordRest, rules: { guildId: discordConfig.guildId, adminRoleId: discordConfig.adminRoleId }, logger })
      : null;
  if (discordInteractions) lifecycle.onStop('discord interactions', () => discordInteractions.close());
  const http = buildHttpServer({
    app: deps,
    logger,
    probeDatabase: async () => void (await db.$queryRaw`SELECT 1`),
    keyIntake: { vault, notifier },
    metrics,
    dashboard: { policy: scannerPolicy },
    apiV1: { policy: scannerPolicy, publicBaseUrl: config.publicBaseUrl, releasesDir: config.botReleasesDir, ...(payments ? { payments } : {}) },
    health: {
      feeds: () => trading.feed.feedHealth(),
      chat: () => ({
        telegram: config.chat.telegram ? 'up' : 'off',
        discord: discordConfig ? 'up' : 'off',
        console: wantConsole ? 'up' : 'off',
      }),
    },
    ...(discordConfig?.publicKey && discordInteractions ? { discordInteractions: { publicKeyHex: discordConfig.publicKey, interactions: discordInteractions } } : {}),
    ...(config.adminApiToken ? { adminKill: { token: config.adminApiToken, control: trading.supervisor } } : {}),
    ...(config.adminApiToken ? { adminRevenue: { token: config.adminApiToken } } : {}),
    ...(config.adminApiToken ? { adminClients: { token: config.adminApiToken, vault } } : {}),
    ...(stripe && payments && config.billing
      ? {
          stripeWebhook: new StripeWebhook({
            stripe,
            secret: config.billing.webhookSecret,
            deps: { ...deps, gateway: payments },
            logger,
            adminUserIds: () => adminUserIds(deps, config.chat.adminIds),
            // Straight to the buyer's chats, never through the outbox: the key must not be stored.
            deliverKey: async (userId, key) => {
              const identities = await db.identity.findMany({ where: { userId } });
              const text = `🎟 Your license key: ${key}\nIt is already active on this account. Keep it safe: it is shown only this once.`;
              for (const identity of identities) await notifier.notify(identity.platform, identity.externalId, text);
            },
          }),
        }
      : {}),
  });
  lifecycle.onStop('http', () => http.close());

  const telegram = config.chat.telegram ? new TelegramChat({ ...config.chat.telegram, pipeline, logger, ...(community ? { community } : {}) }) : null;
  if (telegram) {
    notifier.register('telegram', (chatId, text) => telegram.notify(chatId, text));
    lifecycle.onStop('telegram', () => telegram.stop());
    // A webhook route must exist before the server listens; polling starts once it does.
    if (config.chat.telegram?.webhook) await telegram.start(http);
  }
  const discord =
    discordConfig?.token && discordConfig.applicationId && discordRest && discordInteractions
      ? new DiscordChat({
          token: discordConfig.token,
          applicationId: discordConfig.applicationId,
          apiRoot: discordConfig.apiRoot,
          guildId: discordConfig.guildId,
          gateway: discordConfig.gateway,
          commands,
          interactions: discordInteractions,
          rest: discordRest,
          logger,
          dynamicChoices: async () => ({ tiers: (await listTiers(deps)).map((t) => t.id) }),
          ...(community && discordConfig.guildId
            ? {
                onMemberJoined: async (discordUserId: string) => {
                  const identity = await findIdentity(deps, { platform: 'discord', externalId: discordUserId });
                  if (identity) await community.syncUser(identity.userId, 'discord_member_joined');
                },
              }
            : {}),
        })
      : null;
  if (discord && discordRest) {
    notifier.register('discord', async (userId, text) => {
      for (const message of toDiscordMessages({ text })) await discordRest.sendDm(userId, message);
    });
    lifecycle.onStop('discord', () => discord.stop());
  }
  const address = await http.listen({ host: config.http.host, port: config.http.port });
  if (discord) await discord.start();
  // Crash-only: every run the database says is active is reconciled with its exchange and resumed.
  const resumed = await trading.supervisor.start();
  logger.info({ runs: resumed, marketData: execution.marketData.kind }, 'run supervisor started');
  // Copy trading: fills of published runs mirrored to followers (stopped with trading).
  trading.copy.start();

  metrics.setRunsByStateSource(async () =>
    (await db.tradingRun.groupBy({ by: ['status', 'mode'], _count: { _all: true } })).map((g) => ({ state: g.status, mode: g.mode, count: g._count._all })),
  );
  metrics.setAlertQueueDepthSource(() => db.alertOutbox.count({ where: { status: 'pending' } }));
  metrics.setFeedHealthSource(() => trading.feed.feedHealth());

  // Each scheduled job runs once per slot across all replicas (src/jobs/scheduler.ts).
  const scheduler = new JobScheduler({ db, clock: systemClock, logger, replicaId });
  scheduler.register(poolHoldExpiryJob(deps));
  scheduler.register(staleRunsJob(deps, logger));
  scheduler.register(inboundCleanupJob(deps));
  scheduler.register(pnlSummaryJob(deps, logger));
  scheduler.register(feeAccrualJob({ ...deps, fees: config.fees }, { cron: config.fees.cron, logger }));
  if (community && config.community) scheduler.register(communityReconcileJob(community, { cron: config.community.reconcileCron }));
  // The coin scanner: replayed candles when replaying, else the exchange's, fetched incrementally.
  const scannerCandles = replay
    ? new ReplayScannerCandles(replay.series)
    : new RollingExchangeCandles(createCandleDownloader({ exchange: config.scanner.exchange, apiUrl: execution.exchangeApiUrl }));
  const scannerUniverse = config.scanner.symbols ?? (scannerCandles instanceof ReplayScannerCandles ? scannerCandles.symbols() : DEFAULT_SCANNER_UNIVERSE);
  scheduler.register(
    scannerJob(deps, {
      cron: config.scanner.cron,
      settings: {
        universe: scannerUniverse,
        exchange: replay ? REPLAY_EXCHANGE : config.scanner.exchange,
        timeframe: '5m',
        lookbackDays: config.scanner.lookbackDays,
        candles: scannerCandles,
      },
      policy: scannerPolicy,
      adminUserIds: () => adminUserIds(deps, config.chat.adminIds),
      nextScanAt: (slot) => scheduler.nextRun(SCANNER_JOB) ?? new Date(slot.getTime() + 4 * 3_600_000),
      logger,
    }),
  );
  scheduler.register(scannerRotationJob({ ...deps, runSettings }, trading.supervisor));
  // The multi-asset router: the regime from the router's crypto market (replayed when replaying)
  // and the equity index from Alpaca's daily bars, which Alpaca serves only to a key: without
  // ALPACA_KEY_ID the router reads crypto alone and /allocation says so.
  const routerCrypto = replay ? null : new CcxtCandleSource({ exchange: config.router.cryptoExchange, apiUrl: execution.exchangeApiUrl ?? undefined });
  if (routerCrypto) lifecycle.onStop('router candles', () => routerCrypto.close());
  const alpacaKey = config.alpaca.serviceCredentials;
  const routerEquity = alpacaKey && !replay ? new AlpacaCandleSource({ dataUrl: config.alpaca.dataUrl, credentials: alpacaKey, clock: systemClock }) : null;
  if (routerEquity) lifecycle.onStop('router index candles', () => routerEquity.close());
  scheduler.register(
    allocationJob(deps, {
      cron: config.router.cron,
      inputs: routerInputs({
        clock: systemClock,
        cryptoSymbol: config.router.cryptoSymbol,
        crypto: routerCrypto ?? { replay: replay?.series.get(config.router.cryptoSymbol) },
        equityIndexSymbol: config.router.equityIndexSymbol,
        equityIndex: routerEquity,
      }),
      logger,
    }),
  );
  scheduler.start();
  lifecycle.onStop('scheduler', () => scheduler.stop());
  // A fresh install (or one down for hours) scans now rather than at the next slot. The slot is
  // the hour, so replicas starting together scan once.
  const lastScan = await latestScan(deps);
  if (!lastScan || lastScan.nextScanAt <= systemClock.now()) {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
    void scheduler.runSlot(SCANNER_JOB, hour);
  }
  if (telegram && !config.chat.telegram?.webhook) await telegram.start();

  if (wantConsole) {
    const consoleChat = new ConsoleChat({
      pipeline,
      input: process.stdin,
      output: process.stdout,
      imageDir: `${config.dataDir}/chat-images`,
      username: userInfo().username,
      color: process.stdout.isTTY === true,
    });
    notifier.register('console', async (_chatId, text) => void process.stdout.write(`${text}\n`));
    lifecycle.onStop('console chat', () => consoleChat.stop());
    consoleChat.start();
  }
  // Alerts: the outbox is delivered to whichever chat platforms run here.
  const channels: Partial<Record<ChannelPlatform, AlertChannel>> = {};
  if (telegram) channels.telegram = telegramAlertChannel((chatId, text) => telegram.notify(chatId, text));
  if (discord && discordRest) channels.discord = discordAlertChannel(discordRest);
  if (wantConsole) {
    channels.console = {
      send: async (_chatId, text) => void process.stdout.write(`${text}\n`),
      classify: () => ({}),
      perChatPerSecond: 1_000,
      overallPerSecond: 1_000,
    };
  }
  const dispatcher = new AlertDispatcher({
    db,
    clock: systemClock,
    logger,
    replicaId,
    channels,
    isHolderDead: (holder) => isDeadLocalReplica(holder, hostname()),
    onDelivered: (platform, type, seconds) => metrics.alertDelivered(platform, type, seconds),
    onFailed: (platform, reason) => metrics.alertFailed(platform, reason),
  });
  dispatcher.start();
  // Stopped before the chat adapters it sends through (stops run in reverse order of registration).
  lifecycle.onStop('alert dispatcher', () => dispatcher.stop());
  // Registered last, so it stops first: no new command runs, and those running finish before
  // anything they use (trading, the database) goes away.
  lifecycle.onStop('commands', () => pipeline.close());
  logger.info({ address, replica: replicaId, telegram: telegram ? (config.chat.telegram?.webhook ? 'webhook' : 'polling') : 'off', discord: discordConfig ? (discord && discordConfig.gateway ? 'gateway' : 'http') : 'off', console: wantConsole, liveTrading: execution.liveTrading }, 'service started');
  if (wantConsole) {
    const exchangeName = exchangeDisplayName(execution.defaultExchange);
    const replayFacts = replay && marketData.kind === 'replay' ? { kind: 'replay' as const, source: marketData.source, speed: replay.speed, symbols: [...replay.series.keys()] } : null;
    process.stdout.write(startupBanner({ database: database.description, httpAddress: address, marketData: replayFacts ?? { kind: 'exchange', exchange: exchangeName } }));
    // The newcomer learns now, not at their first /paper, that the exchange is out of reach.
    if (!replay) {
      void trading.supervisor.checkMarket(execution.defaultExchange, 'BTC/USDT').then((check) => {
        if (!check.ok && check.error.code === 'exchange_unreachable') process.stdout.write(unreachableNotice(exchangeName, String(check.error.details?.reason)));
      });
    }
  }
}

/** The community service, after checking that COMMUNITY_ACCESS names only tiers that exist. */
async function createCommunity(config: Config, deps: AppDeps, discordRest: DiscordRest | null, logger: Logger): Promise<CommunityAccessService> {
  const map = config.community!.tiers;
  const unknown = unknownTiers(map, await listTiers(deps, { includeInactive: true }));
  if (unknown.length > 0) throw new ConfigError([`COMMUNITY_ACCESS names tiers that do not exist: ${unknown.join(', ')} (see /tiers)`]);
  const guildId = config.chat.discord?.guildId;
  return new CommunityAccessService({
    deps,
    map,
    telegramInviteTtlMs: config.community!.telegramInviteTtlMs,
    ...(config.chat.telegram ? { telegram: TelegramGroups.connect({ token: config.chat.telegram.token, apiRoot: config.chat.telegram.apiRoot }) } : {}),
    ...(discordRest && guildId ? { discord: discordRest.rolesIn(guildId) } : {}),
    logger,
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const shipper = config.logIngestWebhook ? new LogShipper({ url: config.logIngestWebhook }) : null;
  const logger = createLogger({ level: config.logLevel, secretValues: config.secretValues, ...(shipper ? { shipper } : {}) });
  const lifecycle = new Lifecycle(logger);

  let firstSignalAt = 0;
  const shutdown = (reason: string, exitCode: number) => {
    if (lifecycle.stopping) {
      // Ctrl-C reaches us twice (from the terminal and forwarded by npm): only a signal
      // sent deliberately later forces an exit.
      if (Date.now() - firstSignalAt < 2_000) return;
      logger.warn({ reason }, 'second signal: exiting now');
      process.exit(exitCode || 1);
    }
    firstSignalAt = Date.now();
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // The log shipper goes last, so the shutdown lines are shipped too (within its own deadline).
    void lifecycle
      .stop(reason)
      .then(() => shipper?.close(LOG_SHIP_CLOSE_MS))
      .then(() => process.exit(exitCode));
  };
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  // Crash-only: an unexpected error stops the process (in order, within the deadline); the
  // next start recovers from the database.
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    shutdown('unhandledRejection', 1);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    shutdown('uncaughtException', 1);
  });

  try {
    await start(config, logger, lifecycle);
  } catch (error) {
    logger.fatal({ err: error }, `start-up failed: ${(error as Error).message}`);
    shutdown('start-up failed', 1);
  }
}

await main();
