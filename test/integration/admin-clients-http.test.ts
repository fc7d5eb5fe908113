// The admin clients API: bearer-token protected, strict bodies, 404s, audited, and exchange
// secrets never in a response (while they are stored encrypted and still open with the vault);
// suspension through the real run supervisor and chat pipeline, owner, and run risk defaults.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCredentials } from '../../src/app/credentials.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import { loadUserAccountFacts } from '../../src/app/run-risk.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadReplaySeries } from '../../src/market-data/replay-source.ts';
import { Vault } from '../../src/vault/vault.ts';
import type { Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { createTradingHarness, eventually, type TradingHarness } from '../support/trading.ts';

const TOKEN = 'admin-clients-token-0123456789-XYZ';
const auth = { authorization: `Bearer ${TOKEN}` };
const ADMIN: Person = { platform: 'telegram', id: '7000', username: 'boss' };
const carol: Person = { platform: 'telegram', id: '7002', username: 'carol' };
const dave: Person = { platform: 'telegram', id: '7003', username: 'dave' };
const RISK_KEYS = 'capital_reserve_pct, base_order_pct, max_safety_orders, so_volume_mult, per_trade_usd, max_per_trade_pct';
let database: MigratedDatabase;
let http: FastifyInstance;
let vault: Vault;
let h: TradingHarness;
let bobId: string;
const text = (r: { text: string } | null) => r?.text ?? '';

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
  // The run supervisor on replayed candles: a suspension's stopping runs are woken through it.
  const series = await loadReplaySeries(projectPath('../shared/data/candles'), ['BTC/USDT'], { timeframe: '5m' });
  h = await createTradingHarness(database, { settings: { replay: { series, speed: 300 } }, adminTelegramIds: [ADMIN.id] });
  await h.trading.supervisor.start();
  http = buildHttpServer({
    app: database.deps,
    logger: createLogger({ level: 'silent' }),
    probeDatabase: async () => undefined,
    adminClients: { token: TOKEN, vault },
    adminKill: { token: TOKEN, control: h.trading.supervisor },
  });
  bobId = (await resolveIdentity(database.deps, { platform: 'telegram', externalId: '7001', username: 'bob' })).userId;
});
afterAll(async () => {
  await http?.close();
  await h?.close();
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
      owner: '',
      status: 'paused',
      limits: { risk: { bankrollUsd: 500 }, guard: { maxRunLoss: 1 } },
      colour: 'red',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems).toEqual([
      'name: name must not be empty (use null to clear it)',
      'owner: owner must not be empty (use null to clear it)',
      'status: status must be active or suspended',
      expect.stringContaining('unknown field colour (fields: name, plan, owner, status, reason, limits)'),
    ]);
    expect((await call('PUT', `/admin/clients/${bobId}`, auth, { reason: 'why', limits: { risk: { bankrollUsd: 500 }, guard: { maxRunLoss: 1 }, extra: {} } })).json().problems).toEqual([
      'reason goes with status "suspended" (it says why the account is suspended)',
      'limits has no section "extra"; the sections are guard and risk',
      expect.stringContaining('limits.guard has no setting "maxRunLoss"'),
      `limits.risk has no setting "bankrollUsd"; valid settings are ${RISK_KEYS}`,
    ]);
    for (const body of [{}, { limits: [1] }, { limits: { guard: { maxRunLossUsd: -5 } } }, { name: 42 }, { plan: 'platinum' }, { owner: 'x'.repeat(101) }, { limits: { risk: { capital_reserve_pct: 150 } } }]) {
      const res = await call('PUT', `/admin/clients/${bobId}`, auth, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().message.length).toBeGreaterThan(10);
    }
    const notJson = await http.inject({ method: 'PUT', url: `/admin/clients/${bobId}`, headers: { ...auth, 'content-type': 'application/json' }, payload: '{"name":' });
    expect(notJson.statusCode).toBe(400);
    expect((await call('PUT', '/admin/clients/@nobody', auth, { name: 'X' })).statusCode).toBe(404);
    expect(await database.db.user.findUniqueOrThrow({ where: { id: bobId } })).toMatchObject({ displayName: 'bob', limits: null, owner: null, suspendedAt: null });
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

  it('PUT sets and clears the owner, shown in the list and the client; audited', async () => {
    const set = await call('PUT', '/admin/clients/@bob', auth, { owner: '  ops  ' });
    expect(set.statusCode).toBe(200);
    // Bob's starter license was issued but never activated.
    expect(set.json().client).toMatchObject({ owner: 'ops', status: 'inactive', suspended_at: null, suspend_reason: null });
    expect((await call('GET', '/admin/clients', auth)).json().clients).toContainEqual(expect.objectContaining({ id: bobId, owner: 'ops' }));
    // The same owner again changes nothing and leaves no audit row.
    await call('PUT', '/admin/clients/@bob', auth, { owner: 'ops' });
    const cleared = await call('PUT', '/admin/clients/@bob', auth, { owner: null });
    expect(cleared.json().client.owner).toBeNull();
    expect((await database.db.user.findUniqueOrThrow({ where: { id: bobId } })).owner).toBeNull();
    expect((await auditOf('user.owner_set')).map((a) => [a.actorId, a.before, a.after])).toEqual([
      ['admin-api', { owner: null }, { owner: 'ops' }],
      ['admin-api', { owner: 'ops' }, { owner: null }],
    ]);
  });
});

