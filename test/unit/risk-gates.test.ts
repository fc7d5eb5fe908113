import { describe, expect, it } from 'vitest';
import { Regime } from '../../src/engine/regime-codes.ts';
import {
  checkIntent,
  checkRunStart,
  formatDuration,
  formatPct,
  formatUsdAmount,
  maxRunCapital,
  TieredRiskGate,
  type GateIntent,
  type GateRefusal,
  type RiskContext,
} from '../../src/engine/risk/gates.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import type { OpenOrderView, OrderIntent, Strategy, StrategyContext } from '../../src/engine/types.ts';
import { Runner } from '../../src/engine/runner.ts';
import { DEFAULT_SIM_VENUE, SimVenue } from '../../src/exchange/sim/sim-venue.ts';

const NOW = 1_700_000_000_000;

type Patch = {
  now?: number;
  capital?: Partial<RiskContext['capital']>;
  drawdown?: Partial<RiskContext['drawdown']>;
  market?: Partial<RiskContext['market']>;
  execution?: Partial<RiskContext['execution']>;
  limits?: Partial<RiskContext['limits']>;
};

/** A context where everything passes: $1,000 run, $10,000 tier, 10% reserve, nothing deployed, fresh data. */
const risk = (patch: Patch = {}): RiskContext => ({
  now: patch.now ?? NOW,
  capital: { runCapitalUsd: 1000, tierMaxCapitalUsd: 10_000, otherRunsCapitalUsd: 0, capitalReservePct: 10, deployedUsd: 0, ...patch.capital },
  drawdown: { dailyRealizedPnlUsd: 0, realizedDrawdownUsd: 0, ...patch.drawdown },
  market: { regime: Regime.RANGING, movePct: 0, ...patch.market },
  execution: { killSwitch: null, exchangeHealthy: true, lastDataAt: NOW - 1000, ...patch.execution },
  limits: { ...SEED_GUARD_LIMITS, ...patch.limits },
});

const buy = (notionalUsd: number): GateIntent => ({ kind: 'place', side: 'buy', notionalUsd });
const sell = (notionalUsd: number): GateIntent => ({ kind: 'place', side: 'sell', notionalUsd });
const cancel: GateIntent = { kind: 'cancel', side: 'buy', notionalUsd: 0 };

const refusal = (intent: GateIntent, ctx: RiskContext) => {
  const decision = checkIntent(intent, ctx);
  return decision.pass ? null : [decision.gate, decision.refusal];
};

describe('formatting', () => {
  it('writes money with two decimals and thousands separators', () => {
    expect(formatUsdAmount(1234.567)).toBe('$1,234.57');
    expect(formatUsdAmount(200)).toBe('$200.00');
    expect(formatUsdAmount(-12.5)).toBe('-$12.50');
    expect(formatUsdAmount(-0.001)).toBe('$0.00');
    expect(formatPct(10)).toBe('10%');
    expect(formatPct(16.2345)).toBe('16.23%');
    expect(formatDuration(300_000)).toBe('5 min');
    expect(formatDuration(301_000)).toBe('5 min 1 s');
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(3_900_000)).toBe('1 h 5 min');
    expect(formatDuration(250)).toBe('250 ms');
  });
});

