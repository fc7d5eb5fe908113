// A REST API v1 server on a real migrated database, driven with fastify's inject, and bots:
// licenses issued by an admin and activated on a machine through POST /v1/auth/activate.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { PaymentGateway } from '../../src/app/billing.ts';
import type { StripeWebhook } from '../../src/billing/stripe-webhook.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import { DEFAULT_SCANNER_POLICY, type ScannerPolicy } from '../../src/app/scanner.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from './database.ts';

export const PUBLIC_BASE_URL = 'https://api.example.test';
const admin = { type: 'admin', id: 'test-admin' } as const;

export interface Bot {
  readonly key: string;
  readonly licenseId: string;
  readonly customerId: string;
  readonly machineId: string;
}

type Method = 'GET' | 'POST';

export interface ApiHarness {
  readonly database: MigratedDatabase;
  readonly server: FastifyInstance;
  /** Every log line the server wrote (at debug level). */
  readonly logLines: string[];
  /** Every response body the harness saw. */
  readonly responseBodies: string[];
  /** A license key issued by an admin (to `userId` when given), not activated. */
  issueKey(tier?: string, userId?: string | null): Promise<{ key: string; licenseId: string }>;
  activate(body: unknown): Promise<LightMyRequestResponse>;
  /** A license issued and activated on a fresh machine. */
  bot(tier?: string): Promise<Bot>;
  /** A request with `Authorization: Bearer <key>` (no header when key is null). */
  call(method: Method, url: string, key: string | null, body?: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export const newMachineId = (): string => `m-${randomBytes(12).toString('hex')}`;

export async function startApiHarness(
  options: {
    releasesDir?: string;
    payments?: PaymentGateway;
    policy?: ScannerPolicy;
    database?: MigratedDatabase;
    stripeWebhook?: StripeWebhook;
    /** Serves the operator routes (GET /v1/admin/revenue) with this ADMIN_API_TOKEN. */
    adminToken?: string;
  } = {},
): Promise<ApiHarness> {
  const database = options.database ?? (await createMigratedDatabase());
  const logLines: string[] = [];
  const responseBodies: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  const server = buildHttpServer({
    app: database.deps,
    logger,
    probeDatabase: async () => undefined,
    apiV1: {
      policy: options.policy ?? DEFAULT_SCANNER_POLICY,
      publicBaseUrl: PUBLIC_BASE_URL,
      releasesDir: options.releasesDir ?? '/nonexistent/ait-releases',
      ...(options.payments ? { payments: options.payments } : {}),
    },
    ...(options.stripeWebhook ? { stripeWebhook: options.stripeWebhook } : {}),
    ...(options.adminToken ? { adminRevenue: { token: options.adminToken } } : {}),
  });
  const seen = (response: LightMyRequestResponse) => {
    responseBodies.push(response.body);
    return response;
  };

  const harness: ApiHarness = {
    database,
    server,
    logLines,
    responseBodies,
    async issueKey(tier = 'pro', userId = null) {
      const issued = await issueLicense(database.deps, { tier, actor: admin, userId });
      if (!issued.ok) throw new Error(`issueLicense: ${issued.error.code}`);
      return { key: issued.value.key, licenseId: issued.value.license.id };
    },
    activate: async (body) => seen(await server.inject({ method: 'POST', url: '/v1/auth/activate', payload: body as object })),
    async bot(tier = 'pro') {
      const { key, licenseId } = await harness.issueKey(tier);
      const machineId = newMachineId();
      const response = await harness.activate({ license_key: key, machine_id: machineId });
      if (response.statusCode !== 200) throw new Error(`activation failed: ${response.body}`);
      return { key, licenseId, machineId, customerId: response.json().customer_id };
    },
    async call(method, url, key, body) {
      return seen(
        await server.inject({
          method,
          url,
          headers: key === null ? {} : { authorization: `Bearer ${key}` },
          ...(body === undefined ? {} : { payload: body as object }),
        }),
      );
    },
    async close() {
      await server.close();
      if (!options.database) await database.drop();
    },
  };
  return harness;
}
