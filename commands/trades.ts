import { CSV_MAX_ROWS, recentTrades, tradesCsv, type TradeView } from '../src/app/pnl.ts';
import { day, errorReply, minute, runNumber } from './format.ts';
import { signedUsd } from './pnl.ts';
import { arg, defineCommand } from './types.ts';

const DEFAULT_COUNT = 10;
const MAX_COUNT = 50;
const MODE_LABEL = { paper: '🧪 paper', live: '💰 live' } as const;

const num = (text: string, digits: number) => Number(Number(text).toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });

function tradeLine(t: TradeView): string {
  const pnl = t.side === 'sell' ? ` · P&L ${signedUsd(Number(t.realizedPnl))}` : '';
  return `${minute(t.executedAt)} #${t.runSeq} ${MODE_LABEL[t.mode]} ${t.side.toUpperCase()} ${num(t.qty, 8)} ${t.symbol} @ ${num(t.price, 8)} · fee ${num(t.fee, 4)}${pnl}`;
}

export default defineCommand({
  name: 'trades',
  description: 'Your recent fills, or all of them as a CSV file',
  args: {
    n: arg.text(`how many fills (1–${MAX_COUNT}, default ${DEFAULT_COUNT}), or csv for a file`).optional(),
    run: arg.text('a run number (default: all your runs)').optional(),
  },
  access: { kind: 'anyone' },
  where: 'any',
  help: 'Examples: `/trades`, `/trades 5`, `/trades 20 3` (run #3), `/trades csv`, `/trades csv 3`. Times are UTC, fees in the quote currency.',
  async handler(args, ctx) {
    let what = args.n?.toLowerCase();
    let runWord = args.run;
    // "/trades #3": a run number where the count goes.
    if (what?.startsWith('#') && runWord === undefined) {
      runWord = what;
      what = undefined;
    }
    const runSeq = runWord === undefined ? undefined : runNumber(runWord);
    if (runSeq === null) return { text: 'Give the run number, e.g. `/trades 10 3` (see /runs).', outcome: 'usage' };
    const scope = runSeq === undefined ? {} : { runSeq };

    if (what === 'csv') {
      const result = await tradesCsv(ctx.services.app, ctx.user.userId, scope);
      if (!result.ok) return errorReply(result.error);
      const { csv, rows, truncated } = result.value;
      if (rows === 0) return { text: runSeq ? `Run #${runSeq} has no fills yet.` : 'No fills yet.' };
      const name = `trades${runSeq ? `-run${runSeq}` : ''}-${day(ctx.services.app.clock.now())}.csv`;
      const note = truncated ? ` (the newest ${CSV_MAX_ROWS.toLocaleString('en-US')})` : '';
      return {
        text: `Your fills as CSV: ${rows} row${rows === 1 ? '' : 's'}${note}. Times in UTC, fees in the quote currency.`,
        file: { name, bytes: new TextEncoder().encode(csv), mime: 'text/csv', caption: `${rows} fill${rows === 1 ? '' : 's'}${note}` },
      };
    }

    let limit = DEFAULT_COUNT;
    if (what !== undefined) {
      if (!/^\d{1,3}$/.test(what) || Number(what) < 1 || Number(what) > MAX_COUNT) {
        return { text: `Give how many fills (1–${MAX_COUNT}) or \`csv\`, e.g. \`/trades 5\` or \`/trades csv\`.`, outcome: 'usage' };
      }
      limit = Number(what);
    }
    const result = await recentTrades(ctx.services.app, ctx.user.userId, { limit, ...scope });
    if (!result.ok) return errorReply(result.error);
    const trades = result.value;
    if (trades.length === 0) return { text: runSeq ? `Run #${runSeq} has no fills yet.` : 'No fills yet. Start a paper run with /paper.' };
    const head = `*Last ${trades.length} fill${trades.length === 1 ? '' : 's'}${runSeq ? ` of run #${runSeq}` : ''}* (newest first)`;
    return { text: [head, ...trades.map(tradeLine)].join('\n') };
  },
});