describe('capital gate', () => {
  it('maxRunCapital: tier cap less the reserve less other runs, in cents, floored at 0', () => {
    expect(maxRunCapital({ tierMaxCapitalUsd: 10_000, capitalReservePct: 10, otherRunsCapitalUsd: 4000 })).toBe(5000);
    expect(maxRunCapital({ tierMaxCapitalUsd: 2500, capitalReservePct: 7, otherRunsCapitalUsd: 0 })).toBe(2325);
    expect(maxRunCapital({ tierMaxCapitalUsd: 1000, capitalReservePct: 10, otherRunsCapitalUsd: 2000 })).toBe(0);
    expect(maxRunCapital({ tierMaxCapitalUsd: null, capitalReservePct: 10, otherRunsCapitalUsd: 0 })).toBe(0);
  });

  it('checkRunStart passes at exactly the limit and explains a refusal with the figures', () => {
    const tier = { tierMaxCapitalUsd: 10_000, capitalReservePct: 10, otherRunsCapitalUsd: 4000 };
    expect(checkRunStart(tier, 5000)).toEqual({ pass: true });
    expect(checkRunStart({ tierMaxCapitalUsd: 2500, capitalReservePct: 7, otherRunsCapitalUsd: 0 }, 2325)).toEqual({ pass: true });
    expect(checkRunStart(tier, 5000.01)).toEqual({
      pass: false,
      gate: 'capital',
      refusal: 'tier_capital_exceeded',
      message:
        'Run capital $5,000.01 is more than your tier allows: the $10,000.00 tier cap minus the 10% reserve minus $4,000.00 in your other runs leaves $5,000.00.',
    });
    expect(checkRunStart({ tierMaxCapitalUsd: null, capitalReservePct: 10, otherRunsCapitalUsd: 0 }, 100)).toEqual({
      pass: false,
      gate: 'capital',
      refusal: 'no_license',
      message: 'You have no active license, so the run buys nothing new. Selling and cancelling still work.',
    });
  });

  it('no_license refuses buys but never sells or cancels', () => {
    const ctx = risk({ capital: { tierMaxCapitalUsd: null } });
    expect(refusal(buy(10), ctx)).toEqual(['capital', 'no_license']);
    expect(refusal(sell(10), ctx)).toBeNull();
    expect(checkIntent(cancel, ctx)).toEqual({ pass: true });
  });

  it('tier_capital_exceeded refuses entries of a run larger than the tier leaves, not exits', () => {
    const ctx = risk({ capital: { runCapitalUsd: 6000, otherRunsCapitalUsd: 4000 } });
    const decision = checkIntent(buy(10), ctx);
    expect(decision).toEqual({
      pass: false,
      gate: 'capital',
      refusal: 'tier_capital_exceeded',
      message:
        'Run capital $6,000.00 is more than your tier allows: the $10,000.00 tier cap minus the 10% reserve minus $4,000.00 in your other runs leaves $5,000.00.',
    });
    expect(checkIntent(sell(10), ctx)).toEqual({ pass: true });
    expect(checkIntent(buy(10), risk({ capital: { runCapitalUsd: 5000, otherRunsCapitalUsd: 4000 } }))).toEqual({ pass: true });
  });

  it('run_capital_exceeded: an entry may fill the run capital exactly, not a cent more', () => {
    const ctx = risk({ capital: { deployedUsd: 800 } });
    expect(checkIntent(buy(200), ctx)).toEqual({ pass: true });
    expect(checkIntent(buy(200.01), ctx)).toEqual({
      pass: false,
      gate: 'capital',
      refusal: 'run_capital_exceeded',
      message: "This $200.01 buy would put $1,000.01 to work, more than this run's $1,000.00 capital ($800.00 already in use).",
    });
    expect(checkIntent(sell(5000), ctx)).toEqual({ pass: true });
  });

  it('a replace frees the notional of the order it replaces', () => {
    const ctx = risk({ capital: { deployedUsd: 800 } });
    expect(checkIntent({ kind: 'replace', side: 'buy', notionalUsd: 500, replacedNotionalUsd: 300 }, ctx)).toEqual({ pass: true });
    const decision = checkIntent({ kind: 'replace', side: 'buy', notionalUsd: 500.01, replacedNotionalUsd: 300 }, ctx);
    expect(decision.pass ? null : [decision.refusal, decision.message]).toEqual([
      'run_capital_exceeded',
      "This $500.01 buy would put $1,000.01 to work, more than this run's $1,000.00 capital ($500.00 already in use).",
    ]);
  });

  it('fails closed on a NaN notional', () => {
    expect(refusal(buy(Number.NaN), risk())).toEqual(['capital', 'run_capital_exceeded']);
  });
});

describe('drawdown gate', () => {
  it('daily_loss_cap at exactly the daily limit, not a cent below', () => {
    expect(checkIntent(buy(10), risk({ drawdown: { dailyRealizedPnlUsd: -250 } }))).toEqual({
      pass: false,
      gate: 'drawdown',
      refusal: 'daily_loss_cap',
      message: "Today's realized loss of $250.00 reached the $250.00 daily limit: no new buys until 00:00 UTC.",
    });
    expect(checkIntent(buy(10), risk({ drawdown: { dailyRealizedPnlUsd: -249.99 } }))).toEqual({ pass: true });
    expect(checkIntent(buy(10), risk({ drawdown: { dailyRealizedPnlUsd: 900 } }))).toEqual({ pass: true });
  });

  it('global_drawdown at exactly the limit, not a cent below', () => {
    expect(checkIntent(buy(10), risk({ drawdown: { realizedDrawdownUsd: 500 } }))).toEqual({
      pass: false,
      gate: 'drawdown',
      refusal: 'global_drawdown',
      message: 'Realized drawdown of $500.00 across your runs reached the $500.00 limit: no new buys.',
    });
    expect(checkIntent(buy(10), risk({ drawdown: { realizedDrawdownUsd: 499.99 } }))).toEqual({ pass: true });
  });
});

