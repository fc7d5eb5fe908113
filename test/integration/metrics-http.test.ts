import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCommand, type AnyCommand } from '../../commands/types.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { CommandPipeline } from '../../src/chat/pipeline.ts';
import { RateLimiter } from '../../src/chat/rate-limit.ts';
import { createDb, type Db } from '../../src/db/client.ts';
import { findFreePort } from '../../src/db/embedded-postgres.ts';
import type { HealthSources } from '../../src/http/routes/health.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { ServiceMetrics, type FeedHealth, type RunStateCount } from '../../src/metrics/service-metrics.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const logger = createLogger({ level: 'silent' });
let database: MigratedDatabase;
let unreachable: Db;

beforeAll(async () => {
  database = await createMigratedDatabase();
  unreachable = createDb(`postgresql://nobody:pw@127.0.0.1:${await findFreePort()}/none`);
});
afterAll(async () => {
  await unreachable?.$disconnect();
  await database?.drop();
});

const serverFor = (db: Db, extra: { metrics?: ServiceMetrics; health?: HealthSources } = {}) =>
  buildHttpServer({ app: { ...database.deps, db }, logger, probeDatabase: async () => void (await db.$queryRaw`SELECT 1`), ...extra });

function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The gauge sources the composition root is meant to register (same queries). */
const runsByState = (db: Db) => async (): Promise<RunStateCount[]> =>
  (await db.tradingRun.groupBy({ by: ['status', 'mode'], _count: { _all: true } })).map((g) => ({ state: g.status, mode: g.mode, count: g._count._all }));
const alertQueueDepth = (db: Db) => () => db.alertOutbox.count({ where: { status: 'pending' } });

describe('GET /metrics', () => {
  it('is not served without a metrics dependency', async () => {
    const response = await serverFor(database.db).inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(404);
  });

  it('serves the Prometheus text exposition, gauges read from the database at scrape time', async () => {
    const { db, clock } = database;
    const owner = await resolveIdentity(database.deps, { platform: 'telegram', externalId: 'metrics-owner' });
    const run = (seq: number, mode: 'paper' | 'live', status: 'running' | 'stopped') => ({
      userId: owner.userId,
      seq,
      mode,
      strategy: 'grid',
      exchange: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '1h',
      capitalUsd: '1000',
      params: {},
      status,
      startedAt: clock.now(),
    });
    await db.tradingRun.createMany({ data: [run(1, 'paper', 'running'), run(2, 'paper', 'running'), run(3, 'live', 'running'), run(4, 'paper', 'stopped')] });

    const metrics = new ServiceMetrics();
    metrics.setRunsByStateSource(runsByState(db));
    metrics.setAlertQueueDepthSource(alertQueueDepth(db));
    metrics.setFeedHealthSource(() => [{ key: 'binance:BTC/USDT:1h', healthy: true, lastReceivedAgeSeconds: 12 }]);
    metrics.orderPlaced('live', 'binance');
    metrics.exchangeError('binance', 'temporary');
    const server = serverFor(db, { metrics });

    const response = await server.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = response.body;
    expect(sample(body, 'ait_runs{state="running",mode="paper"}')).toBe(2);
    expect(sample(body, 'ait_runs{state="running",mode="live"}')).toBe(1);
    expect(sample(body, 'ait_runs{state="stopped",mode="paper"}')).toBe(1);
    expect(sample(body, 'ait_alert_queue_depth')).toBe(0);
    expect(sample(body, 'ait_market_feed_healthy{feed="binance:BTC/USDT:1h"}')).toBe(1);
    expect(sample(body, 'ait_orders_placed_total{mode="live",exchange="binance"}')).toBe(1);
    expect(sample(body, 'ait_exchange_errors_total{exchange="binance",kind="temporary"}')).toBe(1);
    expect(body).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');

    // The next scrape sees the database as it is then.
    await db.tradingRun.update({ where: { userId_seq: { userId: owner.userId, seq: 3 } }, data: { status: 'stopped' } });
    await db.alertOutbox.create({
      data: { eventId: 'metrics-test-1', userId: owner.userId, alertType: 'fill', priority: 5, text: 'x', payload: {}, nextAttemptAt: clock.now() },
    });
    const again = (await server.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(again, 'ait_runs{state="running",mode="live"}')).toBe(0);
    expect(sample(again, 'ait_runs{state="stopped",mode="live"}')).toBe(1);
    expect(sample(again, 'ait_alert_queue_depth')).toBe(1);
  });

  it('still answers when the database is down: the database gauges are empty and the failures counted', async () => {
    const metrics = new ServiceMetrics({ sourceTimeoutMs: 5_000 });
    metrics.setRunsByStateSource(runsByState(unreachable));
    metrics.setAlertQueueDepthSource(alertQueueDepth(unreachable));
    const response = await serverFor(unreachable, { metrics }).inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.body.split('\n').filter((l) => l.startsWith('ait_runs{') || l.startsWith('ait_alert_queue_depth '))).toEqual([]);
    expect(sample(response.body, 'ait_metrics_source_errors_total{source="runs"}')).toBe(1);
    expect(sample(response.body, 'ait_metrics_source_errors_total{source="alert_queue"}')).toBe(1);
  });
});

