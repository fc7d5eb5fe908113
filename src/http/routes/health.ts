import type { FastifyInstance } from 'fastify';

/** Resolves when the database answers; rejects (or times out) when it does not. */
export type DatabaseProbe = () => Promise<void>;

const PROBE_TIMEOUT_MS = 2_000;

export function registerHealthRoutes(server: FastifyInstance, probeDatabase: DatabaseProbe): void {
  server.get('/health', async (request, reply) => {
    const started = performance.now();
    try {
      await withTimeout(probeDatabase(), PROBE_TIMEOUT_MS);
      return reply.send({ status: 'ok', database: 'up', database_ms: Math.round(performance.now() - started) });
    } catch (error) {
      request.log.warn({ err: error }, 'health check: database is down');
      return reply.code(503).send({ status: 'unavailable', database: 'down' });
    }
  });
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
