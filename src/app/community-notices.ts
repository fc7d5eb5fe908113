// What the community service tells members, as `license` alerts through the outbox. Pure.
// Invite links are secrets of a kind (whoever holds one can join once): they appear only in the
// alert text that goes to their owner, never in logs, audit entries or event ids.

const when = (d: Date): string => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function inviteNotice(input: { tierName: string; link: string; expiresAt: Date }): string {
  return [
    `🔑 Your ${input.tierName} license includes a members-only Telegram group. Join with this link: it works once, only for you, until ${when(input.expiresAt)}.`,
    input.link,
    'If it expires, send /community for a fresh one.',
  ].join('\n');
}

/** A join request to a gated chat was declined: the requester's license does not grant it. */
export function declinedNotice(currentTierName: string | null): string {
  const why = currentTierName ? `your ${currentTierName} license does not include it` : 'you have no active license';
  return `🚫 Your request to join a members-only Telegram group was declined because ${why}. See /tiers; with a license that includes it, send /community for an invite.`;
}

export type RemovalCause = 'license_revoked' | 'license_transferred_away' | 'no_license' | 'tier';

/** Why access went, from the sync's reason and what the user still holds. */
export function removalCause(reason: string, currentTierName: string | null): RemovalCause {
  if (currentTierName) return 'tier';
  if (reason === 'license_revoked') return 'license_revoked';
  if (reason === 'license_transferred_away') return 'license_transferred_away';
  return 'no_license';
}

export function removalNotice(input: {
  readonly telegramGroups: number;
  readonly discordRoles: number;
  readonly cause: RemovalCause;
  readonly currentTierName: string | null;
}): string {
  const things: string[] = [];
  if (input.telegramGroups > 0) {
    things.push(input.telegramGroups === 1 ? 'a members-only Telegram group' : `${input.telegramGroups} members-only Telegram groups`);
  }
  if (input.discordRoles > 0) things.push(input.discordRoles === 1 ? 'a member role on Discord' : `${input.discordRoles} member roles on Discord`);
  const what = things.join(' and ') || 'the members-only community';
  const it = input.telegramGroups + input.discordRoles > 1 ? 'them' : 'it';
  const why = {
    license_revoked: 'your license was revoked',
    license_transferred_away: 'your license was moved to another account',
    no_license: 'you have no active license',
    tier: `your ${input.currentTierName ?? 'current'} license does not include ${it}`,
  }[input.cause];
  const back =
    input.cause === 'tier'
      ? `Upgrade your license (/tiers) to get ${it} back.`
      : 'To get back in, buy a license (/tiers) or activate one with /activate: you are let back in automatically.';
  return `🚪 You were removed from ${what} because ${why}. ${back}`;
}
