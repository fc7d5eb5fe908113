// REST API v1 for self-hosted bots (the seed's central server API). Documented in
// src/http/openapi-v1.ts; GET /v1/pool/status lives in ../pool-status.ts.
import type { FastifyInstance } from 'fastify';
import { BotReleases } from '../../../app/bot-releases.ts';
import type { AppDeps } from '../../../app/deps.ts';
import { openApiV1For } from '../../openapi-v1.ts';
import { registerAuthRoutes } from './auth.ts';
import { registerDataRoutes } from './data.ts';
import type { ApiV1Context, ApiV1Settings } from './guard.ts';
import { registerLicenseRoutes } from './license.ts';
import { registerScannerRoutes } from './scanner.ts';
import { registerUpdateRoutes } from './updates.ts';

export type { ApiV1Settings };

export function registerApiV1Routes(server: FastifyInstance, app: AppDeps, settings: ApiV1Settings): void {
  const ctx: ApiV1Context = { app, settings, releases: new BotReleases(settings.releasesDir) };
  const document = openApiV1For(settings.publicBaseUrl);
  server.get('/v1/openapi.json', async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(document));
  registerAuthRoutes(server, ctx);
  registerScannerRoutes(server, ctx);
  registerDataRoutes(server, ctx);
  registerUpdateRoutes(server, ctx);
  registerLicenseRoutes(server, ctx);
}
