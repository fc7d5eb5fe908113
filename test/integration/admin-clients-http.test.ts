// The admin clients API: bearer-token protected, strict bodies, 404s, audited, and exchange
// secrets never in a response (while they are stored encrypted and still open with the vault).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCredentials } from '../../src/app/credentials.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

const TOKEN = 'admin-clients-token-0123456789-XYZ';
const auth = { authorization: `Bearer ${TOKEN}` };
let database: MigratedDatabase;
let http: FastifyInstance;
let vault: Vault;
let bobId: string;

const call = (method: 'GET' | 'PUT' | 'POST', url: string, headers: Record<string, string>, payload?: unknown) =>
  http.inject({
    method,
    url,
    headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
const auditOf = (action: string) => database.db.auditEntry.findMany({ where: { action }, orderBy: { id: 'asc' } });

beforeAll(async () => {
  database = await createMigratedDatabase();
  vault = await Vault.create({ key: new Uint8Array(randomBytes(32)) });
  http = buildHttpServer({
    app: database.deps,
    logger: createLogger({ level: 'silent' }),
    probeDatabase: async () => undefined,
    adminClients: { token: TOKEN, vault },
  });
  bobId = (await resolveIdentity(database.deps, { platform: 'telegram', externalId: '7001', username: 'bob' })).userId;
});
afterAll(async () => {
  await http?.close();
  await database?.drop();
});

describe('admin clients API', () => {
  it('answers 401 to a missing, wrong or malformed token on every route, before touching anything', async () => {
    const routes: [method: 'GET' | 'PUT' | 'POST', url: string, body?: unknown][] = [
      ['GET', '/admin/clients'],
      ['GET', `/admin/clients/${bobId}`],
      ['PUT', `/admin/clients/${bobId}`, { name: 'Mallory' }],
      ['POST', `/admin/clients/${bobId}/credentials`, { exchange: 'binance', apiKey: 'k'.repeat(20), apiSecret: 's'.repeat(20) }],
    ];
    const tokens: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token-wrong' }, { authorization: TOKEN }, { authorization: `bearer ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }];
    for (const [method, url, body] of routes) {
      for (const headers of tokens) {
        const res = await call(method, url, headers, body);
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    }
    expect(await database.db.auditEntry.count()).toBe(0);
    expect((await database.db.user.findUniqueOrThrow({ where: { id: bobId } })).displayName).toBe('bob');
    expect(await database.db.exchangeCredential.count()).toBe(0);
  });

  it('lists and shows clients by user id, platform id or @username; 404 for an unknown one; reads are audited', async () => {
    const list = await call('GET', '/admin/clients', auth);
    expect(list.statusCode).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.json().clients).toEqual([
      expect.objectContaining({ id: bobId, name: 'bob', plan: null, status: 'inactive', credential_count: 0, identities: [{ platform: 'telegram', external_id: '7001', username: 'bob' }] }),
    ]);
    for (const ref of [bobId, '7001', '@bob', 'telegram:7001']) {
      const shown = await call('GET', `/admin/clients/${encodeURIComponent(ref)}`, auth);
      expect(shown.statusCode, ref).toBe(200);
      expect(shown.json().client).toMatchObject({ id: bobId, limits: null, licenses: [], credentials: [] });
    }
    for (const ref of ['@nobody', 'telegram:999', '00000000-0000-4000-8000-000000000000']) {
      const missing = await call('GET', `/admin/clients/${encodeURIComponent(ref)}`, auth);
      expect(missing.statusCode, ref).toBe(404);
      expect(missing.json().error).toBe('not_found');
    }
    expect(await auditOf('clients.listed')).toEqual([expect.objectContaining({ actorType: 'admin', actorId: 'admin-api' })]);
    const viewed = await auditOf('client.viewed');
    expect(viewed).toHaveLength(4);
    expect(viewed.every((a) => a.entityId === bobId && a.actorId === 'admin-api')).toBe(true);
  });

  it('PUT validates the whole body and lists every problem with 400, changing nothing', async () => {
    const bad = await call('PUT', `/admin/clients/${bobId}`, auth, {
      name: '',
      owner: 'ops',
      status: 'suspended',
      limits: { risk: { bankrollUsd: 500 }, guard: { maxRunLoss: 1 } },
      colour: 'red',
    });
    expect(bad.statusCode).toBe(400);
    const problems: string[] = bad.json().problems;
    expect(problems.join('\n')).toContain('colour');
    expect((await call('PUT', `/admin/clients/${bobId}`, auth, { owner: 'ops', status: 'suspended', limits: { risk: { bankrollUsd: 500 }, guard: { maxRunLoss: 1 } } })).json().problems).toEqual([
      expect.stringContaining('status cannot be set'),
      expect.stringContaining('owner cannot be set'),
      expect.stringContaining('limits.risk is not read'),
      expect.stringContaining('limits.guard has no setting "maxRunLoss"'),
    ]);
    for (const body of [{}, { limits: [1] }, { limits: { guard: { maxRunLossUsd: -5 } } }, { name: 42 }, { plan: 'platinum' }]) {
      const res = await call('PUT', `/admin/clients/${bobId}`, auth, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().message.length).toBeGreaterThan(10);
    }
    const notJson = await http.inject({ method: 'PUT', url: `/admin/clients/${bobId}`, headers: { ...auth, 'content-type': 'application/json' }, payload: '{"name":' });
    expect(notJson.statusCode).toBe(400);
    expect((await call('PUT', '/admin/clients/@nobody', auth, { name: 'X' })).statusCode).toBe(404);
    expect(await database.db.user.findUniqueOrThrow({ where: { id: bobId } })).toMatchObject({ displayName: 'bob', limits: null });
    expect(await database.db.license.count()).toBe(0);
  });

  it('PUT renames, sets guard limits and issues the plan license once; changing the plan is refused; all audited', async () => {
    const res = await call('PUT', '/admin/clients/@bob', auth, { name: 'Bob Demo', plan: 'starter', limits: { guard: { maxGlobalDrawdownUsd: 200 } } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.created).toBe(false);
    expect(body.client).toMatchObject({ id: bobId, name: 'Bob Demo', plan: 'starter', limits: { guard: { maxGlobalDrawdownUsd: 200 } } });
    expect(body.issued_license).toMatchObject({ tier: 'starter', status: 'issued', capital_usd: '5000.00' });
    expect(body.issued_license.key).toMatch(/^AIT-/);
    const license = await database.db.license.findFirstOrThrow({ where: { userId: bobId } });
    expect(license.tierId).toBe('starter');

    // Same plan again: nothing new is issued.
    const again = await call('PUT', `/admin/clients/${bobId}`, auth, { plan: 'starter' });
    expect(again.json().issued_license).toBeNull();
    const change = await call('PUT', `/admin/clients/${bobId}`, auth, { plan: 'pro' });
    expect(change.statusCode).toBe(400);
    expect(change.json().message).toContain('revoke-license');
    expect(await database.db.license.count()).toBe(1);

    const cleared = await call('PUT', `/admin/clients/${bobId}`, auth, { limits: null });
    expect(cleared.json().client.limits).toBeNull();

    expect(await auditOf('user.renamed')).toEqual([expect.objectContaining({ actorId: 'admin-api', entityId: bobId, before: { displayName: 'bob' }, after: { displayName: 'Bob Demo' } })]);
    expect((await auditOf('user.limits_set')).map((a) => a.actorId)).toEqual(['admin-api', 'admin-api']);
    expect(await auditOf('license.issued')).toEqual([expect.objectContaining({ actorType: 'admin', actorId: 'admin-api', entityId: license.id })]);
    expect((await auditOf('client.upserted')).length).toBe(3);
    // The key itself is in no audit row.
    const everything = JSON.stringify((await database.db.auditEntry.findMany()).map((a) => [a.before, a.after]));
    expect(everything).not.toContain(body.issued_license.key);
  });

  it('PUT creates a client from telegram:<id> or discord:<id> (201), audited as created', async () => {
    const res = await call('PUT', '/admin/clients/discord:555000111', auth, { name: 'Dana' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ created: true, client: { name: 'Dana', identities: [{ platform: 'discord', external_id: '555000111' }] } });
    const id = res.json().client.id;
    expect(await auditOf('user.created')).toEqual([expect.objectContaining({ entityId: id, actorId: 'admin-api' })]);
    expect((await call('PUT', '/admin/clients/discord:555000111', auth, { name: 'Dana B' })).statusCode).toBe(200);
  });

  it('POST credentials stores the keys encrypted and answers with metadata only; bad bodies are 400 without echoing secrets', async () => {
    const apiKey = `AK${randomBytes(12).toString('hex')}`;
    const apiSecret = `SS${randomBytes(16).toString('hex')}`;
    const res = await call('POST', '/admin/clients/@bob/credentials', auth, { exchangeName: 'binance', apiKey, apiSecret });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      credential: expect.objectContaining({ exchange: 'binance', label: 'default', api_key_last4: apiKey.slice(-4), has_passphrase: false }),
    });
    expect(res.body).not.toContain(apiSecret);
    expect(res.body).not.toContain(apiKey);
    const row = await database.db.exchangeCredential.findFirstOrThrow({ where: { userId: bobId } });
    expect(Buffer.from(row.ciphertext).toString('latin1')).not.toContain(apiSecret);
    expect(row.keyVersion).toBe(vault.keyVersion);
    expect(await decryptCredentials({ ...database.deps, vault }, { userId: bobId, exchange: 'binance' })).toEqual({ ok: true, value: { apiKey, apiSecret } });
    expect(await auditOf('credential.added')).toEqual([expect.objectContaining({ actorType: 'admin', actorId: 'admin-api' })]);

    const shown = await call('GET', `/admin/clients/${bobId}`, auth);
    expect(shown.json().client.credentials).toHaveLength(1);
    expect(shown.body).not.toContain(apiSecret);

    const secret = `TOPSECRET${randomBytes(8).toString('hex')}`;
    const bodies: unknown[] = [
      { apiKey, apiSecret: secret },
      { exchange: 'binance', apiKey, apiSecret: secret, extra: secret },
      { exchange: 'binance', apiKey: 'short', apiSecret: secret },
      { exchange: 'binance', apiKey: secret, apiSecret: secret },
      { exchange: 'okx', apiKey, apiSecret: secret },
      { exchange: 'nowhere', apiKey, apiSecret: secret },
      { exchange: 'binance', apiKey, apiSecret: 42 },
    ];
    for (const body of bodies) {
      const bad = await call('POST', `/admin/clients/${bobId}/credentials`, auth, body);
      expect(bad.statusCode, JSON.stringify(bad.json())).toBe(400);
      expect(bad.body).not.toContain(secret);
    }
    expect((await call('POST', '/admin/clients/@nobody/credentials', auth, { exchange: 'binance', apiKey, apiSecret })).statusCode).toBe(404);
    expect(await database.db.exchangeCredential.count()).toBe(1);
  });
});
