import type { FastifyInstance } from 'fastify';
import type { FeedHealth } from '../../metrics/service-metrics.ts';

/** Resolves when the database answers; rejects (or times out) when it does not. */
export type DatabaseProbe = () => Promise<void>;

export type ChatAdapterState = 'up' | 'down' | 'off';

/** What else /health reports when the composition root hands it in. Both are in-memory reads. */
export interface HealthSources {
  /** Every market-data feed in use (one per exchange, symbol and timeframe). */
  readonly feeds?: () => readonly FeedHealth[];
  /** Each chat adapter by platform: `off` when not configured. */
  readonly chat?: () => Readonly<Record<string, ChatAdapterState>>;
}

const PROBE_TIMEOUT_MS = 2_000;

// Status codes: 503 only when the database is down. Run state lives there (crash-only), so a
// replica without it can do nothing useful and a load balancer or orchestrator should take it
// out of rotation. A failing market feed or chat adapter is "degraded" in the body but stays
// 200: those outages are almost always the exchange's or the chat platform's (or the network's),
// shared by every replica, so restarting or pulling this one would not fix them; it would only
// take away what still works (the other platform's commands, /stop and /kill, HTTP), and the run
// guards already stop runs whose market data goes stale.
export function registerHealthRoutes(server: FastifyInstance, probeDatabase: DatabaseProbe, sources: HealthSources = {}): void {
  server.get('/health', async (request, reply) => {
    const started = performance.now();
    const components = componentsOf(sources, request.log);
    try {
      await withTimeout(probeDatabase(), PROBE_TIMEOUT_MS);
      const database_ms = Math.round(performance.now() - started);
      return reply.send({ status: components.degraded ? 'degraded' : 'ok', database: 'up', database_ms, ...components.body });
    } catch (error) {
      request.log.warn({ err: error }, 'health check: database is down');
      return reply.code(503).send({ status: 'unavailable', database: 'down', ...components.body });
    }
  });
}

interface Components {
  readonly degraded: boolean;
  readonly body: {
    feeds?: { healthy: number; total: number; items: { key: string; healthy: boolean; last_received_age_seconds: number | null }[] } | 'unknown';
    chat?: Readonly<Record<string, ChatAdapterState>> | 'unknown';
  };
}

function componentsOf(sources: HealthSources, log: { warn(obj: object, msg: string): void }): Components {
  let degraded = false;
  const body: Components['body'] = {};
  if (sources.feeds) {
    try {
      const feeds = sources.feeds();
      const items = feeds.map((f) => ({
        key: f.key,
        healthy: f.healthy,
        last_received_age_seconds: f.lastReceivedAgeSeconds === null ? null : Math.round(f.lastReceivedAgeSeconds),
      }));
      const healthy = items.filter((f) => f.healthy).length;
      if (healthy < items.length) degraded = true;
      body.feeds = { healthy, total: items.length, items };
    } catch (error) {
      log.warn({ err: error }, 'health check: feed status unavailable');
      degraded = true;
      body.feeds = 'unknown';
    }
  }
  if (sources.chat) {
    try {
      const chat = sources.chat();
      if (Object.values(chat).includes('down')) degraded = true;
      body.chat = chat;
    } catch (error) {
      log.warn({ err: error }, 'health check: chat status unavailable');
      degraded = true;
      body.chat = 'unknown';
    }
  }
  return { degraded, body };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