describe('suspension and run risk defaults', () => {
  let carolId: string;
  const carolRuns = () => database.db.tradingRun.findMany({ where: { userId: carolId }, orderBy: { seq: 'asc' } });

  beforeAll(async () => {
    for (const who of [carol, dave]) {
      const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
      if (!issued.ok) throw new Error(issued.error.code);
      expect(text(await h.chat.say(who, `/activate ${issued.value.key}`))).toContain('activated');
    }
    carolId = (await resolveIdentity(database.deps, { platform: 'telegram', externalId: carol.id })).userId;
  });

  it('PUT status suspended stops the running runs and copy follows and refuses trading in chat and in the risk engine; status active lifts it; audited and told to the user', async () => {
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 500'))).toContain('Paper run #1 started');
    // Carol also copies Dave's published paper run.
    expect(text(await h.chat.say(dave, '/paper grid BTC/USDT 500'))).toContain('Paper run #1 started');
    const code = /\*(M-[A-Z0-9]{6})\*/.exec(text(await h.chat.say(dave, '/master publish 1')))?.[1];
    expect(text(await h.chat.say(carol, `/follow ${code} 200 paper`))).toContain(code);
    expect(await database.db.copyFollow.findFirstOrThrow({ where: { userId: carolId } })).toMatchObject({ status: 'active' });

    const suspended = await call('PUT', '/admin/clients/@carol', auth, { status: 'suspended', reason: 'chargeback under review' });
    expect(suspended.statusCode).toBe(200);
    expect(suspended.json()).toMatchObject({
      client: { status: 'suspended', suspend_reason: 'chargeback under review', plan: 'pro' },
      stopped: { runs: [1], follows: 1 },
    });
    expect(await database.db.copyFollow.findFirstOrThrow({ where: { userId: carolId } })).toMatchObject({ status: 'stopped', stopReason: 'suspended' });
    // Only Carol's runs stop.
    expect(await database.db.tradingRun.count({ where: { status: 'running', userId: { not: carolId } } })).toBe(1);
    expect(Date.parse(suspended.json().client.suspended_at)).toBe(database.clock.now().getTime());
    await eventually(async () => ((await carolRuns())[0]?.status === 'stopped' ? true : undefined), 10_000, 'the run stopped');
    expect((await carolRuns())[0]).toMatchObject({ stopReason: 'suspended', stopDetail: 'Your account was suspended.' });

    // Chat: the license gate answers account_suspended although the license is still active.
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 500'))).toBe('Your account is suspended. Contact support.');
    const denied = await database.db.auditEntry.findMany({ where: { action: 'command.paper', actorId: carolId }, orderBy: { id: 'asc' } });
    expect((denied.at(-1)?.after as { result: string }).result).toBe('denied:account_suspended');
    expect(await carolRuns()).toHaveLength(1);
    // The risk engine, on any replica: no tier capital, so nothing new is placed.
    expect((await loadUserAccountFacts(database.deps, SEED_GUARD_LIMITS, carolId, 'paper')).tierMaxCapitalUsd).toBeNull();
    expect((await call('GET', '/admin/clients/@carol', auth)).json().client).toMatchObject({ status: 'suspended', suspend_reason: 'chargeback under review' });

    const active = await call('PUT', '/admin/clients/@carol', auth, { status: 'active' });
    expect(active.json().client).toMatchObject({ status: 'active', suspended_at: null, suspend_reason: null });
    expect(active.json().stopped).toBeUndefined();
    expect((await loadUserAccountFacts(database.deps, SEED_GUARD_LIMITS, carolId, 'paper')).tierMaxCapitalUsd).toBe(25_000);
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 500'))).toContain('Paper run #2 started');

    expect((await auditOf('user.suspended')).map((a) => [a.actorId, a.entityId, (a.after as { suspendReason: string }).suspendReason])).toEqual([
      ['admin-api', carolId, 'chargeback under review'],
    ]);
    expect((await auditOf('user.reinstated')).map((a) => [a.actorId, a.entityId])).toEqual([['admin-api', carolId]]);
    const alerts = await database.db.alertOutbox.findMany({ where: { userId: carolId, alertType: 'license', eventId: { startsWith: 'account:' } }, orderBy: { id: 'asc' } });
    expect(alerts.map((a) => a.text)).toEqual([expect.stringContaining('Your account is suspended'), expect.stringContaining('Your account is active again')]);
    // The operator's reason is for operators.
    expect(alerts.map((a) => a.text).join()).not.toContain('chargeback');
    await call('PUT', '/admin/clients/@carol', auth, { status: 'suspended' });
    await eventually(async () => ((await carolRuns()).every((r) => r.status === 'stopped') ? true : undefined), 10_000, 'run #2 stopped');
    await call('PUT', '/admin/clients/@carol', auth, { status: 'active' });
  });

  it('limits.risk gives new runs their defaults under the run\'s own key=value; sections are set apart; a bad key is refused with the valid ones', async () => {
    await call('PUT', '/admin/clients/@carol', auth, { limits: { guard: { maxRunLossUsd: 150 } } });
    const risk = { capital_reserve_pct: 20, max_safety_orders: 3, max_per_trade_pct: 0.05 };
    const set = await call('PUT', '/admin/clients/@carol', auth, { limits: { risk } });
    expect(set.statusCode).toBe(200);
    expect(set.json().client.limits).toEqual({ guard: { maxRunLossUsd: 150 }, risk });

    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 300 max_safety_orders=5'))).toContain('Paper run #3 started');
    expect(text(await h.chat.say(carol, '/paper grid BTC/USDT 300'))).toContain('Paper run #4 started');
    const [dca, grid] = (await carolRuns()).slice(2);
    expect(dca!.params).toEqual({ capital_reserve_pct: '20', max_safety_orders: '5' });
    expect(grid!.params).toEqual({ capital_reserve_pct: '20', max_per_trade_pct: '0.05' });

    for (const [body, problem] of [
      [{ leverage: 3 }, `limits.risk has no setting "leverage"; valid settings are ${RISK_KEYS}`],
      [{ capital_reserve_pct: 150 }, 'limits.risk: capital_reserve_pct must be a percentage in [0, 100]'],
      [{ max_safety_orders: 2.5 }, 'limits.risk: max_safety_orders must be a whole number'],
    ] as const) {
      const bad = await call('PUT', '/admin/clients/@carol', auth, { limits: { risk: body } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().problems).toEqual([problem]);
    }

    // /admin limits in chat sets guard without wiping risk; {"risk":null} removes only risk.
    expect(text(await h.chat.say(ADMIN, '/admin limits @carol {"guard":{"maxRunLossUsd":90}}'))).toContain('Run risk defaults: `{"capital_reserve_pct":20');
    expect((await database.db.user.findUniqueOrThrow({ where: { id: carolId } })).limits).toEqual({ guard: { maxRunLossUsd: 90 }, risk });
    expect(text(await h.chat.say(ADMIN, '/admin limits tier:pro {"risk":{"capital_reserve_pct":5}}'))).toContain('limits.risk is per account');
    const removed = await call('PUT', '/admin/clients/@carol', auth, { limits: { risk: null } });
    expect(removed.json().client.limits).toEqual({ guard: { maxRunLossUsd: 90 } });
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 300'))).toContain('Paper run #5 started');
    expect((await carolRuns())[4]!.params).toEqual({});
  });
});
