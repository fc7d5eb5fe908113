// Copy trading's pure arithmetic: proportional sizes with the lot and the caps, average-cost P&L
// that adds up exactly, slippage's sign, and the max_loss rule.
import { describe, expect, it } from 'vitest';
import { applyCopyFill, exact, maxLossReached, sizeCopy, slippageBps, type CopyPosition } from '../../src/execution/copy-sizing.ts';

const rules = { base: 'BTC', lotSize: 0.00001, minQty: 0.00001, minNotional: 5 };
const flat: CopyPosition = { baseQty: exact(0), costUsd: exact(0), realizedPnlUsd: exact(0), feesUsd: exact(0) };
const size = (over: Partial<Parameters<typeof sizeCopy>[0]>) =>
  sizeCopy({ side: 'buy', masterQty: '0.1537', masterPrice: '50000', masterCapitalUsd: '10000', followCapitalUsd: '1234', maxCapitalUsd: null, position: flat, rules, ...over });

describe('copy sizing', () => {
  it('scales by follow capital / master capital and rounds down to the lot', () => {
    const s = size({});
    expect(s.kind).toBe('order');
    if (s.kind === 'order') expect(s.qty.toString()).toBe('0.01896'); // 0.01896658
  });

  it('caps a buy so the copies’ cost stays within min(capital, max_capital), with room for fee and slippage', () => {
    const s = size({ followCapitalUsd: '5000', maxCapitalUsd: '1000', position: { ...flat, costUsd: exact('400') } });
    expect(s.kind === 'order' && s.capped).toBe(true);
    // $600 of room at 50,000 × 1.002 → 0.01197 BTC.
    if (s.kind === 'order') expect(s.qty.toString()).toBe('0.01197');
    expect(size({ maxCapitalUsd: '100', position: { ...flat, costUsd: exact('99') } })).toMatchObject({ kind: 'skip', reason: 'capital_cap' });
  });

  it('caps a sell at what the copies hold, and skips below the market minimum or with nothing held', () => {
    const s = size({ side: 'sell', position: { ...flat, baseQty: exact('0.005'), costUsd: exact('250') } });
    if (s.kind !== 'order') throw new Error(s.message);
    expect(s.qty.toString()).toBe('0.005');
    expect(size({ side: 'sell' })).toMatchObject({ kind: 'skip', reason: 'nothing_held' });
    expect(size({ followCapitalUsd: '5' })).toMatchObject({ kind: 'skip', reason: 'below_minimum' }); // 0.00007 BTC = $3.50
  });

  it('keeps average cost with buy fees in it and realises sells net of fees, to the last digit', () => {
    let p = applyCopyFill(flat, { side: 'buy', qty: '0.02', price: '50000', fee: '1' }).position;
    p = applyCopyFill(p, { side: 'buy', qty: '0.01', price: '44000', fee: '0.44' }).position;
    expect(p.costUsd.toString()).toBe('1441.44');
    const first = applyCopyFill(p, { side: 'sell', qty: '0.01', price: '52000', fee: '0.52' });
    // 520 − 0.52 − 1441.44 / 3 = 39.0
    expect(first.realizedPnl.toString()).toBe('39');
    const rest = applyCopyFill(first.position, { side: 'sell', qty: '0.02', price: '40000', fee: '0.8' });
    expect(rest.position.baseQty.toString()).toBe('0');
    expect(rest.position.costUsd.toString()).toBe('0');
    // Everything sold: total realised = proceeds − every fee − every purchase.
    expect(rest.position.realizedPnlUsd.toString()).toBe(exact(520 - 0.52 + 800 - 0.8).sub(1441.44).toString());
    expect(rest.position.feesUsd.toString()).toBe('2.76');
  });

  it('measures slippage as worse-for-the-follower positive, and max_loss on realised plus open P&L', () => {
    expect(slippageBps('buy', '100', '100.5').toString()).toBe('50');
    expect(slippageBps('sell', '100', '100.5').toString()).toBe('-50');
    const held = { baseQty: exact('1'), costUsd: exact('100'), realizedPnlUsd: exact('-5'), feesUsd: exact('0') };
    expect(maxLossReached(held, '90', '15')).toBe(true);
    expect(maxLossReached(held, '90.01', '15')).toBe(false);
    expect(maxLossReached(held, '1', null)).toBe(false);
  });
});
