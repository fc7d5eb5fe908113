import { describe, expect, it } from 'vitest';
import { DEFAULT_SIM_VENUE, SimVenue, type SimVenueConfig } from '../../src/exchange/sim/sim-venue.ts';
import type { Fill } from '../../src/engine/types.ts';
import type { CandleView } from '../../src/market-data/candles.ts';

const venue = (overrides: Partial<SimVenueConfig> = {}) =>
  new SimVenue({ ...DEFAULT_SIM_VENUE, startQuote: 10_000, makerFeePct: 0.1, takerFeePct: 0.2, slippagePct: 0.5, ...overrides });
const candle = (o: number, h: number, l: number, c: number, volume = 1_000, time = 0): CandleView => ({ time, open: o, high: h, low: l, close: c, volume });
const collect = () => {
  const fills: Fill[] = [];
  return { fills, onFill: (f: Fill) => void fills.push(f) };
};

describe('simulated venue', () => {
  it('fills a limit buy when the low touches the price (touch model), at the price, with the maker fee', () => {
    const v = venue();
    const { fills, onFill } = collect();
    expect(v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 100, qty: 1 }, 0, 101, onFill)).toBeNull();
    expect(v.position.freeQuote).toBeCloseTo(10_000 - 100.1, 9); // price × qty × (1 + maker fee) locked
    v.matchCandle(candle(101, 102, 100.5, 101), onFill);
    expect(fills).toHaveLength(0);
    v.matchCandle(candle(101, 102, 100, 101), onFill);
    expect(fills).toMatchObject([{ tag: 'b', side: 'buy', price: 100, qty: 1, liquidity: 'maker', time: 0, complete: true }]);
    expect(fills[0]!.fee).toBeCloseTo(0.1, 12);
    expect(v.position.base).toBe(1);
    expect(v.position.quote).toBeCloseTo(10_000 - 100 - 0.1, 9);
    expect(v.position.freeQuote).toBeCloseTo(v.position.quote, 9);
    expect(v.openOrders).toHaveLength(0);
  });

  it('needs the price to be traded through in the trade-through model', () => {
    const v = venue({ fillModel: 'trade-through' });
    const { fills, onFill } = collect();
    v.submit({ kind: 'place', tag: 's', side: 'sell', type: 'limit', price: 100, qty: 1 }, 0, 99, onFill); // no base yet
    expect(v.openOrders).toHaveLength(0);
    v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 100, qty: 1 }, 0, 101, onFill);
    v.matchCandle(candle(101, 102, 100, 101), onFill);
    expect(fills).toHaveLength(0);
    v.matchCandle(candle(101, 102, 99.99, 101), onFill);
    expect(fills.map((f) => f.price)).toEqual([100]);
  });

  it('fills at the open when the candle gaps through the limit', () => {
    const v = venue();
    const { fills, onFill } = collect();
    v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 100, qty: 1 }, 0, 101, onFill);
    v.matchCandle(candle(95, 96, 94, 95), onFill);
    expect(fills[0]!.price).toBe(95);
  });

  it('fills market orders at once with slippage against the trader and the taker fee', () => {
    const v = venue();
    const { fills, onFill } = collect();
    expect(v.submit({ kind: 'place', tag: 'm', side: 'buy', type: 'market', price: 0, qty: 2 }, 5, 200, onFill)).toBeNull();
    expect(fills).toMatchObject([{ tag: 'm', side: 'buy', price: 201, qty: 2, liquidity: 'taker', time: 5, complete: true }]);
    expect(fills[0]!.fee).toBeCloseTo(0.804, 12);
    v.submit({ kind: 'place', tag: 'm2', side: 'sell', type: 'market', price: 0, qty: 2 }, 6, 200, onFill);
    expect(fills[1]!.price).toBe(199);
    expect(v.position.quote).toBeCloseTo(10_000 - 402 - 0.804 + 398 - 0.796, 9);
  });

  it('splits a fill across candles when volume participation is capped', () => {
    const v = venue({ maxVolumeParticipationPct: 10 });
    const { fills, onFill } = collect();
    v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 100, qty: 5 }, 0, 101, onFill);
    v.matchCandle(candle(101, 101, 99, 100, 20), onFill); // 10% of 20 = 2
    v.matchCandle(candle(101, 101, 99, 100, 20), onFill);
    v.matchCandle(candle(101, 101, 99, 100, 20), onFill);
    expect(fills.map((f) => [f.qty, f.complete])).toEqual([[2, false], [2, false], [1, true]]);
    expect(v.position.freeQuote).toBeCloseTo(v.position.quote, 9); // nothing left locked
  });

  it('rounds to tick and lot size and refuses dust and tiny orders', () => {
    const v = venue({ tickSize: 0.5, lotSize: 0.1, minNotional: 10 });
    const { onFill } = collect();
    v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 100.37, qty: 0.37 }, 0, 101, onFill);
    expect(v.openOrders[0]).toMatchObject({ price: 100, qty: 0.3 });
    expect(v.submit({ kind: 'place', tag: 'x', side: 'buy', type: 'limit', price: 100, qty: 0.05 }, 0, 101, onFill)).toBe('qty_too_small');
    expect(v.submit({ kind: 'place', tag: 'y', side: 'buy', type: 'limit', price: 50, qty: 0.1 }, 0, 101, onFill)).toBe('below_min_notional');
    expect(v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 90, qty: 1 }, 0, 101, onFill)).toBe('duplicate_leg');
    expect(v.submit({ kind: 'place', tag: 'z', side: 'buy', type: 'limit', price: 100, qty: 1_000 }, 0, 101, onFill)).toBe('insufficient_funds');
  });

  it('cancel and replace release and re-lock funds; replace counts attempts', () => {
    const v = venue();
    const { onFill } = collect();
    v.submit({ kind: 'place', tag: 'b', side: 'buy', type: 'limit', price: 100, qty: 10 }, 0, 101, onFill);
    expect(v.submit({ kind: 'replace', tag: 'b', price: 90, qty: 10 }, 60_000, 101, onFill)).toBeNull();
    expect(v.openOrders[0]).toMatchObject({ price: 90, attempt: 2, placedAt: 60_000 });
    expect(v.position.freeQuote).toBeCloseTo(10_000 - 900.9, 9);
    expect(v.submit({ kind: 'cancel', tag: 'b' }, 0, 101, onFill)).toBeNull();
    expect(v.position.freeQuote).toBeCloseTo(10_000, 9);
    expect(v.submit({ kind: 'cancel', tag: 'b' }, 0, 101, onFill)).toBe('unknown_leg');
  });
});
