// REST API v1, part 1: machine activation, bearer authentication, heartbeat, scanner
// recommendation and strategy parameters, on a real database through fastify's inject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateLicense, revokeLicense } from '../../src/app/licenses.ts';
import { machineFingerprint, unbindMachine } from '../../src/app/machine-activation.ts';
import { getPoolStatus, setPoolCap } from '../../src/app/pool.ts';
import { customerParams, DEFAULT_SCANNER_POLICY } from '../../src/app/scanner.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { generateLicenseKey } from '../../src/domain/license-key.ts';
import { DEFAULT_STRATEGY_PARAMS } from '../../src/engine/params.ts';
import { cents, dollars } from '../../src/kernel/money.ts';
import { newMachineId, PUBLIC_BASE_URL, startApiHarness, type ApiHarness } from '../support/api-v1.ts';

let api: ApiHarness;
const admin = { type: 'admin', id: 'test-admin' } as const;
const keysUsed: string[] = [];

beforeAll(async () => {
  api = await startApiHarness();
});
afterAll(async () => {
  await api?.close();
});

const bot = async (tier?: string) => {
  const b = await api.bot(tier);
  keysUsed.push(b.key);
  return b;
};
const issueKey = async (tier?: string, userId?: string | null) => {
  const issued = await api.issueKey(tier, userId);
  keysUsed.push(issued.key);
  return issued;
};
const licenseRow = (id: string) => api.database.db.license.findUniqueOrThrow({ where: { id } });
const minutes = (n: number) => n * 60_000;

