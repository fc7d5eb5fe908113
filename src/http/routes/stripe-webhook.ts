// POST /webhooks/stripe, and the pages Stripe Checkout sends buyers back to.
import type { FastifyInstance } from 'fastify';
import type { StripeWebhook } from '../../billing/stripe-webhook.ts';
import { rawBodyOf, registerRawBodyRoutes } from '../raw-body.ts';

const MAX_BODY_BYTES = 512 * 1024;

export const CHECKOUT_RETURN_PATHS = { success: '/billing/thanks', cancel: '/billing/cancelled' } as const;

const page = (title: string, text: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title><body style="font-family:sans-serif;max-width:32rem;margin:4rem auto"><h1>${title}</h1><p>${text}</p></body></html>`;

export function registerStripeRoutes(server: FastifyInstance, webhook: StripeWebhook): void {
  registerRawBodyRoutes(server, MAX_BODY_BYTES, (scope) => {
    scope.post('/webhooks/stripe', async (request, reply) => {
      const answer = await webhook.receive(rawBodyOf(request.body), String(request.headers['stripe-signature'] ?? ''));
      return reply.code(answer.status).send(answer.body);
    });
  });
  server.get(CHECKOUT_RETURN_PATHS.success, async (_request, reply) =>
    reply.type('text/html').send(page('Payment received', 'Thank you. The bot will message you in a moment with your license; you can close this page.')),
  );
  server.get(CHECKOUT_RETURN_PATHS.cancel, async (_request, reply) =>
    reply.type('text/html').send(page('Payment cancelled', 'Nothing was charged. Your reservation lapses on its own; send /buy again whenever you like.')),
  );
}
