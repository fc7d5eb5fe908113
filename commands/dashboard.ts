import { customerIdOf, dashboardUrl } from '../src/app/customers.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'dashboard',
  description: 'The link to your web dashboard (status, runs, equity, trades, scanner)',
  args: {},
  access: { kind: 'anyone' },
  // The link is the only key to the page: it goes to the user alone.
  where: 'private',
  async handler(_args, ctx) {
    const customerId = await customerIdOf(ctx.services.app, ctx.user.userId);
    return {
      text: [
        `Your dashboard: ${dashboardUrl(ctx.services.publicBaseUrl, customerId)}`,
        'Anyone with this link can see it (no login), so keep it to yourself. Self-hosted bots use the same customer id.',
      ].join('\n'),
      private: true,
    };
  },
});
