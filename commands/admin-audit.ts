import { recentAudit } from '../src/app/audit.ts';
import { minute } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin audit',
  description: 'The latest audit entries',
  args: { n: arg.count('how many (1-50)', 1, 50).optional() },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ n = 10 }, ctx) {
    const entries = await recentAudit(ctx.services.app.db, n);
    if (entries.length === 0) return { text: 'The audit log is empty.' };
    return { text: ['*Audit log*', ...entries.map((e) => `\`${minute(e.at)}\` ${e.actor} *${e.action}* ${e.entity}`)].join('\n') };
  },
});
