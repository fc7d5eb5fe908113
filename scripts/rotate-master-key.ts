// Re-encrypts every stored exchange credential under a new master key.
// Usage: stop the service, then `npm run rotate-master-key`.
//   CLIENT_MASTER_KEY set:   NEW_CLIENT_MASTER_KEY=<new key> npm run rotate-master-key, then
//                            set CLIENT_MASTER_KEY to that value and start the service.
//   CLIENT_MASTER_KEY unset: the key in DATA_DIR/master.key is replaced by NEW_CLIENT_MASTER_KEY
//                            or, without it, by a freshly generated key.
// The next key is parked in master.key.next before the transaction, so a crash at any point
// loses nothing: running the script again finishes the job.
import { existsSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { ConfigError, parseConfig } from '../src/config/config.ts';
import { createDb } from '../src/db/client.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrator.ts';
import { createLogger } from '../src/kernel/logger.ts';
import { projectPath } from '../src/kernel/paths.ts';
import {
  generateMasterKey,
  keyFingerprint,
  loadMasterKey,
  masterKeyPath,
  MasterKeyError,
  parseMasterKey,
  pendingMasterKeyPath,
  readKeyFile,
  writeKeyFile,
} from '../src/vault/master-key.ts';
import { RotationError, rotateMasterKey } from '../src/vault/rotate.ts';

class UsageError extends Error {}

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  // Read here, like a composition root: it exists only for this maintenance command.
  const newRaw = process.env.NEW_CLIENT_MASTER_KEY?.trim() || null;
  const logger = createLogger({ level: config.logLevel, secretValues: [...config.secretValues, ...(newRaw ? [newRaw] : [])] });
  const keyFile = masterKeyPath(config.dataDir);
  const pendingFile = pendingMasterKeyPath(config.dataDir);

  if (config.masterKey === null && !existsSync(keyFile)) {
    throw new UsageError(`nothing to rotate: CLIENT_MASTER_KEY is unset and ${keyFile} does not exist`);
  }
  const current = await loadMasterKey({ configured: config.masterKey, dataDir: config.dataDir, logger });
  const fileBased = current.source === 'generated-file';

  let next: Uint8Array;
  const pending = fileBased ? await readKeyFile(pendingFile) : null;
  if (newRaw) {
    next = await parseMasterKey(newRaw, 'NEW_CLIENT_MASTER_KEY');
    if (pending && (await keyFingerprint(pending)) !== (await keyFingerprint(next))) {
      throw new UsageError(
        `an interrupted rotation left ${pendingFile} holding a different key: run again without NEW_CLIENT_MASTER_KEY to finish that rotation first`,
      );
    }
  } else if (!fileBased) {
    throw new UsageError(
      'CLIENT_MASTER_KEY is set, so the new key must be given too: set NEW_CLIENT_MASTER_KEY (a 32-byte key in base64 or hex, or a passphrase of at least 16 characters)',
    );
  } else {
    next = pending ?? (await generateMasterKey());
    if (pending) process.stdout.write(`resuming the rotation interrupted earlier (${pendingFile})\n`);
  }
  if ((await keyFingerprint(next)) === current.version) {
    throw new UsageError('the new master key is the same as the current one');
  }
  if (fileBased && !pending) await writeKeyFile(pendingFile, next);

  const database = await openDatabase(config.database, logger);
  try {
    await migrate(database.url, projectPath('prisma/migrations'), logger);
    const db = createDb(database.url, { poolSize: 1 });
    try {
      const report = await rotateMasterKey(db, current, { key: next });
      // Only after commit does the file switch to the new key.
      if (fileBased) await rename(pendingFile, keyFile);
      process.stdout.write(
        `re-encrypted ${report.rotated} credential(s) (${report.alreadyCurrent} already under the new key): ${report.fromVersion} -> ${report.toVersion}\n`,
      );
      if (fileBased) process.stdout.write(`${keyFile} now holds the new key\n`);
      else process.stdout.write('now set CLIENT_MASTER_KEY to the value of NEW_CLIENT_MASTER_KEY and start the service\n');
    } finally {
      await db.$disconnect();
    }
  } catch (error) {
    // A refused or failed rotation changed nothing; a parked key the database never used can go.
    if (fileBased && !pending && error instanceof RotationError) await unlink(pendingFile).catch(() => undefined);
    throw error;
  } finally {
    await database.stop?.();
  }
}

try {
  await main();
} catch (error) {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof MasterKeyError || error instanceof RotationError) {
    process.stderr.write(`rotate-master-key: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