describe('volatility gate', () => {
  it('extreme_regime refuses entries only in EXTREME', () => {
    expect(checkIntent(buy(10), risk({ market: { regime: Regime.EXTREME } }))).toEqual({
      pass: false,
      gate: 'volatility',
      refusal: 'extreme_regime',
      message: 'The market is in an extreme-volatility regime: no new buys until it calms down.',
    });
    for (const regime of [Regime.WARMUP, Regime.RANGING, Regime.TRENDING_BULL, Regime.TRENDING_BEAR]) {
      expect(checkIntent(buy(10), risk({ market: { regime } }))).toEqual({ pass: true });
    }
  });

  it('black_swan at exactly the move limit, not below', () => {
    expect(checkIntent(buy(10), risk({ market: { movePct: 10 } }))).toEqual({
      pass: false,
      gate: 'volatility',
      refusal: 'black_swan',
      message: 'Price moved 10% within the black-swan window, at or above the 10% limit: no new buys.',
    });
    expect(checkIntent(buy(10), risk({ market: { movePct: 9.99 } }))).toEqual({ pass: true });
  });
});

describe('execution gate', () => {
  it('kill_switch refuses buys and sells for every scope, with a message per scope', () => {
    const messages = {
      global: 'Trading is paused for everyone (global kill switch): no orders are sent.',
      user: 'Your kill switch is on: no orders are sent until you turn it off.',
      run: "This run's kill switch is on: no orders are sent.",
    } as const;
    for (const scope of ['global', 'user', 'run'] as const) {
      const ctx = risk({ execution: { killSwitch: scope } });
      for (const intent of [buy(10), sell(10)]) {
        expect(checkIntent(intent, ctx)).toEqual({ pass: false, gate: 'execution', refusal: 'kill_switch', message: messages[scope] });
      }
      expect(checkIntent(cancel, ctx)).toEqual({ pass: true });
    }
  });

  it('exchange_unhealthy refuses sells too', () => {
    expect(checkIntent(sell(10), risk({ execution: { exchangeHealthy: false } }))).toEqual({
      pass: false,
      gate: 'execution',
      refusal: 'exchange_unhealthy',
      message: 'The exchange is not responding normally, so orders are paused.',
    });
  });

  it('stale_data before any data and once data is older than staleTickerMs', () => {
    expect(checkIntent(sell(10), risk({ execution: { lastDataAt: null } }))).toEqual({
      pass: false,
      gate: 'execution',
      refusal: 'stale_data',
      message: 'No market data has arrived yet, so orders are paused.',
    });
    expect(checkIntent(buy(10), risk({ execution: { lastDataAt: NOW - 300_000 } }))).toEqual({ pass: true });
    expect(checkIntent(buy(10), risk({ execution: { lastDataAt: NOW - 300_001 } }))).toEqual({
      pass: false,
      gate: 'execution',
      refusal: 'stale_data',
      message: 'Market data is 5 min 1 s old, past the 5 min limit, so orders are paused.',
    });
  });
});

