// POST /v1/data/{customer_id}/status and /trade: what a self-hosted bot reports. The path's
// customer id must be the license's own; bodies are checked by the use-cases (src/app/bot-reports.ts).
import type { FastifyInstance } from 'fastify';
import { recordBotTrade, recordStatusReport } from '../../../app/bot-reports.ts';
import { botRoute, sendError, type ApiV1Context } from './guard.ts';

const BODY_LIMIT = 64 * 1024;

export function registerDataRoutes(server: FastifyInstance, ctx: ApiV1Context): void {
  server.post(
    '/v1/data/:customer_id/status',
    { bodyLimit: BODY_LIMIT },
    botRoute(ctx, 'status_push', async (request, reply, { license }) => {
      const { customer_id: customerId } = request.params as { customer_id: string };
      const stored = await recordStatusReport(ctx.app, { license, customerId, body: request.body });
      if (!stored.ok) return sendError(reply, stored.error);
      return reply.code(201).send({ received_at: stored.value.receivedAt.toISOString() });
    }),
  );

  server.post(
    '/v1/data/:customer_id/trade',
    { bodyLimit: BODY_LIMIT },
    botRoute(ctx, 'trade_push', async (request, reply, { license }) => {
      const { customer_id: customerId } = request.params as { customer_id: string };
      const stored = await recordBotTrade(ctx.app, { license, customerId, body: request.body });
      if (!stored.ok) return sendError(reply, stored.error);
      const { tradeId, duplicate } = stored.value;
      return reply.code(duplicate ? 200 : 201).send({ trade_id: tradeId, duplicate });
    }),
  );
}
