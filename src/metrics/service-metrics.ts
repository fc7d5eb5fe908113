// Prometheus metrics of the service, on a registry of its own (not prom-client's global one, so
// tests and several services in one process each get theirs). Code that has something to count
// calls the typed methods below; gauges that describe state (runs by state, the alert queue,
// market feeds) are read at scrape time from sources the composition root registers, so they
// are never stale and nothing has to keep them up to date.
//
// No per-user (`client_id`) label, on purpose. In the seed a process served exactly one tenant
// (CLIENT_ID), so its `client_id` label had one value per process. Here one process serves every
// user: a user-id label would multiply each series by the number of users (thousands), every
// series would live until the process restarts, and the worst burst would come exactly when
// Prometheus is busiest (a market crash trips the guards of most users' runs within minutes).
// Even the rare events (guard trips) do not get one, for that reason. The labels here are all
// bounded: mode, exchange, platform, command name, guard, failure kind, alert type, feed key.
// Per-user questions ("why did my run stop?") are answered by Postgres (trading_runs.stop_reason,
// run_orders, run_fills, audit_entries, alert_outbox) and by the logs, whose lines carry userId.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GuardName } from '../engine/risk/guards.ts';
import type { VenueFailureKind } from '../exchange/venue.ts';

export type RunMode = 'paper' | 'live';

/** How a placement failed: how the venue classified it, or `unexpected` for an error that is not a VenueError. */
export type OrderFailureKind = VenueFailureKind | 'unexpected';

export interface RunStateCount {
  /** RunStatus: running, stopping, stopped, killed, failed. */
  readonly state: string;
  readonly mode: RunMode;
  readonly count: number;
}

export interface FeedHealth {
  /** Market key, e.g. `binance:BTC/USDT:1h`. */
  readonly key: string;
  readonly healthy: boolean;
  /** Seconds since the feed last delivered a candle; null when it never has. */
  readonly lastReceivedAgeSeconds: number | null;
}

/** Order calls waiting in one exchange's priority lane. */
export interface OrderLaneDepth {
  readonly exchange: string;
  /** ExecutionPriority: normal, high, very_high, dedicated. */
  readonly priority: string;
  readonly count: number;
}

export interface ServiceMetricsOptions {
  /** Sampling resolution of the event-loop delay monitor (ms); prom-client's default is 10. */
  readonly eventLoopMonitoringPrecision?: number;
  /** A scrape waits at most this long for an asynchronous source (a database query). */
  readonly sourceTimeoutMs?: number;
}

interface SourceValues {
  readonly runs: readonly RunStateCount[] | null;
  readonly queueDepth: number | null;
  readonly feeds: readonly FeedHealth[] | null;
}

/** Chat commands are a few database round trips; slow ones wait on an exchange. */
const COMMAND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** From the outbox row's creation to the chat's acknowledgement: retries and rate limits stretch it to minutes. */
const ALERT_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Label values come from code (command names, guard names, failure kinds), but a careless
 * caller could pass free text, an error message, an id: each distinct value is a new series.
 * Anything that does not look like an identifier becomes `other`.
 */
const LABEL_VALUE = /^[\w:./ -]{1,64}$/;
const label = (value: string): string => (LABEL_VALUE.test(value) ? value : 'other');

