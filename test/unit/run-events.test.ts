import { describe, expect, it } from 'vitest';
import { describeRunEvent, runLabel, type RunEvent, type RunRef } from '../../src/execution/run-events.ts';

const paper: RunRef = { id: 'run-paper', userId: 'u1', seq: 3, mode: 'paper', strategy: 'grid', symbol: 'BTC/USDT' };
const live: RunRef = { ...paper, id: 'run-live', seq: 7, mode: 'live', strategy: 'dca' };

describe('run labels', () => {
  it('marks paper runs as paper and live runs as live, with the run number', () => {
    expect(runLabel(paper)).toBe('🧪 Paper run #3 (grid BTC/USDT)');
    expect(runLabel(live)).toBe('💰 Live run #7 (dca BTC/USDT)');
    expect(runLabel(paper)).not.toContain('Live');
    expect(runLabel(live)).not.toContain('Paper');
  });
});

describe('run event sentences', () => {
  it('describes a buy fill without P&L', () => {
    const text = describeRunEvent({ type: 'fill', run: paper, tradeId: 't1', side: 'buy', price: 30_000.5, qty: 0.00333, tag: 'base', realizedPnl: 0 });
    expect(text).toBe('🧪 Paper run #3 (grid BTC/USDT): bought 0.00333 at 30000.5.');
  });

  it('describes a profitable sell with a plus sign', () => {
    const text = describeRunEvent({ type: 'fill', run: live, tradeId: 't2', side: 'sell', price: 31_000, qty: 0.01, tag: 'tp', realizedPnl: 9.389 });
    expect(text).toBe('💰 Live run #7 (dca BTC/USDT): sold 0.01 at 31000 (realised +9.39).');
  });

  it('describes a losing sell with a minus sign', () => {
    const text = describeRunEvent({ type: 'fill', run: paper, tradeId: 't1', side: 'sell', price: 29_500.25, qty: 0.02, tag: 'sl', realizedPnl: -10.456 });
    expect(text).toBe('🧪 Paper run #3 (grid BTC/USDT): sold 0.02 at 29500.25 (realised -10.46).');
  });

  it('prints quantities without float dust', () => {
    const text = describeRunEvent({ type: 'fill', run: paper, tradeId: 't1', side: 'buy', price: 0.1 + 0.2, qty: 0.1 + 0.2, tag: 'x', realizedPnl: 0 });
    expect(text).toContain('bought 0.3 at 0.3.');
  });

  it('gives every event type a sentence naming the run and its kind', () => {
    const events: RunEvent[] = [
      { type: 'fill', run: paper, tradeId: 't1', side: 'buy', price: 30_000, qty: 0.001, tag: 'b', realizedPnl: 0 },
      { type: 'order_rejected', run: paper, clientOrderId: 'ait-x-so2-1', tag: 'so2', reason: 'insufficient_funds', message: 'Account has insufficient balance.' },
      { type: 'risk_refused', run: paper, refusal: 'tier_capital_exceeded', message: 'capital above the tier limit', hourBucket: 0 },
      { type: 'guard_tripped', run: paper, guard: 'run_loss', message: 'run loss 12% over the 10% limit' },
      { type: 'exchange_banned', run: paper, retryAfterMs: 120_500, minuteBucket: 0 },
      { type: 'run_stopped', run: paper, status: 'killed', reason: 'kill', detail: null },
      { type: 'run_started', run: paper, capitalUsd: 1_000 },
    ];
    for (const event of events) {
      const text = describeRunEvent(event);
      expect(text, event.type).toContain('Paper run #3');
      expect(text, event.type).not.toContain('Live');
    }
    for (const event of events) expect(describeRunEvent({ ...event, run: live } as RunEvent), event.type).toContain('Live run #7');
  });

  it('words each non-fill event', () => {
    expect(describeRunEvent({ type: 'order_rejected', run: live, clientOrderId: 'ait-x-so2-1', tag: 'so2', reason: 'insufficient_funds', message: 'Account has insufficient balance.' })).toBe(
      '💰 Live run #7 (dca BTC/USDT): the exchange refused order so2: Account has insufficient balance.',
    );
    expect(describeRunEvent({ type: 'risk_refused', run: live, refusal: 'tier_capital_exceeded', message: 'capital above the tier limit', hourBucket: 0 })).toBe(
      '💰 Live run #7 (dca BTC/USDT): an order was held back by the risk engine: capital above the tier limit',
    );
    expect(describeRunEvent({ type: 'guard_tripped', run: live, guard: 'run_loss', message: 'run loss 12% over the 10% limit' })).toBe(
      '💰 Live run #7 (dca BTC/USDT) stopped by a guard: run loss 12% over the 10% limit. Open orders were cancelled.',
    );
    // 120.5 s rounds up.
    expect(describeRunEvent({ type: 'exchange_banned', run: live, retryAfterMs: 120_500, minuteBucket: 0 })).toBe(
      '💰 Live run #7 (dca BTC/USDT): the exchange has temporarily banned our requests (too many); orders pause for 121 s.',
    );
  });

  it('describes a stop with and without reason and detail', () => {
    expect(describeRunEvent({ type: 'run_stopped', run: paper, status: 'stopped', reason: 'user', detail: null })).toBe('🧪 Paper run #3 (grid BTC/USDT) stopped (user).');
    expect(describeRunEvent({ type: 'run_stopped', run: live, status: 'failed', reason: 'error:strategy', detail: 'boom' })).toBe(
      '💰 Live run #7 (dca BTC/USDT) failed (error:strategy: boom).',
    );
    expect(describeRunEvent({ type: 'run_stopped', run: live, status: 'killed', reason: '', detail: null })).toBe('💰 Live run #7 (dca BTC/USDT) killed.');
  });
});
