import { awaitRiskPhrase, RISK_PHRASE } from '../src/app/live-ack.ts';
import { findRun, parseRunSpec, planRun, type RunSpecInput } from '../src/app/runs.ts';
import { findExchange } from '../src/domain/exchanges.ts';
import { dollars, formatUsd } from '../src/kernel/money.ts';
import { errorReply, runNumber, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'live',
  description: 'Start a live run with real money (after paper trading)',
  args: { spec: arg.text('<paper run number> or new <dca|grid> <symbol> [capital] [key=value ...]', { rest: true }) },
  access: { kind: 'licensed' },
  where: 'private',
  help:
    'Promote a paper run: `/live 3`. Or describe a new one: `/live new dca BTC/USDT 500`. You confirm twice: a button, then typing the risk phrase.',
  async handler({ spec }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    const words = spec.split(/\s+/);
    let runSpec: RunSpecInput;
    const seq = runNumber(words[0] ?? '');
    if (seq !== null && words.length === 1) {
      const paper = await findRun(ctx.services.app, ctx.user.userId, seq);
      if (!paper.ok) return errorReply(paper.error);
      // On the paper run's exchange (a replay's runs go live on the default one).
      const exchange = findExchange(paper.value.exchange)?.id;
      runSpec = { strategy: paper.value.strategy, symbol: paper.value.symbol, capitalUsd: paper.value.capitalUsd, params: paper.value.params, ...(exchange ? { exchange } : {}) };
    } else if (words[0]?.toLowerCase() === 'new') {
      const parsed = parseRunSpec(words.slice(1));
      if (!parsed.ok) return errorReply(parsed.error);
      runSpec = parsed.value;
    } else {
      return { text: 'Say which run: `/live 3` to take paper run #3 live, or `/live new dca BTC/USDT 500`.', outcome: 'usage' };
    }
    const deps = { ...ctx.services.app, runSettings: trading.settings };
    const input = { userId: ctx.user.userId, mode: 'live' as const, spec: runSpec, actor: { type: 'user' as const, id: ctx.user.userId } };
    const plan = await planRun(deps, input);
    if (!plan.ok) return errorReply(plan.error);
    const market = await trading.control.checkMarket(plan.value.exchange, runSpec.symbol);
    if (!market.ok) return errorReply(market.error);
    // Keys are checked with the exchange before the first live run (and after every replacement).
    const keys = await trading.verifyKeys({ userId: ctx.user.userId, exchange: plan.value.exchange, label: plan.value.credentialLabel ?? 'default' });
    if (!keys.ok) return errorReply(keys.error);

    const summary = `${runSpec.strategy} ${runSpec.symbol} with ${formatUsd(dollars(plan.value.capitalUsd))} on ${plan.value.exchange} (keys: ${plan.value.credentialLabel})`;
    if (!ctx.confirmed) {
      return {
        text: `⚠️ *Live trading uses real money.* You are about to start: ${summary}.\nGuards stop the run on losses, but you can lose the capital. Stop anytime with /kill.`,
        buttons: [
          [
            { label: 'Continue', command: 'live', args: { spec }, confirm: true, style: 'danger' },
            { label: 'Cancel', command: 'cancel', style: 'secondary' },
          ],
        ],
        outcome: 'confirmation_requested',
      };
    }
    await awaitRiskPhrase(ctx.services.app, ctx.user.userId, { spec: runSpec, credentialLabel: plan.value.credentialLabel });
    return { text: `Last step. To start ${summary}, type within 10 minutes:\n\`/ack ${RISK_PHRASE}\``, outcome: 'awaiting_ack' };
  },
});
