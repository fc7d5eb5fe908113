// Finding and describing users for admins: by user id, by platform id, or by @username.
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { read } from '../db/transaction.ts';
import { isUuid } from '../kernel/ids.ts';
import type { AppDeps } from './deps.ts';
import { toLicenseView, type LicenseView } from './license-records.ts';

export interface UserProfile {
  readonly userId: string;
  readonly createdAt: Date;
  readonly identities: readonly { platform: IdentityPlatform; externalId: string; username: string | null }[];
  readonly licenses: readonly LicenseView[];
  readonly credentialCount: number;
  /** Set by a payment dispute: purchases are paused until an admin clears it. */
  readonly flag: { readonly at: Date; readonly reason: string } | null;
}

export async function findUserId(deps: AppDeps, ref: string): Promise<string | null> {
  const needle = ref.trim();
  if (isUuid(needle)) {
    const user = await read(() => deps.db.user.findUnique({ where: { id: needle }, select: { id: true } }));
    return user?.id ?? null;
  }
  const identity = await read(() =>
    deps.db.identity.findFirst({
      where: needle.startsWith('@')
        ? { username: { equals: escapeLike(needle.slice(1)), mode: 'insensitive' } }
        : { externalId: needle },
      orderBy: { createdAt: 'asc' },
    }),
  );
  return identity?.userId ?? null;
}

export async function userProfile(deps: AppDeps, userId: string): Promise<UserProfile | null> {
  const user = await read(() =>
    deps.db.user.findUnique({
      where: { id: userId },
      include: { identities: true, licenses: { orderBy: { createdAt: 'asc' } }, _count: { select: { credentials: true } } },
    }),
  );
  if (!user) return null;
  return {
    userId: user.id,
    createdAt: user.createdAt,
    identities: user.identities.map((i) => ({ platform: i.platform, externalId: i.externalId, username: i.username })),
    licenses: user.licenses.map(toLicenseView),
    credentialCount: user._count.credentials,
    flag: user.flaggedAt ? { at: user.flaggedAt, reason: user.flagReason ?? '' } : null,
  };
}

/**
 * Prisma turns an insensitive `equals` into ILIKE, where backslash, % and _ are pattern characters
 * (a lone backslash even makes PostgreSQL throw): escape them so the match stays exact.
 */
const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);
