import { describe, expect, it } from 'vitest';
import { ServiceMetrics, type FeedHealth, type RunStateCount } from '../../src/metrics/service-metrics.ts';

/** The value of one sample line (`name{labels} value`), or undefined when the series is absent. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every sample line of one metric name (without HELP/TYPE). */
const samplesOf = (exposition: string, name: string): string[] =>
  exposition.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('ServiceMetrics', () => {
  it('times commands by platform, command and outcome; error ids collapse into one outcome', async () => {
    const m = new ServiceMetrics();
    m.commandHandled('telegram', 'status', 'ok', 0.004);
    m.commandHandled('telegram', 'status', 'ok', 0.3);
    m.commandHandled('console', 'admin license create', 'error:3f2a9c1b', 0.02);
    m.commandHandled('console', 'admin license create', 'error:77aa00ff', 0.02);
    const text = await m.metrics();

    expect(sample(text, 'ait_command_duration_seconds_count{platform="telegram",command="status",outcome="ok"}')).toBe(2);
    expect(sample(text, 'ait_command_duration_seconds_sum{platform="telegram",command="status",outcome="ok"}')).toBeCloseTo(0.304, 9);
    expect(sample(text, 'ait_command_duration_seconds_bucket{le="0.005",platform="telegram",command="status",outcome="ok"}')).toBe(1);
    expect(sample(text, 'ait_command_duration_seconds_bucket{le="0.25",platform="telegram",command="status",outcome="ok"}')).toBe(1);
    expect(sample(text, 'ait_command_duration_seconds_bucket{le="0.5",platform="telegram",command="status",outcome="ok"}')).toBe(2);
    expect(sample(text, 'ait_command_duration_seconds_count{platform="console",command="admin license create",outcome="error"}')).toBe(2);
    expect(text).not.toContain('3f2a9c1b');
  });

  it('counts orders placed and failed, fills, guard trips and exchange errors with their labels', async () => {
    const m = new ServiceMetrics();
    m.orderPlaced('live', 'binance');
    m.orderPlaced('live', 'binance');
    m.orderPlaced('paper', 'binance');
    m.orderFailed('live', 'binance', 'rejected');
    m.orderFailed('live', 'binance', 'unknown_outcome');
    m.orderFailed('live', 'binance', 'rejected');
    m.fill('paper', 'binance', 'buy');
    m.fill('paper', 'binance', 'sell');
    m.fill('paper', 'binance', 'sell');
    m.guardTripped('max_run_loss', 'live');
    m.guardTripped('stale_ticker', 'paper');
    m.guardTripped('stale_ticker', 'paper');
    m.exchangeError('binance', 'rate_limited');
    m.exchangeError('binance', 'banned');
    m.exchangeError('binance', 'rate_limited');
    const text = await m.metrics();

    expect(sample(text, 'ait_orders_placed_total{mode="live",exchange="binance"}')).toBe(2);
    expect(sample(text, 'ait_orders_placed_total{mode="paper",exchange="binance"}')).toBe(1);
    expect(sample(text, 'ait_orders_failed_total{mode="live",exchange="binance",kind="rejected"}')).toBe(2);
    expect(sample(text, 'ait_orders_failed_total{mode="live",exchange="binance",kind="unknown_outcome"}')).toBe(1);
    expect(sample(text, 'ait_fills_total{mode="paper",exchange="binance",side="buy"}')).toBe(1);
    expect(sample(text, 'ait_fills_total{mode="paper",exchange="binance",side="sell"}')).toBe(2);
    expect(sample(text, 'ait_guard_trips_total{guard="max_run_loss",mode="live"}')).toBe(1);
    expect(sample(text, 'ait_guard_trips_total{guard="stale_ticker",mode="paper"}')).toBe(2);
    expect(sample(text, 'ait_exchange_errors_total{exchange="binance",kind="rate_limited"}')).toBe(2);
    expect(sample(text, 'ait_exchange_errors_total{exchange="binance",kind="banned"}')).toBe(1);
    expect(text).toContain('# TYPE ait_orders_placed_total counter');
  });

  it('records alert delivery latency and failures; free text in a label becomes "other"', async () => {
    const m = new ServiceMetrics();
    m.alertDelivered('telegram', 'fill', 0.8);
    m.alertDelivered('telegram', 'fill', 45);
    m.alertDelivered('discord', 'guard_tripped', 2);
    m.alertFailed('telegram', 'blocked');
    m.alertFailed('telegram', 'blocked');
    m.alertFailed('discord', 'Error: connect ECONNREFUSED 127.0.0.1:443 {"secret":1}');
    const text = await m.metrics();

    expect(sample(text, 'ait_alert_delivery_latency_seconds_count{platform="telegram",alert_type="fill"}')).toBe(2);
    expect(sample(text, 'ait_alert_delivery_latency_seconds_sum{platform="telegram",alert_type="fill"}')).toBe(45.8);
    expect(sample(text, 'ait_alert_delivery_latency_seconds_bucket{le="1",platform="telegram",alert_type="fill"}')).toBe(1);
    expect(sample(text, 'ait_alert_delivery_latency_seconds_bucket{le="60",platform="telegram",alert_type="fill"}')).toBe(2);
    expect(sample(text, 'ait_alert_delivery_latency_seconds_count{platform="discord",alert_type="guard_tripped"}')).toBe(1);
    expect(sample(text, 'ait_alert_delivery_failures_total{platform="telegram",reason="blocked"}')).toBe(2);
    expect(sample(text, 'ait_alert_delivery_failures_total{platform="discord",reason="other"}')).toBe(1);
    expect(text).not.toContain('ECONNREFUSED');
  });

  it('reads the gauge sources at scrape time, every scrape', async () => {
    const m = new ServiceMetrics();
    let runs: RunStateCount[] = [
      { state: 'running', mode: 'paper', count: 3 },
      { state: 'running', mode: 'live', count: 1 },
      { state: 'stopped', mode: 'paper', count: 7 },
    ];
    let depth = 12;
    let feeds: FeedHealth[] = [
      { key: 'binance:BTC/USDT:1h', healthy: true, lastReceivedAgeSeconds: 42 },
      { key: 'binance:ETH/USDT:15m', healthy: false, lastReceivedAgeSeconds: null },
    ];
    let calls = 0;
    let feedCalls = 0;
    m.setRunsByStateSource(async () => {
      calls += 1;
      return runs;
    });
    m.setAlertQueueDepthSource(async () => depth);
    m.setFeedHealthSource(() => {
      feedCalls += 1;
      return feeds;
    });
    expect(calls).toBe(0);

    const first = await m.metrics();
    expect(calls).toBe(1);
    // Two gauges come from the feed source: it is still read once per scrape.
    expect(feedCalls).toBe(1);
    expect(sample(first, 'ait_runs{state="running",mode="paper"}')).toBe(3);
    expect(sample(first, 'ait_runs{state="running",mode="live"}')).toBe(1);
    expect(sample(first, 'ait_runs{state="stopped",mode="paper"}')).toBe(7);
    expect(sample(first, 'ait_alert_queue_depth')).toBe(12);
    expect(sample(first, 'ait_market_feed_healthy{feed="binance:BTC/USDT:1h"}')).toBe(1);
    expect(sample(first, 'ait_market_feed_healthy{feed="binance:ETH/USDT:15m"}')).toBe(0);
    expect(sample(first, 'ait_market_feed_last_received_age_seconds{feed="binance:BTC/USDT:1h"}')).toBe(42);
    // Never received: no age at all rather than a made-up one.
    expect(sample(first, 'ait_market_feed_last_received_age_seconds{feed="binance:ETH/USDT:15m"}')).toBeUndefined();

    runs = [{ state: 'stopped', mode: 'paper', count: 9 }];
    depth = 0;
    feeds = [{ key: 'binance:BTC/USDT:1h', healthy: false, lastReceivedAgeSeconds: 400 }];
    const second = await m.metrics();
    expect(calls).toBe(2);
    expect(feedCalls).toBe(2);
    // A state that emptied reads 0 (a rate or an alert on it keeps working), not absent.
    expect(sample(second, 'ait_runs{state="running",mode="paper"}')).toBe(0);
    expect(sample(second, 'ait_runs{state="running",mode="live"}')).toBe(0);
    expect(sample(second, 'ait_runs{state="stopped",mode="paper"}')).toBe(9);
    expect(sample(second, 'ait_alert_queue_depth')).toBe(0);
    expect(sample(second, 'ait_market_feed_healthy{feed="binance:BTC/USDT:1h"}')).toBe(0);
    expect(sample(second, 'ait_market_feed_last_received_age_seconds{feed="binance:BTC/USDT:1h"}')).toBe(400);
    // A feed nobody uses any more is gone.
    expect(samplesOf(second, 'ait_market_feed_healthy')).toEqual(['ait_market_feed_healthy{feed="binance:BTC/USDT:1h"} 0']);
  });

  it('still answers a scrape when a source fails or hangs, and counts it', async () => {
    const m = new ServiceMetrics({ sourceTimeoutMs: 50 });
    m.setRunsByStateSource(async () => {
      throw new Error('database is down');
    });
    m.setAlertQueueDepthSource(() => new Promise<number>(() => undefined));
    m.setFeedHealthSource(() => [{ key: 'replay:BTC/USDT:1h', healthy: true, lastReceivedAgeSeconds: 1 }]);

    const text = await m.metrics();
    expect(samplesOf(text, 'ait_runs')).toEqual([]);
    expect(samplesOf(text, 'ait_alert_queue_depth')).toEqual([]);
    expect(sample(text, 'ait_metrics_source_errors_total{source="runs"}')).toBe(1);
    expect(sample(text, 'ait_metrics_source_errors_total{source="alert_queue"}')).toBe(1);
    expect(sample(text, 'ait_market_feed_healthy{feed="replay:BTC/USDT:1h"}')).toBe(1);
  });

  it('leaves the gauges empty when no source is registered', async () => {
    const text = await new ServiceMetrics().metrics();
    expect(samplesOf(text, 'ait_runs')).toEqual([]);
    expect(samplesOf(text, 'ait_alert_queue_depth')).toEqual([]);
    expect(samplesOf(text, 'ait_market_feed_healthy')).toEqual([]);
    expect(text).toContain('# TYPE ait_runs gauge');
  });

  it('includes the default process metrics, event-loop lag among them', async () => {
    const m = new ServiceMetrics({ eventLoopMonitoringPrecision: 5 });
    // The lag gauge is measured by a setImmediate a scrape schedules: the next scrape carries it.
    await m.metrics();
    await new Promise((resolve) => setImmediate(resolve));
    const text = await m.metrics();
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    const lag = sample(text, 'nodejs_eventloop_lag_seconds');
    expect(lag).toBeGreaterThan(0);
    expect(lag).toBeLessThan(5);
    expect(sample(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'process_start_time_seconds')).toBeGreaterThan(1_600_000_000);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('keeps each instance separate (its own registry, not the global one)', async () => {
    const a = new ServiceMetrics();
    const b = new ServiceMetrics();
    a.orderPlaced('live', 'binance');
    expect(sample(await a.metrics(), 'ait_orders_placed_total{mode="live",exchange="binance"}')).toBe(1);
    expect(sample(await b.metrics(), 'ait_orders_placed_total{mode="live",exchange="binance"}')).toBeUndefined();
  });
});
