import { PNL_PERIODS, pnlReport, timeZoneOffsetMs, type ModePnl, type PnlPeriod, type PnlReport } from '../src/app/pnl.ts';
import { renderEquityChart } from '../src/reports/equity-chart.ts';
import { errorReply, runNumber } from './format.ts';
import { arg, defineCommand, type Reply } from './types.ts';

const MODE_LABEL = { paper: '🧪 paper', live: '💰 live' } as const;

const amount = (n: number) => Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** "$1,234.50" */
export const usd = (n: number) => `${n < 0 && amount(n) !== '0.00' ? '-' : ''}$${amount(n)}`;
/** "+$12.30" / "-$4.10" */
export const signedUsd = (n: number) => `${n < 0 && amount(n) !== '0.00' ? '-' : '+'}$${amount(n)}`;
const signedPct = (n: number) => `${n < 0 && Math.abs(n).toFixed(2) !== '0.00' ? '-' : '+'}${Math.abs(n).toFixed(2)}%`;

function periodLabel(report: PnlReport): string {
  switch (report.period) {
    case 'day':
      return `today (since 00:00 ${report.timeZone})`;
    case 'week':
      return 'last 7 days';
    case 'month':
      return 'last 30 days';
    case 'all':
      return 'all time';
  }
}

function modeLines(m: ModePnl): string[] {
  const roi = m.roiPct === null ? '' : ` (ROI ${signedPct(m.roiPct)})`;
  return [
    `${MODE_LABEL[m.mode]} · ${m.runs} run${m.runs === 1 ? '' : 's'}${m.activeRuns ? ` (${m.activeRuns} active)` : ''} · capital ${usd(m.capital)}`,
    `Realized ${signedUsd(m.realized)} · unrealized ${signedUsd(m.unrealized)} · total ${signedUsd(m.total)}${roi}`,
    `Fees ${usd(m.fees)} · cycles ${m.cycles} · trades ${m.trades} · max drawdown ${usd(m.maxDrawdown)} (${m.maxDrawdownPct.toFixed(2)}%)`,
  ];
}

/** The report as chat text (exported for tests and other surfaces). */
export function pnlText(report: PnlReport): string {
  const scope = report.run ? `run #${report.run.seq}, ` : '';
  const head = `*P&L — ${scope}${periodLabel(report)}*`;
  return [head, ...report.modes.flatMap((m, i) => [...(i > 0 ? [''] : []), ...modeLines(m)])].join('\n');
}

export default defineCommand({
  name: 'pnl',
  description: 'Realized and unrealized P&L, ROI, fees and drawdown, with an equity chart',
  args: {
    period: arg.text('day, week, month or all (default: all)', { choices: PNL_PERIODS }).optional(),
    run: arg.text('a run number (default: all your runs)').optional(),
  },
  access: { kind: 'anyone' },
  where: 'any',
  help:
    'Paper and live are shown apart. Day starts at 00:00 in your time zone; week and month are the last 7 and 30 days. ' +
    'Cycles are completed sells (a take-profit or a grid sell leg). Unrealized is the open position of active runs, valued now. ' +
    'Examples: `/pnl week`, `/pnl month 3`, `/pnl 3`.',
  async handler(args, ctx) {
    let periodWord = args.period?.toLowerCase();
    let runWord = args.run;
    // "/pnl 3": a run number where the period goes.
    if (periodWord !== undefined && runWord === undefined && runNumber(periodWord) !== null) {
      runWord = periodWord;
      periodWord = undefined;
    }
    if (periodWord !== undefined && !(PNL_PERIODS as readonly string[]).includes(periodWord)) {
      return { text: 'Choose the period: `day`, `week`, `month` or `all`, e.g. `/pnl week`.', outcome: 'usage' };
    }
    const runSeq = runWord === undefined ? undefined : runNumber(runWord);
    if (runSeq === null) return { text: 'Give the run number, e.g. `/pnl week 3` (see /runs).', outcome: 'usage' };
    const period = (periodWord ?? 'all') as PnlPeriod;

    const control = ctx.services.trading?.control;
    const result = await pnlReport(ctx.services.app, ctx.user.userId, {
      period,
      ...(runSeq !== undefined ? { runSeq } : {}),
      now: ctx.services.app.clock.now(),
      ...(control ? { liveStatus: (runId: string) => control.liveStatus(runId) } : {}),
    });
    if (!result.ok) return errorReply(result.error);
    const report = result.value;
    if (report.modes.length === 0) {
      if (!report.run && report.period === 'all') return { text: 'No runs yet. Start a paper run with /paper.' };
      const who = report.run ? `Run #${report.run.seq} did not run` : 'You had no runs';
      return { text: `${who} in this period (${periodLabel(report)}). Try \`/pnl all\`.` };
    }
    const reply: Reply = { text: pnlText(report) };
    try {
      // The chart shows the user's wall-clock time.
      const local = (t: number) => t + timeZoneOffsetMs(report.timeZone, t);
      const png = await renderEquityChart({
        title: `Equity — ${report.run ? `run #${report.run.seq}, ` : ''}${periodLabel(report)}`,
        series: report.modes.map((m) => ({ name: m.mode, points: m.equity.map(([t, v]) => [local(t), v] as const) })),
      });
      return { ...reply, image: { png, caption: `Equity (${report.modes.map((m) => MODE_LABEL[m.mode]).join(', ')}), times in ${report.timeZone}` } };
    } catch (error) {
      ctx.logger.warn({ err: error }, 'equity chart could not be rendered; replying with text only');
      return reply;
    }
  },
});