describe('POST /v1/auth/activate', () => {
  it('an issued license nobody owns makes a new account and activates it there', async () => {
    const { key, licenseId } = await issueKey('pro');
    const machineId = newMachineId();
    const now = api.database.clock.now();
    const response = await api.activate({ license_key: key, machine_id: machineId });

    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.customer_id).toMatch(/^c_[A-Za-z0-9_-]{22}$/);
    expect(body).toEqual({
      customer_id: body.customer_id,
      tier: 'pro',
      activated_at: now.toISOString(),
      dashboard_url: `${PUBLIC_BASE_URL}/dashboard/${body.customer_id}/`,
    });
    const license = await licenseRow(licenseId);
    expect(license).toMatchObject({ status: 'active', machineId, activatedAt: now, machineBoundAt: now });
    const user = await api.database.db.user.findUniqueOrThrow({ where: { id: license.userId! } });
    expect(user.customerId).toBe(body.customer_id);

    // Audited with a fingerprint of the machine, never the machine id or the key.
    const audit = await api.database.db.auditEntry.findMany({ where: { entityId: licenseId }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.action)).toEqual(['license.issued', 'license.activated', 'license.machine_bound']);
    const bound = audit.at(-1)!;
    expect(bound.after).toEqual({ machine: machineFingerprint(machineId), newAccount: true });
    const auditText = JSON.stringify(audit.map((a) => [a.before, a.after]));
    expect(auditText).not.toContain(machineId);
    expect(auditText).not.toContain(key);
    // The owner's activation alert is queued with it.
    const alerts = await api.database.db.alertOutbox.findMany({ where: { userId: license.userId! } });
    expect(alerts.map((a) => (a.payload as { type: string }).type)).toEqual(['license_activated']);
  });

  it('a license already active on a chat account is bound to the machine and stays with that account', async () => {
    const owner = await resolveIdentity(api.database.deps, { platform: 'telegram', externalId: 'owner-1' });
    const { key, licenseId } = await issueKey('elite');
    expect((await activateLicense(api.database.deps, { key, identity: owner })).ok).toBe(true);

    const response = await api.activate({ license_key: key, machine_id: newMachineId() });
    expect(response.statusCode).toBe(200);
    const user = await api.database.db.user.findUniqueOrThrow({ where: { id: owner.userId } });
    expect(response.json()).toMatchObject({ customer_id: user.customerId, tier: 'elite' });
    expect((await licenseRow(licenseId)).userId).toBe(owner.userId);
  });

  it('a license issued to an account but not yet activated is activated for that account', async () => {
    const owner = await resolveIdentity(api.database.deps, { platform: 'discord', externalId: 'owner-2' });
    const { key, licenseId } = await issueKey('starter', owner.userId);
    const response = await api.activate({ license_key: key, machine_id: newMachineId() });
    expect(response.statusCode).toBe(200);
    expect(await licenseRow(licenseId)).toMatchObject({ userId: owner.userId, status: 'active' });
  });

  it('the same machine again is answered the same; another machine gets exactly the seed 403', async () => {
    const { key } = await issueKey();
    const machineId = newMachineId();
    const first = await api.activate({ license_key: key, machine_id: machineId });
    api.database.clock.advance(minutes(1));
    const again = await api.activate({ license_key: key.toLowerCase(), machine_id: machineId });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());

    const other = await api.activate({ license_key: key, machine_id: newMachineId() });
    expect(other.statusCode).toBe(403);
    expect(other.json()).toEqual({ error: 'license_already_bound', message: 'Contact support to transfer license' });
  });

  it('two machines racing to activate the same new license: one wins, one account is made', async () => {
    const { key, licenseId } = await issueKey();
    const usersBefore = await api.database.db.user.count();
    const answers = await Promise.all([newMachineId(), newMachineId(), newMachineId()].map((machine_id) => api.activate({ license_key: key, machine_id })));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 403, 403]);
    expect(await api.database.db.user.count()).toBe(usersBefore + 1);
    const winner = answers.find((a) => a.statusCode === 200)!;
    expect((await licenseRow(licenseId)).userId).toBe((await api.database.db.user.findUniqueOrThrow({ where: { customerId: winner.json().customer_id } })).id);
  });

  it('support can release a license from its machine; then another machine activates it', async () => {
    const { key, licenseId } = await issueKey();
    const first = await api.activate({ license_key: key, machine_id: newMachineId() });
    const newMachine = newMachineId();
    expect((await api.activate({ license_key: key, machine_id: newMachine })).statusCode).toBe(403);
    expect((await unbindMachine(api.database.deps, { licenseId, actor: admin })).ok).toBe(true);
    const moved = await api.activate({ license_key: key, machine_id: newMachine });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().customer_id).toBe(first.json().customer_id);
    expect((await licenseRow(licenseId)).machineId).toBe(newMachine);
  });

  it('a revoked license is refused (403) and an unknown key is 404', async () => {
    const { key, licenseId } = await issueKey();
    await revokeLicense(api.database.deps, { licenseId, reason: 'test', actor: admin });
    const revoked = await api.activate({ license_key: key, machine_id: newMachineId() });
    expect(revoked.statusCode).toBe(403);
    expect(revoked.json().error).toBe('license_revoked');
    expect((await licenseRow(licenseId)).machineId).toBeNull();

    const unknown = await api.activate({ license_key: generateLicenseKey(), machine_id: newMachineId() });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toBe('license_not_found');
  });

  it('bad bodies are 400 with the fields to fix', async () => {
    const empty = await api.activate({});
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error).toBe('bad_request');
    expect(empty.json().problems.map((p: { field: string }) => p.field)).toEqual(['license_key', 'machine_id']);

    const { key } = await issueKey();
    const shortMachine = await api.activate({ license_key: key, machine_id: 'short' });
    expect(shortMachine.statusCode).toBe(400);
    expect(shortMachine.json()).toMatchObject({ error: 'bad_request', problems: [{ field: 'machine_id' }] });
    const oddMachine = await api.activate({ license_key: key, machine_id: 'has spaces in it' });
    expect(oddMachine.statusCode).toBe(400);

    const typo = await api.activate({ license_key: 'AIT-2345-6789-ABCD', machine_id: newMachineId() });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error).toBe('invalid_license_format');

    const notJson = await api.server.inject({ method: 'POST', url: '/v1/auth/activate', headers: { 'content-type': 'application/json' }, payload: '{"license_key":' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error).toBe('bad_request');
  });
});