describe('GET /health with feeds and chat adapters', () => {
  const healthyFeed: FeedHealth = { key: 'binance:BTC/USDT:1h', healthy: true, lastReceivedAgeSeconds: 30.4 };
  const failingFeed: FeedHealth = { key: 'binance:ETH/USDT:15m', healthy: false, lastReceivedAgeSeconds: null };

  it('is ok when the database, every feed and every configured adapter are up', async () => {
    const response = await serverFor(database.db, {
      health: { feeds: () => [healthyFeed], chat: () => ({ telegram: 'up', discord: 'off', console: 'off' }) },
    }).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ status: 'ok', database: 'up' });
    expect(typeof body.database_ms).toBe('number');
    expect(body.feeds).toEqual({ healthy: 1, total: 1, items: [{ key: 'binance:BTC/USDT:1h', healthy: true, last_received_age_seconds: 30 }] });
    expect(body.chat).toEqual({ telegram: 'up', discord: 'off', console: 'off' });
  });

  it('stays 200 but says degraded when a feed fails', async () => {
    const response = await serverFor(database.db, {
      health: { feeds: () => [healthyFeed, failingFeed], chat: () => ({ telegram: 'up' }) },
    }).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'degraded',
      database: 'up',
      feeds: {
        healthy: 1,
        total: 2,
        items: [
          { key: 'binance:BTC/USDT:1h', healthy: true, last_received_age_seconds: 30 },
          { key: 'binance:ETH/USDT:15m', healthy: false, last_received_age_seconds: null },
        ],
      },
    });
  });

  it('stays 200 but says degraded when a chat adapter is down, or a source cannot say', async () => {
    const chatDown = await serverFor(database.db, { health: { chat: () => ({ telegram: 'down', console: 'up' }) } }).inject({ method: 'GET', url: '/health' });
    expect(chatDown.statusCode).toBe(200);
    expect(chatDown.json()).toMatchObject({ status: 'degraded', database: 'up', chat: { telegram: 'down', console: 'up' } });
    expect(chatDown.json().feeds).toBeUndefined();

    const broken = await serverFor(database.db, {
      health: {
        feeds: () => {
          throw new Error('feed listing failed');
        },
      },
    }).inject({ method: 'GET', url: '/health' });
    expect(broken.statusCode).toBe(200);
    expect(broken.json()).toMatchObject({ status: 'degraded', database: 'up', feeds: 'unknown' });
  });

  it('an off adapter (not configured) does not degrade', async () => {
    const response = await serverFor(database.db, { health: { chat: () => ({ telegram: 'off', console: 'up' }) } }).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json().status).toBe('ok');
  });

  it('is 503 only when the database is down, and still shows the rest', async () => {
    const response = await serverFor(unreachable, {
      health: { feeds: () => [healthyFeed], chat: () => ({ telegram: 'up' }) },
    }).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      status: 'unavailable',
      database: 'down',
      feeds: { healthy: 1, total: 1, items: [{ key: 'binance:BTC/USDT:1h', healthy: true, last_received_age_seconds: 30 }] },
      chat: { telegram: 'up' },
    });
  });
});

describe('command pipeline timing', () => {
  const testCommands: AnyCommand[] = [
    defineCommand({ name: 'ping', description: 'ok', args: {}, access: { kind: 'anyone' }, where: 'any', handler: async () => ({ text: 'pong' }) }),
    defineCommand({
      name: 'slow',
      description: 'takes a while',
      args: {},
      access: { kind: 'anyone' },
      where: 'any',
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        return { text: 'done', outcome: 'pool_full' };
      },
    }),
    defineCommand({
      name: 'explode',
      description: 'throws',
      args: {},
      access: { kind: 'anyone' },
      where: 'any',
      handler: async () => {
        throw new Error('kaboom');
      },
    }),
    defineCommand({ name: 'admin secret', description: 'admins', args: {}, access: { kind: 'admin' }, where: 'any', handler: async () => ({ text: 'secret' }) }),
  ];

  it('observes every command once with its platform, name and outcome', async () => {
    const metrics = new ServiceMetrics();
    const pipeline = new CommandPipeline({
      commands: testCommands,
      services: { app: database.deps, vault: await Vault.create({ key: await generateMasterKey() }), publicBaseUrl: 'http://127.0.0.1:8080' },
      logger,
      rateLimiter: new RateLimiter({ burst: 1000, perMinute: 60_000 }, database.clock),
      adminIds: {},
      metrics,
    });
    const say = (text: string) =>
      pipeline.handleText({ platform: 'telegram', from: { externalId: 'timed-user' }, chat: { id: 'timed-user', kind: 'private' }, text });

    expect((await say('/ping'))?.text).toBe('pong');
    await say('/ping');
    expect((await say('/slow'))?.text).toBe('done');
    expect((await say('/explode'))?.text).toMatch(/error id [0-9a-f]{8}/);
    expect((await say('/admin secret'))?.text).toBe('Sorry, that command is for admins only.');
    // Not a command at all, and an unknown one: nothing is timed.
    await say('hello');
    await say('/nope');

    const text = await metrics.metrics();
    const count = (command: string, outcome: string) => sample(text, `ait_command_duration_seconds_count{platform="telegram",command="${command}",outcome="${outcome}"}`);
    expect(count('ping', 'ok')).toBe(2);
    expect(count('slow', 'pool_full')).toBe(1);
    expect(count('explode', 'error')).toBe(1);
    expect(count('admin secret', 'denied:not_admin')).toBe(1);
    expect(text.split('\n').filter((l) => l.startsWith('ait_command_duration_seconds_count{'))).toHaveLength(4);
    // The handler's own 60 ms are inside the measurement.
    expect(sample(text, 'ait_command_duration_seconds_sum{platform="telegram",command="slow",outcome="pool_full"}')).toBeGreaterThanOrEqual(0.06);
    expect(sample(text, 'ait_command_duration_seconds_bucket{le="0.05",platform="telegram",command="slow",outcome="pool_full"}')).toBe(0);
  });
});
