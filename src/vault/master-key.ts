// The master key that encrypts exchange API keys at rest. It comes from CLIENT_MASTER_KEY, or,
// when that is unset (someone trying the service on a laptop), from a key generated once under
// DATA_DIR. Nothing here ever puts key material into an error message or a log line.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sodium from 'libsodium-wrappers-sumo';
import type { Logger } from '../kernel/logger.ts';

export const MASTER_KEY_BYTES = 32;
export const MIN_PASSPHRASE_LENGTH = 16;

export interface MasterKey {
  readonly key: Uint8Array;
  /** Short fingerprint recorded on every row, so a row sealed under another key is recognised. */
  readonly version: string;
  readonly source: 'configured' | 'generated-file';
}

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

export const masterKeyPath = (dataDir: string): string => join(dataDir, 'master.key');
/** Where rotation parks the next key until its transaction has committed. */
export const pendingMasterKeyPath = (dataDir: string): string => `${masterKeyPath(dataDir)}.next`;

/** First 16 hex chars of BLAKE2b keyed with the master key over a constant: identifies, never reveals. */
export async function keyFingerprint(key: Uint8Array): Promise<string> {
  await sodium.ready;
  return sodium.crypto_generichash(32, 'ait/master-key-fingerprint/v1', key, 'hex').slice(0, 16);
}

/**
 * Argon2id needs a salt, and a per-deployment random one would have to be stored next to the
 * data, so losing it would lose every key. A fixed application salt is acceptable here: a salt
 * exists to stop one precomputation from attacking many users' passwords at once, and there is
 * exactly one passphrase per deployment; the app-specific value still rules out generic tables.
 */
const PASSPHRASE_SALT_LABEL = 'ait-trading-service/client-master-key/v1';

/**
 * Parses a configured key: 64 hex chars, base64 (standard or URL-safe) of exactly 32 bytes, or
 * else a passphrase of at least 16 characters stretched with Argon2id. `name` only labels errors.
 */
export async function parseMasterKey(raw: string, name = 'CLIENT_MASTER_KEY'): Promise<Uint8Array> {
  await sodium.ready;
  const value = raw.trim();
  if (/^[0-9a-f]{64}$/i.test(value)) return sodium.from_hex(value);
  const decoded = decodeBase64Key(value);
  if (decoded) return decoded;
  // An all-hex value of another length is a truncated key, not a passphrase: deriving a
  // different key from it would make every stored row unreadable.
  if (/^[0-9a-f]{32,}$/i.test(value)) {
    throw new MasterKeyError(`${name} looks like a hex key but has ${value.length} characters; a hex key has exactly 64`);
  }
  if (value.length < MIN_PASSPHRASE_LENGTH) {
    throw new MasterKeyError(
      `${name} must be a 32-byte key in base64 or hex, or a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  }
  const salt = sodium.crypto_generichash(sodium.crypto_pwhash_SALTBYTES, PASSPHRASE_SALT_LABEL, null);
  return sodium.crypto_pwhash(
    MASTER_KEY_BYTES,
    value,
    salt,
    sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE,
    sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

function decodeBase64Key(value: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) return null;
  const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length !== MASTER_KEY_BYTES) return null;
  const key = new Uint8Array(bytes);
  bytes.fill(0);
  return key;
}

export async function generateMasterKey(): Promise<Uint8Array> {
  await sodium.ready;
  return sodium.randombytes_buf(MASTER_KEY_BYTES);
}

export async function toMasterKey(key: Uint8Array, source: MasterKey['source']): Promise<MasterKey> {
  return { key, version: await keyFingerprint(key), source };
}

export interface LoadMasterKeyOptions {
  readonly configured: string | null;
  readonly dataDir: string;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
}

/** The configured key, else the key in `<dataDir>/master.key`, generated on first use. */
export async function loadMasterKey(options: LoadMasterKeyOptions): Promise<MasterKey> {
  const { configured, dataDir, logger } = options;
  if (await exists(pendingMasterKeyPath(dataDir))) {
    logger.warn(
      { path: pendingMasterKeyPath(dataDir) },
      'an interrupted master-key rotation left a pending key: run `npm run rotate-master-key` again to finish it',
    );
  }
  if (configured !== null) return toMasterKey(await parseMasterKey(configured), 'configured');

  const path = masterKeyPath(dataDir);
  let key = await readKeyFile(path);
  if (key) {
    await tightenMode(path, logger);
    logger.warn({ path }, 'CLIENT_MASTER_KEY is not set: using the generated master key file; set CLIENT_MASTER_KEY in production');
  } else {
    const created = await generateMasterKey();
    // Another process on the same data directory may have won the race; use its key then.
    key = (await writeKeyFileExclusive(path, created)) ? created : await readKeyFile(path);
    if (!key) throw new MasterKeyError(`${path} disappeared while it was being created`);
    logger.warn(
      { path },
      'CLIENT_MASTER_KEY is not set: generated a master key for exchange API keys and saved it owner-only in this file. Back it up with the database (without it stored keys cannot be read) and set CLIENT_MASTER_KEY in production',
    );
  }
  return toMasterKey(key, 'generated-file');
}

/** A key file holds the key as base64 on one line; null when the file does not exist. */
export async function readKeyFile(path: string): Promise<Uint8Array | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MasterKeyError(`cannot read the master key file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  await sodium.ready;
  const value = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(value) ? sodium.from_hex(value) : decodeBase64Key(value);
  if (!key) throw new MasterKeyError(`the master key file ${path} is damaged: it must hold a 32-byte key in base64 or hex`);
  return key;
}

/** Writes a key file owner-only (0600), replacing any existing file atomically (rename). */
export async function writeKeyFile(path: string, key: Uint8Array): Promise<void> {
  const temp = await writeTempKeyFile(path, key);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // Make the rename itself durable before anyone relies on the new key.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Creates a key file owner-only unless one already exists; false when it did. */
async function writeKeyFileExclusive(path: string, key: Uint8Array): Promise<boolean> {
  const temp = await writeTempKeyFile(path, key);
  try {
    // link() fails if the target exists, so two first starts cannot both write a key.
    await link(temp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // Some mounted volumes have no hard links: fall back to an exclusive create.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return writeKeyFileDirect(path, key);
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function writeKeyFileDirect(path: string, key: Uint8Array): Promise<boolean> {
  try {
    await writeNewFile(path, key);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function writeTempKeyFile(path: string, key: Uint8Array): Promise<string> {
  // The key file is 0600; the folder is DATA_DIR, shared with the embedded database, which runs
  // as another user and must be able to enter it, so the folder itself stays 0755.
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeNewFile(temp, key);
  return temp;
}

/** Created with mode 0600 from the start, so the key is never readable by others, not even briefly. */
async function writeNewFile(path: string, key: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(`${Buffer.from(key).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function tightenMode(path: string, logger: Pick<Logger, 'warn'>): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    await chmod(path, 0o600);
    logger.warn({ path, was: (mode & 0o777).toString(8) }, 'the master key file was readable by others: restricted it to its owner (0600)');
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
