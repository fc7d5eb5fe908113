// GET /v1/admin/revenue: the revenue report for operators (bearer ADMIN_API_TOKEN), shaped like
// the seed's: total, MRR, ARR and revenue by type, plus master payouts and the definitions.
// Amounts are exact decimal strings with 2 places. Every successful read is audited.
import type { FastifyInstance } from 'fastify';
import { recordAudit } from '../../app/audit.ts';
import type { AppDeps } from '../../app/deps.ts';
import { REVENUE_DEFINITIONS, revenueSummary } from '../../app/revenue.ts';
import { read } from '../../db/transaction.ts';
import { requireAdminToken } from './admin-token.ts';

export const ADMIN_REVENUE_PATH = '/v1/admin/revenue';

export function registerAdminRevenueRoutes(server: FastifyInstance, deps: AppDeps, token: string): void {
  server.get(ADMIN_REVENUE_PATH, { preHandler: requireAdminToken(token) }, async (_request, reply) => {
    const summary = await revenueSummary(deps);
    await read(() =>
      recordAudit(deps.db, {
        actor: { type: 'admin', id: 'admin-api' },
        action: 'revenue.viewed',
        entityType: 'command',
        entityId: null,
        after: { route: `GET ${ADMIN_REVENUE_PATH}`, total: summary.total },
        at: deps.clock.now(),
      }),
    );
    return reply.header('cache-control', 'no-store').send({
      total_revenue: summary.total,
      mrr: summary.mrr,
      arr: summary.arr,
      revenue_by_type: {
        subscription: summary.streams.subscription,
        performance_fee: summary.streams.performanceFee,
        copy_trading_fee: summary.streams.copyTradingFee,
      },
      master_payouts: summary.masterPayouts,
      as_of: summary.asOf.toISOString(),
      definitions: REVENUE_DEFINITIONS,
    });
  });
}
