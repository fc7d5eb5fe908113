// The per-customer dashboard (seed: "Dashboard (Public, no auth)"): a static page and its three
// data files. There is no login: the unguessable customer id in the URL is the capability, so
// nothing may leak the URL (no caching, no referrer, no indexing, no framing) and unknown and
// malformed ids get the very same 404.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { findCustomer } from '../../app/customers.ts';
import { dashboardScanner, dashboardStatus, dashboardTradesCsv } from '../../app/dashboard.ts';
import type { AppDeps } from '../../app/deps.ts';
import type { ScannerPolicy } from '../../app/scanner.ts';

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function dashboardHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('x-robots-tag', 'noindex, nofollow')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY');
}

/** One body for every id that does not open a dashboard, whatever the reason. */
const NOT_FOUND = { error: 'not_found', message: 'There is no dashboard at this address.' } as const;
const notFound = (reply: FastifyReply) => dashboardHeaders(reply.code(404)).send(NOT_FOUND);

const asset = (name: string) => readFileSync(new URL(`../dashboard/${name}`, import.meta.url), 'utf8');

type CustomerRequest = { Params: { customerId: string } };

export function registerDashboardRoutes(server: FastifyInstance, deps: AppDeps, options: { policy: ScannerPolicy }): void {
  // Read once at start-up: a missing file fails the boot, not a customer's page view.
  const indexHtml = asset('index.html');
  const assets = new Map([
    ['dashboard.js', { body: asset('dashboard.js'), type: 'text/javascript; charset=utf-8' }],
    ['dashboard.css', { body: asset('dashboard.css'), type: 'text/css; charset=utf-8' }],
  ]);

  for (const [name, file] of assets) {
    server.get(`/dashboard/assets/${name}`, async (_request, reply) => dashboardHeaders(reply).type(file.type).send(file.body));
  }

  server.get<CustomerRequest>('/dashboard/:customerId', async (request, reply) => {
    const customer = await findCustomer(deps, request.params.customerId);
    if (!customer) return notFound(reply);
    return dashboardHeaders(reply).redirect(`/dashboard/${encodeURIComponent(customer.customerId)}/`, 301);
  });

  server.get<CustomerRequest>('/dashboard/:customerId/', async (request, reply) => {
    const customer = await findCustomer(deps, request.params.customerId);
    if (!customer) return notFound(reply);
    return dashboardHeaders(reply).type('text/html; charset=utf-8').send(indexHtml);
  });

  server.get<CustomerRequest>('/dashboard/:customerId/data/status.json', async (request, reply) => {
    const status = await dashboardStatus(deps, request.params.customerId);
    if (!status.ok) return notFound(reply);
    return dashboardHeaders(reply).send(status.value);
  });

  server.get<CustomerRequest>('/dashboard/:customerId/data/trades.csv', async (request, reply) => {
    const trades = await dashboardTradesCsv(deps, request.params.customerId);
    if (!trades.ok) return notFound(reply);
    return dashboardHeaders(reply)
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'inline; filename="trades.csv"')
      .send(trades.value.csv);
  });

  server.get<CustomerRequest>('/dashboard/:customerId/data/scanner.json', async (request, reply) => {
    const scanner = await dashboardScanner(deps, options.policy, request.params.customerId);
    if (!scanner.ok) return notFound(reply);
    return dashboardHeaders(reply).send(scanner.value);
  });
}
