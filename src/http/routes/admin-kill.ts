// POST /admin/kill: the global kill switch for operators and their tooling (bearer ADMIN_API_TOKEN).
// Body (optional JSON): { "reason": "..." }. Idempotent: a second call reports it was engaged.
// Every authorised call is audited as admin `admin-api` (the switch's own engagement is audited
// once by killAllRuns; a repeat call would otherwise leave no trace).
import type { FastifyInstance } from 'fastify';
import { recordAudit } from '../../app/audit.ts';
import type { AppDeps } from '../../app/deps.ts';
import { read } from '../../db/transaction.ts';
import { killAllRuns, type RunControl } from '../../app/runs.ts';
import { requireAdminToken } from './admin-token.ts';

export function registerAdminKillRoutes(server: FastifyInstance, deps: AppDeps, control: RunControl, token: string): void {
  server.post('/admin/kill', { preHandler: requireAdminToken(token) }, async (request, reply) => {
    const body = request.body as { reason?: unknown } | undefined;
    if (body !== undefined && body !== null && (typeof body !== 'object' || (body.reason !== undefined && typeof body.reason !== 'string'))) {
      return reply.code(400).send({ error: 'bad_request', message: 'Body must be JSON like {"reason": "why"} (reason optional, a string).' });
    }
    const reason = typeof body?.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 200) : 'admin API kill';
    const result = await killAllRuns(deps, { actor: { type: 'admin', id: 'admin-api' }, reason });
    for (const run of result.runs) await control.wake(run.id);
    await read(() =>
      recordAudit(deps.db, {
        actor: { type: 'admin', id: 'admin-api' },
        action: 'kill_switch.requested',
        entityType: 'kill_switch',
        entityId: 'global',
        after: { route: 'POST /admin/kill', reason, alreadyEngaged: result.alreadyEngaged, runsStopping: result.runs.length },
        at: deps.clock.now(),
      }),
    );
    return reply.send({ engaged: true, already_engaged: result.alreadyEngaged, runs_stopping: result.runs.length });
  });
}
