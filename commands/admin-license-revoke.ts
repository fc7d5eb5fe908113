import { findLicenseByKey, listLicensesOfUser, revokeLicense } from '../src/app/licenses.ts';
import { findUserId } from '../src/app/user-directory.ts';
import { parseLicenseKey } from '../src/domain/license-key.ts';
import { confirmation, errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin license revoke',
  description: "Revoke a license (by key), or all of a user's licenses",
  args: {
    target: arg.text('a license key, or a user (id, platform id or @username)', { secret: true }),
    reason: arg.text('why (shown to the user)', { rest: true }).optional(),
  },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ target, reason = 'revoked by admin' }, ctx) {
    const licenses = parseLicenseKey(target).ok
      ? await (async () => {
          const found = await findLicenseByKey(ctx.services.app, target);
          return found.ok ? [found.value] : [];
        })()
      : await (async () => {
          const userId = await findUserId(ctx.services.app, target);
          return userId ? await listLicensesOfUser(ctx.services.app, userId) : null;
        })();
    if (licenses === null) return { text: 'No user matches that. Use a license key, a user id, a platform id or @username.', outcome: 'user_not_found' };
    const live = licenses.filter((l) => l.status !== 'revoked');
    if (live.length === 0) return { text: 'Nothing to revoke: no live license matches.', outcome: 'license_not_found' };
    if (!ctx.confirmed) {
      return confirmation(
        `Revoke ${live.map((l) => `${l.maskedKey} (${l.tierId})`).join(', ')}? Their capital returns to the pool.`,
        'admin license revoke',
        { target, reason },
        'Revoke',
      );
    }
    const done: string[] = [];
    for (const license of live) {
      const result = await revokeLicense(ctx.services.app, { licenseId: license.id, reason, actor: { type: 'admin', id: ctx.user.userId } });
      if (!result.ok) return errorReply(result.error);
      done.push(result.value.maskedKey);
    }
    return { text: `Revoked ${done.join(', ')}.` };
  },
});
