import { defineCommand } from './types.ts';

/** The "Cancel" button of confirmations. */
export default defineCommand({
  name: 'cancel',
  description: 'Cancel a pending confirmation',
  args: {},
  access: { kind: 'anyone' },
  where: 'any',
  hidden: true,
  async handler() {
    return { text: 'Cancelled. Nothing was changed.' };
  },
});
