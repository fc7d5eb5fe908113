// Re-encrypts every stored exchange credential under a new master key, all or nothing.
import { credentialAssociatedData } from '../domain/credentials.ts';
import type { Db } from '../db/client.ts';
import { inTransaction } from '../db/transaction.ts';
import { Vault } from './vault.ts';

export interface RotationReport {
  readonly fromVersion: string;
  readonly toVersion: string;
  /** Rows re-encrypted by this run. */
  readonly rotated: number;
  /** Rows already under the new key (a rerun after an interrupted rotation). */
  readonly alreadyCurrent: number;
}

export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationError';
  }
}

export async function rotateMasterKey(
  db: Db,
  oldKey: { readonly key: Uint8Array },
  newKey: { readonly key: Uint8Array },
  options: { timeoutMs?: number } = {},
): Promise<RotationReport> {
  const [from, to] = await Promise.all([Vault.create(oldKey), Vault.create(newKey)]);
  try {
    if (from.keyVersion === to.keyVersion) throw new RotationError('the new master key is the same as the current one');
    return await inTransaction(
      db,
      async (tx) => {
        // Blocks writers (a service still running on the old key) until commit; readers go on.
        await tx.$executeRaw`LOCK TABLE exchange_credentials IN SHARE ROW EXCLUSIVE MODE`;
        const rows = await tx.exchangeCredential.findMany({ orderBy: { id: 'asc' } });
        const strangers = new Map<string, number>();
        for (const row of rows) {
          if (row.keyVersion !== from.keyVersion && row.keyVersion !== to.keyVersion) {
            strangers.set(row.keyVersion, (strangers.get(row.keyVersion) ?? 0) + 1);
          }
        }
        if (strangers.size > 0) {
          const list = [...strangers].map(([version, count]) => `${version} (${count} rows)`).join(', ');
          throw new RotationError(
            `refusing to rotate: some rows are encrypted under a key that is neither the current (${from.keyVersion}) nor the new (${to.keyVersion}) one: ${list}. Nothing was changed.`,
          );
        }
        let rotated = 0;
        for (const row of rows) {
          if (row.keyVersion === to.keyVersion) continue;
          const ad = credentialAssociatedData(row.userId, row.exchange, row.label);
          let sealed;
          try {
            sealed = from.open(row, ad, (plaintext) => to.encrypt(plaintext, ad));
          } catch {
            throw new RotationError(`refusing to rotate: credential ${row.id} does not decrypt under the current key (damaged or tampered). Nothing was changed.`);
          }
          // updatedAt stays: it tells users when they last changed their keys.
          await tx.exchangeCredential.update({ where: { id: row.id }, data: { ...sealed, updatedAt: row.updatedAt } });
          rotated++;
        }
        return { fromVersion: from.keyVersion, toVersion: to.keyVersion, rotated, alreadyCurrent: rows.length - rotated };
      },
      { timeout: options.timeoutMs ?? 10 * 60_000 },
    );
  } finally {
    from.destroy();
    to.destroy();
  }
}