describe('bearer authentication', () => {
  it('no or non-bearer credentials: 401 with the Bearer challenge', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer' }]) {
      const response = await api.server.inject({ method: 'GET', url: '/v1/strategy/params', headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.json().error).toBe('unauthorized');
    }
  });

  it('a malformed or unknown key: 401 invalid_token', async () => {
    const malformed = await api.call('GET', '/v1/strategy/params', 'not-a-key');
    expect(malformed.statusCode).toBe(401);
    expect(malformed.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(malformed.json().error).toBe('invalid_license_format');

    const unknown = await api.call('GET', '/v1/strategy/params', generateLicenseKey());
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error).toBe('license_not_found');
  });

  it('a license not activated on a machine: 403 machine_not_activated (also when activated in chat)', async () => {
    const { key } = await issueKey();
    const issued = await api.call('GET', '/v1/strategy/params', key);
    expect(issued.statusCode).toBe(403);
    expect(issued.json().error).toBe('machine_not_activated');

    const owner = await resolveIdentity(api.database.deps, { platform: 'telegram', externalId: 'chat-only' });
    const chatKey = await issueKey();
    await activateLicense(api.database.deps, { key: chatKey.key, identity: owner });
    expect((await api.call('GET', '/v1/strategy/params', chatKey.key)).json().error).toBe('machine_not_activated');
    expect((await api.call('GET', '/v1/auth/heartbeat', chatKey.key)).statusCode).toBe(403);
  });

  it('a revoked license: 403 license_revoked', async () => {
    const b = await bot();
    await revokeLicense(api.database.deps, { licenseId: b.licenseId, reason: 'chargeback', actor: admin });
    const response = await api.call('GET', '/v1/strategy/regimes', b.key);
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toBe('license_revoked');
  });

  it('accepts the key in any case and without dashes', async () => {
    const b = await bot();
    const response = await api.call('GET', '/v1/strategy/params', b.key.toLowerCase().replace(/-/g, ''));
    expect(response.statusCode).toBe(200);
  });
});

describe('GET /v1/auth/heartbeat', () => {
  it('a valid license: valid, its tier, the newest version (the parameter set version without releases)', async () => {
    const b = await bot('whale');
    const response = await api.call('GET', '/v1/auth/heartbeat', b.key);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ valid: true, tier: 'whale', bot_version_latest: DEFAULT_STRATEGY_PARAMS.version, message: null });
  });

  it('a revoked license is answered 200 valid:false, so the bot learns it', async () => {
    const b = await bot('trader');
    await revokeLicense(api.database.deps, { licenseId: b.licenseId, reason: 'refund', actor: admin });
    const response = await api.call('GET', '/v1/auth/heartbeat', b.key);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      valid: false,
      tier: 'trader',
      bot_version_latest: DEFAULT_STRATEGY_PARAMS.version,
      message: 'This license has been revoked. Contact support if you think this is a mistake.',
    });
  });
});

const ranking = (symbol: string, score: number) => ({
  symbol,
  composite_score: score,
  daily_roi_pct: score / 100,
  cycles_per_day: 2.5,
  friendly_regime_pct: 60,
  max_drawdown_pct: 4.2,
  quote_volume_24h: 3_000_000,
});
const RANKINGS = [ranking('HYPE/USDT', 50.2), ranking('SOL/USDT', 44.1), ranking('ETH/USDT', 40), ranking('BTC/USDT', 31.5), ranking('DOGE/USDT', 12)];

describe('GET /v1/scanner/recommendation', () => {
  it('before the first scan: 503 no_scan_yet with a Retry-After the rate limit also honours', async () => {
    const b = await bot();
    const response = await api.call('GET', '/v1/scanner/recommendation', b.key);
    expect(response.statusCode).toBe(503);
    expect(response.json().error).toBe('no_scan_yet');
    // At least a minute, and not before the endpoint's rate limit (1 per 5 min) takes the next call.
    expect(response.headers['retry-after']).toBe('300');
  });

  it("the newest released scan in the seed's shape, best first", async () => {
    const now = api.database.clock.now();
    // Older than the stagger window: released to every customer.
    const takenAt = new Date(now.getTime() - DEFAULT_SCANNER_POLICY.staggerMs - minutes(60));
    const nextScanAt = new Date(now.getTime() + minutes(30));
    await api.database.db.scannerScan.create({
      data: { takenAt, nextScanAt, exchange: 'binance', timeframe: '5m', lookbackDays: 7, rankings: RANKINGS, failures: [], candles: 10_000, durationMs: 1234 },
    });
    const b = await bot();
    const response = await api.call('GET', '/v1/scanner/recommendation', b.key);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      timestamp: takenAt.toISOString(),
      rankings: RANKINGS.map((r) => ({
        symbol: r.symbol.replace('/', ''),
        pair: r.symbol,
        composite_score: r.composite_score,
        daily_roi_pct: r.daily_roi_pct,
        cycles_per_day: r.cycles_per_day,
        friendly_regime_pct: r.friendly_regime_pct,
      })),
      rotation_threshold_pct: 20,
      next_scan: nextScanAt.toISOString(),
      degraded: false,
      warning: null,
    });
    expect(body.rankings.map((r: { symbol: string }) => r.symbol)).toEqual(['HYPEUSDT', 'SOLUSDT', 'ETHUSDT', 'BTCUSDT', 'DOGEUSDT']);
  });

  it('pool softly over its cap: only the top 3, with a warning; hard over it: 403 pool_over_cap with the meter', async () => {
    const { deps } = api.database;
    const [soft, hard] = [await bot(), await bot()];
    const { committed } = await getPoolStatus(deps);
    try {
      // 5% over the cap: soft (the hard margin is 10%).
      await setPoolCap(deps, cents(Math.floor((committed * 100) / 105)), admin);
      const degraded = await api.call('GET', '/v1/scanner/recommendation', soft.key);
      expect(degraded.statusCode).toBe(200);
      expect(degraded.json()).toMatchObject({ degraded: true, warning: expect.stringContaining('top 3') });
      expect(degraded.json().rankings.map((r: { pair: string }) => r.pair)).toEqual(['HYPE/USDT', 'SOL/USDT', 'ETH/USDT']);

      await setPoolCap(deps, cents(Math.floor(committed / 2)), admin);
      const refused = await api.call('GET', '/v1/scanner/recommendation', hard.key);
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ error: 'pool_over_cap', pool: { feature: 'scanner' } });
      expect(refused.json().pool.percentUsed).toBeGreaterThanOrEqual(110);
    } finally {
      await setPoolCap(deps, dollars(2_500_000), admin);
    }
  });
});

