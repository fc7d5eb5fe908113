// Admins are chat identities named in configuration (ADMIN_TELEGRAM_IDS, ADMIN_DISCORD_IDS);
// operator alerts go to the accounts behind them.
import { read } from '../db/transaction.ts';
import type { AppDeps } from './deps.ts';

export interface AdminIds {
  readonly telegram: readonly string[];
  readonly discord: readonly string[];
}

/** The user ids of the configured admins who have talked to the bot at least once. */
export async function adminUserIds(deps: AppDeps, ids: AdminIds): Promise<string[]> {
  if (ids.telegram.length === 0 && ids.discord.length === 0) return [];
  const rows = await read(() =>
    deps.db.identity.findMany({
      where: {
        OR: [
          { platform: 'telegram', externalId: { in: [...ids.telegram] } },
          { platform: 'discord', externalId: { in: [...ids.discord] } },
        ],
      },
      select: { userId: true },
    }),
  );
  return [...new Set(rows.map((r) => r.userId))];
}
