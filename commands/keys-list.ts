import { listCredentials } from '../src/app/credentials.ts';
import { day } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'keys list',
  description: 'Your stored exchange keys (never the secrets)',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    const keys = await listCredentials(ctx.services.app, ctx.user.userId);
    if (keys.length === 0) return { private: true, text: 'No exchange keys stored. Add some with /keys add binance.' };
    return {
      private: true,
      text: [
        '*Your exchange keys*',
        ...keys.map((k) => `• ${k.exchangeName} (${k.label}) key …${k.apiKeyLast4}${k.hasPassphrase ? ', with passphrase' : ''}, added ${day(k.addedAt)}`),
      ].join('\n'),
    };
  },
});
