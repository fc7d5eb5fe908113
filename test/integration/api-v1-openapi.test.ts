// The OpenAPI document and the routes fastify registered under /v1 must agree both ways: a route
// added without documenting it (or documented and never built) fails here. Every route fastify
// registers is collected by an onRoute hook added to each instance as it is created.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OPENAPI_V1 } from '../../src/http/openapi-v1.ts';
import { PUBLIC_BASE_URL, startApiHarness, type ApiHarness } from '../support/api-v1.ts';

const registered = vi.hoisted(() => new Map<object, { method: string; url: string }[]>());

vi.mock('fastify', async (importOriginal) => {
  const original = await importOriginal<typeof import('fastify')>();
  const create = ((options?: object) => {
    const instance = original.default(options as never) as unknown as FastifyInstance;
    const routes: { method: string; url: string }[] = [];
    registered.set(instance, routes);
    instance.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url });
    });
    return instance;
  }) as unknown as typeof original.default;
  return { ...original, default: Object.assign(create, original.default), fastify: create };
});

let api: ApiHarness;
beforeAll(async () => {
  // With the admin token, so the operator routes are registered and checked too.
  api = await startApiHarness({ adminToken: 'openapi-admin-token-0123456789' });
});
afterAll(async () => {
  await api?.close();
});

/** `GET /v1/data/:customer_id/status` for each route under /v1, HEAD (fastify's automatic twin of GET) aside. */
function routesUnderV1(): string[] {
  const routes = registered.get(api.server);
  if (!routes) throw new Error('the onRoute hook did not see this server');
  return routes.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
}

function documentedOperations(): string[] {
  const base = OPENAPI_V1.servers[0].url;
  return Object.entries(OPENAPI_V1.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${base}${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
}

describe('GET /v1/openapi.json', () => {
  it('documents exactly the routes registered under /v1', () => {
    const routes = routesUnderV1();
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect(new Set(routes).size).toBe(routes.length);
    expect([...routes].sort()).toEqual([...documentedOperations()].sort());
  });

  it('is public, OpenAPI 3.1, with this server as its base and the bearer scheme', async () => {
    const response = await api.call('GET', '/v1/openapi.json', null);
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: `${PUBLIC_BASE_URL}/v1` }]);
    expect(document.components.securitySchemes.licenseKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths).toEqual(JSON.parse(JSON.stringify(OPENAPI_V1.paths)));
  });

  it('every authenticated operation documents 401 and 403 (operator ones 401); the public ones opt out of security', () => {
    const publicOps = ['POST /auth/activate', 'GET /pool/status', 'GET /openapi.json'];
    const operatorOps = ['GET /admin/revenue'];
    for (const [path, operations] of Object.entries(OPENAPI_V1.paths)) {
      for (const [method, op] of Object.entries(operations as Record<string, { security?: unknown[]; responses: Record<string, unknown> }>)) {
        const name = `${method.toUpperCase()} ${path}`;
        if (publicOps.includes(name)) expect(op.security, name).toEqual([]);
        else if (operatorOps.includes(name)) {
          expect(op.security, name).toEqual([{ adminToken: [] }]);
          expect(Object.keys(op.responses), name).toContain('401');
        } else expect(Object.keys(op.responses), name).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });

  it('every $ref points at a schema that exists', () => {
    const refs = [...JSON.stringify(OPENAPI_V1).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const name of refs) expect(OPENAPI_V1.components.schemas, name).toHaveProperty(name);
  });
});
