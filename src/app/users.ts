// Users and their external identities (Telegram, Discord, a self-hosted machine).
import { isUniqueViolation } from '../db/errors.ts';
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { inTransaction, read } from '../db/transaction.ts';
import type { AppDeps } from './deps.ts';

export type { IdentityPlatform };

export interface IdentityRef {
  readonly platform: IdentityPlatform;
  readonly externalId: string;
  readonly username?: string | null;
}

export interface ResolvedIdentity {
  readonly userId: string;
  readonly identityId: string;
  readonly platform: IdentityPlatform;
  readonly externalId: string;
  readonly created: boolean;
}

/** Finds the user behind an identity, creating both on first contact. Safe under concurrency. */
export async function resolveIdentity(deps: AppDeps, ref: IdentityRef): Promise<ResolvedIdentity> {
  const existing = await findIdentity(deps, ref);
  if (existing) return existing;
  try {
    return await inTransaction(deps.db, async (tx) => {
      const now = deps.clock.now();
      const user = await tx.user.create({ data: { displayName: ref.username ?? null, createdAt: now } });
      const identity = await tx.identity.create({
        data: { userId: user.id, platform: ref.platform, externalId: ref.externalId, username: ref.username ?? null, createdAt: now },
      });
      return { userId: user.id, identityId: identity.id, platform: ref.platform, externalId: ref.externalId, created: true };
    });
  } catch (error) {
    // Two first messages from the same person raced; the other one created it.
    if (isUniqueViolation(error)) {
      const raced = await findIdentity(deps, ref);
      if (raced) return raced;
    }
    throw error;
  }
}

export async function findIdentity(deps: AppDeps, ref: IdentityRef): Promise<ResolvedIdentity | null> {
  const identity = await read(() =>
    deps.db.identity.findUnique({ where: { platform_externalId: { platform: ref.platform, externalId: ref.externalId } } }),
  );
  if (!identity) return null;
  return {
    userId: identity.userId,
    identityId: identity.id,
    platform: identity.platform,
    externalId: identity.externalId,
    created: false,
  };
}
