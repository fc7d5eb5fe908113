import { findUserId, userProfile } from '../src/app/user-directory.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { day } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin user',
  description: 'Show a user: identities, licenses, keys on file',
  args: { user: arg.text('a user id, platform id or @username') },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ user }, ctx) {
    const userId = await findUserId(ctx.services.app, user);
    const profile = userId ? await userProfile(ctx.services.app, userId) : null;
    if (!profile) return { text: 'No user matches that. Use a user id, a platform id or @username.', outcome: 'user_not_found' };
    return {
      text: [
        `*User* \`${profile.userId}\` since ${day(profile.createdAt)}`,
        ...(profile.flag ? [`⚠️ Flagged ${day(profile.flag.at)}: ${profile.flag.reason}`] : []),
        ...profile.identities.map((i) => `• ${i.platform} ${i.externalId}${i.username ? ` @${i.username}` : ''}`),
        ...(profile.licenses.length
          ? profile.licenses.map((l) => `• ${l.maskedKey} ${l.tierId} ${formatUsd(l.capital)} ${l.status}`)
          : ['• no licenses']),
        `• exchange keys on file: ${profile.credentialCount}`,
      ].join('\n'),
    };
  },
});
