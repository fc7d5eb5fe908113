// The seed's public capacity meter: GET /v1/pool/status, no authentication.
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import { getPoolStatus } from '../../app/pool.ts';
import { centsToDollars } from '../../kernel/money.ts';

export function registerPoolRoutes(server: FastifyInstance, deps: AppDeps): void {
  server.get('/v1/pool/status', async (_request, reply) => {
    const status = await getPoolStatus(deps);
    return reply.header('cache-control', 'public, max-age=15').send({
      cap_usd: centsToDollars(status.cap),
      committed_usd: centsToDollars(status.committed),
      held_usd: centsToDollars(status.held),
      available_usd: centsToDollars(status.available),
      percent_used: status.percentUsed,
      enforcement: status.enforcement,
      tiers: status.tiers.map((t) => ({
        id: t.id,
        name: t.name,
        max_capital_usd: centsToDollars(t.maxCapital),
        price_usd: centsToDollars(t.price),
        available: t.purchasable,
      })),
    });
  });
}
