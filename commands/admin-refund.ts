import { refundLicensePayment } from '../src/app/billing.ts';
import { findLicenseByKey } from '../src/app/licenses.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { confirmation, errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin refund',
  description: "Refund the payment behind a license (it is then revoked, or the upgrade undone)",
  args: { key: arg.text('the license key', { secret: true }) },
  access: { kind: 'admin' },
  where: 'any',
  help: 'Refunds the latest payment for that license in full through Stripe. When Stripe confirms (charge.refunded), a purchase is revoked and an upgrade taken back, and the user is told.',
  async handler({ key }, ctx) {
    const license = await findLicenseByKey(ctx.services.app, key);
    if (!license.ok) return errorReply(license.error);
    if (!ctx.confirmed) {
      return confirmation(`Refund the payment for ${license.value.maskedKey} (${license.value.tierId})? The license is revoked (or its upgrade undone) once Stripe confirms.`, 'admin refund', { key }, 'Refund');
    }
    const refunded = await refundLicensePayment({ ...ctx.services.app, gateway: ctx.services.payments ?? null }, { licenseId: license.value.id });
    if (!refunded.ok) return errorReply(refunded.error);
    return { text: `Refund of ${formatUsd(refunded.value.price)} (${refunded.value.kind}) sent to Stripe for ${license.value.maskedKey}. The license changes when Stripe confirms it.` };
  },
});
