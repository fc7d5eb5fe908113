import { describe, expect, it } from 'vitest';
import { declinedNotice, inviteNotice, removalCause, removalNotice } from '../../src/app/community-notices.ts';
import { discordRoleChanges, telegramStep, type MembershipRecord, type SyncMode, type TelegramMemberStatus } from '../../src/domain/community-sync.ts';
import { scrubSecrets } from '../../src/kernel/logger.ts';

const now = new Date('2026-03-01T12:00:00Z');
const later = new Date('2026-03-01T13:00:00Z');
const earlier = new Date('2026-03-01T11:00:00Z');
const rec = (status: MembershipRecord['status'], inviteExpiresAt: Date | null = null): MembershipRecord => ({ status, inviteExpiresAt });
const step = (entitled: boolean, status: TelegramMemberStatus, record: MembershipRecord | null, mode: SyncMode = 'event') =>
  telegramStep({ entitled, status, record, now, mode }).kind;

describe('telegramStep', () => {
  it('removes members without a grant, and never touches admins or people Telegram does not know', () => {
    expect(step(false, 'member', null)).toBe('remove');
    expect(step(false, 'member', rec('removed'), 'reconcile')).toBe('remove');
    expect(step(false, 'admin', rec('member'))).toBe('none');
    expect(step(false, 'unknown', rec('member'), 'reconcile')).toBe('none');
  });

  it('on an event, invites an entitled non-member unless an unexpired invite is out', () => {
    expect(step(true, 'left', null)).toBe('invite');
    expect(step(true, 'left', rec('invited', later))).toBe('none');
    expect(step(true, 'left', rec('invited', earlier))).toBe('invite');
    expect(step(true, 'left', rec('member'))).toBe('invite');
    expect(step(true, 'left', rec('removed'))).toBe('invite');
    expect(step(true, 'unknown', null)).toBe('invite');
  });

  it('on reconciliation, invites only people never invited since we last saw them in or out', () => {
    expect(step(true, 'left', null, 'reconcile')).toBe('invite');
    expect(step(true, 'left', rec('member'), 'reconcile')).toBe('invite');
    expect(step(true, 'left', rec('removed'), 'reconcile')).toBe('invite');
    // An invite that expired unused is not renewed every run: /community gives a fresh one.
    expect(step(true, 'left', rec('invited', earlier), 'reconcile')).toBe('none');
    expect(step(true, 'left', rec('invited', later), 'reconcile')).toBe('none');
  });

  it("leaves an admin's ban alone and only records what it sees otherwise", () => {
    expect(step(true, 'banned', null)).toBe('none');
    expect(step(true, 'banned', null, 'reconcile')).toBe('none');
    expect(telegramStep({ entitled: true, status: 'member', record: rec('invited', later), now, mode: 'event' })).toEqual({ kind: 'record', status: 'member' });
    expect(step(true, 'member', rec('member'))).toBe('none');
    expect(telegramStep({ entitled: true, status: 'admin', record: null, now, mode: 'reconcile' })).toEqual({ kind: 'record', status: 'member' });
    expect(telegramStep({ entitled: false, status: 'left', record: rec('invited', later), now, mode: 'event' })).toEqual({ kind: 'record', status: 'removed' });
    expect(step(false, 'left', rec('removed'))).toBe('none');
    expect(step(false, 'left', rec('declined'))).toBe('none');
    expect(step(false, 'banned', null)).toBe('none');
  });
});

describe('discordRoleChanges', () => {
  const managed = new Set(['starter', 'pro']);
  it('adds and removes managed roles only', () => {
    expect(discordRoleChanges({ managed, wanted: new Set(['starter', 'pro']), has: ['moderator', 'starter'] })).toEqual({ add: ['pro'], remove: [] });
    expect(discordRoleChanges({ managed, wanted: new Set(), has: ['moderator', 'starter', 'pro'] })).toEqual({ add: [], remove: ['starter', 'pro'] });
    expect(discordRoleChanges({ managed, wanted: new Set(['starter']), has: ['pro'] })).toEqual({ add: ['starter'], remove: ['pro'] });
    expect(discordRoleChanges({ managed, wanted: new Set(['starter']), has: ['starter', 'moderator'] })).toEqual({ add: [], remove: [] });
  });
});

describe('community notices', () => {
  it('say why access went and how to get back in', () => {
    expect(removalCause('license_revoked', null)).toBe('license_revoked');
    expect(removalCause('license_transferred_away', null)).toBe('license_transferred_away');
    expect(removalCause('reconcile', null)).toBe('no_license');
    expect(removalCause('license_revoked', 'Starter')).toBe('tier');
    expect(removalNotice({ telegramGroups: 1, discordRoles: 0, cause: 'license_transferred_away', currentTierName: null })).toBe(
      '🚪 You were removed from a members-only Telegram group because your license was moved to another account. To get back in, buy a license (/tiers) or activate one with /activate: you are let back in automatically.',
    );
    expect(removalNotice({ telegramGroups: 1, discordRoles: 2, cause: 'tier', currentTierName: 'Starter' })).toBe(
      '🚪 You were removed from a members-only Telegram group and 2 member roles on Discord because your Starter license does not include them. Upgrade your license (/tiers) to get them back.',
    );
    expect(declinedNotice(null)).toContain('declined because you have no active license');
  });

  it('an invite names its expiry and carries the link on its own line', () => {
    const text = inviteNotice({ tierName: 'Pro', link: 'https://t.me/+AbCdEf123456', expiresAt: later });
    expect(text.split('\n')).toEqual([
      '🔑 Your Pro license includes a members-only Telegram group. Join with this link: it works once, only for you, until 2026-03-01 13:00 UTC.',
      'https://t.me/+AbCdEf123456',
      'If it expires, send /community for a fresh one.',
    ]);
  });
});

describe('log scrubbing', () => {
  it('removes Telegram invite links, whatever their form', () => {
    expect(scrubSecrets('sent https://t.me/+AbCdEf_12-34xyz to 1001', [])).toBe('sent https://t.me/+[redacted] to 1001');
    expect(scrubSecrets('{"text":"join: t.me/joinchat/AAAAAEZlXyZ0123"}', [])).toBe('{"text":"join: t.me/joinchat/[redacted]"}');
    expect(scrubSecrets('https://telegram.me/%2BAbCdEf123456', [])).toBe('https://telegram.me/%2B[redacted]');
    // Public usernames are not secrets.
    expect(scrubSecrets('see https://t.me/ait_trading_bot', [])).toBe('see https://t.me/ait_trading_bot');
  });
});
