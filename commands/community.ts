import type { CommunityOverview } from '../src/app/community.ts';
import { minute } from './format.ts';
import { defineCommand, type Reply } from './types.ts';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export default defineCommand({
  name: 'community',
  description: 'Your members-only groups and roles; fresh Telegram invite links',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Lists what your license tier gives you in the community and sends you fresh single-use invite links to the Telegram groups you are not in yet.',
  async handler(_args, ctx): Promise<Reply> {
    const community = ctx.services.community;
    if (!community) return { private: true, text: 'There is no members-only community on this bot.', outcome: 'community_off' };
    const overview = await community.describe(ctx.user.userId);
    if (!overview.tier) {
      return {
        private: true,
        text: 'Members-only groups and roles come with a license. See /tiers, then activate yours with `/activate <key>`.',
        outcome: 'no_license',
      };
    }
    if (overview.discordRoles.length === 0 && overview.telegramChats.length === 0) {
      return { private: true, text: `Your *${overview.tier.name}* license includes no members-only groups or roles. See /tiers.`, outcome: 'nothing_granted' };
    }
    const fresh = overview.hasTelegramIdentity || overview.hasDiscordIdentity ? await community.freshInvites(ctx.user.userId) : null;
    const lines = [`*Your ${overview.tier.name} community access*`];
    if (overview.discordRoles.length > 0) lines.push(discordLine(overview, fresh?.rolesAdded ?? 0));
    if (overview.telegramChats.length > 0) {
      if (!overview.hasTelegramIdentity) {
        lines.push(`Telegram: ${plural(overview.telegramChats.length, 'members-only group', 'members-only groups')}. Link your Telegram account first: send /link here, then the code to the bot on Telegram.`);
      } else if (fresh) {
        const total = overview.telegramChats.length;
        lines.push(`Telegram: ${plural(total, 'members-only group', 'members-only groups')}${fresh.alreadyIn.length > 0 ? `, you are in ${fresh.alreadyIn.length}` : ''}.`);
        if (fresh.invites.length > 0) {
          lines.push(`Your invite ${fresh.invites.length === 1 ? 'link works' : 'links work'} once, only for you, until ${minute(fresh.invites[0]!.expiresAt)}:`);
          for (const invite of fresh.invites) lines.push(invite.link);
        }
        if (fresh.unavailable.length > 0) lines.push(`${plural(fresh.unavailable.length, 'group', 'groups')} could not be opened for you right now; try again later or contact support.`);
      }
    }
    return { private: true, text: lines.join('\n'), outcome: fresh?.invites.length ? 'invited' : 'ok' };
  },
});

function discordLine(overview: CommunityOverview, added: number): string {
  const roles = plural(overview.discordRoles.length, 'member role', 'member roles');
  if (!overview.hasDiscordIdentity) return `Discord: ${roles}. Link your Discord account first: send /link here, then the code to the bot on Discord.`;
  return `Discord: ${roles} in our server, given automatically while your license is active${added > 0 ? ` (${added} added just now)` : ''}.`;
}
