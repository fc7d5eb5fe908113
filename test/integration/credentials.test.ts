import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decryptCredentials,
  listCredentials,
  reassignCredentials,
  removeCredentials,
  storeCredentials,
  type CredentialDeps,
} from '../../src/app/credentials.ts';
import { createKeyIntake, KEY_INTAKE_TTL_MS, peekKeyIntake, redeemKeyIntake } from '../../src/app/key-intake.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { inTransaction } from '../../src/db/transaction.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { rotateMasterKey } from '../../src/vault/rotate.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { dumpJson as json, errorCode, value } from '../support/results.ts';

let database: MigratedDatabase;
let deps: CredentialDeps;
let counter = 0;

beforeAll(async () => {
  database = await createMigratedDatabase({}, { poolSize: 12 });
  deps = { ...database.deps, vault: await Vault.create({ key: new Uint8Array(randomBytes(32)) }) };
});
afterAll(async () => {
  await database?.drop();
});

const newUser = async () => (await resolveIdentity(deps, { platform: 'telegram', externalId: `cred-user-${++counter}` })).userId;
/** Realistic-looking, unique secrets, so a leak anywhere is unambiguous. */
const secrets = () => ({
  apiKey: `vmPUZE6mv9SD5VNHk4HlWFsOr${randomBytes(12).toString('hex')}`,
  apiSecret: `NhqPtmdSJYdKjVHjA7PZj4Mge${randomBytes(16).toString('hex')}`,
  passphrase: `Pass-${randomBytes(6).toString('hex')}!`,
});
type Secrets = ReturnType<typeof secrets>;

/** Every form a leaked secret could take in a dump: as text, as hex (bytea) and as JSON-escaped text. */
function expectNoSecrets(text: string, s: Partial<Secrets>) {
  for (const secret of Object.values(s)) {
    expect(text).not.toContain(secret);
    expect(text.toLowerCase()).not.toContain(Buffer.from(secret).toString('hex'));
    expect(text).not.toContain(JSON.stringify(secret).slice(1, -1));
  }
}