describe('gate order and exits', () => {
  const everythingFails: Patch = {
    capital: { deployedUsd: 1000 },
    drawdown: { dailyRealizedPnlUsd: -300, realizedDrawdownUsd: 600 },
    market: { regime: Regime.EXTREME, movePct: 50 },
    execution: { killSwitch: 'user', exchangeHealthy: false, lastDataAt: null },
  };

  it('reports the first failing gate, in order capital -> drawdown -> volatility -> execution', () => {
    const ctx = risk(everythingFails);
    expect(refusal(buy(10), ctx)).toEqual(['capital', 'run_capital_exceeded']);
    expect(refusal(buy(10), { ...ctx, capital: { ...ctx.capital, deployedUsd: 0 } })).toEqual(['drawdown', 'daily_loss_cap']);
    expect(refusal(buy(10), { ...ctx, capital: { ...ctx.capital, deployedUsd: 0 }, drawdown: { dailyRealizedPnlUsd: 0, realizedDrawdownUsd: 600 } })).toEqual([
      'drawdown',
      'global_drawdown',
    ]);
    const calm = { ...ctx, capital: { ...ctx.capital, deployedUsd: 0 }, drawdown: { dailyRealizedPnlUsd: 0, realizedDrawdownUsd: 0 } };
    expect(refusal(buy(10), calm)).toEqual(['volatility', 'extreme_regime']);
    expect(refusal(buy(10), { ...calm, market: { regime: Regime.RANGING, movePct: 50 } })).toEqual(['volatility', 'black_swan']);
    const steady = { ...calm, market: { regime: Regime.RANGING, movePct: 0 } };
    expect(refusal(buy(10), steady)).toEqual(['execution', 'kill_switch']);
    expect(refusal(buy(10), { ...steady, execution: { ...steady.execution, killSwitch: null } })).toEqual(['execution', 'exchange_unhealthy']);
    expect(refusal(buy(10), { ...steady, execution: { killSwitch: null, exchangeHealthy: true, lastDataAt: null } })).toEqual([
      'execution',
      'stale_data',
    ]);
  });

  it('a sell passes every failing capital, drawdown and volatility check; only the execution gate stops it', () => {
    const riskOnly = risk({ ...everythingFails, capital: { deployedUsd: 5000, runCapitalUsd: 20_000 }, execution: {} });
    expect(checkIntent(sell(5000), riskOnly)).toEqual({ pass: true });
    expect(checkIntent({ kind: 'replace', side: 'sell', notionalUsd: 5000, replacedNotionalUsd: 100 }, riskOnly)).toEqual({ pass: true });
    expect(refusal(sell(5000), risk(everythingFails))).toEqual(['execution', 'kill_switch']);
  });

  it('a cancel passes even when every gate fails, license included', () => {
    const ctx = risk({ ...everythingFails, capital: { tierMaxCapitalUsd: null, deployedUsd: 1000 } });
    expect(checkIntent(cancel, ctx)).toEqual({ pass: true });
    expect(checkIntent({ kind: 'cancel', side: 'sell', notionalUsd: 0 }, ctx)).toEqual({ pass: true });
  });
});

// ---- TieredRiskGate ----

const strategyCtx = (now: number, openOrders: OpenOrderView[] = [], close = 100): StrategyContext => ({
  now,
  candle: { time: now - 300_000, open: close, high: close, low: close, close, volume: 1 },
  position: { base: 0, quote: 1000, freeQuote: 1000, freeBase: 0 },
  openOrders,
});

const limitBuy = (tag: string, price: number, qty: number): OrderIntent => ({ kind: 'place', tag, side: 'buy', type: 'limit', price, qty });

const openOrder = (tag: string, side: 'buy' | 'sell', price: number, qty: number, filledQty = 0): OpenOrderView => ({
  tag,
  side,
  type: 'limit',
  price,
  qty,
  filledQty,
  placedAt: NOW - 600_000,
  attempt: 1,
});

function harness(initial: Patch = {}) {
  let current = risk(initial);
  const refusals: Array<{ tag: string; refusal: string; message: string }> = [];
  const gate = new TieredRiskGate(
    () => current,
    (intent: OrderIntent, decision: GateRefusal) => refusals.push({ tag: intent.tag, refusal: decision.refusal, message: decision.message }),
  );
  return {
    gate,
    refusals,
    set(patch: Patch) {
      current = risk(patch);
    },
  };
}

