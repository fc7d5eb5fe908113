// POST /v1/license/upgrade { tier }: a Stripe Checkout link for the difference to a higher tier.
// The license's capital only grows once Stripe's verified webhook says it was paid.
import type { FastifyInstance } from 'fastify';
import { startBotLicenseUpgrade } from '../../../app/bot-license-upgrade.ts';
import { appError } from '../../../kernel/errors.ts';
import { centsToDollars } from '../../../kernel/money.ts';
import { botRoute, sendError, type ApiV1Context } from './guard.ts';

export function registerLicenseRoutes(server: FastifyInstance, ctx: ApiV1Context): void {
  server.post(
    '/v1/license/upgrade',
    { bodyLimit: 4_096 },
    botRoute(ctx, 'license_upgrade', async (request, reply, { license }) => {
      const body = request.body as { tier?: unknown } | null | undefined;
      const extra = body && typeof body === 'object' ? Object.keys(body).filter((k) => k !== 'tier') : [];
      if (typeof body?.tier !== 'string' || extra.length > 0) {
        const problems = [
          ...(typeof body?.tier === 'string' ? [] : [{ field: 'tier', message: 'is required: a tier id such as "pro" (see GET /v1/pool/status)' }]),
          ...extra.map((field) => ({ field, message: 'is not a known field' })),
        ];
        return sendError(reply, appError('invalid_input', { problems }, 'Send {"tier": "<tier id>"}.'));
      }
      const started = await startBotLicenseUpgrade({ ...ctx.app, gateway: ctx.settings.payments ?? null }, { license, tier: body.tier });
      if (!started.ok) return sendError(reply, started.error);
      const { url, price, expiresAt, hold } = started.value;
      return reply.send({ checkout_url: url, tier: hold.tierId, price_usd: centsToDollars(price), expires_at: expiresAt.toISOString() });
    }),
  );
}
