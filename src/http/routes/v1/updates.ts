// GET /v1/updates/check?current=x.y.z and GET /v1/updates/download/{version}.
import type { FastifyInstance } from 'fastify';
import { appError } from '../../../kernel/errors.ts';
import { botRoute, sendError, type ApiV1Context } from './guard.ts';

export function registerUpdateRoutes(server: FastifyInstance, ctx: ApiV1Context): void {
  const downloadUrl = (version: string) => `${ctx.settings.publicBaseUrl}/v1/updates/download/${version}`;

  server.get(
    '/v1/updates/check',
    botRoute(ctx, null, async (request, reply) => {
      const { current } = (request.query ?? {}) as { current?: unknown };
      if (typeof current !== 'string') {
        return sendError(reply, appError('invalid_input', { field: 'current' }, 'Send the running version: /v1/updates/check?current=2.4.1.'));
      }
      const checked = await ctx.releases.check(current);
      if (!checked.ok) return sendError(reply, checked.error);
      const { latest, updateAvailable } = checked.value;
      return reply.send({
        latest: latest?.version ?? null,
        update_available: updateAvailable,
        download_url: latest ? downloadUrl(latest.version) : null,
        sha256: latest?.sha256 ?? null,
        size: latest?.size ?? null,
      });
    }),
  );

  server.get(
    '/v1/updates/download/:version',
    botRoute(ctx, null, async (request, reply) => {
      const { version } = request.params as { version: string };
      const opened = await ctx.releases.open(version);
      if (!opened.ok) return sendError(reply, opened.error);
      const { release, stream } = opened.value;
      return reply
        .header('content-type', 'application/gzip')
        .header('content-length', String(release.size))
        .header('content-disposition', `attachment; filename="${release.fileName}"`)
        .header('x-checksum-sha256', release.sha256)
        .header('cache-control', 'private, max-age=3600')
        .send(stream);
    }),
  );
}