describe('TieredRiskGate', () => {
  it('a batch of buy legs must fit the run capital together: the first pass, the rest are refused', () => {
    const { gate, refusals } = harness();
    const ctx = strategyCtx(NOW);
    const legs = Array.from({ length: 10 }, (_, i) => limitBuy(`grid-buy-${i}`, 100, 1.5));
    const passed = legs.map((leg) => gate.check(leg, ctx)).filter((x) => x !== null);
    expect(passed.map((p) => p.tag)).toEqual(['grid-buy-0', 'grid-buy-1', 'grid-buy-2', 'grid-buy-3', 'grid-buy-4', 'grid-buy-5']);
    expect(gate.pendingDeployedUsd).toBe(900);
    expect(refusals.map((r) => [r.tag, r.refusal])).toEqual([
      ['grid-buy-6', 'run_capital_exceeded'],
      ['grid-buy-7', 'run_capital_exceeded'],
      ['grid-buy-8', 'run_capital_exceeded'],
      ['grid-buy-9', 'run_capital_exceeded'],
    ]);
    expect(refusals[0]!.message).toBe("This $150.00 buy would put $1,050.00 to work, more than this run's $1,000.00 capital ($900.00 already in use).");
  });

  it('a new step starts from the reported deployedUsd again', () => {
    const { gate, refusals, set } = harness();
    gate.check(limitBuy('a', 100, 9), strategyCtx(NOW));
    expect(gate.pendingDeployedUsd).toBe(900);
    set({ now: NOW + 300_000, capital: { deployedUsd: 900 }, execution: { lastDataAt: NOW + 300_000 } });
    const next = strategyCtx(NOW + 300_000);
    expect(gate.pendingDeployedUsd).toBe(900);
    expect(gate.check(limitBuy('b', 100.01, 1), next)).toBeNull();
    expect(gate.pendingDeployedUsd).toBe(0);
    expect(gate.check(limitBuy('c', 100, 1), next)?.tag).toBe('c');
    expect(refusals.map((r) => [r.tag, r.refusal])).toEqual([['b', 'run_capital_exceeded']]);
  });

  it('does not double count when the context reports live venue state within the step', () => {
    const openOrders: OpenOrderView[] = [];
    const live = (): RiskContext => risk({ capital: { deployedUsd: openOrders.reduce((sum, o) => sum + o.price * o.qty, 0) } });
    const refused: string[] = [];
    const gate = new TieredRiskGate(live, (intent, decision) => refused.push(`${intent.tag}:${decision.refusal}`));
    const ctx = strategyCtx(NOW, openOrders);
    let passed = 0;
    for (let i = 0; i < 10; i++) {
      const leg = limitBuy(`g${i}`, 100, 1.5);
      if (gate.check(leg, ctx)) {
        passed++;
        openOrders.push(openOrder(`g${i}`, 'buy', 100, 1.5)); // the venue now holds it
      }
    }
    expect(passed).toBe(6);
    expect(refused).toEqual(['g6:run_capital_exceeded', 'g7:run_capital_exceeded', 'g8:run_capital_exceeded', 'g9:run_capital_exceeded']);
  });

  it('prices market orders at the candle close', () => {
    const { gate, refusals } = harness({ capital: { deployedUsd: 600 } });
    const ctx = strategyCtx(NOW, [], 200);
    const market = (tag: string, qty: number): OrderIntent => ({ kind: 'place', tag, side: 'buy', type: 'market', price: 0, qty });
    expect(gate.check(market('m1', 2), ctx)?.tag).toBe('m1');
    expect(gate.pendingDeployedUsd).toBe(400);
    expect(gate.check(market('m2', 0.01), ctx)).toBeNull();
    expect(refusals[0]!.message).toBe("This $2.00 buy would put $1,002.00 to work, more than this run's $1,000.00 capital ($1,000.00 already in use).");
  });

  it('a replace takes its side from the open leg and frees its unfilled notional', () => {
    // b1: buy 5 @ 100 with 1 filled -> $400 unfilled; deployed $900 = $500 held + $400 open.
    const open = [openOrder('b1', 'buy', 100, 5, 1)];
    const { gate, refusals } = harness({ capital: { deployedUsd: 900 } });
    const ctx = strategyCtx(NOW, open);
    const replace: OrderIntent = { kind: 'replace', tag: 'b1', price: 100, qty: 5 };
    expect(gate.check(replace, ctx)).toBe(replace); // 900 - 400 + 500 = 1000
    expect(gate.pendingDeployedUsd).toBe(100);
    expect(gate.check(limitBuy('x', 10, 1), ctx)).toBeNull();
    expect(refusals).toEqual([
      { tag: 'x', refusal: 'run_capital_exceeded', message: "This $10.00 buy would put $1,010.00 to work, more than this run's $1,000.00 capital ($1,000.00 already in use)." },
    ]);
  });

  it('refuses a replace that would overshoot, and passes an unknown tag through for the venue', () => {
    const { gate, refusals } = harness({ capital: { deployedUsd: 900 } });
    const ctx = strategyCtx(NOW, [openOrder('b1', 'buy', 100, 5, 1)]);
    expect(gate.check({ kind: 'replace', tag: 'b1', price: 100, qty: 6 }, ctx)).toBeNull(); // 900 - 400 + 600
    expect(refusals.map((r) => r.message)).toEqual([
      "This $600.00 buy would put $1,100.00 to work, more than this run's $1,000.00 capital ($500.00 already in use).",
    ]);
    const unknown: OrderIntent = { kind: 'replace', tag: 'nope', price: 1e9, qty: 1e9 };
    expect(gate.check(unknown, ctx)).toBe(unknown);
    expect(refusals).toHaveLength(1);
    expect(gate.pendingDeployedUsd).toBe(0);
  });

  it('a sell replace passes the risk gates but not a kill switch', () => {
    const open = [openOrder('tp', 'sell', 120, 3)];
    const bad = harness({ drawdown: { dailyRealizedPnlUsd: -1000 }, market: { regime: Regime.EXTREME }, capital: { deployedUsd: 5000 } });
    const replace: OrderIntent = { kind: 'replace', tag: 'tp', price: 110, qty: 3 };
    expect(bad.gate.check(replace, strategyCtx(NOW, open))).toBe(replace);
    expect(bad.gate.pendingDeployedUsd).toBe(0);
    const killed = harness({ execution: { killSwitch: 'run' } });
    expect(killed.gate.check(replace, strategyCtx(NOW, open))).toBeNull();
    expect(killed.refusals.map((r) => [r.tag, r.refusal])).toEqual([['tp', 'kill_switch']]);
  });

  it('cancels always pass, and cancelling an open buy frees its capital for the rest of the step', () => {
    const open = [openOrder('b1', 'buy', 100, 5, 1), openOrder('s1', 'sell', 120, 2)];
    const { gate, refusals } = harness({ capital: { deployedUsd: 1000 } });
    const ctx = strategyCtx(NOW, open);
    expect(gate.check(limitBuy('n1', 100, 3), ctx)).toBeNull();
    const cancelBuy: OrderIntent = { kind: 'cancel', tag: 'b1' };
    const cancelSell: OrderIntent = { kind: 'cancel', tag: 's1' };
    expect(gate.check(cancelBuy, ctx)).toBe(cancelBuy);
    expect(gate.check(cancelSell, ctx)).toBe(cancelSell);
    expect(gate.pendingDeployedUsd).toBe(-400);
    expect(gate.check(limitBuy('n2', 100, 3), ctx)?.tag).toBe('n2');
    expect(gate.pendingDeployedUsd).toBe(-100);
    expect(refusals.map((r) => r.tag)).toEqual(['n1']);

    const killed = harness({ execution: { killSwitch: 'global' }, capital: { tierMaxCapitalUsd: null } });
    expect(killed.gate.check(cancelBuy, ctx)).toBe(cancelBuy);
    expect(killed.refusals).toEqual([]);
  });
});

