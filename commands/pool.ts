import { getPoolStatus } from '../src/app/pool.ts';
import { poolMeter } from './format.ts';
import { defineCommand } from './types.ts';

export default defineCommand({
  name: 'pool',
  description: 'How much of the global capacity pool is taken',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  async handler(_args, ctx) {
    return { text: poolMeter(await getPoolStatus(ctx.services.app)) };
  },
});
