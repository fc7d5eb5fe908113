import { allocationFor, setRiskTolerance, type AllocationOverview, type MarketView } from '../src/app/allocation.ts';
import { formatBp, RISK_TOLERANCES, type Allocation, type ChangeReason } from '../src/domain/allocation.ts';
import { DEFAULT_MARKET_REGIME_RULES, marketRegimeLabel, type MarketWindows } from '../src/engine/market-regime.ts';
import { formatUsd } from '../src/kernel/money.ts';
import { errorReply, minute } from './format.ts';
import { arg, defineCommand } from './types.ts';

const signed = (n: number) => `${n < 0 ? '−' : '+'}${Math.abs(n).toFixed(1)}%`;
const TREND_WORDS = { up: 'trending up', down: 'trending down', flat: 'no clear trend' } as const;
const REASON_WORDS: Record<ChangeReason, string> = { first: 'first allocation', regime: 'market regime', risk_tolerance: 'risk tolerance', capital: 'capital' };

function marketLine(label: string, m: MarketView, w: MarketWindows, unit: string): string {
  return (
    `• ${label} (${m.symbol}): volatility ${m.volatilityPct.toFixed(0)}% a year · ${w.trendBars}-${unit} return ${signed(m.returnPct)} · ` +
    `${m.drawdownPct.toFixed(1)}% below its ${w.drawdownBars}-${unit} high · ${TREND_WORDS[m.trend]}`
  );
}

function splitLines(a: Allocation): string[] {
  return [
    `• crypto ${formatBp(a.split.crypto)} — ${formatUsd(a.amounts.crypto)}`,
    `• equities ${formatBp(a.split.equity)} — ${formatUsd(a.amounts.equity)}`,
    '• derivatives — disabled (phase 2)',
    `• cash ${formatBp(a.split.cash)} — ${formatUsd(a.amounts.cash)}`,
  ];
}

/** /allocation's text (exported for tests and other surfaces). */
export function allocationText(o: AllocationOverview): string {
  const lines: string[] = [];
  const r = o.reading;
  if (!r) {
    lines.push('*Multi-asset allocation*', 'The router has not read the market yet; it does every hour. Try again later.');
  } else {
    lines.push(`*Multi-asset allocation* — market regime: *${marketRegimeLabel(r.regime)}*`, `Why: ${r.rule}.`);
    lines.push(marketLine('Crypto', r.crypto, DEFAULT_MARKET_REGIME_RULES.crypto, 'day'));
    lines.push(
      r.equity
        ? marketLine('Equities', r.equity, DEFAULT_MARKET_REGIME_RULES.equity, 'session')
        : `• Equities: no index data (${r.equityProblem ?? 'unavailable'}), so the regime is read from crypto alone.`,
    );
    lines.push(`Read at ${minute(r.takenAt)}.`);
  }
  lines.push('');
  const shown = o.current ?? o.decision;
  if (shown) {
    lines.push(`Your ${formatUsd(shown.capital)}, risk tolerance *${shown.tolerance}*:`, ...splitLines(shown));
    if (o.pending) lines.push('Not recorded yet: the router records it at its next run.');
    else if (o.decision) lines.push(`Last changed ${minute(o.decision.decidedAt)} (${o.decision.reasons.map((x) => REASON_WORDS[x]).join(', ')}).`);
    lines.push('This is advice: your runs are not resized automatically.');
  } else {
    lines.push(`Your risk tolerance: *${o.tolerance}*.`);
  }
  lines.push('Lean more or less: `/allocation conservative`, `/allocation moderate` or `/allocation aggressive`.');
  return lines.join('\n');
}

export default defineCommand({
  name: 'allocation',
  description: 'Your capital split across crypto, equities and cash for this market; set your risk tolerance',
  args: {
    tolerance: arg.choice('conservative, moderate or aggressive', RISK_TOLERANCES).optional(),
  },
  access: { kind: 'licensed' },
  where: 'any',
  help:
    'Every hour the router reads the market regime (trending up or down, ranging, high or low volatility, risk-off) from BTC daily candles and an equity index, ' +
    "and splits your tier's capital across crypto, equities and cash: e.g. high volatility 90/10, low volatility 40/60, risk-off 20/30 with 50% cash (moderate). " +
    'Conservative moves a quarter of crypto and equities to cash; aggressive moves half of the cash into them. Derivatives are disabled (phase 2). ' +
    'You get an allocation alert whenever your split changes. It is advice: runs are not resized. Example: `/allocation conservative`.',
  async handler({ tolerance }, ctx) {
    const app = ctx.services.app;
    const userId = ctx.user.userId;
    let head = '';
    if (tolerance) {
      const set = await setRiskTolerance(app, userId, tolerance, { type: 'user', id: userId });
      if (!set.ok) return errorReply(set.error);
      head =
        set.value.previous === tolerance
          ? `Your risk tolerance is already *${tolerance}*.\n\n`
          : `Risk tolerance set to *${tolerance}* (was ${set.value.previous}).${set.value.alerted ? ' Your split changed:' : ''}\n\n`;
    }
    const overview = await allocationFor(app, userId);
    if (!overview.ok) return errorReply(overview.error);
    return { text: head + allocationText(overview.value) };
  },
});