describe('TieredRiskGate in the runner', () => {
  it('lets only the legs that fit reach the simulated venue', () => {
    const venue = new SimVenue({ ...DEFAULT_SIM_VENUE, startQuote: 5000 });
    const strategy: Strategy = {
      id: 'ten-legs',
      version: '1',
      regime: Regime.RANGING,
      friendlyRegimes: [Regime.RANGING],
      inMarket: false,
      cycles: [],
      forgetClosedCycles: () => {},
      onCandle: (ctx) => (ctx.openOrders.length === 0 ? Array.from({ length: 10 }, (_, i) => limitBuy(`g${i}`, 90 - i, 1.5)) : []),
      onFill: () => [],
      snapshot: () => ({ strategy: 'ten-legs', version: '1', state: null }),
      restore: () => {},
    };
    let now = 0;
    const refused: string[] = [];
    const gate = new TieredRiskGate(
      () =>
        risk({
          now,
          capital: { deployedUsd: venue.openOrders.reduce((sum, o) => sum + (o.side === 'buy' ? o.price * (o.qty - o.filledQty) : 0), 0) },
          execution: { lastDataAt: now },
        }),
      (intent, decision) => refused.push(`${intent.tag}:${decision.refusal}`),
    );
    const runner = new Runner(strategy, venue, 60_000, gate);
    const candle = { time: NOW, open: 100, high: 101, low: 99, close: 100, volume: 10 };
    now = NOW + 60_000;
    runner.step(candle);
    // g0..g6 deploy 1.5 x (90 + ... + 84) = $913.50; each of g7..g9 ($124.50, $123, $121.50) would pass $1,000.
    expect(venue.openOrders.map((o) => o.tag)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6']);
    expect(refused).toEqual(['g7:run_capital_exceeded', 'g8:run_capital_exceeded', 'g9:run_capital_exceeded']);
  });
});
