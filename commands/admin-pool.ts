import { z } from 'zod';
import { getPoolStatus, setPoolCap } from '../src/app/pool.ts';
import { dollars, formatUsd } from '../src/kernel/money.ts';
import { confirmation, poolMeter } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'admin pool',
  description: 'Show the pool, or set its cap',
  args: {
    action: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['set'], { error: 'must be set' }))
      .optional()
      .meta({ description: '"set" to change the cap', choices: ['set'] }),
    cap: z
      .string()
      .trim()
      .transform((v) => v.replace(/[$,_]/g, ''))
      .pipe(z.string().regex(/^\d{1,12}$/, 'must be whole dollars, e.g. 2500000'))
      .transform(Number)
      .optional()
      .meta({ description: 'the new cap in dollars' }),
  },
  access: { kind: 'admin' },
  where: 'any',
  async handler({ action, cap }, ctx) {
    if (!action) return { text: poolMeter(await getPoolStatus(ctx.services.app)) };
    if (cap === undefined) return { text: 'Usage: `/admin pool set <cap>` (whole dollars).', outcome: 'usage' };
    if (!ctx.confirmed) {
      return confirmation(`Set the pool cap to ${formatUsd(dollars(cap))}?`, 'admin pool', { action, cap: String(cap) }, 'Set cap');
    }
    await setPoolCap(ctx.services.app, dollars(cap), { type: 'admin', id: ctx.user.userId });
    return { text: `Pool cap set to ${formatUsd(dollars(cap))}.\n${poolMeter(await getPoolStatus(ctx.services.app))}` };
  },
});
