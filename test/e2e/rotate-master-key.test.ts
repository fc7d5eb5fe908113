// `npm run rotate-master-key` as an operator runs it: its own process, a real database, a data directory.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCredentials, storeCredentials, type CredentialDeps } from '../../src/app/credentials.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectRoot } from '../../src/kernel/paths.ts';
import { keyFingerprint, loadMasterKey, masterKeyPath, pendingMasterKeyPath, writeKeyFile } from '../../src/vault/master-key.ts';
import { rotateMasterKey } from '../../src/vault/rotate.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

let database: MigratedDatabase;
let dir: string;
beforeAll(async () => {
  database = await createMigratedDatabase();
  dir = await mkdtemp(join(tmpdir(), 'ait-rotate-'));
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const quiet = createLogger({ level: 'silent' });

function rotate(vars: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const { PATH, HOME, TMPDIR } = process.env;
  const env = { PATH, HOME, TMPDIR, LOG_LEVEL: 'warn', DATABASE_URL: database.url, ...vars };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/rotate-master-key.ts'], { cwd: projectRoot, env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function vaultDeps(key: Uint8Array): Promise<CredentialDeps> {
  return { ...database.deps, vault: await Vault.create({ key }) };
}

describe('npm run rotate-master-key', () => {
  it('with the generated key file: re-encrypts every row, then replaces the file (owner-only)', async () => {
    const dataDir = join(dir, 'data');
    const original = await loadMasterKey({ configured: null, dataDir, logger: quiet });
    const before = await vaultDeps(original.key);
    const userId = (await resolveIdentity(before, { platform: 'telegram', externalId: 'rotate-1' })).userId;
    const keys = { apiKey: `k${randomBytes(16).toString('hex')}`, apiSecret: `s${randomBytes(16).toString('hex')}` };
    await storeCredentials(before, { userId, exchange: 'binance', ...keys });
    await storeCredentials(before, { userId, exchange: 'okx', ...keys, passphrase: 'okx-passphrase' });

    const run = await rotate({ DATA_DIR: dataDir });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const current = await loadMasterKey({ configured: null, dataDir, logger: quiet });
    expect(current.version).not.toBe(original.version);
    expect(run.stdout).toContain(`re-encrypted 2 credential(s) (0 already under the new key): ${original.version} -> ${current.version}`);
    expect((await stat(masterKeyPath(dataDir))).mode & 0o777).toBe(0o600);
    expect(await readdir(dataDir)).toEqual(['master.key']);

    const after = await vaultDeps(current.key);
    expect(await decryptCredentials(after, { userId, exchange: 'binance' })).toEqual({ ok: true, value: keys });
    expect(await decryptCredentials(before, { userId, exchange: 'binance' })).toMatchObject({ ok: false, error: { code: 'credentials_undecryptable' } });
    expect(await database.db.exchangeCredential.count({ where: { keyVersion: current.version } })).toBe(2);
  });

  // Continues from the first test's data directory and rows.
  it('with CLIENT_MASTER_KEY: needs NEW_CLIENT_MASTER_KEY, refuses rows under an unknown key, and never prints keys', async () => {
    const dataDir = join(dir, 'data');
    const fileKey = (await loadMasterKey({ configured: null, dataDir, logger: quiet })).key;
    const configured = Buffer.from(fileKey).toString('hex');
    const newKey = 'a brand new passphrase for the vault';

    const missing = await rotate({ DATA_DIR: dataDir, CLIENT_MASTER_KEY: configured });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^rotate-master-key: CLIENT_MASTER_KEY is set, so the new key must be given too: set NEW_CLIENT_MASTER_KEY/);

    // A row under some other key makes the whole rotation refuse.
    const stranger = await vaultDeps(new Uint8Array(randomBytes(32)));
    const userId = (await resolveIdentity(stranger, { platform: 'telegram', externalId: 'rotate-2' })).userId;
    await storeCredentials(stranger, { userId, exchange: 'kraken', apiKey: 'k'.repeat(20), apiSecret: 's'.repeat(20) });
    const refused = await rotate({ DATA_DIR: dataDir, CLIENT_MASTER_KEY: configured, NEW_CLIENT_MASTER_KEY: newKey });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`refusing to rotate: some rows are encrypted under a key that is neither the current`);
    expect(refused.stderr).toContain(`${stranger.vault.keyVersion} (1 rows)`);
    expect(await database.db.exchangeCredential.count({ where: { keyVersion: await keyFingerprint(fileKey) } })).toBe(2);
    await database.db.exchangeCredential.deleteMany({ where: { keyVersion: stranger.vault.keyVersion } });

    const done = await rotate({ DATA_DIR: dataDir, CLIENT_MASTER_KEY: configured, NEW_CLIENT_MASTER_KEY: newKey });
    expect(done.code).toBe(0);
    const next = await loadMasterKey({ configured: newKey, dataDir, logger: quiet });
    expect(done.stdout).toContain(`re-encrypted 2 credential(s)`);
    expect(done.stdout).toContain('now set CLIENT_MASTER_KEY to the value of NEW_CLIENT_MASTER_KEY');
    expect(await database.db.exchangeCredential.count({ where: { keyVersion: next.version } })).toBe(2);
    // The configured key is the operator's: the file is left alone.
    expect(Buffer.from((await readFile(masterKeyPath(dataDir), 'utf8')).trim(), 'base64')).toEqual(Buffer.from(fileKey));
    for (const output of [missing, refused, done].flatMap((r) => [r.stdout, r.stderr])) {
      expect(output).not.toContain(configured);
      expect(output).not.toContain(newKey);
    }
  });

  it('finishes a rotation that crashed after its commit but before the key file was replaced', async () => {
    await database.db.exchangeCredential.deleteMany({});
    const dataDir = join(dir, 'crashed');
    const original = await loadMasterKey({ configured: null, dataDir, logger: quiet });
    const before = await vaultDeps(original.key);
    const userId = (await resolveIdentity(before, { platform: 'telegram', externalId: 'rotate-3' })).userId;
    const keys = { apiKey: `k${randomBytes(16).toString('hex')}`, apiSecret: `s${randomBytes(16).toString('hex')}` };
    await storeCredentials(before, { userId, exchange: 'bybit', ...keys });
    // What the script leaves behind if it dies right after the commit.
    const parked = new Uint8Array(randomBytes(32));
    await writeKeyFile(pendingMasterKeyPath(dataDir), parked);
    await rotateMasterKey(database.db, original, { key: parked });

    const run = await rotate({ DATA_DIR: dataDir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('resuming the rotation interrupted earlier');
    expect(run.stdout).toContain('re-encrypted 0 credential(s) (1 already under the new key)');
    expect(await readdir(dataDir)).toEqual(['master.key']);
    const current = await loadMasterKey({ configured: null, dataDir, logger: quiet });
    expect(Buffer.from(current.key)).toEqual(Buffer.from(parked));
    expect(await decryptCredentials(await vaultDeps(current.key), { userId, exchange: 'bybit' })).toEqual({ ok: true, value: keys });
  });
});
