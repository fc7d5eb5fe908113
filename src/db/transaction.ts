import type { Db, Tx } from './client.ts';
import { translateDbError } from './errors.ts';

export interface TransactionOptions {
  /** How long to wait for a pooled connection (ms). */
  readonly maxWait?: number;
  /** How long the whole transaction may take (ms). */
  readonly timeout?: number;
}

/**
 * Runs `work` in one database transaction (READ COMMITTED). Work that must serialise on a row
 * lock (the capacity pool) queues behind other transactions, so the defaults are generous.
 */
export async function inTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  try {
    return await db.$transaction(work, { maxWait: options.maxWait ?? 15_000, timeout: options.timeout ?? 20_000 });
  } catch (error) {
    return translateDbError(error);
  }
}

/** A read outside a transaction, with the same error translation. */
export async function read<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    return translateDbError(error);
  }
}