describe('storing exchange keys', () => {
  it('stores, lists, replaces, decrypts and removes, auditing each change', async () => {
    const userId = await newUser();
    const first = secrets();
    const view = value(await storeCredentials(deps, { userId, exchange: 'Binance', apiKey: ` ${first.apiKey}\n`, apiSecret: first.apiSecret }));
    expect(view).toEqual({
      exchange: 'binance',
      exchangeName: 'Binance',
      label: 'default',
      apiKeyLast4: first.apiKey.slice(-4),
      hasPassphrase: false,
      addedAt: database.clock.now(),
      updatedAt: database.clock.now(),
    });
    const okx = secrets();
    value(await storeCredentials(deps, { userId, exchange: 'okx', label: 'Main', ...okx }));
    expect((await listCredentials(deps, userId)).map((c) => [c.exchange, c.label, c.hasPassphrase])).toEqual([
      ['binance', 'default', false],
      ['okx', 'main', true],
    ]);
    expect(value(await decryptCredentials(deps, { userId, exchange: 'binance' }))).toEqual({ apiKey: first.apiKey, apiSecret: first.apiSecret });
    expect(value(await decryptCredentials(deps, { userId, exchange: 'OKX', label: 'main' }))).toEqual(okx);

    database.clock.advance(60_000);
    const replacement = secrets();
    const replaced = value(await storeCredentials(deps, { userId, exchange: 'binance', apiKey: replacement.apiKey, apiSecret: replacement.apiSecret }));
    expect(replaced.addedAt).toEqual(view.addedAt);
    expect(replaced.updatedAt).toEqual(database.clock.now());
    expect(value(await decryptCredentials(deps, { userId, exchange: 'binance' })).apiSecret).toBe(replacement.apiSecret);
    expect(await database.db.exchangeCredential.count({ where: { userId } })).toBe(2);

    expect(value(await removeCredentials(deps, { userId, exchange: 'binance' })).apiKeyLast4).toBe(replacement.apiKey.slice(-4));
    expect(errorCode(await removeCredentials(deps, { userId, exchange: 'binance' }))).toBe('credentials_not_found');
    expect(errorCode(await decryptCredentials(deps, { userId, exchange: 'binance' }))).toBe('credentials_not_found');
    expect((await listCredentials(deps, userId)).map((c) => c.exchange)).toEqual(['okx']);

    const audit = await database.db.auditEntry.findMany({ where: { entityType: 'credential', actorId: userId }, orderBy: { id: 'asc' } });
    expect(audit.map((e) => e.action)).toEqual(['credential.added', 'credential.added', 'credential.replaced', 'credential.removed']);
    expectNoSecrets(json(audit), { ...first, ...replacement });
    expectNoSecrets(json(audit), okx);
  });

  it('validates the exchange, the passphrase rule and the key shape', async () => {
    const userId = await newUser();
    const s = secrets();
    expect(errorCode(await storeCredentials(deps, { userId, exchange: 'mtgox', ...s }))).toBe('unknown_exchange');
    expect(errorCode(await storeCredentials(deps, { userId, exchange: 'kucoin', apiKey: s.apiKey, apiSecret: s.apiSecret }))).toBe('passphrase_required');
    expect(errorCode(await storeCredentials(deps, { userId, exchange: 'bybit', ...s }))).toBe('invalid_credentials_input');
    expect(errorCode(await storeCredentials(deps, { userId, exchange: 'bybit', apiKey: '   ', apiSecret: s.apiSecret }))).toBe('invalid_credentials_input');
    expect(errorCode(await storeCredentials(deps, { userId, exchange: 'bybit', apiKey: 'short', apiSecret: s.apiSecret }))).toBe('invalid_credentials_input');
    expect(errorCode(await storeCredentials(deps, { userId, exchange: 'bybit', apiKey: s.apiKey, apiSecret: s.apiKey }))).toBe('invalid_credentials_input');
    expect(await listCredentials(deps, userId)).toEqual([]);
  });

  it('concurrent saves of the same keys leave one row', async () => {
    const userId = await newUser();
    const results = await Promise.all(Array.from({ length: 5 }, () => storeCredentials(deps, { userId, exchange: 'kraken', ...secrets(), passphrase: null })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(await database.db.exchangeCredential.count({ where: { userId, exchange: 'kraken' } })).toBe(1);
  });

  it('keeps only the last four characters of the key in clear: the raw row holds no secret', async () => {
    const userId = await newUser();
    const s = secrets();
    value(await storeCredentials(deps, { userId, exchange: 'bitget', ...s }));
    const rows = await database.db.$queryRaw<{ text: string; ciphertext: Uint8Array }[]>`
      SELECT row_to_json(c)::text AS text, ciphertext FROM exchange_credentials c WHERE user_id = ${userId}::uuid`;
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    // The dump is the real row: it shows the clear fields (and bytea as \x hex).
    expect(row.text).toContain(`"api_key_last4":"${s.apiKey.slice(-4)}"`);
    expect(row.text).toContain(`"key_version":"${deps.vault.keyVersion}"`);
    expect(row.text).toMatch(/"ciphertext":"\\\\x[0-9a-f]+"/);
    expectNoSecrets(row.text, s);
    const bytes = Buffer.from(row.ciphertext);
    for (const secret of Object.values(s)) expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(bytes.length).toBeGreaterThan(s.apiKey.length + s.apiSecret.length + s.passphrase.length);
  });
});

describe('tenant isolation', () => {
  it("user B can neither list, remove nor decrypt user A's keys, even with A's ciphertext copied into B's row", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const a = secrets();
    value(await storeCredentials(deps, { userId: alice, exchange: 'binance', apiKey: a.apiKey, apiSecret: a.apiSecret }));

    expect(await listCredentials(deps, bob)).toEqual([]);
    expect(errorCode(await removeCredentials(deps, { userId: bob, exchange: 'binance' }))).toBe('credentials_not_found');
    expect(errorCode(await decryptCredentials(deps, { userId: bob, exchange: 'binance' }))).toBe('credentials_not_found');
    expect(errorCode(await decryptCredentials(deps, { userId: 'not-a-uuid', exchange: 'binance' }))).toBe('credentials_not_found');

    const b = secrets();
    value(await storeCredentials(deps, { userId: bob, exchange: 'binance', apiKey: b.apiKey, apiSecret: b.apiSecret }));
    await database.db.$executeRaw`
      UPDATE exchange_credentials AS target SET ciphertext = source.ciphertext, nonce = source.nonce, key_version = source.key_version
      FROM exchange_credentials AS source
      WHERE source.user_id = ${alice}::uuid AND target.user_id = ${bob}::uuid AND source.exchange = 'binance' AND target.exchange = 'binance'`;
    const stolen = await decryptCredentials(deps, { userId: bob, exchange: 'binance' });
    expect(errorCode(stolen)).toBe('credentials_undecryptable');
    expectNoSecrets(json(stolen), a);
    // Alice's own row is untouched and still opens.
    expect(value(await decryptCredentials(deps, { userId: alice, exchange: 'binance' })).apiKey).toBe(a.apiKey);
  });

  it('moving keys to another account (linking) re-seals them for their new owner', async () => {
    const from = await newUser();
    const to = await newUser();
    const s = secrets();
    value(await storeCredentials(deps, { userId: from, exchange: 'okx', ...s }));
    const moved = await inTransaction(deps.db, (tx) =>
      reassignCredentials(tx, deps.vault, { fromUserId: from, toUserId: to, actor: { type: 'system', id: 'link' }, now: deps.clock.now() }),
    );
    expect(moved).toBe(1);
    expect(value(await decryptCredentials(deps, { userId: to, exchange: 'okx' }))).toEqual(s);
    expect(await listCredentials(deps, from)).toEqual([]);
  });
});

describe('key intake links', () => {
  const intake = async (userId: string, exchange = 'binance') =>
    value(await createKeyIntake(deps, { userId, exchange, platform: 'telegram', chatId: `chat-${userId}`, publicBaseUrl: 'https://bot.example.com/' }));
  const tokenOf = (url: string) => url.split('/').pop()!;

  it('issues a one-time link, stores only a hash of its token, and works exactly once', async () => {
    const userId = await newUser();
    const { url, expiresAt } = await intake(userId, 'KuCoin');
    expect(url).toMatch(/^https:\/\/bot\.example\.com\/keys\/[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toEqual(new Date(database.clock.now().getTime() + KEY_INTAKE_TTL_MS));
    const token = tokenOf(url);
    expect(json(await database.db.$queryRaw`SELECT * FROM key_intake_tokens`)).not.toContain(token);

    expect(value(await peekKeyIntake(deps, token))).toMatchObject({ exchange: 'kucoin', exchangeName: 'KuCoin', needsPassphrase: true });
    const s = secrets();
    // A mistake in the form does not use the link up.
    expect(errorCode(await redeemKeyIntake(deps, { token, apiKey: s.apiKey, apiSecret: s.apiSecret }))).toBe('passphrase_required');
    const redeemed = value(await redeemKeyIntake(deps, { token, ...s }));
    expect(redeemed).toMatchObject({ userId, exchange: 'kucoin', platform: 'telegram', chatId: `chat-${userId}`, credential: { exchange: 'kucoin', hasPassphrase: true } });
    expect(value(await decryptCredentials(deps, { userId, exchange: 'kucoin' }))).toEqual(s);

    const again = await redeemKeyIntake(deps, { token, ...secrets() });
    expect(again).toEqual({ ok: false, error: { code: 'intake_link_invalid', message: 'This link has expired or was already used. Ask the bot for a new one.' } });
    expect(errorCode(await peekKeyIntake(deps, token))).toBe('intake_link_invalid');
    // Unknown and malformed tokens get the very same answer.
    expect(await peekKeyIntake(deps, randomBytes(32).toString('base64url'))).toEqual(again);
    expect(await peekKeyIntake(deps, 'nonsense')).toEqual(again);
    expect(errorCode(await createKeyIntake(deps, { userId, exchange: 'ftx', platform: 'telegram', chatId: '1', publicBaseUrl: 'http://x' }))).toBe('unknown_exchange');

    const audit = await database.db.auditEntry.findMany({ where: { actorId: userId }, orderBy: { id: 'asc' } });
    expect(audit.map((e) => e.action)).toEqual(['key_intake.created', 'credential.added', 'key_intake.redeemed']);
    expectNoSecrets(json(audit), s);
    expect(json(audit)).not.toContain(token);
  });

  it('ten concurrent redemptions of one link: exactly one succeeds', async () => {
    const userId = await newUser();
    const token = tokenOf((await intake(userId)).url);
    const attempts = Array.from({ length: 10 }, () => secrets());
    const results = await Promise.all(attempts.map((s) => redeemKeyIntake(deps, { token, apiKey: s.apiKey, apiSecret: s.apiSecret })));
    const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map(errorCode)).toEqual(Array(9).fill('intake_link_invalid'));
    // The stored keys are the winner's.
    expect(value(await decryptCredentials(deps, { userId, exchange: 'binance' })).apiKey).toBe(attempts[winners[0]!]!.apiKey);
    expect(await database.db.auditEntry.count({ where: { actorId: userId, action: 'key_intake.redeemed' } })).toBe(1);
  });

  it('expires after ten minutes', async () => {
    const userId = await newUser();
    const token = tokenOf((await intake(userId)).url);
    database.clock.advance(KEY_INTAKE_TTL_MS - 1_000);
    expect(value(await peekKeyIntake(deps, token)).exchange).toBe('binance');
    database.clock.advance(1_000);
    expect(errorCode(await peekKeyIntake(deps, token))).toBe('intake_link_invalid');
    const s = secrets();
    expect(errorCode(await redeemKeyIntake(deps, { token, apiKey: s.apiKey, apiSecret: s.apiSecret }))).toBe('intake_link_invalid');
    expect(await listCredentials(deps, userId)).toEqual([]);
  });
});

describe('logs', () => {
  it('a full store and decrypt cycle, with views, errors and even the secrets object logged, leaks nothing', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
    const userId = await newUser();
    const s = secrets();

    const stored = await storeCredentials(deps, { userId, exchange: 'okx', ...s });
    logger.info({ result: stored }, 'stored keys');
    logger.info({ credentials: await listCredentials(deps, userId) }, 'listed keys');
    // Mistakes: the key pasted as the exchange name, a secret with a stray character, a missing passphrase.
    for (const attempt of [
      await storeCredentials(deps, { userId, exchange: s.apiKey, ...s }),
      await storeCredentials(deps, { userId, exchange: 'okx', apiKey: s.apiKey, apiSecret: `${s.apiSecret}\u0007`, passphrase: s.passphrase }),
      await storeCredentials(deps, { userId, exchange: 'okx', apiKey: s.apiKey, apiSecret: s.apiSecret }),
    ]) {
      expect(attempt.ok).toBe(false);
      if (!attempt.ok) logger.warn({ error: attempt.error }, `could not store keys: ${attempt.error.message}`);
    }
    const decrypted = value(await decryptCredentials(deps, { userId, exchange: 'okx' }));
    expect(decrypted).toEqual(s);
    // Careless logging of the secrets object itself, as a field and inside a message.
    logger.info({ decrypted }, 'about to place an order');
    logger.debug(`secrets were ${JSON.stringify(decrypted)}`);
    const missing = await decryptCredentials(deps, { userId, exchange: 'okx', label: 'other' });
    if (!missing.ok) logger.warn({ error: missing.error }, missing.error.message);

    const output = lines.join('');
    expect(lines.length).toBe(8);
    expect(output).toContain(s.apiKey.slice(-4));
    expect(output).toContain('passphrase you chose');
    expectNoSecrets(output, s);
  });
});

describe('master key rotation', () => {
  let rotation: MigratedDatabase;
  beforeAll(async () => {
    rotation = await createMigratedDatabase();
  });
  afterAll(async () => {
    await rotation?.drop();
  });

  it('re-encrypts every row in one go; they open under the new key and no longer under the old', async () => {
    const oldKey = { key: new Uint8Array(randomBytes(32)) };
    const newKey = { key: new Uint8Array(randomBytes(32)) };
    const before: CredentialDeps = { ...rotation.deps, vault: await Vault.create(oldKey) };
    const after: CredentialDeps = { ...rotation.deps, vault: await Vault.create(newKey) };
    const stored: { userId: string; exchange: string; keys: Secrets | Omit<Secrets, 'passphrase'> }[] = [];
    for (let i = 0; i < 3; i++) {
      const userId = (await resolveIdentity(before, { platform: 'discord', externalId: `rot-${i}` })).userId;
      const s = secrets();
      value(await storeCredentials(before, { userId, exchange: 'okx', ...s }));
      const { passphrase: _, ...plain } = secrets();
      value(await storeCredentials(before, { userId, exchange: 'binance', ...plain }));
      stored.push({ userId, exchange: 'okx', keys: s }, { userId, exchange: 'binance', keys: plain });
    }
    const ciphertextsBefore = (await rotation.db.exchangeCredential.findMany({ orderBy: { id: 'asc' } })).map((r) => Buffer.from(r.ciphertext).toString('hex'));

    const report = await rotateMasterKey(rotation.db, oldKey, newKey);
    expect(report).toEqual({ fromVersion: before.vault.keyVersion, toVersion: after.vault.keyVersion, rotated: 6, alreadyCurrent: 0 });

    const rows = await rotation.db.exchangeCredential.findMany({ orderBy: { id: 'asc' } });
    expect(new Set(rows.map((r) => r.keyVersion))).toEqual(new Set([after.vault.keyVersion]));
    rows.forEach((r, i) => expect(Buffer.from(r.ciphertext).toString('hex')).not.toBe(ciphertextsBefore[i]));
    for (const { userId, exchange, keys } of stored) {
      expect(value(await decryptCredentials(after, { userId, exchange }))).toEqual(keys);
      expect(errorCode(await decryptCredentials(before, { userId, exchange }))).toBe('credentials_undecryptable');
    }

    // A rerun (say after a crash before the key file was replaced) finds nothing left to do.
    expect(await rotateMasterKey(rotation.db, oldKey, newKey)).toMatchObject({ rotated: 0, alreadyCurrent: 6 });

    // A row under a third, unknown key: refused, and nothing changes.
    const stranger: CredentialDeps = { ...rotation.deps, vault: await Vault.create({ key: new Uint8Array(randomBytes(32)) }) };
    value(await storeCredentials(stranger, { userId: stored[0]!.userId, exchange: 'kraken', ...secrets(), passphrase: null }));
    const snapshot = json(await rotation.db.exchangeCredential.findMany({ orderBy: { id: 'asc' } }));
    const third = { key: new Uint8Array(randomBytes(32)) };
    await expect(rotateMasterKey(rotation.db, newKey, third)).rejects.toThrow(
      new RegExp(`refusing to rotate: .*${stranger.vault.keyVersion} \\(1 rows\\)`),
    );
    expect(json(await rotation.db.exchangeCredential.findMany({ orderBy: { id: 'asc' } }))).toBe(snapshot);
    await expect(rotateMasterKey(rotation.db, newKey, newKey)).rejects.toThrow(/same as the current one/);
  });
});
