// POST /v1/license/upgrade: a self-hosted bot asks to upgrade the license it runs on. Billing's
// startUpgrade upgrades the account's highest active license, so the bot's license must be that
// one without a doubt; otherwise the owner upgrades from the chat, where they see which license.
import { read } from '../db/transaction.ts';
import { appError } from '../kernel/errors.ts';
import { err, type Result } from '../kernel/result.ts';
import { startUpgrade, type BillingDeps, type CheckoutStarted } from './billing.ts';
import type { ActiveBotLicense } from './machine-activation.ts';

export async function startBotLicenseUpgrade(
  deps: BillingDeps,
  input: { license: ActiveBotLicense; tier: string },
): Promise<Result<CheckoutStarted>> {
  if (!deps.gateway) return err(appError('payments_off'));
  const { license } = input;
  const rivals = await read(async () => {
    const own = await deps.db.tier.findUniqueOrThrow({ where: { id: license.tierId }, select: { rank: true } });
    return deps.db.license.count({
      where: { userId: license.userId, status: 'active', id: { not: license.licenseId }, tier: { rank: { gte: own.rank } } },
    });
  });
  if (rivals > 0) {
    return err(
      appError('license_not_upgradable', { licenseId: license.licenseId }, 'This account has another license at this tier or higher; upgrade from the chat with /upgrade, where you pick the license.'),
    );
  }
  return startUpgrade(deps, { userId: license.userId, tier: input.tier });
}
