import { z } from 'zod';
import { alertSettings, setAlert, setSummaryHour, setTimeZone, summarySchedule, type SummarySchedule } from '../src/app/alert-preferences.ts';
import { ALERT_TYPE_IDS } from '../src/domain/alerts.ts';
import { errorReply } from './format.ts';
import { arg, defineCommand } from './types.ts';

/** Not alert types: `/alerts hour 8` and `/alerts timezone Europe/Berlin` set when the summaries come. */
const SETTINGS = ['hour', 'timezone'] as const;

const when = (s: SummarySchedule) => `${String(s.hour).padStart(2, '0')}:00 ${s.timeZone}`;

export default defineCommand({
  name: 'alerts',
  description: 'Turn alert types on or off; set the hour and time zone of your P&L summaries',
  args: {
    type: arg.choice('an alert type, or hour / timezone', [...ALERT_TYPE_IDS, ...SETTINGS]).optional(),
    // Free text: on/off for an alert type, a value for hour and timezone (checked below).
    state: z.string().trim().max(100, 'is too long').optional().meta({ description: 'on or off; 0-23 after hour; a time zone such as Europe/Berlin after timezone' }),
  },
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Examples: `/alerts fills off`, `/alerts weekly_summary on`, `/alerts hour 8` (summaries at 08:00 your time), `/alerts timezone Europe/Berlin`.',
  async handler({ type, state }, ctx) {
    const app = ctx.services.app;
    const userId = ctx.user.userId;
    if (type === 'timezone') {
      if (!state) return { text: `Your time zone is *${(await summarySchedule(app, userId)).timeZone}*. Change it: \`/alerts timezone Europe/Berlin\`.` };
      const result = await setTimeZone(app, userId, state);
      if (!result.ok) return errorReply(result.error);
      return { text: `Time zone: *${result.value.timeZone}*. P&L summaries arrive at ${when(result.value)}; /pnl day starts at midnight there.` };
    }
    if (type === 'hour') {
      if (!state) return { text: `Your P&L summaries arrive at *${when(await summarySchedule(app, userId))}*. Change it: \`/alerts hour 8\`.` };
      const hour = /^\d{1,2}$/.test(state) ? Number(state) : Number.NaN;
      const result = await setSummaryHour(app, userId, hour);
      if (!result.ok) return errorReply(result.error);
      return { text: `P&L summaries now arrive at *${when(result.value)}*.` };
    }
    if (type && state) {
      const on = state.toLowerCase();
      if (on !== 'on' && on !== 'off') return { text: `state must be on or off.\nUsage: \`/alerts ${type} on\` or \`/alerts ${type} off\``, outcome: 'usage' };
      const result = await setAlert(app, userId, type, on === 'on');
      if (!result.ok) return errorReply(result.error);
      return { text: `Alerts for ${result.value.description}: *${on}*.` };
    }
    const [settings, schedule] = await Promise.all([alertSettings(app, userId), summarySchedule(app, userId)]);
    const rows = settings.map((s) => `${s.enabled ? '🔔' : '🔕'} \`${s.id}\` — ${s.description}${s.mutable ? '' : ' (always on)'}`);
    return {
      text: [
        '*Your alerts*',
        ...rows,
        '',
        `P&L summaries at ${when(schedule)} (the weekly one on Mondays).`,
        'Change one: `/alerts <type> on|off` · `/alerts hour 0-23` · `/alerts timezone Europe/Berlin`',
      ].join('\n'),
    };
  },
});
