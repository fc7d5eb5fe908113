// Exchange API keys: stored encrypted (src/vault), listed as harmless views, decrypted in one
// place only. Each row's ciphertext is bound to `${userId}:${exchange}:${label}`, so a row's
// bytes copied under another owner do not open.
import sodium from 'libsodium-wrappers-sumo';
import type { Tx } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import {
  credentialAssociatedData,
  parseExchange,
  parseLabel,
  validateCredentialInput,
  type CredentialInput,
  type ValidCredentials,
} from '../domain/credentials.ts';
import { findExchange } from '../domain/exchanges.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import type { Vault } from '../vault/vault.ts';
import { recordAudit } from './audit.ts';
import type { Actor, AppDeps } from './deps.ts';

export type CredentialDeps = AppDeps & { readonly vault: Vault };

/** What users and logs may see of stored keys. */
export interface CredentialView {
  readonly exchange: string;
  readonly exchangeName: string;
  readonly label: string;
  readonly apiKeyLast4: string;
  readonly hasPassphrase: boolean;
  readonly addedAt: Date;
  readonly updatedAt: Date;
}

export interface ExchangeSecrets {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly passphrase?: string;
}

export { credentialAssociatedData };

interface CredentialRow {
  id: string;
  userId: string;
  exchange: string;
  label: string;
  apiKeyLast4: string;
  hasPassphrase: boolean;
  ciphertext: Uint8Array<ArrayBuffer>;
  nonce: Uint8Array<ArrayBuffer>;
  keyVersion: string;
  createdAt: Date;
  updatedAt: Date;
}

export function toCredentialView(row: Omit<CredentialRow, 'id' | 'userId' | 'ciphertext' | 'nonce' | 'keyVersion'>): CredentialView {
  return {
    exchange: row.exchange,
    exchangeName: findExchange(row.exchange)?.name ?? row.exchange,
    label: row.label,
    apiKeyLast4: row.apiKeyLast4,
    hasPassphrase: row.hasPassphrase,
    addedAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Adds or replaces the keys for (user, exchange, label). */
export async function storeCredentials(
  deps: CredentialDeps,
  input: CredentialInput & { userId: string; actor?: Actor },
): Promise<Result<CredentialView>> {
  if (!isUuid(input.userId)) return err(appError('invalid_input'));
  const valid = validateCredentialInput(input);
  if (!valid.ok) return valid;
  const actor = input.actor ?? { type: 'user', id: input.userId };
  return inTransaction(deps.db, async (tx) =>
    ok(await writeCredentials(tx, deps.vault, valid.value, { userId: input.userId, actor, now: deps.clock.now() })),
  );
}

/** Encrypts and upserts validated keys, with an audit entry, in the caller's transaction. */
export async function writeCredentials(
  tx: Tx,
  vault: Vault,
  keys: ValidCredentials,
  context: { userId: string; actor: Actor; now: Date },
): Promise<CredentialView> {
  const { userId, now } = context;
  const sealed = seal(vault, credentialAssociatedData(userId, keys.exchange.id, keys.label), keys);
  const identity = { userId, exchange: keys.exchange.id, label: keys.label };
  const previous = await tx.exchangeCredential.findUnique({ where: { userId_exchange_label: identity } });
  // A replaced key has not been checked with the exchange yet.
  const fields = { ...sealed, apiKeyLast4: keys.apiKey.slice(-4), hasPassphrase: keys.passphrase !== null, verifiedAt: null, updatedAt: now };
  const row = await tx.exchangeCredential.upsert({
    where: { userId_exchange_label: identity },
    create: { ...identity, ...fields, createdAt: now },
    update: fields,
  });
  const view = toCredentialView(row);
  await recordAudit(tx, {
    actor: context.actor,
    action: previous ? 'credential.replaced' : 'credential.added',
    entityType: 'credential',
    entityId: row.id,
    ...(previous ? { before: { userId, ...toCredentialView(previous) } } : {}),
    after: { userId, ...view },
    at: now,
  });
  return view;
}

function seal(vault: Vault, associatedData: string, keys: ValidCredentials) {
  const payload = sodium.from_string(JSON.stringify({ apiKey: keys.apiKey, apiSecret: keys.apiSecret, passphrase: keys.passphrase }));
  try {
    return vault.encrypt(payload, associatedData);
  } finally {
    sodium.memzero(payload);
  }
}

export async function listCredentials(deps: AppDeps, userId: string): Promise<CredentialView[]> {
  if (!isUuid(userId)) return [];
  const rows = await read(() =>
    deps.db.exchangeCredential.findMany({ where: { userId }, orderBy: [{ exchange: 'asc' }, { label: 'asc' }] }),
  );
  return rows.map(toCredentialView);
}

interface CredentialRef {
  readonly userId: string;
  readonly exchange: string;
  readonly label?: string | null;
}

function parseRef(ref: CredentialRef): Result<{ userId: string; exchange: string; label: string }> {
  const exchange = parseExchange(ref.exchange);
  if (!exchange.ok) return exchange;
  const label = parseLabel(ref.label);
  if (!label.ok) return label;
  return ok({ userId: ref.userId, exchange: exchange.value.id, label: label.value });
}

export async function removeCredentials(deps: AppDeps, ref: CredentialRef & { actor?: Actor }): Promise<Result<CredentialView>> {
  const parsed = parseRef(ref);
  if (!parsed.ok) return parsed;
  if (!isUuid(ref.userId)) return err(appError('credentials_not_found'));
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const row = await tx.exchangeCredential.findUnique({ where: { userId_exchange_label: parsed.value } });
    // deleteMany counts, so a concurrent removal of the same row reports not-found instead of throwing.
    const removed = row ? (await tx.exchangeCredential.deleteMany({ where: { id: row.id } })).count : 0;
    if (!row || removed === 0) return err(appError('credentials_not_found'));
    const view = toCredentialView(row);
    await recordAudit(tx, {
      actor: ref.actor ?? { type: 'user', id: ref.userId },
      action: 'credential.removed',
      entityType: 'credential',
      entityId: row.id,
      before: { userId: row.userId, ...view },
      at: now,
    });
    return ok(view);
  });
}

