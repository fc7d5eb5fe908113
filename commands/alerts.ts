import { z } from 'zod';
import { alertSettings, setAlert } from '../src/app/alert-preferences.ts';
import { ALERT_TYPE_IDS } from '../src/domain/alerts.ts';
import { errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'alerts',
  description: 'Turn alert types on or off',
  args: {
    type: arg.choice('an alert type', ALERT_TYPE_IDS).optional(),
    state: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['on', 'off'], { error: 'must be on or off' }))
      .optional()
      .meta({ description: 'on or off', choices: ['on', 'off'] }),
  },
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Example: `/alerts fills off`.',
  async handler({ type, state }, ctx) {
    if (type && state) {
      const result = await setAlert(ctx.services.app, ctx.user.userId, type, state === 'on');
      if (!result.ok) return errorReply(result.error);
      return { text: `Alerts for ${result.value.description}: *${state}*.` };
    }
    const settings = await alertSettings(ctx.services.app, ctx.user.userId);
    const rows = settings.map((s) => `${s.enabled ? '🔔' : '🔕'} \`${s.id}\` — ${s.description}${s.mutable ? '' : ' (always on)'}`);
    return { text: ['*Your alerts*', ...rows, '', 'Change one: `/alerts <type> on|off`'].join('\n') };
  },
});
