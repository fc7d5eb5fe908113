// One member can never see or change another member's keys, license or audit entries, and
// exchange secrets never reach replies, logs or the audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCredentials } from '../../src/app/credentials.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { dumpJson } from '../support/results.ts';

const alice: Person = { platform: 'telegram', id: '7001', username: 'alice' };
const bob: Person = { platform: 'telegram', id: '7002', username: 'bob' };
const aliceKey = 'ALICEkey0123456789abcdefghijkl';
const aliceSecret = 'ALICEsecret-zyxwvutsrqponmlkjihgfedcba9876';
const bobKey = 'BOBkey00112233445566778899aabb';
const bobSecret = 'BOBsecret-ffeeddccbbaa99887766554433221100';

let database: MigratedDatabase;
let chat: ChatHarness & { vault: import('../../src/vault/vault.ts').Vault };

const text = (r: { text: string } | null) => r?.text ?? '';
const userIdOf = async (p: Person) =>
  (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;

beforeAll(async () => {
  database = await createMigratedDatabase();
  chat = await createChatHarness(database, { adminTelegramIds: [] });
  for (const [person, tier] of [[alice, 'elite'], [bob, 'starter']] as const) {
    const issued = await issueLicense(database.deps, { tier, actor: { type: 'admin', id: 'test' } });
    if (!issued.ok) throw new Error(issued.error.code);
    expect(text(await chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  }
  expect(text(await chat.say(alice, `/keys set binance ${aliceKey} ${aliceSecret}`))).toContain('keys saved');
  expect(text(await chat.say(bob, `/keys set binance ${bobKey} ${bobSecret}`))).toContain('keys saved');
});
afterAll(async () => {
  await database?.drop();
});

describe('tenant isolation', () => {
  it('each member sees only their own license and keys', async () => {
    const bobLicense = text(await chat.say(bob, '/license'));
    expect(bobLicense).toContain('starter');
    expect(bobLicense).not.toContain('elite');
    const bobKeys = text(await chat.say(bob, '/keys list'));
    expect(bobKeys).toContain(`…${bobKey.slice(-4)}`);
    expect(bobKeys).not.toContain(`…${aliceKey.slice(-4)}`);
  });

  it("removing keys touches only the remover's own", async () => {
    const ask = await chat.say(bob, '/keys remove binance');
    expect(text(await chat.press(bob, ask, 'Delete'))).toContain(`key ending ${bobKey.slice(-4)}`);
    expect(text(await chat.say(bob, '/keys list'))).toContain('No exchange keys stored');
    expect(text(await chat.say(alice, '/keys list'))).toContain(`…${aliceKey.slice(-4)}`);
  });

  it('members cannot reach admin views of other members', async () => {
    expect(text(await chat.say(bob, '/admin audit'))).toBe('Sorry, that command is for admins only.');
    expect(text(await chat.say(bob, '/admin user @alice'))).toBe('Sorry, that command is for admins only.');
    expect(text(await chat.say(bob, '/admin license revoke @alice'))).toBe('Sorry, that command is for admins only.');
    expect(text(await chat.say(alice, '/license'))).toContain('active');
  });

  it("a member cannot decrypt another member's keys", async () => {
    const deps = { ...database.deps, vault: chat.vault };
    const own = await decryptCredentials(deps, { userId: await userIdOf(alice), exchange: 'binance' });
    expect(own.ok && own.value.apiSecret).toBe(aliceSecret);
    const other = await decryptCredentials(deps, { userId: await userIdOf(bob), exchange: 'binance' });
    expect(other.ok).toBe(false);
  });

  it('linking identities keeps stored keys usable', async () => {
    const aliceDiscord: Person = { platform: 'console', id: 'alice-console' };
    const secondKey = 'OKXkey0123456789abcdefghijklmn';
    expect(text(await chat.say(aliceDiscord, `/keys set okx ${secondKey} OKXsecret-0123456789abcdefghij okxpass123`))).toContain('keys saved');
    const code = /`([A-Z0-9]{4}-[A-Z0-9]{4})`/.exec(text(await chat.say(alice, '/link')))![1]!;
    expect(text(await chat.say(aliceDiscord, `/link ${code}`))).toContain('Linked');
    const deps = { ...database.deps, vault: chat.vault };
    const moved = await decryptCredentials(deps, { userId: await userIdOf(alice), exchange: 'okx' });
    expect(moved.ok && moved.value.apiKey).toBe(secondKey);
    expect(text(await chat.say(alice, '/keys list'))).toMatch(/Binance.*\n.*OKX|OKX.*\n.*Binance/);
  });

  it('secrets never reach replies, logs or the audit trail', async () => {
    const everythingSaid = chat.logLines.join('');
    const audit = dumpJson(await database.db.$queryRaw`SELECT * FROM audit_log`);
    const rows = JSON.stringify(await database.db.$queryRaw`SELECT * FROM exchange_credentials`);
    for (const secret of [aliceSecret, bobSecret, aliceKey, bobKey, 'okxpass123']) {
      expect(everythingSaid).not.toContain(secret);
      expect(audit).not.toContain(secret);
      expect(rows).not.toContain(secret);
    }
    expect(chat.logLines.length).toBeGreaterThan(0);
  });
});
