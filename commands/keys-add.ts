import { createKeyIntake } from '../src/app/key-intake.ts';
import { DEFAULT_EXCHANGE_ID } from '../src/domain/exchanges.ts';
import { errorReply, minute } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'keys add',
  description: 'Add exchange API keys through a private one-time form',
  args: { exchange: arg.exchange(`exchange id, e.g. ${DEFAULT_EXCHANGE_ID}`).optional() },
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Your keys go into a web form, never into chat. The link works once, for 10 minutes. Give the key trade permission only — never withdrawal.',
  async handler({ exchange = DEFAULT_EXCHANGE_ID }, ctx) {
    const result = await createKeyIntake(ctx.services.app, {
      userId: ctx.user.userId,
      exchange,
      platform: ctx.user.platform,
      // The confirmation goes to the private chat with the user, wherever they asked.
      chatId: ctx.chat.kind === 'private' ? ctx.chat.id : ctx.user.externalId,
      publicBaseUrl: ctx.services.publicBaseUrl,
    });
    if (!result.ok) return { ...errorReply(result.error), private: true };
    return {
      private: true,
      text: [
        `Open this private link to add your ${exchange} keys (works once, until ${minute(result.value.expiresAt)}):`,
        result.value.url,
        'Enable trading only; never enable withdrawals on a bot key.',
      ].join('\n'),
      // Discord can collect the keys in a private form instead (other platforms do not show it).
      buttons: [[{ label: 'Enter keys here instead', command: 'keys set', args: { exchange }, form: true, style: 'primary' }]],
    };
  },
});
