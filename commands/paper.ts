import { parseRunSpec, startRun } from '../src/app/runs.ts';
import { findExchange } from '../src/domain/exchanges.ts';
import { dollars, formatUsd } from '../src/kernel/money.ts';
import { errorReply, TRADING_OFF } from './format.ts';
import { arg, defineCommand } from './types.ts';

export default defineCommand({
  name: 'paper',
  description: 'Start a paper run: simulated orders on live market data',
  args: {
    strategy: arg.choice('dca (buys the dips with safety orders) or grid', ['dca', 'grid']),
    setup: arg.text('<symbol> [capital] [key=value ...]', { rest: true }),
  },
  access: { kind: 'licensed' },
  where: 'any',
  help:
    'Example: `/paper dca BTC/USDT 500 tp_range=0.8,2.0`. Capital defaults to $1,000 (or what your tier has left). US stocks: `/paper dca AAPL/USD 500 exchange=alpaca` (orders only while the market is open).',
  async handler({ strategy, setup }, ctx) {
    const trading = ctx.services.trading;
    if (!trading) return TRADING_OFF;
    const parsed = parseRunSpec([strategy, ...setup.split(/\s+/)]);
    if (!parsed.ok) return errorReply(parsed.error);
    const market = await trading.control.checkMarket(parsed.value.exchange ?? trading.settings.defaultExchange, parsed.value.symbol);
    if (!market.ok) return errorReply(market.error);
    const deps = { ...ctx.services.app, runSettings: trading.settings };
    const run = await startRun(deps, { userId: ctx.user.userId, mode: 'paper', spec: parsed.value, actor: { type: 'user', id: ctx.user.userId } });
    if (!run.ok) return errorReply(run.error);
    await trading.control.wake(run.value.id);
    return {
      text: `🧪 *Paper run #${run.value.seq} started*: ${run.value.strategy} ${run.value.symbol} with ${formatUsd(dollars(run.value.capitalUsd))} of simulated capital on ${run.value.timeframe} candles${run.value.exchange === trading.settings.defaultExchange ? '' : ` from ${findExchange(run.value.exchange)?.name ?? run.value.exchange}`}.\nOrders are simulated; prices are real. See /status ${run.value.seq}, stop with /stop ${run.value.seq}.`,
    };
  },
});
