import { queueBroadcast } from '../src/app/broadcasts.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin broadcast',
  description: 'Queue an announcement to every user',
  args: { text: arg.text('the announcement', { rest: true }) },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ text }, ctx) {
    const { id } = await queueBroadcast(ctx.services.app, { text, actor: { type: 'admin', id: ctx.user.userId } });
    return { text: `Broadcast queued (\`${id.slice(0, 8)}\`). It goes out with the alert delivery.` };
  },
});
