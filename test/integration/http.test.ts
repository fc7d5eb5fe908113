import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import { placePurchaseHold } from '../../src/app/pool-holds.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createDb, type Db } from '../../src/db/client.ts';
import { findFreePort } from '../../src/db/embedded-postgres.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const logger = createLogger({ level: 'silent' });
let database: MigratedDatabase;
let unreachable: Db;

beforeAll(async () => {
  database = await createMigratedDatabase();
  // A real client pointed at a port nobody listens on: the database is down.
  unreachable = createDb(`postgresql://nobody:pw@127.0.0.1:${await findFreePort()}/none`);
});
afterAll(async () => {
  await unreachable?.$disconnect();
  await database?.drop();
});

const serverFor = (db: Db) => {
  const app: AppDeps = { ...database.deps, db };
  return buildHttpServer({ app, logger, probeDatabase: async () => void (await db.$queryRaw`SELECT 1`) });
};

describe('GET /health', () => {
  it('is 200 when the database answers', async () => {
    const response = await serverFor(database.db).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', database: 'up' });
  });

  it('is 503 when the database is down', async () => {
    const response = await serverFor(unreachable).inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'unavailable', database: 'down' });
  });
});

describe('GET /v1/pool/status', () => {
  it('is the public capacity meter', async () => {
    const { deps } = database;
    await issueLicense(deps, { tier: 'whale', actor: { type: 'admin', id: 'a' } });
    const buyer = await resolveIdentity(deps, { platform: 'telegram', externalId: 'meter' });
    await placePurchaseHold(deps, { userId: buyer.userId, tier: 'pro' });

    const response = await serverFor(database.db).inject({ method: 'GET', url: '/v1/pool/status' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      cap_usd: 2_500_000,
      committed_usd: 100_000,
      held_usd: 25_000,
      available_usd: 2_375_000,
      percent_used: 5,
      enforcement: 'normal',
    });
    expect(body.tiers).toEqual([
      { id: 'starter', name: 'Starter', max_capital_usd: 5_000, price_usd: 500, available: true },
      { id: 'trader', name: 'Trader', max_capital_usd: 10_000, price_usd: 1_000, available: true },
      { id: 'pro', name: 'Pro', max_capital_usd: 25_000, price_usd: 2_500, available: true },
      { id: 'elite', name: 'Elite', max_capital_usd: 50_000, price_usd: 5_000, available: true },
      { id: 'whale', name: 'Whale', max_capital_usd: 100_000, price_usd: 10_000, available: true },
    ]);
  });

  it('answers 503 with a plain message, not a driver error, when the database is down', async () => {
    const response = await serverFor(unreachable).inject({ method: 'GET', url: '/v1/pool/status' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: 'database_unavailable',
      message: 'The database is not reachable right now; try again in a moment.',
    });
  });

  it('unknown routes get a JSON 404', async () => {
    const response = await serverFor(database.db).inject({ method: 'GET', url: '/v1/nope?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'not_found', message: 'No route for GET /v1/nope' });
  });
});
