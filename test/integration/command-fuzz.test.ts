// 10,000 random and malformed inputs across every command, as admins and members, in private
// and group chats, sometimes pressing the buttons that come back. Nothing may crash, every reply
// says something, no reply leaks internals, and bad arguments always come with the usage line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../commands/registry.ts';
import type { RenderedReply } from '../../src/chat/pipeline.ts';
import { generateLicenseKey } from '../../src/domain/license-key.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { seededRandom } from '../support/prng.ts';

const INPUTS = 10_000;
const PARALLEL = 8;

const people: Person[] = [
  { platform: 'telegram', id: '1', username: 'root' }, // admin
  { platform: 'telegram', id: '2', username: 'member' },
  { platform: 'telegram', id: '3' },
  { platform: 'console', id: 'local', username: 'operator' }, // admin
];

const words = [
  ...commands.map((c) => c.name),
  'admin', 'keys', 'admin license', 'ADMIN POOL', 'Help', 'activate@sim_test_bot', 'unknowncmd', 'keys frobnicate', '',
];
const values = [
  'pro', 'PRO', 'whale', 'starter', 'platinum', '0', '1', '2', '-5', '50', '51', '9999999999999999', '1.5', 'NaN', 'Infinity',
  'on', 'off', 'maybe', 'fills', 'kill_switch', 'weekly_summary', 'binance', 'OKX', 'kucoin', 'nope', 'set',
  '2500000', '$1,000', '100_000', '@root', '@member', '@', '@nobody', '1', '2', '3', 'local',
  '00000000-0000-0000-0000-000000000000', 'AIT-2345-6789-ABCD', 'ait-xxxx', 'ABCD-EFGH',
  '"quoted words here"', '"unbalanced', '""', '\u0000', '\u202e', '💥🚀', 'ä'.repeat(600), 'x'.repeat(5000),
  '<b>html</b>', '<script>alert(1)</script>', '*bold*', '`code`', '_x_', "'; DROP TABLE users; --", '${jndi:ldap://x}',
  '../../etc/passwd', '%00', '\\', '/start', 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A',
];

let database: MigratedDatabase;
let chat: ChatHarness;

beforeAll(async () => {
  database = await createMigratedDatabase({}, { poolSize: PARALLEL });
  chat = await createChatHarness(database, { adminTelegramIds: ['1'], logger: (await import('../../src/kernel/logger.ts')).createLogger({ level: 'silent' }) });
});
afterAll(async () => {
  await database?.drop();
});

const LEAKS = /\n\s+at |\b(TypeError|ReferenceError|RangeError|SyntaxError|Prisma\w*|ZodError)\b|\[object Object\]|\bundefined\b|\bNaN\b(?! is)/;
/** The pipeline's own argument complaints: "Missing key: …", "Too many arguments.", "count must …". */
const argNames = [...new Set(commands.flatMap((c) => Object.keys(c.args)))].join('|');
const USAGE_PROBLEM = new RegExp(`^(Missing \\w+:|Too many arguments\\.|(${argNames}) (must|is) )`);

function check(input: string, reply: RenderedReply | null, problems: string[]): void {
  const fail = (why: string): void => {
    problems.push(`${why}: ${JSON.stringify(input.slice(0, 120))} -> ${JSON.stringify(reply?.text?.slice(0, 200))}`);
  };
  if (reply === null) {
    // A slash followed by a word is a command and must be answered (control characters are dropped first).
    // eslint-disable-next-line no-control-regex
    if (/^\/[^\s"\u0000-\u001f]/.test(input.trim())) fail('no reply to a command');
    return;
  }
  if (!reply.text || reply.text.trim() === '') return fail('empty reply');
  if (/something went wrong|trouble reaching its database/.test(reply.text)) fail('unexpected error');
  // The input itself may contain these words; only flag what the reply adds.
  const added = reply.text.split(input).join('');
  if (LEAKS.test(added) && !LEAKS.test(input)) fail('internals leaked');
  if (USAGE_PROBLEM.test(reply.text) && !reply.text.includes('Usage: `/')) fail('bad arguments without usage');
}

describe('command fuzzing', () => {
  it(`survives ${INPUTS.toLocaleString('en-US')} random and malformed inputs`, { timeout: 240_000 }, async () => {
    const random = seededRandom(20261121);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const problems: string[] = [];
    let sent = 0;
    let pressed = 0;

    const one = async () => {
      const who = pick(people);
      const argCount = Math.floor(random() * 5);
      const args = Array.from({ length: argCount }, () => (random() < 0.1 ? generateLicenseKey() : pick(values)));
      const separator = random() < 0.1 ? '\t' : random() < 0.1 ? '   ' : ' ';
      const roll = random();
      const input =
        roll < 0.04 ? pick(values) // no slash at all
        : roll < 0.06 ? `/${pick(values)}` // a slash and garbage
        : `/${pick(words)}${argCount ? separator + args.join(separator) : ''}`;
      const reply = await chat.say(who, input, { chat: random() < 0.2 ? 'group' : 'private' });
      sent++;
      check(input, reply, problems);
      if (reply?.buttons?.length && random() < 0.5) {
        const button = pick(reply.buttons.flat());
        const after = await chat.pipeline.handleAction({
          platform: who.platform,
          from: { externalId: who.id },
          chat: { id: who.id, kind: 'private' },
          actionId: button.actionId,
        });
        pressed++;
        check(`[press ${button.label}]`, after, problems);
      }
    };

    while (sent < INPUTS) {
      await Promise.all(Array.from({ length: Math.min(PARALLEL, INPUTS - sent) }, one));
    }
    expect(problems.slice(0, 20)).toEqual([]);
    expect(sent).toBe(INPUTS);
    expect(pressed).toBeGreaterThan(20);
  });
});
