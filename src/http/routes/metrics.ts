// GET /metrics: the Prometheus text exposition. No user ids in it (see service-metrics.ts), so
// it needs no token; keep the port off the public internet all the same (HTTP_HOST).
import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../../metrics/service-metrics.ts';

export function registerMetricsRoutes(server: FastifyInstance, metrics: Pick<ServiceMetrics, 'contentType' | 'metrics'>): void {
  server.get('/metrics', async (_request, reply) => {
    const body = await metrics.metrics();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(body);
  });
}