/**
 * THE one place exchange secrets are decrypted. Call it only where an order is about to be
 * placed (or a key is about to be checked with the exchange), keep the result in a local
 * variable, and never log, store or return it further. JS strings cannot be wiped, so the
 * secrets live as long as the caller holds them; the decrypted bytes are zeroed at once.
 */
export async function decryptCredentials(deps: CredentialDeps, ref: CredentialRef): Promise<Result<ExchangeSecrets>> {
  const parsed = parseRef(ref);
  if (!parsed.ok) return parsed;
  if (!isUuid(ref.userId)) return err(appError('credentials_not_found'));
  const row = await read(() => deps.db.exchangeCredential.findUnique({ where: { userId_exchange_label: parsed.value } }));
  if (!row) return err(appError('credentials_not_found'));
  const secrets = openRow(deps.vault, row);
  return secrets ? ok(secrets) : err(appError('credentials_undecryptable', { exchange: row.exchange, label: row.label }));
}

/** Null when the row was sealed under another key, tampered with or moved to another owner. */
function openRow(vault: Vault, row: CredentialRow): ExchangeSecrets | null {
  try {
    return vault.open(row, credentialAssociatedData(row.userId, row.exchange, row.label), (plaintext) => {
      const payload = JSON.parse(sodium.to_string(plaintext)) as Record<string, unknown>;
      if (typeof payload.apiKey !== 'string' || typeof payload.apiSecret !== 'string') return null;
      return guarded(payload.apiKey, payload.apiSecret, typeof payload.passphrase === 'string' ? payload.passphrase : undefined);
    });
  } catch {
    // Deliberately no cause: a JSON.parse message would quote the plaintext.
    return null;
  }
}

/** A plain object whose JSON and console forms are redacted, in case it reaches a log by mistake. */
function guarded(apiKey: string, apiSecret: string, passphrase: string | undefined): ExchangeSecrets {
  const secrets: ExchangeSecrets = passphrase === undefined ? { apiKey, apiSecret } : { apiKey, apiSecret, passphrase };
  const redacted = () => ({ apiKey: '[redacted]', apiSecret: '[redacted]', ...(passphrase === undefined ? {} : { passphrase: '[redacted]' }) });
  Object.defineProperty(secrets, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(secrets, Symbol.for('nodejs.util.inspect.custom'), { value: redacted, enumerable: false });
  return secrets;
}

/**
 * Moves every credential of one user to another (account linking), re-sealing each under its
 * new owner: a plain UPDATE of user_id would leave ciphertexts bound to the old owner, which no
 * longer open. Rows that do not open under the current key move as they are (they were already
 * unreadable). The caller must have checked that no (exchange, label) clashes.
 */
export async function reassignCredentials(
  tx: Tx,
  vault: Vault,
  move: { fromUserId: string; toUserId: string; actor: Actor; now: Date },
): Promise<number> {
  const rows = await tx.exchangeCredential.findMany({ where: { userId: move.fromUserId } });
  for (const row of rows) {
    const ad = credentialAssociatedData(move.toUserId, row.exchange, row.label);
    let sealed: ReturnType<Vault['encrypt']> | null = null;
    try {
      sealed = vault.open(row, credentialAssociatedData(row.userId, row.exchange, row.label), (plaintext) => vault.encrypt(plaintext, ad));
    } catch {
      sealed = null;
    }
    await tx.exchangeCredential.update({
      where: { id: row.id },
      data: { userId: move.toUserId, ...(sealed ?? {}), updatedAt: row.updatedAt },
    });
    await recordAudit(tx, {
      actor: move.actor,
      action: 'credential.moved',
      entityType: 'credential',
      entityId: row.id,
      before: { userId: move.fromUserId },
      after: { userId: move.toUserId, resealed: sealed !== null },
      at: move.now,
    });
  }
  return rows.length;
}
