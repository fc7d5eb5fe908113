// The HTTP surface. Routes translate to and from use-cases; nothing here holds business rules.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from '../app/deps.ts';
import { UnavailableError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import { registerHealthRoutes, type DatabaseProbe, type HealthSources } from './routes/health.ts';
import { registerMetricsRoutes } from './routes/metrics.ts';
import type { ServiceMetrics } from '../metrics/service-metrics.ts';
import { registerPoolRoutes } from './routes/pool-status.ts';
import { registerKeyIntakeRoutes } from './routes/key-intake.ts';
import type { ChatNotifier } from '../chat/notifier.ts';
import type { Vault } from '../vault/vault.ts';
import type { RunControl } from '../app/runs.ts';
import { registerAdminKillRoutes } from './routes/admin-kill.ts';
import { registerAdminClientRoutes } from './routes/admin-clients.ts';
import { registerAdminRevenueRoutes } from './routes/admin-revenue.ts';
import { registerDiscordInteractionRoutes } from './routes/discord-interactions.ts';
import type { DiscordInteractions } from '../chat/discord/discord-interactions.ts';
import { registerStripeRoutes } from './routes/stripe-webhook.ts';
import type { StripeWebhook } from '../billing/stripe-webhook.ts';
import { registerApiV1Routes, type ApiV1Settings } from './routes/v1/index.ts';
import { registerDashboardRoutes } from './routes/dashboard.ts';
import type { ScannerPolicy } from '../app/scanner.ts';

export interface HttpDeps {
  readonly app: AppDeps;
  readonly logger: Logger;
  readonly probeDatabase: DatabaseProbe;
  /** The exchange-key form; absent in servers that only serve health and the pool meter. */
  readonly keyIntake?: { readonly vault: Vault; readonly notifier: ChatNotifier };
  /** POST /admin/kill; absent when ADMIN_API_TOKEN is unset. */
  readonly adminKill?: { readonly token: string; readonly control: RunControl };
  /** GET|PUT /admin/clients[/:id], POST /admin/clients/:id/credentials; absent when ADMIN_API_TOKEN is unset. */
  readonly adminClients?: { readonly token: string; readonly vault: Vault };
  /** GET /v1/admin/revenue; absent when ADMIN_API_TOKEN is unset. */
  readonly adminRevenue?: { readonly token: string };
  /** GET /metrics (Prometheus); absent: no such route. */
  readonly metrics?: ServiceMetrics;
  /** POST /discord/interactions; absent when DISCORD_PUBLIC_KEY is unset. */
  readonly discordInteractions?: { readonly publicKeyHex: string; readonly interactions: DiscordInteractions };
  /** POST /webhooks/stripe and the checkout return pages; absent when Stripe is not configured. */
  readonly stripeWebhook?: StripeWebhook;
  /** GET /dashboard/{customer_id}/… (the customer dashboards); absent: no such routes. */
  readonly dashboard?: { readonly policy: ScannerPolicy };
  /** REST API v1 for self-hosted bots (/v1/auth, scanner, strategy, data, updates, license); absent: only /v1/pool/status. */
  readonly apiV1?: ApiV1Settings;
  /** Market feeds and chat adapters reported by /health besides the database. */
  readonly health?: HealthSources;
}

export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const server = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would drown the log in health checks; requests are logged at debug below.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
  });

  server.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL: one-time links carry their token in the path.
    request.log.debug({ method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  server.setErrorHandler(async (error, request, reply) => {
    if (error instanceof UnavailableError) {
      request.log.warn({ err: error.cause }, 'database unavailable');
      return reply.code(503).send({ error: error.code, message: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'bad_request', message: (error as Error).message });
    }
    const errorId = request.id;
    request.log.error({ err: error, errorId }, 'unhandled error in HTTP route');
    return reply.code(500).send({ error: 'internal_error', message: 'Something went wrong on our side.', error_id: errorId });
  });

  server.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` }),
  );


  registerHealthRoutes(server, deps.probeDatabase, deps.health);
  if (deps.metrics) registerMetricsRoutes(server, deps.metrics);
  registerPoolRoutes(server, deps.app);
  if (deps.keyIntake) registerKeyIntakeRoutes(server, { ...deps.app, vault: deps.keyIntake.vault }, deps.keyIntake.notifier);
  if (deps.adminKill) registerAdminKillRoutes(server, deps.app, deps.adminKill.control, deps.adminKill.token);
  // A suspension wakes the runs it stops through the supervisor POST /admin/kill uses (same token).
  if (deps.adminClients) registerAdminClientRoutes(server, deps.app, { ...deps.adminClients, ...(deps.adminKill ? { control: deps.adminKill.control } : {}) });
  if (deps.adminRevenue) registerAdminRevenueRoutes(server, deps.app, deps.adminRevenue.token);
  if (deps.discordInteractions) registerDiscordInteractionRoutes(server, deps.discordInteractions);
  if (deps.stripeWebhook) registerStripeRoutes(server, deps.stripeWebhook);
  if (deps.apiV1) registerApiV1Routes(server, deps.app, deps.apiV1);
  if (deps.dashboard) registerDashboardRoutes(server, deps.app, deps.dashboard);
  return server;
}