describe('GET /v1/strategy/params and /v1/strategy/regimes', () => {
  it("each customer gets their own stable jitter of the seed's parameters", async () => {
    const [a, b] = [await bot(), await bot()];
    const first = (await api.call('GET', '/v1/strategy/params', a.key)).json();
    const other = (await api.call('GET', '/v1/strategy/params', b.key)).json();
    api.database.clock.advance(minutes(5));
    const again = (await api.call('GET', '/v1/strategy/params', a.key)).json();

    expect(again).toEqual(first);
    expect(other.params.tp_range).not.toEqual(first.params.tp_range);
    expect(other.params.deviation_range).not.toEqual(first.params.deviation_range);
    const expected = customerParams(a.customerId, DEFAULT_SCANNER_POLICY);
    expect(first).toEqual({
      version: DEFAULT_STRATEGY_PARAMS.version,
      params: JSON.parse(JSON.stringify(expected.paramSet.params)),
      jitter: { tp: expected.jitter.tp, dev: expected.jitter.dev },
    });
    // Only the TP and deviation ranges move, by 5-10%.
    const { tp_range: _t, deviation_range: _d, ...rest } = first.params;
    const { tp_range: _bt, deviation_range: _bd, ...seedRest } = DEFAULT_STRATEGY_PARAMS.params;
    expect(rest).toEqual(JSON.parse(JSON.stringify(seedRest)));
    for (const factor of [first.jitter.tp, first.jitter.dev]) expect(Math.abs(factor - 1)).toBeGreaterThanOrEqual(0.05);
  });

  it("regimes: the seed's allocation rules and SMA period, plus the detection thresholds", async () => {
    const b = await bot();
    const response = await api.call('GET', '/v1/strategy/regimes', b.key);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      version: '2.4.1',
      allocation_rules: { TRENDING: { bullish: [75, 25], bearish: [25, 75] }, RANGING: [50, 50], EXTREME: [0, 0] },
      sma_period: 50,
      extreme_atr_mult: DEFAULT_STRATEGY_PARAMS.regimes.extreme_atr_mult,
      trend_threshold_pct: DEFAULT_STRATEGY_PARAMS.regimes.trend_threshold_pct,
      trend_slope_lookback: DEFAULT_STRATEGY_PARAMS.regimes.trend_slope_lookback,
    });
  });
});

describe('secrets', () => {
  it('no license key ever appears in a response or a log line', async () => {
    expect(keysUsed.length).toBeGreaterThan(10);
    expect(api.logLines.length).toBeGreaterThan(10);
    const everything = [...api.logLines, ...api.responseBodies].join('\n');
    for (const key of keysUsed) {
      expect(everything).not.toContain(key);
      expect(everything.toUpperCase()).not.toContain(key.replace(/-/g, ''));
    }
  });
});