/** `error:3f2a9c1b` (an apology with its error id) counts as `error`: one series, not one per error. */
const commandOutcome = (outcome: string): string => label(outcome.startsWith('error:') ? 'error' : outcome);

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #sourceTimeoutMs: number;

  readonly #commandDuration: Histogram<'platform' | 'command' | 'outcome'>;
  readonly #ordersPlaced: Counter<'mode' | 'exchange'>;
  readonly #ordersFailed: Counter<'mode' | 'exchange' | 'kind'>;
  readonly #fills: Counter<'mode' | 'exchange' | 'side'>;
  readonly #guardTrips: Counter<'guard' | 'mode'>;
  readonly #exchangeErrors: Counter<'exchange' | 'kind'>;
  readonly #alertLatency: Histogram<'platform' | 'alert_type'>;
  readonly #tickToDecision: Histogram;
  readonly #alertFailures: Counter<'platform' | 'reason'>;
  readonly #sourceErrors: Counter<'source'>;
  readonly #orderLaneWait: Histogram<'exchange' | 'priority'>;

  #runsSource: (() => Promise<readonly RunStateCount[]>) | null = null;
  #queueDepthSource: (() => Promise<number>) | null = null;
  #feedSource: (() => readonly FeedHealth[]) | null = null;
  #orderLaneSource: (() => readonly OrderLaneDepth[]) | null = null;
  #reading: Promise<SourceValues> | null = null;
  /** Every (state, mode) pair ever reported: one that empties reads 0 instead of vanishing. */
  readonly #runLabelsSeen = new Set<string>();

  constructor(options: ServiceMetricsOptions = {}) {
    const registers = [this.registry];
    this.#sourceTimeoutMs = options.sourceTimeoutMs ?? 2_000;
    // Process CPU, memory, handles, GC and the event-loop lag (nodejs_eventloop_lag_*).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: options.eventLoopMonitoringPrecision ?? 10 });

    this.#commandDuration = new Histogram({
      name: 'ait_command_duration_seconds',
      help: 'Chat commands from arrival to reply, by platform, command and outcome (ok, a failure code, denied:*, rate_limited, usage, error).',
      labelNames: ['platform', 'command', 'outcome'],
      buckets: COMMAND_BUCKETS,
      registers,
    });
    this.#ordersPlaced = new Counter({
      name: 'ait_orders_placed_total',
      help: 'Orders the exchange (or the paper venue) accepted.',
      labelNames: ['mode', 'exchange'],
      registers,
    });
    this.#ordersFailed = new Counter({
      name: 'ait_orders_failed_total',
      help: 'Order placements that failed, by failure kind (rejected, temporary, rate_limited, banned, authentication, unknown_outcome, unexpected).',
      labelNames: ['mode', 'exchange', 'kind'],
      registers,
    });
    this.#fills = new Counter({
      name: 'ait_fills_total',
      help: 'Executions (trades) of our orders.',
      labelNames: ['mode', 'exchange', 'side'],
      registers,
    });
    this.#guardTrips = new Counter({
      name: 'ait_guard_trips_total',
      help: 'Runs stopped by a guard.',
      labelNames: ['guard', 'mode'],
      registers,
    });
    this.#exchangeErrors = new Counter({
      name: 'ait_exchange_errors_total',
      help: 'Failed exchange calls, by what the caller does next (temporary, rate_limited, banned, rejected, authentication, unknown_outcome).',
      labelNames: ['exchange', 'kind'],
      registers,
    });
    this.#alertLatency = new Histogram({
      name: 'ait_alert_delivery_latency_seconds',
      help: 'From an alert being queued to its delivery to the chat platform.',
      labelNames: ['platform', 'alert_type'],
      buckets: ALERT_BUCKETS,
      registers,
    });
    this.#tickToDecision = new Histogram({
      name: 'ait_run_tick_to_decision_seconds',
      help: 'From the market feed delivering a closed candle to the run having decided on it (risk gates included, before any write).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.#alertFailures = new Counter({
      name: 'ait_alert_delivery_failures_total',
      help: 'Alert deliveries that failed, by platform and reason.',
      labelNames: ['platform', 'reason'],
      registers,
    });
    this.#orderLaneWait = new Histogram({
      name: 'ait_order_lane_wait_seconds',
      help: "How long live order calls waited in their exchange's priority lane, by exchange and execution priority.",
      labelNames: ['exchange', 'priority'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const metrics = this;
    this.#sourceErrors = new Counter({
      name: 'ait_metrics_source_errors_total',
      help: 'Scrapes where a gauge source failed or timed out (its gauge is then left empty).',
      labelNames: ['source'],
      registers,
      // The registry serialises every metric side by side: wait for this scrape's source reads,
      // so a failure shows up in the scrape it happened in.
      async collect() {
        await metrics.#sources();
      },
    });

    new Gauge({
      name: 'ait_runs',
      help: 'Trading runs by state and mode.',
      labelNames: ['state', 'mode'],
      registers,
      async collect() {
        const { runs } = await metrics.#sources();
        this.reset();
        if (runs === null) return;
        for (const seen of metrics.#runLabelsSeen) {
          const [state, mode] = seen.split('\u0000') as [string, string];
          this.set({ state, mode }, 0);
        }
        for (const row of runs) {
          const labels = { state: label(row.state), mode: label(row.mode) };
          metrics.#runLabelsSeen.add(`${labels.state}\u0000${labels.mode}`);
          this.inc(labels, row.count);
        }
      },
    });
    new Gauge({
      name: 'ait_alert_queue_depth',
      help: 'Alerts waiting in the outbox to be delivered.',
      registers,
      async collect() {
        const { queueDepth } = await metrics.#sources();
        // Unknown is absent, not 0 (an unlabelled gauge would otherwise always read 0).
        if (queueDepth === null) this.remove({});
        else this.set(queueDepth);
      },
    });
    new Gauge({
      name: 'ait_market_feed_healthy',
      help: 'Whether a market-data feed is healthy (1) or failing (0).',
      labelNames: ['feed'],
      registers,
      async collect() {
        const { feeds } = await metrics.#sources();
        this.reset();
        for (const feed of feeds ?? []) this.set({ feed: label(feed.key) }, feed.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ait_market_feed_last_received_age_seconds',
      help: 'Seconds since a market-data feed last delivered a candle (absent when it never has).',
      labelNames: ['feed'],
      registers,
      async collect() {
        const { feeds } = await metrics.#sources();
        this.reset();
        for (const feed of feeds ?? []) {
          if (feed.lastReceivedAgeSeconds !== null) this.set({ feed: label(feed.key) }, feed.lastReceivedAgeSeconds);
        }
      },
    });
    new Gauge({
      name: 'ait_order_lane_waiting',
      help: "Live order calls waiting in their exchange's priority lane, by exchange and execution priority.",
      labelNames: ['exchange', 'priority'],
      registers,
      collect() {
        this.reset();
        for (const lane of metrics.#orderLaneSource?.() ?? []) this.set({ exchange: label(lane.exchange), priority: label(lane.priority) }, lane.count);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of every metric; sources are read now. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  commandHandled(platform: string, command: string, outcome: string, seconds: number): void {
    this.#commandDuration.observe({ platform: label(platform), command: label(command), outcome: commandOutcome(outcome) }, seconds);
  }

  orderPlaced(mode: RunMode, exchange: string): void {
    this.#ordersPlaced.inc({ mode, exchange: label(exchange) });
  }

  orderFailed(mode: RunMode, exchange: string, kind: OrderFailureKind): void {
    this.#ordersFailed.inc({ mode, exchange: label(exchange), kind });
  }

  fill(mode: RunMode, exchange: string, side: 'buy' | 'sell'): void {
    this.#fills.inc({ mode, exchange: label(exchange), side });
  }

  /** `guard`: a GuardName (RunEvent's guard_tripped carries it as a string). */
  guardTripped(guard: GuardName | (string & {}), mode: RunMode): void {
    this.#guardTrips.inc({ guard: label(guard), mode });
  }

  exchangeError(exchange: string, kind: VenueFailureKind): void {
    this.#exchangeErrors.inc({ exchange: label(exchange), kind });
  }

  orderLaneWait(exchange: string, priority: string, seconds: number): void {
    this.#orderLaneWait.observe({ exchange: label(exchange), priority: label(priority) }, seconds);
  }

  tickToDecision(ms: number): void {
    this.#tickToDecision.observe(ms / 1000);
  }

  /** `latencySeconds`: from the alert's outbox row being created to the platform accepting it. */
  alertDelivered(platform: string, alertType: string, latencySeconds: number): void {
    this.#alertLatency.observe({ platform: label(platform), alert_type: label(alertType) }, latencySeconds);
  }

  /** `reason`: a stable identifier (blocked, rate_limited, network, …), never an error message. */
  alertFailed(platform: string, reason: string): void {
    this.#alertFailures.inc({ platform: label(platform), reason: label(reason) });
  }

  setRunsByStateSource(source: () => Promise<readonly RunStateCount[]>): void {
    this.#runsSource = source;
  }

  setAlertQueueDepthSource(source: () => Promise<number>): void {
    this.#queueDepthSource = source;
  }

  setFeedHealthSource(source: () => readonly FeedHealth[]): void {
    this.#feedSource = source;
  }

  setOrderLaneSource(source: () => readonly OrderLaneDepth[]): void {
    this.#orderLaneSource = source;
  }

  /**
   * Every source, read once per scrape: the collect callbacks of one scrape share the reads (and
   * concurrent scrapes share them too), so each source is called once however many gauges use it.
   */
  #sources(): Promise<SourceValues> {
    this.#reading ??= (async () => {
      const feedSource = this.#feedSource;
      const [runs, queueDepth, feeds] = await Promise.all([
        this.#read('runs', this.#runsSource),
        this.#read('alert_queue', this.#queueDepthSource),
        this.#read('feeds', feedSource && (async () => feedSource())),
      ]);
      return { runs, queueDepth, feeds };
    })().finally(() => {
      this.#reading = null;
    });
    return this.#reading;
  }

  /** A source's value, or null when there is none, it failed or it took too long (counted). */
  async #read<T>(name: string, source: (() => Promise<T>) | null): Promise<T | null> {
    if (!source) return null;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        source(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name} source: no answer within ${this.#sourceTimeoutMs} ms`)), this.#sourceTimeoutMs);
        }),
      ]);
    } catch {
      // A scrape must still answer when the database is down: the gauge stays empty and the
      // failure is counted, so an alert can fire on it (the health endpoint reports the database).
      this.#sourceErrors.inc({ source: name });
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
