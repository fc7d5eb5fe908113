// /link: a one-time code issued on one platform and redeemed on the other joins both identities
// to one account (license, keys, alerts shared). Redeeming merges the redeemer's account into
// the issuer's, in one transaction.
import { createHash, randomInt } from 'node:crypto';
import type { Tx } from '../db/client.ts';
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { inTransaction } from '../db/transaction.ts';
import { KEY_ALPHABET } from '../domain/license-key.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { queueCommunitySync } from './community-requests.ts';
import { reassignCredentials, type CredentialDeps } from './credentials.ts';
import type { Actor, AppDeps } from './deps.ts';
import type { Vault } from '../vault/vault.ts';
import type { ResolvedIdentity } from './users.ts';

export const LINK_CODE_TTL_MS = 10 * 60_000;

const hashCode = (code: string) => createHash('sha256').update(normalise(code), 'utf8').digest('hex');
const normalise = (code: string) => code.toUpperCase().replace(/[\s-]/g, '');

export async function createLinkCode(
  deps: AppDeps,
  input: { userId: string; platform: IdentityPlatform },
): Promise<{ code: string; expiresAt: Date }> {
  let raw = '';
  for (let i = 0; i < 8; i++) raw += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
  const expiresAt = new Date(deps.clock.now().getTime() + LINK_CODE_TTL_MS);
  await inTransaction(deps.db, (tx) =>
    tx.linkCode.create({ data: { codeHash: hashCode(code), userId: input.userId, platform: input.platform, expiresAt, createdAt: deps.clock.now() } }),
  );
  return { code, expiresAt };
}

export interface LinkResult {
  readonly userId: string;
  readonly alreadyLinked: boolean;
}

/** Needs the vault: stored exchange keys are sealed to their owner and must be re-sealed when they move. */
export async function redeemLinkCode(deps: CredentialDeps, input: { code: string; identity: ResolvedIdentity }): Promise<Result<LinkResult>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const hash = hashCode(input.code);
    const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM link_codes WHERE code_hash = ${hash} FOR UPDATE`;
    const code = locked[0] ? await tx.linkCode.findUnique({ where: { id: locked[0].id } }) : null;
    if (!code || code.usedAt || code.expiresAt <= now) return err(appError('link_code_invalid'));
    if (code.platform === input.identity.platform) return err(appError('link_same_platform'));

    const target = code.userId;
    const source = input.identity.userId;
    if (target === source) {
      await tx.linkCode.update({ where: { id: code.id }, data: { usedAt: now } });
      return ok({ userId: target, alreadyLinked: true });
    }
    const taken = await tx.identity.findFirst({ where: { userId: target, platform: input.identity.platform } });
    if (taken) return err(appError('link_platform_taken'));
    const conflict = await credentialConflict(tx, source, target);
    if (conflict) return err(appError('link_conflict', { exchange: conflict }));

    await mergeAccounts(tx, deps.vault, { source, target, actor: { type: 'user', id: source }, now });
    await tx.linkCode.update({ where: { id: code.id }, data: { usedAt: now } });
    // The merged account's licenses now cover both identities: roles and groups follow. (The
    // source account's own pending syncs went with it; this one covers its identities too.)
    await queueCommunitySync(tx, [{ userId: target, reason: 'identity_linked' }], now);
    await recordAudit(tx, {
      actor: { type: 'user', id: source },
      action: 'identity.linked',
      entityType: 'identity',
      entityId: input.identity.identityId,
      before: { userId: source, platform: input.identity.platform },
      after: { userId: target, platform: input.identity.platform, linkedFrom: code.platform },
      at: now,
    });
    return ok({ userId: target, alreadyLinked: false });
  });
}

async function credentialConflict(tx: Tx, source: string, target: string): Promise<string | null> {
  const [mine, theirs] = await Promise.all([
    tx.exchangeCredential.findMany({ where: { userId: source }, select: { exchange: true, label: true } }),
    tx.exchangeCredential.findMany({ where: { userId: target }, select: { exchange: true, label: true } }),
  ]);
  const keys = new Set(theirs.map((c) => `${c.exchange}/${c.label}`));
  return mine.find((c) => keys.has(`${c.exchange}/${c.label}`))?.exchange ?? null;
}

/** Moves everything the source account owns to the target, then removes the empty source. */
async function mergeAccounts(
  tx: Tx,
  vault: Vault,
  { source, target, actor, now }: { source: string; target: string; actor: Actor; now: Date },
): Promise<void> {
  const move = { where: { userId: source }, data: { userId: target } };
  await reassignCredentials(tx, vault, { fromUserId: source, toUserId: target, actor, now });
  await tx.identity.updateMany({ ...move, data: { ...move.data, updatedAt: now } });
  await tx.license.updateMany({ ...move, data: { ...move.data, updatedAt: now } });
  await tx.poolHold.updateMany({ ...move, data: { ...move.data, updatedAt: now } });
  await tx.keyIntakeToken.updateMany(move);
  await tx.chatAction.updateMany(move);
  // Alert switches: the target's own choices win where both set one.
  const targetTypes = (await tx.alertPreference.findMany({ where: { userId: target }, select: { alertType: true } })).map((p) => p.alertType);
  await tx.alertPreference.deleteMany({ where: { userId: source, alertType: { in: targetTypes } } });
  await tx.alertPreference.updateMany(move);
  await tx.linkCode.deleteMany({ where: { userId: source } });
  await tx.user.delete({ where: { id: source } });
}
