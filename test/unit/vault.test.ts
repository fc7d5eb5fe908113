import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorMessages } from '../../src/kernel/errors.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { EXCHANGES, findExchange } from '../../src/domain/exchanges.ts';
import { validateCredentialInput } from '../../src/domain/credentials.ts';
import {
  keyFingerprint,
  loadMasterKey,
  masterKeyPath,
  MasterKeyError,
  parseMasterKey,
} from '../../src/vault/master-key.ts';
import { Vault, VaultError } from '../../src/vault/vault.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'ait-vault-'));
  dirs.push(dir);
  return dir;
}
function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
  return { logger, output: () => lines.join(''), entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('master key parsing', () => {
  const bytes = new Uint8Array(randomBytes(32));

  it('reads 64 hex characters as the key itself, in either case', async () => {
    const hex = Buffer.from(bytes).toString('hex');
    expect(await parseMasterKey(hex)).toEqual(bytes);
    expect(await parseMasterKey(hex.toUpperCase())).toEqual(bytes);
  });

  it('reads base64 (standard, URL-safe, unpadded) decoding to exactly 32 bytes', async () => {
    const b64 = Buffer.from(bytes).toString('base64');
    expect(await parseMasterKey(b64)).toEqual(bytes);
    expect(await parseMasterKey(Buffer.from(bytes).toString('base64url'))).toEqual(bytes);
    expect(await parseMasterKey(` ${b64.replace(/=$/, '')}\n`)).toEqual(bytes);
  });

  it('stretches a passphrase with Argon2id, deterministically', async () => {
    const a = await parseMasterKey('correct horse battery staple');
    const again = await parseMasterKey('correct horse battery staple');
    const other = await parseMasterKey('correct horse battery stapler');
    expect(a).toHaveLength(32);
    expect(again).toEqual(a);
    expect(other).not.toEqual(a);
    expect(await keyFingerprint(again)).toBe(await keyFingerprint(a));
  });

  it('rejects a short passphrase and a truncated hex key without echoing them', async () => {
    const short = 'hunter2-secret';
    const error = await rejection(parseMasterKey(short));
    expect(error).toBeInstanceOf(MasterKeyError);
    expect(error.message).toMatch(/CLIENT_MASTER_KEY must be a 32-byte key in base64 or hex, or a passphrase of at least 16 characters/);
    expect(error.message).not.toContain(short);

    const truncated = Buffer.from(bytes).toString('hex').slice(0, 62);
    const hexError = await rejection(parseMasterKey(truncated, 'NEW_CLIENT_MASTER_KEY'));
    expect(hexError.message).toMatch(/NEW_CLIENT_MASTER_KEY looks like a hex key but has 62 characters/);
    expect(hexError.message).not.toContain(truncated);
  });

  it('fingerprints are 16 hex characters and differ between keys', async () => {
    const v1 = await keyFingerprint(bytes);
    expect(v1).toMatch(/^[0-9a-f]{16}$/);
    expect(await keyFingerprint(new Uint8Array(randomBytes(32)))).not.toBe(v1);
  });
});

describe('loading the master key', () => {
  it('generates an owner-only key file once, warns, and reuses it on the next start', async () => {
    const dataDir = join(await tempDir(), 'nested', 'data');
    const first = capture();
    const generated = await loadMasterKey({ configured: null, dataDir, logger: first.logger });
    expect(generated.source).toBe('generated-file');
    expect(generated.key).toHaveLength(32);
    expect((await stat(masterKeyPath(dataDir))).mode & 0o777).toBe(0o600);
    // DATA_DIR is shared with the embedded database (another user): it must stay enterable.
    expect((await stat(dataDir)).mode & 0o111).toBe(0o111);
    expect(first.entries()).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/CLIENT_MASTER_KEY is not set: generated/) })]);

    const second = capture();
    const reused = await loadMasterKey({ configured: null, dataDir, logger: second.logger });
    expect(reused.key).toEqual(generated.key);
    expect(reused.version).toBe(generated.version);
    expect(second.output()).toMatch(/using the generated master key file/);

    // The key itself never reaches the log.
    const fileText = (await readFile(masterKeyPath(dataDir), 'utf8')).trim();
    expect(Buffer.from(fileText, 'base64')).toEqual(Buffer.from(generated.key));
    expect(first.output() + second.output()).not.toContain(fileText);
  });

  it('restricts a key file that others can read', async () => {
    const dataDir = await tempDir();
    const key = randomBytes(32);
    await writeFile(masterKeyPath(dataDir), key.toString('base64'));
    await chmod(masterKeyPath(dataDir), 0o644);
    const { logger, output } = capture();
    const loaded = await loadMasterKey({ configured: null, dataDir, logger });
    expect(Buffer.from(loaded.key)).toEqual(key);
    expect((await stat(masterKeyPath(dataDir))).mode & 0o777).toBe(0o600);
    expect(output()).toMatch(/readable by others/);
  });

  it('prefers CLIENT_MASTER_KEY and reports a damaged key file clearly', async () => {
    const dataDir = await tempDir();
    const hex = randomBytes(32).toString('hex');
    const { logger } = capture();
    const configured = await loadMasterKey({ configured: hex, dataDir, logger });
    expect(configured).toMatchObject({ source: 'configured', version: await keyFingerprint(Buffer.from(hex, 'hex')) });
    await expect(stat(masterKeyPath(dataDir))).rejects.toThrow(/ENOENT/);

    await writeFile(masterKeyPath(dataDir), 'not a key', { mode: 0o600 });
    const error = await rejection(loadMasterKey({ configured: null, dataDir, logger }));
    expect(error.message).toMatch(/master key file .* is damaged/);
  });
});

