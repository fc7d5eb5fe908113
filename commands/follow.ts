import { z } from 'zod';
import { followMaster, listFollows, planFollow, type FollowInput } from '../src/app/copy-trading.ts';
import { stopReasonWords } from '../src/app/copy-stops.ts';
import { COPY_HELP, modeWord, money, statsLine } from './copy-format.ts';
import { errorReply, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

const AMOUNT = /^\$?\d{1,9}(\.\d{1,2})?$/;
const amount = (what: string) =>
  z
    .string()
    .trim()
    .regex(AMOUNT, `must be an amount of dollars, e.g. ${what}`)
    .transform((s) => Number(s.replace('$', '')))
    .pipe(z.number().positive('must be more than $0'));

/** `[paper|live] [max_capital=..] [max_loss=..] [keys=<label>]`, each at most once. */
const optionsSchema = z
  .string()
  .trim()
  .transform((text, ctx) => {
    const out: { mode?: 'paper' | 'live'; maxCapitalUsd?: number; maxLossUsd?: number; credentialLabel?: string } = {};
    for (const word of text.split(/\s+/).filter(Boolean)) {
      const lower = word.toLowerCase();
      const [key, value = ''] = lower.includes('=') ? [lower.slice(0, lower.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [lower, ''];
      const fail = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      if ((key === 'paper' || key === 'live') && !value) {
        if (out.mode) return fail('say paper or live once');
        out.mode = key;
      } else if (key === 'max_capital' || key === 'max_loss') {
        const parsed = amount(key === 'max_capital' ? 'max_capital=1500' : 'max_loss=100').safeParse(value);
        if (!parsed.success) return fail(`${key} ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
        if (key === 'max_capital') out.maxCapitalUsd = parsed.data;
        else out.maxLossUsd = parsed.data;
      } else if (key === 'keys') {
        if (!/^[A-Za-z0-9_-]{1,40}$/.test(value)) return fail('keys= takes the label of your stored keys, e.g. keys=default (see /keys list)');
        out.credentialLabel = value;
      } else {
        return fail(`'${word.slice(0, 30)}' is not an option: use paper or live, max_capital=1500, max_loss=100, keys=<label>`);
      }
    }
    return out;
  });

export default defineCommand({
  name: 'follow',
  description: 'Copy trading: follow a master with your own capital, or list what you follow',
  args: {
    code: arg.text('the master code, e.g. M-7K2Q9X (nothing: list your follows)').optional(),
    capital: amount('500').meta({ description: 'your capital for the copies, in dollars' }).optional(),
    options: arg.text('paper or live (default paper), max_capital=…, max_loss=…, keys=<label>', { rest: true }).optional(),
  },
  access: { kind: 'licensed' },
  where: 'any',
  help:
    '`/follow M-7K2Q9X 2000` copies a master on paper with $2,000; `/follow M-7K2Q9X 2000 live max_loss=150` with real money on your own keys. ' +
    'Each master fill is copied at (your capital / the master run’s capital) of its size, rounded down to the market’s lot. ' +
    'max_capital caps what the copies hold at cost; max_loss stops the follow (and sells the copies) once they lost that much. ' +
    'Your own risk limits and kill switch apply to every copy. ' +
    COPY_HELP,
  async handler({ code, capital, options }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    const app = ctx.services.app;
    const userId = ctx.user.userId;
    if (!code) {
      const follows = await listFollows(app, userId);
      if (follows.length === 0) return { text: 'You follow no master. Follow one with `/follow <code> <capital>`.' };
      const lines = follows.flatMap((f) => {
        const limits = [f.maxCapitalUsd !== null ? `max ${money(f.maxCapitalUsd)}` : '', f.maxLossUsd !== null ? `max loss ${money(f.maxLossUsd)}` : ''].filter(Boolean).join(', ');
        const [base] = f.master.symbol.split('/');
        return [
          `${f.status === 'active' ? '▶' : f.status === 'stopping' ? '⏳' : '■'} *${f.code}* ${f.master.strategy} ${f.master.symbol} — ${modeWord(f.mode)} ${money(f.capitalUsd)}${limits ? ` (${limits})` : ''} · ${f.status}${f.stopReason ? ` (${stopReasonWords(f.stopReason)})` : ''}`,
          `   holds ${Number(f.baseQty.toFixed(8))} ${base} at cost ${money(f.costUsd)} · ${statsLine(f.stats)}`,
        ];
      });
      return { text: ['*Your follows*', ...lines].join('\n') };
    }
    if (capital === undefined) return { text: `Say how much capital: \`/follow ${code} 500\` (add \`live\` for real money).`, outcome: 'usage' };
    const parsed = optionsSchema.safeParse(options ?? '');
    if (!parsed.success) return { text: `${parsed.error.issues[0]?.message ?? 'Options are not valid'}.`, outcome: 'invalid_input' };
    const o = parsed.data;
    const input: FollowInput = {
      userId,
      code,
      capitalUsd: capital,
      mode: o.mode ?? 'paper',
      maxCapitalUsd: o.maxCapitalUsd ?? null,
      maxLossUsd: o.maxLossUsd ?? null,
      credentialLabel: o.credentialLabel ?? null,
    };
    const deps = { ...app, runSettings: trading.settings };
    const plan = await planFollow(deps, input);
    if (!plan.ok) return errorReply(plan.error);
    const p = plan.value;
    const summary = `${p.code} (${p.masterMode} ${p.strategy} ${p.symbol}) with ${money(capital)} ${input.mode === 'live' ? `on ${p.exchange} (keys: ${p.credentialLabel})` : 'on paper'}: each master fill is copied at ${(p.sizeFactor * 100).toFixed(2)}% of its size`;
    if (input.mode === 'live') {
      // Keys are checked with the exchange before real money moves, as for /live.
      const keys = await trading.verifyKeys({ userId, exchange: p.exchange, label: p.credentialLabel ?? 'default' });
      if (!keys.ok) return errorReply(keys.error);
      if (!ctx.confirmed) {
        return {
          text: `⚠️ *Copy trading live uses real money.* You are about to follow ${summary}.\nYour risk limits apply to every copy; stop anytime with /unfollow or /kill.`,
          buttons: [
            [
              { label: 'Follow live', command: 'follow', args: { code, capital: String(capital), ...(options ? { options } : {}) }, confirm: true, style: 'danger' },
              { label: 'Cancel', command: 'cancel', style: 'secondary' },
            ],
          ],
          outcome: 'confirmation_requested',
        };
      }
    }
    const followed = await followMaster(deps, input);
    if (!followed.ok) return errorReply(followed.error);
    return { text: `📋 ${input.mode === 'live' ? '💰 Following' : '🧪 Following'} ${summary}.\nSee your copies with /follow; stop with \`/unfollow ${p.code}\`.`, outcome: 'followed' };
  },
});
