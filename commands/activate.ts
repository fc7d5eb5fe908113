import { activateLicense } from '../src/app/licenses.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'activate',
  description: 'Activate your license key',
  args: { key: arg.text('your license key, AIT-XXXX-XXXX-XXXX', { secret: true }) },
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Your key binds to this account. Keys are checked for typos before anything else.',
  async handler({ key }, ctx) {
    const result = await activateLicense(ctx.services.app, {
      key,
      identity: { userId: ctx.user.userId, identityId: ctx.user.identityId, platform: ctx.user.platform, externalId: ctx.user.externalId, created: false },
    });
    if (!result.ok) return { ...errorReply(result.error), private: true };
    const { license, alreadyActive } = result.value;
    return {
      private: true,
      text: alreadyActive
        ? `Your license ${license.maskedKey} is already active on this account.`
        : `✅ License ${license.maskedKey} activated: *${license.tierId}* tier, up to ${formatUsd(license.capital)} of capital. See /license.`,
    };
  },
});
