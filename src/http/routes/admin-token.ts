// The bearer ADMIN_API_TOKEN check shared by the operator routes (POST /admin/kill,
// GET /v1/admin/revenue), as a fastify preHandler: a request without the right token is answered
// 401 before the route runs.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function requireAdminToken(token: string): preHandlerAsyncHookHandler {
  const expected = digest(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    // Compare digests in constant time: the token's length and prefix leak nothing.
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'Send Authorization: Bearer <ADMIN_API_TOKEN>.' });
    }
  };
}
