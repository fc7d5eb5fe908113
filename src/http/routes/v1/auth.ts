// POST /v1/auth/activate (public: the key is in the body) and GET /v1/auth/heartbeat.
import type { FastifyInstance } from 'fastify';
import { dashboardUrl } from '../../../app/customers.ts';
import { activateMachine, heartbeatStatus } from '../../../app/machine-activation.ts';
import { DEFAULT_STRATEGY_PARAMS } from '../../../engine/params.ts';
import { appError } from '../../../kernel/errors.ts';
import { licenseStateRoute, sendError, type ApiV1Context } from './guard.ts';

export function registerAuthRoutes(server: FastifyInstance, ctx: ApiV1Context): void {
  server.post('/v1/auth/activate', { bodyLimit: 4_096 }, async (request, reply) => {
    const body = request.body as { license_key?: unknown; machine_id?: unknown } | null | undefined;
    const problems = [
      ...(typeof body?.license_key === 'string' ? [] : [{ field: 'license_key', message: 'is required: a license key like AIT-XXXX-XXXX-XXXX' }]),
      ...(typeof body?.machine_id === 'string' ? [] : [{ field: 'machine_id', message: 'is required: a stable id of this machine (8-128 of A-Z a-z 0-9 . _ : -)' }]),
    ];
    if (problems.length > 0) {
      return sendError(reply, appError('invalid_input', { problems }, `Send {"license_key": "...", "machine_id": "..."}.`));
    }
    const activated = await activateMachine(ctx.app, { key: body!.license_key as string, machineId: body!.machine_id as string });
    if (!activated.ok) return sendError(reply, activated.error);
    const { license, customerId, activatedAt } = activated.value;
    return reply.send({
      customer_id: customerId,
      tier: license.tierId,
      activated_at: activatedAt.toISOString(),
      dashboard_url: dashboardUrl(ctx.settings.publicBaseUrl, customerId),
    });
  });

  server.get(
    '/v1/auth/heartbeat',
    licenseStateRoute(ctx, 'heartbeat', async (_request, reply, { license }) => {
      const status = heartbeatStatus(license);
      return reply.send({
        valid: status.valid,
        tier: status.tierId,
        bot_version_latest: (await ctx.releases.latestVersion()) ?? DEFAULT_STRATEGY_PARAMS.version,
        message: status.message,
      });
    }),
  );
}
