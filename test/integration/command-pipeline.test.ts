import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { commands } from '../../commands/registry.ts';
import { defineCommand, type AnyCommand } from '../../commands/types.ts';
import { issueLicense } from '../../src/app/licenses.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { dumpJson } from '../support/results.ts';

const admin: Person = { platform: 'telegram', id: '1000', username: 'boss' };
const alice: Person = { platform: 'telegram', id: '2001', username: 'alice' };
const bob: Person = { platform: 'telegram', id: '2002', username: 'bob' };

/** Holds /slow until the test lets it finish. */
const noop = () => {};
let releaseSlow: () => void = noop;

const testCommands: AnyCommand[] = [
  ...commands,
  defineCommand({
    name: 'slow',
    description: 'waits for the test',
    args: {},
    access: { kind: 'anyone' },
    where: 'any',
    handler: async () => {
      await new Promise<void>((resolve) => (releaseSlow = resolve));
      return { text: 'slow done' };
    },
  }),
  defineCommand({ name: 'members', description: 'licensed only', args: {}, access: { kind: 'licensed' }, where: 'any', handler: async () => ({ text: 'members area' }) }),
  defineCommand({ name: 'elite', description: 'elite and up', args: {}, access: { kind: 'tier', atLeast: 'elite' }, where: 'any', handler: async () => ({ text: 'elite area' }) }),
  defineCommand({
    name: 'explode',
    description: 'throws',
    args: {},
    access: { kind: 'anyone' },
    where: 'any',
    handler: async () => {
      throw new Error('kaboom at /secret/path.ts:12');
    },
  }),
];

let database: MigratedDatabase;
let chat: ChatHarness;

beforeAll(async () => {
  database = await createMigratedDatabase();
  chat = await createChatHarness(database, { commands: testCommands, adminTelegramIds: [admin.id] });
});
afterAll(async () => {
  await database?.drop();
});

const text = (reply: { text: string } | null) => reply?.text ?? '';
const commandAudit = (action: string) => database.db.auditEntry.findMany({ where: { action }, orderBy: { id: 'asc' } });

