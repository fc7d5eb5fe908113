// One-time links to the key form, so exchange keys are typed into a web page and never into
// chat history. The link carries a random token; only its sha256 is stored. A link works once,
// for 10 minutes; expired, used and unknown links all look the same to the visitor.
import { createHash, randomBytes } from 'node:crypto';
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { parseExchange, validateCredentialInput } from '../domain/credentials.ts';
import { findExchange } from '../domain/exchanges.ts';
import { appError } from '../kernel/errors.ts';
import { isUuid } from '../kernel/ids.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { writeCredentials, type CredentialDeps, type CredentialView } from './credentials.ts';
import type { AppDeps } from './deps.ts';

export const KEY_INTAKE_TTL_MS = 10 * 60_000;
/** The form lives at `${PUBLIC_BASE_URL}${KEY_INTAKE_PATH}/<token>`. */
export const KEY_INTAKE_PATH = '/keys';

const TOKEN = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url
const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
const invalidLink = () => err(appError('intake_link_invalid'));

export const keyIntakeUrl = (publicBaseUrl: string, token: string): string =>
  `${publicBaseUrl.replace(/\/+$/, '')}${KEY_INTAKE_PATH}/${token}`;

export async function createKeyIntake(
  deps: AppDeps,
  input: { userId: string; exchange: string; platform: IdentityPlatform; chatId: string; publicBaseUrl: string },
): Promise<Result<{ url: string; expiresAt: Date }>> {
  const exchange = parseExchange(input.exchange);
  if (!exchange.ok) return exchange;
  if (!isUuid(input.userId) || !input.chatId) return err(appError('invalid_input'));
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + KEY_INTAKE_TTL_MS);
  await inTransaction(deps.db, async (tx) => {
    const row = await tx.keyIntakeToken.create({
      data: {
        tokenHash: hashToken(token),
        userId: input.userId,
        exchange: exchange.value.id,
        platform: input.platform,
        chatId: input.chatId,
        expiresAt,
        createdAt: now,
      },
    });
    await recordAudit(tx, {
      actor: { type: 'user', id: input.userId },
      action: 'key_intake.created',
      entityType: 'key_intake',
      entityId: row.id,
      after: { userId: input.userId, exchange: row.exchange, platform: row.platform, expiresAt },
      at: now,
    });
  });
  return ok({ url: keyIntakeUrl(input.publicBaseUrl, token), expiresAt });
}

export interface KeyIntakeForm {
  readonly exchange: string;
  readonly exchangeName: string;
  readonly needsPassphrase: boolean;
  readonly expiresAt: Date;
}

/** What the form page needs to render; does not use the link up. */
export async function peekKeyIntake(deps: AppDeps, token: string): Promise<Result<KeyIntakeForm>> {
  if (!TOKEN.test(token)) return invalidLink();
  const row = await read(() => deps.db.keyIntakeToken.findUnique({ where: { tokenHash: hashToken(token) } }));
  if (!row || row.usedAt || row.expiresAt <= deps.clock.now()) return invalidLink();
  const exchange = findExchange(row.exchange);
  if (!exchange) return invalidLink();
  return ok({ exchange: exchange.id, exchangeName: exchange.name, needsPassphrase: exchange.needsPassphrase, expiresAt: row.expiresAt });
}

export interface RedeemedKeyIntake {
  readonly userId: string;
  readonly exchange: string;
  readonly platform: IdentityPlatform;
  /** Where to confirm ("keys saved") in chat. */
  readonly chatId: string;
  readonly credential: CredentialView;
}

/**
 * Stores the submitted keys and uses the link up, in one transaction. Input mistakes are
 * reported before the link is consumed, so the visitor can correct them and submit again.
 */
export async function redeemKeyIntake(
  deps: CredentialDeps,
  input: { token: string; apiKey: string; apiSecret: string; passphrase?: string | null },
): Promise<Result<RedeemedKeyIntake>> {
  const form = await peekKeyIntake(deps, input.token);
  if (!form.ok) return form;
  const keys = validateCredentialInput({ exchange: form.value.exchange, apiKey: input.apiKey, apiSecret: input.apiSecret, passphrase: input.passphrase });
  if (!keys.ok) return keys;

  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    // The conditional UPDATE is the claim: concurrent redeemers queue on the row lock and
    // re-check used_at after the winner commits, so exactly one gets a row back.
    const claimed = await tx.$queryRaw<{ id: string; userId: string; platform: IdentityPlatform; chatId: string }[]>`
      UPDATE key_intake_tokens SET used_at = ${now}
      WHERE token_hash = ${hashToken(input.token)} AND used_at IS NULL AND expires_at > ${now}
      RETURNING id::text AS "id", user_id::text AS "userId", platform::text AS "platform", chat_id AS "chatId"`;
    const token = claimed[0];
    if (!token) return invalidLink();
    const actor = { type: 'user', id: token.userId } as const;
    const credential = await writeCredentials(tx, deps.vault, keys.value, { userId: token.userId, actor, now });
    await recordAudit(tx, {
      actor,
      action: 'key_intake.redeemed',
      entityType: 'key_intake',
      entityId: token.id,
      after: { userId: token.userId, exchange: credential.exchange, label: credential.label },
      at: now,
    });
    return ok({ userId: token.userId, exchange: credential.exchange, platform: token.platform, chatId: token.chatId, credential });
  });
}
