// Guard limits per tier and per user, set by admins: validated, audited, user beats tier beats
// the environment; and user lookups by @name are exact (LIKE characters are not patterns).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import { findUserId } from '../../src/app/user-directory.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import type { Person } from '../support/chat.ts';
import { createTradingHarness, type TradingHarness } from '../support/trading.ts';

const admin: Person = { platform: 'telegram', id: '8401', username: 'boss' };
const dana: Person = { platform: 'telegram', id: '8402', username: 'dana_x' };
const danaLookalike: Person = { platform: 'telegram', id: '8403', username: 'danaYx' };
let database: MigratedDatabase;
let h: TradingHarness;
const text = (r: { text: string } | null) => r?.text ?? '';

beforeAll(async () => {
  database = await createMigratedDatabase();
  h = await createTradingHarness(database, { adminTelegramIds: [admin.id] });
  // The look-alike exists first: an unescaped "dana_x" pattern would find it.
  await h.chat.say(danaLookalike, '/start');
  const issued = await issueLicense(database.deps, { tier: 'trader', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await h.chat.say(dana, `/activate ${issued.value.key}`))).toContain('activated');
});
afterAll(async () => {
  await h?.close();
  await database?.drop();
});

describe('/admin limits', () => {
  it('tier limits apply to the tier\'s users; a user\'s own beat them; clear removes them', async () => {
    expect(text(await h.chat.say(admin, '/admin limits tier:trader {"guard":{"maxRunLossUsd":50,"staleTickerMs":120000}}'))).toContain('saved');
    const shown = text(await h.chat.say(admin, '/admin limits @dana_x'));
    expect(shown).toContain('"maxRunLossUsd":50');
    expect(shown).toContain('"staleTickerMs":120000');
    expect(shown).toContain('"maxGlobalDrawdownUsd":500');
    await h.chat.say(admin, '/admin limits @dana_x {"guard":{"maxRunLossUsd":20}}');
    expect(text(await h.chat.say(admin, '/admin limits @dana_x'))).toContain('"maxRunLossUsd":20');
    expect(text(await h.chat.say(dana, '/status'))).toContain('No active runs');
    await h.chat.say(admin, '/admin limits @dana_x clear');
    expect(text(await h.chat.say(admin, '/admin limits @dana_x'))).toContain('"maxRunLossUsd":50');
    const audit = await database.db.auditEntry.findMany({ where: { action: { in: ['tier.limits_set', 'user.limits_set'] } } });
    expect(audit).toHaveLength(3);
  });

  it('refuses unknown keys, bad values and bad JSON, changing nothing', async () => {
    const before = await database.db.tier.findUniqueOrThrow({ where: { id: 'trader' } });
    expect(text(await h.chat.say(admin, '/admin limits tier:trader {"guard":{"maxLoss":5}}'))).toContain('maxRunLossUsd');
    expect(text(await h.chat.say(admin, '/admin limits tier:trader {"guard":{"maxRunLossUsd":-5}}'))).toContain('positive');
    expect(text(await h.chat.say(admin, '/admin limits tier:trader {guard:'))).toContain('not valid JSON');
    expect(text(await h.chat.say(admin, '/admin limits tier:nope {}'))).toContain('no tier');
    expect((await database.db.tier.findUniqueOrThrow({ where: { id: 'trader' } })).limits).toEqual(before.limits);
    expect(text(await h.chat.say(dana, '/admin limits @dana_x {}'))).toBe('Sorry, that command is for admins only.');
  });

  it('finds users by @name exactly: _ and % are not wildcards and a lone backslash is just a character', async () => {
    const danaId = (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: dana.id } } })).userId;
    expect(await findUserId(database.deps, '@DANA_X')).toBe(danaId);
    expect(await findUserId(database.deps, '@dana%')).toBeNull();
    expect(await findUserId(database.deps, '@\\')).toBeNull();
    const lookalikeId = await findUserId(database.deps, '@danaYx');
    expect(lookalikeId).not.toBe(danaId);
    expect(await findUserId(database.deps, '@dana_x')).toBe(danaId);
  });
});
