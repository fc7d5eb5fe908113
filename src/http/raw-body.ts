// Routes whose requests are signed over their exact bytes (Discord interactions, Stripe webhooks)
// must see the body unparsed: registered through this, they get it as a Buffer.
import type { FastifyInstance } from 'fastify';

export function registerRawBodyRoutes(server: FastifyInstance, bodyLimit: number, routes: (scope: FastifyInstance) => void): void {
  void server.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
    routes(scope);
  });
}

export const rawBodyOf = (body: unknown): Buffer => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));
