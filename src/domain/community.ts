// Gated community access: which Discord roles and Telegram groups a license tier grants. Pure:
// the mapping comes from config (COMMUNITY_ACCESS), the tiers and their ranks from the database.
//
// A tier gets its own roles and groups and, unless it says `inherit: false`, everything the tier
// ranked just below it gets (which may inherit in turn): a Pro member is also in the Starter room.

export interface TierAccessConfig {
  readonly discordRoles: readonly string[];
  readonly telegramChats: readonly string[];
  /** Also grant what the next lower tier grants (default true). */
  readonly inherit: boolean;
}

/** Tier id → what it grants, as configured. */
export type CommunityMap = Readonly<Record<string, TierAccessConfig>>;

export interface CommunityAccess {
  readonly discordRoles: ReadonlySet<string>;
  readonly telegramChats: ReadonlySet<string>;
}

export const NO_ACCESS: CommunityAccess = Object.freeze({ discordRoles: new Set<string>(), telegramChats: new Set<string>() });

export interface RankedTier {
  readonly id: string;
  readonly rank: number;
}

/** What each tier grants once inheritance is applied, keyed by tier id. */
export function resolveTierAccess(map: CommunityMap, tiers: readonly RankedTier[]): ReadonlyMap<string, CommunityAccess> {
  const resolved = new Map<string, CommunityAccess>();
  let below: CommunityAccess = NO_ACCESS;
  for (const tier of [...tiers].sort((a, b) => a.rank - b.rank)) {
    const own = map[tier.id];
    const inherit = own?.inherit ?? true;
    const access: CommunityAccess = {
      discordRoles: new Set([...(inherit ? below.discordRoles : []), ...(own?.discordRoles ?? [])]),
      telegramChats: new Set([...(inherit ? below.telegramChats : []), ...(own?.telegramChats ?? [])]),
    };
    resolved.set(tier.id, access);
    below = access;
  }
  return resolved;
}

/** Everything the bot manages: a role or group outside this set is never touched. */
export function managedAccess(map: CommunityMap): CommunityAccess {
  const entries = Object.values(map);
  return {
    discordRoles: new Set(entries.flatMap((e) => e.discordRoles)),
    telegramChats: new Set(entries.flatMap((e) => e.telegramChats)),
  };
}

/** Tier ids the mapping names that the database does not know (a typo must stop start-up). */
export function unknownTiers(map: CommunityMap, tiers: readonly RankedTier[]): string[] {
  const known = new Set(tiers.map((t) => t.id));
  return Object.keys(map).filter((id) => !known.has(id));
}
