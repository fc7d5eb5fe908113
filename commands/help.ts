import { z } from 'zod';
import { defineCommand, usageOf } from './types.ts';

export default defineCommand({
  name: 'help',
  description: 'List commands, or explain one',
  args: { command: z.string().trim().max(60).optional().meta({ description: 'a command name, e.g. activate or "keys add"', rest: true }) },
  access: { kind: 'anyone' },
  where: 'any',
  async handler({ command }, ctx) {
    const visible = ctx.commands.filter((c) => !c.hidden && (c.access.kind !== 'admin' || ctx.user.isAdmin));
    if (command) {
      const name = command.replace(/^\//, '').toLowerCase();
      const matches = visible.filter((c) => c.name === name || c.name.startsWith(name + ' '));
      if (matches.length === 0) return { text: `There is no /${name}. Send /help to see every command.`, outcome: 'unknown_command' };
      return { text: matches.map((c) => `\`${usageOf(c)}\`\n${c.description}${c.help ? `\n${c.help}` : ''}`).join('\n\n') };
    }
    const lines = visible.filter((c) => c.access.kind !== 'admin').map((c) => `\`${usageOf(c)}\` — ${c.description}`);
    const admin = visible.filter((c) => c.access.kind === 'admin').map((c) => `\`${usageOf(c)}\` — ${c.description}`);
    return {
      text: ['*Commands*', ...lines, ...(admin.length ? ['', '*Admin*', ...admin] : []), '', 'Details: /help <command>'].join('\n'),
    };
  },
});
