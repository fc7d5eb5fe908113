// POST /admin/kill: bearer-token protected, idempotent, persisted, and it stops every run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { issueLicense } from '../../src/app/licenses.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadReplaySeries } from '../../src/market-data/replay-source.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import type { Person } from '../support/chat.ts';
import { createTradingHarness, eventually, type TradingHarness } from '../support/trading.ts';

const TOKEN = 'admin-token-0123456789abcdef-XYZ';
const carol: Person = { platform: 'telegram', id: '8301', username: 'carol' };
let database: MigratedDatabase;
let h: TradingHarness;
let http: FastifyInstance;
const text = (r: { text: string } | null) => r?.text ?? '';
const kill = (headers: Record<string, string>, payload?: unknown) =>
  http.inject({
    method: 'POST',
    url: '/admin/kill',
    headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });

beforeAll(async () => {
  database = await createMigratedDatabase();
  const series = await loadReplaySeries(projectPath('../shared/data/candles'), ['BTC/USDT'], { timeframe: '5m' });
  h = await createTradingHarness(database, { settings: { replay: { series, speed: 300 } } });
  await h.trading.supervisor.start();
  http = buildHttpServer({
    app: database.deps,
    logger: createLogger({ level: 'silent' }),
    probeDatabase: async () => undefined,
    adminKill: { token: TOKEN, control: h.trading.supervisor },
  });
  const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await h.chat.say(carol, `/activate ${issued.value.key}`))).toContain('activated');
});
afterAll(async () => {
  await http?.close();
  await h?.close();
  await database?.drop();
});

describe('POST /admin/kill', () => {
  it('refuses requests without the right bearer token, and bad bodies', async () => {
    expect((await kill({})).statusCode).toBe(401);
    expect((await kill({ authorization: 'Bearer wrong-token-wrong-token-wrong' })).statusCode).toBe(401);
    expect((await kill({ authorization: TOKEN })).statusCode).toBe(401);
    const bad = await kill({ authorization: `Bearer ${TOKEN}` }, { reason: 42 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('reason');
    expect(await database.db.killSwitch.count()).toBe(0);
    expect(await database.db.auditEntry.count({ where: { action: 'kill_switch.requested' } })).toBe(0);
  });

  it('engages the persisted global switch, stops every run, and is idempotent', async () => {
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 500'))).toContain('Paper run #1 started');
    expect(text(await h.chat.say(carol, '/paper grid BTC/USDT 500'))).toContain('Paper run #2 started');
    const first = await kill({ authorization: `Bearer ${TOKEN}` }, { reason: 'exchange incident' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ engaged: true, already_engaged: false, runs_stopping: 2 });
    const second = await kill({ authorization: `Bearer ${TOKEN}` });
    expect(second.json()).toEqual({ engaged: true, already_engaged: true, runs_stopping: 0 });
    await eventually(async () => ((await database.db.tradingRun.count({ where: { status: 'killed' } })) === 2 ? true : undefined), 10_000, 'both runs killed');
    const row = await database.db.killSwitch.findUniqueOrThrow({ where: { scope: 'global' } });
    expect(row).toMatchObject({ engaged: true, reason: 'exchange incident' });
    expect(text(await h.chat.say(carol, '/paper dca BTC/USDT 500'))).toContain('halted by an admin kill switch');
    const audit = await database.db.auditEntry.findMany({ where: { action: 'kill_switch.engaged' } });
    expect(audit).toHaveLength(1);
    // Each authorised call leaves its own entry, the repeat included.
    const requests = await database.db.auditEntry.findMany({ where: { action: 'kill_switch.requested' }, orderBy: { id: 'asc' } });
    expect(requests.map((r) => [r.actorType, r.actorId, (r.after as { alreadyEngaged: boolean }).alreadyEngaged])).toEqual([
      ['admin', 'admin-api', false],
      ['admin', 'admin-api', true],
    ]);
  });
});
