import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleChat } from '../../src/chat/console/console-chat.ts';
import { createChatHarness } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
let input: PassThrough;
let output = '';
let consoleChat: ConsoleChat;

beforeAll(async () => {
  database = await createMigratedDatabase();
  const { pipeline } = await createChatHarness(database);
  input = new PassThrough();
  const out = new PassThrough();
  out.on('data', (c: Buffer) => (output += c.toString()));
  consoleChat = new ConsoleChat({ pipeline, input, output: out, imageDir: '/tmp/ait-console-images', username: 'operator' });
  consoleChat.start();
});
afterAll(async () => {
  consoleChat?.stop();
  await database?.drop();
});

async function type(line: string): Promise<string> {
  const before = output.length;
  input.write(`${line}\n`);
  await new Promise((r) => setImmediate(r));
  await consoleChat.idle();
  return output.slice(before);
}

describe('console chat', () => {
  it('runs the same commands as the local admin, with numbered buttons', async () => {
    expect(output).toContain('you are the local admin');
    expect(await type('/start')).toContain('Paper first');
    expect(await type('hello')).toBe('Commands start with a slash: try /help.\n');

    const created = await type('/admin license create trader');
    const key = /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(created)?.[0];
    expect(key).toBeDefined();
    expect(created).not.toContain('*'); // markup rendered, not shown

    const asked = await type(`/admin license revoke ${key}`);
    expect(asked).toContain('[1] Revoke   [2] Cancel   (type a number)');
    expect(await type('1')).toContain('Revoked AIT-****-****-');
    // Buttons belong to the latest reply: after it, the numbers mean nothing.
    expect(await type('1')).toBe('There is no button with that number.\n');
    expect(await database.db.license.count({ where: { status: 'revoked' } })).toBe(1);
  });
});
