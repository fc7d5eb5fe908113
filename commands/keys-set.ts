import { z } from 'zod';
import { storeCredentials } from '../src/app/credentials.ts';
import { errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

/** Fallback for people who cannot open the form: the message is deleted at once. */
export default defineCommand({
  name: 'keys set',
  description: 'Store exchange keys directly (private chat only; your message is deleted)',
  args: {
    exchange: arg.exchange('exchange id, e.g. binance'),
    key: arg.text('API key', { secret: true }),
    secret: arg.text('API secret', { secret: true }),
    passphrase: z.string().trim().min(1).max(500).optional().meta({ description: 'API passphrase, for exchanges that use one', secret: true }),
  },
  access: { kind: 'anyone' },
  where: 'private',
  help: 'Prefer /keys add: it never puts keys into chat history.',
  async handler({ exchange, key, secret, passphrase }, ctx) {
    const result = await storeCredentials(
      { ...ctx.services.app, vault: ctx.services.vault },
      { userId: ctx.user.userId, exchange, apiKey: key, apiSecret: secret, passphrase: passphrase ?? null },
    );
    if (!result.ok) return errorReply(result.error, 'I deleted your message; nothing was stored.');
    return {
      text: `✅ ${result.value.exchangeName} keys saved (key ending ${result.value.apiKeyLast4}). I deleted your message so the secret does not stay in this chat.`,
    };
  },
});
