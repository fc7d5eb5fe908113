// POST /admin/kill: the global kill switch for operators and their tooling (bearer ADMIN_API_TOKEN).
// Body (optional JSON): { "reason": "..." }. Idempotent: a second call reports it was engaged.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import { killAllRuns, type RunControl } from '../../app/runs.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function registerAdminKillRoutes(server: FastifyInstance, deps: AppDeps, control: RunControl, token: string): void {
  const expected = digest(token);
  server.post('/admin/kill', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    // Compare digests in constant time: the token's length and prefix leak nothing.
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'Send Authorization: Bearer <ADMIN_API_TOKEN>.' });
    }
    const body = request.body as { reason?: unknown } | undefined;
    if (body !== undefined && body !== null && (typeof body !== 'object' || (body.reason !== undefined && typeof body.reason !== 'string'))) {
      return reply.code(400).send({ error: 'bad_request', message: 'Body must be JSON like {"reason": "why"} (reason optional, a string).' });
    }
    const reason = typeof body?.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 200) : 'admin API kill';
    const result = await killAllRuns(deps, { actor: { type: 'admin', id: 'admin-api' }, reason });
    for (const run of result.runs) await control.wake(run.id);
    return reply.send({ engaged: true, already_engaged: result.alreadyEngaged, runs_stopping: result.runs.length });
  });
}
