// Gated community sync rules: given what a member should have (their tier's access, see
// community.ts) and what the platform and our own records say, what to change. Pure: the
// community service (src/app/community.ts) asks the platforms and applies the answer.

/** A user's standing in a gated Telegram chat, as the platform reports it. */
export type TelegramMemberStatus = 'member' | 'admin' | 'left' | 'banned' | 'unknown';

/** What we last did or saw for one identity and one gated target (community_memberships.status). */
export type MembershipStatus = 'granted' | 'invited' | 'member' | 'declined' | 'removed';

export interface MembershipRecord {
  readonly status: MembershipStatus;
  readonly inviteExpiresAt: Date | null;
}

/**
 * `event`: a license or account change asked for this sync; the user may have lost an old link
 * or left, so a fresh invite is due unless an unexpired one is already out.
 * `reconcile`: the periodic repair. It must not invite the same person every run: an entitled
 * non-member is invited only when we never sent them an invite since we last saw them in or
 * took them out (no record, or the record says member / removed / declined).
 */
export type SyncMode = 'event' | 'reconcile';

export type TelegramStep =
  | { readonly kind: 'none' }
  /** Bookkeeping only: the platform already agrees, remember what we saw. */
  | { readonly kind: 'record'; readonly status: MembershipStatus }
  | { readonly kind: 'invite' }
  | { readonly kind: 'remove' };

const NONE: TelegramStep = { kind: 'none' };

export function telegramStep(input: {
  readonly entitled: boolean;
  readonly status: TelegramMemberStatus;
  readonly record: MembershipRecord | null;
  readonly now: Date;
  readonly mode: SyncMode;
}): TelegramStep {
  const { entitled, status, record, now, mode } = input;
  // `unknown`: Telegram does not know the user, so they cannot be removed from anywhere; an
  // entitled one may still be sent a link. Chat owners and admins are never touched, whatever
  // their license says (the bot could not remove them anyway).
  if (status === 'unknown' && !entitled) return NONE;
  if (status === 'admin' || status === 'member') {
    if (status === 'member' && !entitled) return { kind: 'remove' };
    return entitled && record?.status !== 'member' ? { kind: 'record', status: 'member' } : NONE;
  }
  if (!entitled) {
    // Out already. A pending invite of someone no longer entitled is void (joining with it gets
    // them removed on the spot), so the record says removed.
    return record && (record.status === 'invited' || record.status === 'member' || record.status === 'granted') ? { kind: 'record', status: 'removed' } : NONE;
  }
  // Entitled and not in the chat. Banned means an admin's ban: it stands, and a link could not
  // get them in anyway.
  if (status === 'banned') return NONE;
  if (mode === 'event') {
    const pending = record?.status === 'invited' && record.inviteExpiresAt !== null && record.inviteExpiresAt > now;
    return pending ? NONE : { kind: 'invite' };
  }
  return record?.status === 'invited' ? NONE : { kind: 'invite' };
}

/**
 * Discord: only managed roles are touched. A member gets the managed roles their tier grants
 * and loses the managed ones it does not; roles the bot does not manage stay as they are.
 */
export function discordRoleChanges(input: {
  readonly managed: ReadonlySet<string>;
  readonly wanted: ReadonlySet<string>;
  readonly has: readonly string[];
}): { readonly add: string[]; readonly remove: string[] } {
  const has = new Set(input.has);
  return {
    add: [...input.wanted].filter((role) => input.managed.has(role) && !has.has(role)),
    remove: [...has].filter((role) => input.managed.has(role) && !input.wanted.has(role)),
  };
}
