import { removeCredentials } from '../src/app/credentials.ts';
import { confirmation, errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'keys remove',
  description: 'Delete stored exchange keys',
  args: {
    exchange: arg.exchange('exchange id, e.g. binance'),
    label: arg.text('which key set (default: default)').optional(),
  },
  access: { kind: 'anyone' },
  where: 'any',
  async handler({ exchange, label }, ctx) {
    if (!ctx.confirmed) {
      return { ...confirmation(`Delete your ${exchange} keys${label ? ` (${label})` : ''}? Runs using them will stop trading live.`, 'keys remove', { exchange, ...(label ? { label } : {}) }, 'Delete'), private: true };
    }
    const result = await removeCredentials(ctx.services.app, { userId: ctx.user.userId, exchange, ...(label ? { label } : {}) });
    if (!result.ok) return { ...errorReply(result.error), private: true };
    return { private: true, text: `Deleted your ${result.value.exchangeName} keys (key ending ${result.value.apiKeyLast4}).` };
  },
});