async function licenseFor(person: Person, tier: string) {
  const issued = await issueLicense(database.deps, { tier, actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  return issued.value;
}

describe('command pipeline', () => {
  it('on shutdown refuses new commands and waits for those running to finish', async () => {
    const closing = await createChatHarness(database, { commands: testCommands });
    const running = closing.say(alice, '/slow');
    await vi.waitFor(() => expect(releaseSlow).not.toBe(noop));
    let closed = false;
    const close = closing.pipeline.close().then(() => (closed = true));
    expect(text(await closing.say(bob, '/start'))).toContain('restarting');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    releaseSlow();
    expect(text(await running)).toBe('slow done');
    await close;
    expect(closed).toBe(true);
  });

  it('answers /start and ignores plain text', async () => {
    expect(text(await chat.say(alice, '/start'))).toContain('Paper first');
    expect(await chat.say(alice, 'hello there')).toBeNull();
    expect(text(await chat.say(alice, '/nonsense'))).toBe("I don't know /nonsense. Send /help to see what I can do.");
  });

  it('runs a redelivered update only once', async () => {
    const first = await chat.say(bob, '/pool', { updateId: 'tg-777' });
    const again = await chat.say(bob, '/pool', { updateId: 'tg-777' });
    expect(text(first)).toContain('Capacity pool');
    expect(again).toBeNull();
    expect(await commandAudit('command.pool')).toHaveLength(1);
  });

  it('refuses admin commands to non-admins, and audits the attempt', async () => {
    expect(text(await chat.say(alice, '/admin pool'))).toBe('Sorry, that command is for admins only.');
    expect(text(await chat.say(alice, '/admin'))).toBe('Only admins can use that.');
    const denied = await commandAudit('command.admin.pool');
    expect(denied.at(-1)!.after).toMatchObject({ result: 'denied:not_admin' });
    expect(text(await chat.say(admin, '/admin'))).toContain('/admin license create');
  });

  it('keeps private commands out of groups', async () => {
    const plain = await chat.say(alice, '/link', { chat: 'group' });
    expect(plain).toMatchObject({ text: 'Please use this command in a private chat with me.', deleteUserMessage: false });
    const withSecret = await chat.say(alice, '/link ABCD-EFGH', { chat: 'group' });
    expect(withSecret).toMatchObject({ deleteUserMessage: true });
    expect(text(withSecret)).toContain('I deleted your message');
  });

  it('gates on license and tier', async () => {
    expect(text(await chat.say(bob, '/members'))).toContain('You need an active license');
    await licenseFor(bob, 'pro');
    expect(text(await chat.say(bob, '/members'))).toBe('members area');
    expect(text(await chat.say(bob, '/elite'))).toBe('That needs the Elite tier or higher. See /tiers to upgrade.');
    await licenseFor(bob, 'whale');
    expect(text(await chat.say(bob, '/elite'))).toBe('elite area');
  });

  it('shows usage for bad arguments', async () => {
    expect(text(await chat.say(admin, '/admin audit lots'))).toBe('n must be a whole number.\nUsage: `/admin audit [n]`');
    expect(text(await chat.say(alice, '/activate'))).toContain('Usage: `/activate <key>`');
    expect(text(await chat.say(alice, '/alerts fills maybe'))).toContain('state must be on or off');
  });

  it('turns an unexpected error into an apology with an id that is in the logs', async () => {
    const reply = text(await chat.say(alice, '/explode'));
    const id = /error id ([0-9a-f]{8})/.exec(reply)?.[1];
    expect(id).toBeDefined();
    expect(reply).not.toMatch(/kaboom|secret\/path|at .*\.ts/);
    const logged = chat.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.errorId === id);
    expect(logged).toMatchObject({ level: 'error', cmd: 'explode', platform: 'telegram' });
    expect(JSON.stringify(logged)).toContain('kaboom');
  });

  it('masks secret arguments in the audit trail', async () => {
    const issued = await issueLicense(database.deps, { tier: 'starter', actor: { type: 'admin', id: 'test' } });
    if (!issued.ok) throw new Error('issue failed');
    await chat.say({ platform: 'telegram', id: '3003' }, `/activate ${issued.value.key}`);
    const entry = (await commandAudit('command.activate')).at(-1)!;
    expect(entry.after).toMatchObject({ args: { key: '***' }, result: 'ok' });
    const everything = dumpJson(await database.db.$queryRaw`SELECT * FROM audit_log`);
    expect(everything).not.toContain(issued.value.key);
  });

  it('confirms destructive admin actions with buttons that only the asker can press, once', async () => {
    const issued = await issueLicense(database.deps, { tier: 'trader', actor: { type: 'admin', id: 'test' } });
    if (!issued.ok) throw new Error('issue failed');
    const ask = await chat.say(admin, `/admin license revoke ${issued.value.key} fraud`);
    expect(text(ask)).toContain(`Revoke ${issued.value.license.maskedKey}`);
    expect(ask?.buttons?.[0]?.map((b) => b.label)).toEqual(['Revoke', 'Cancel']);
    expect(ask!.buttons![0]![0]!.actionId.length).toBeLessThanOrEqual(60);

    expect(text(await chat.press(alice, ask, 'Revoke'))).toBe('That button is not for you, or it no longer exists.');
    expect((await database.db.license.findUniqueOrThrow({ where: { id: issued.value.license.id } })).status).toBe('issued');

    expect(text(await chat.press(admin, ask, 'Revoke'))).toBe(`Revoked ${issued.value.license.maskedKey}.`);
    expect(text(await chat.press(admin, ask, 'Revoke'))).toContain('expired or was already used');
    expect(await database.db.license.findUniqueOrThrow({ where: { id: issued.value.license.id } })).toMatchObject({ status: 'revoked', revokedReason: 'fraud' });
  });

  it('links a console identity and a Telegram identity into one account', async () => {
    const operator: Person = { platform: 'console', id: 'local' };
    const carol: Person = { platform: 'telegram', id: '4004', username: 'carol' };
    await licenseFor(carol, 'elite');
    const issued = text(await chat.say(carol, '/link'));
    const code = /`([A-Z0-9]{4}-[A-Z0-9]{4})`/.exec(issued)?.[1];
    expect(code).toBeDefined();
    expect(text(await chat.say(carol, `/link ${code}`))).toContain('other platform');
    expect(text(await chat.say(operator, `/link ${code}`))).toContain('Linked');
    expect(text(await chat.say(operator, `/link ${code}`))).toContain('not valid');
    expect(text(await chat.say(operator, '/license'))).toMatch(/elite.*active/);
  });

  it('slows down a flood with a clear retry time', async () => {
    const limited = await createChatHarness(database, { burst: 3, perMinute: 6 });
    const dave: Person = { platform: 'telegram', id: '5005' };
    for (let i = 0; i < 3; i++) expect(text(await limited.say(dave, '/tiers'))).toContain('Lifetime licenses');
    expect(text(await limited.say(dave, '/tiers'))).toBe('Slow down: too many commands. Try again in 10 s.');
    database.clock.advance(10_000);
    expect(text(await limited.say(dave, '/tiers'))).toContain('Lifetime licenses');
  });
});
