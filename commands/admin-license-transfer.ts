import { findLicenseByKey, transferLicense } from '../src/app/licenses.ts';
import { findUserId, userProfile } from '../src/app/user-directory.ts';
import { errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin license transfer',
  description: 'Move a license to another user',
  args: {
    key: arg.text('the license key', { secret: true }),
    user: arg.text('the new owner (id, platform id or @username)'),
  },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ key, user }, ctx) {
    const license = await findLicenseByKey(ctx.services.app, key);
    if (!license.ok) return errorReply(license.error);
    const userId = await findUserId(ctx.services.app, user);
    const profile = userId ? await userProfile(ctx.services.app, userId) : null;
    const identity = profile?.identities[0];
    if (!profile || !identity) return { text: 'No user matches that. Use a user id, a platform id or @username.', outcome: 'user_not_found' };
    const row = await ctx.services.app.db.identity.findUniqueOrThrow({
      where: { platform_externalId: { platform: identity.platform, externalId: identity.externalId } },
    });
    const result = await transferLicense(ctx.services.app, {
      licenseId: license.value.id,
      to: { userId: profile.userId, identityId: row.id, platform: row.platform, externalId: row.externalId, created: false },
      actor: { type: 'admin', id: ctx.user.userId },
    });
    if (!result.ok) return errorReply(result.error);
    return { text: `Transferred ${result.value.maskedKey} to ${identity.username ? `@${identity.username}` : `${identity.platform}:${identity.externalId}`}.` };
  },
});