describe('vault', () => {
  const ad = 'user-1:binance:default';
  const vaultFor = (key: Uint8Array) => Vault.create({ key });

  it('round-trips with a fresh 24-byte nonce each time', async () => {
    const vault = await vaultFor(new Uint8Array(randomBytes(32)));
    const a = vault.encrypt('{"apiKey":"abc"}', ad);
    const b = vault.encrypt('{"apiKey":"abc"}', ad);
    expect(a.nonce).toHaveLength(24);
    expect(Buffer.from(a.nonce)).not.toEqual(Buffer.from(b.nonce));
    expect(Buffer.from(a.ciphertext)).not.toEqual(Buffer.from(b.ciphertext));
    expect(a.keyVersion).toBe(vault.keyVersion);
    expect(Buffer.from(vault.decrypt(a, ad)).toString()).toBe('{"apiKey":"abc"}');
  });

  it('open() hands out the plaintext and zeroes it afterwards', async () => {
    const vault = await vaultFor(new Uint8Array(randomBytes(32)));
    let seen: Uint8Array | undefined;
    const text = vault.open(vault.encrypt('secret-bytes', ad), ad, (p) => ((seen = p), Buffer.from(p).toString()));
    expect(text).toBe('secret-bytes');
    expect([...seen!].every((b) => b === 0)).toBe(true);
  });

  it('refuses tampered ciphertext, another row\'s associated data and another key', async () => {
    const key = new Uint8Array(randomBytes(32));
    const vault = await vaultFor(key);
    const sealed = vault.encrypt('api-secret-value', ad);

    const tampered = Uint8Array.from(sealed.ciphertext);
    tampered[3]! ^= 0x01;
    expect(() => vault.decrypt({ ...sealed, ciphertext: tampered }, ad)).toThrow(VaultError);
    const otherNonce = Uint8Array.from(sealed.nonce);
    otherNonce[0]! ^= 0x01;
    expect(() => vault.decrypt({ ...sealed, nonce: otherNonce }, ad)).toThrow(/failed authentication/);
    expect(() => vault.decrypt(sealed, 'user-2:binance:default')).toThrow(/failed authentication/);

    const stranger = await vaultFor(new Uint8Array(randomBytes(32)));
    expect(() => stranger.decrypt(sealed, ad)).toThrow(/different master key/);
    // Even with the version forged, the wrong key fails authentication.
    expect(() => stranger.decrypt({ ...sealed, keyVersion: stranger.keyVersion }, ad)).toThrow(/failed authentication/);
    // The right key still works, so the failures above are about the changes alone.
    expect(Buffer.from(vault.decrypt(sealed, ad)).toString()).toBe('api-secret-value');
  });

  it('keeps its own copy of the key', async () => {
    const key = new Uint8Array(randomBytes(32));
    const vault = await vaultFor(key);
    const sealed = vault.encrypt('x'.repeat(20), ad);
    key.fill(0);
    expect(Buffer.from(vault.decrypt(sealed, ad)).toString()).toBe('x'.repeat(20));
  });
});

describe('exchanges and key input', () => {
  it('finds exchanges by id or name, ignoring case and punctuation', () => {
    expect(findExchange('OKX')).toMatchObject({ id: 'okx', needsPassphrase: true });
    expect(findExchange('Gate.io')?.id).toBe('gate');
    expect(findExchange(' KuCoin ')?.id).toBe('kucoin');
    expect(findExchange('ftx')).toBeUndefined();
    expect(findExchange('')).toBeUndefined();
  });

  it('the unknown_exchange message lists every supported exchange', () => {
    for (const exchange of EXCHANGES) expect(errorMessages.unknown_exchange).toContain(exchange.name);
  });

  it('explains bad input without echoing it', () => {
    const apiKey = 'AbCdEfGh12345678 with a space';
    const result = validateCredentialInput({ exchange: 'binance', apiKey, apiSecret: 's'.repeat(32) });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ code: 'invalid_credentials_input', details: { field: 'apiKey' } });
    expect(JSON.stringify(result.error)).not.toContain(apiKey.slice(0, 16));

    const pasted = 'k3yPastedInTheExchangeField';
    const unknown = validateCredentialInput({ exchange: pasted, apiKey: 'a'.repeat(20), apiSecret: 'b'.repeat(20) });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_exchange' } });
    expect(JSON.stringify(unknown)).not.toContain(pasted);

    expect(validateCredentialInput({ exchange: 'okx', apiKey: 'a'.repeat(20), apiSecret: 'b'.repeat(20) })).toMatchObject({
      ok: false,
      error: { code: 'passphrase_required' },
    });
    expect(
      validateCredentialInput({ exchange: 'binance', apiKey: 'a'.repeat(20), apiSecret: 'b'.repeat(20), passphrase: 'not-needed' }),
    ).toMatchObject({ ok: false, error: { code: 'invalid_credentials_input', details: { field: 'passphrase' } } });
  });
});
