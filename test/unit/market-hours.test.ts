// Market hours: the cached market clock (read once per state, at most every 30 minutes; when the
// current state began), the execution gate's market_closed refusal, and the decorator around a
// paper exchange (no order while closed; cancels and reads still work; fractional shares).
import { describe, expect, it } from 'vitest';
import { Regime } from '../../src/engine/regime-codes.ts';
import { checkIntent, marketClosedMessage, type RiskContext } from '../../src/engine/risk/gates.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { MarketHours, MarketHoursVenue, type MarketClockReading, type MarketClockSource } from '../../src/exchange/market-hours-venue.ts';
import { PaperExchange } from '../../src/exchange/sim/paper-exchange.ts';
import { VenueError, type MarketRules } from '../../src/exchange/venue.ts';
import { TestClock } from '../../src/kernel/clock.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-03-02T13:00:00Z');
const OPEN = Date.parse('2026-03-02T14:30:00Z');
const CLOSE = Date.parse('2026-03-02T21:00:00Z');
const NEXT_OPEN = Date.parse('2026-03-03T14:30:00Z');

/** The exchange's clock as a schedule: one session, OPEN to CLOSE; counts its reads; may fail. */
class ScheduledClock implements MarketClockSource {
  reads = 0;
  failNext = false;
  constructor(private readonly clock: TestClock) {}
  async readMarketClock(): Promise<MarketClockReading> {
    this.reads++;
    if (this.failNext) {
      this.failNext = false;
      throw new VenueError('temporary', 'alpaca is unavailable (HTTP 503); try again shortly', { exchangeId: 'alpaca' });
    }
    const now = this.clock.now().getTime();
    const isOpen = now >= OPEN && now < CLOSE;
    return { isOpen, nextOpen: now < OPEN ? OPEN : NEXT_OPEN, nextClose: now < CLOSE ? CLOSE : NEXT_OPEN + 6.5 * 60 * MIN };
  }
}

const setup = () => {
  const clock = new TestClock(new Date(T0));
  const source = new ScheduledClock(clock);
  return { clock, source, hours: new MarketHours(source, clock) };
};

describe('MarketHours', () => {
  it('reads the clock once per state (refreshing at most every 30 minutes) and knows when the state began', async () => {
    const { clock, source, hours } = setup();
    expect(await hours.session()).toEqual({ open: false, since: T0, opensAt: OPEN, closesAt: CLOSE });
    clock.advance(29 * MIN);
    await hours.session();
    expect(source.reads).toBe(1);
    clock.advance(MIN); // 30 minutes old: read again, still closed since first seen
    expect(await hours.session()).toMatchObject({ open: false, since: T0 });
    expect(source.reads).toBe(2);

    clock.set(new Date(OPEN)); // the announced opening: read again at once
    expect(await hours.session()).toEqual({ open: true, since: OPEN, opensAt: NEXT_OPEN, closesAt: CLOSE });
    expect(source.reads).toBe(3);
    clock.set(new Date(CLOSE + 5 * MIN));
    expect(await hours.session()).toMatchObject({ open: false, since: CLOSE, opensAt: NEXT_OPEN });
  });

  it('shares one read among concurrent callers and does not keep a failed one', async () => {
    const { source, hours } = setup();
    const sessions = await Promise.all([hours.session(), hours.session(), hours.session()]);
    expect(sessions.map((s) => s.open)).toEqual([false, false, false]);
    expect(source.reads).toBe(1);
    const { source: failing, hours: fresh } = setup();
    failing.failNext = true;
    await expect(fresh.session()).rejects.toMatchObject({ kind: 'temporary' });
    expect((await fresh.session()).open).toBe(false);
    expect(failing.reads).toBe(2);
  });
});

describe('the execution gate on a closed stock market', () => {
  const ctx = (marketClosedUntil: number | null, patch: Partial<RiskContext['execution']> = {}): RiskContext => ({
    now: T0,
    capital: { runCapitalUsd: 1000, tierMaxCapitalUsd: 10_000, otherRunsCapitalUsd: 0, capitalReservePct: 10, deployedUsd: 0 },
    drawdown: { dailyRealizedPnlUsd: 0, realizedDrawdownUsd: 0 },
    market: { regime: Regime.RANGING, movePct: 0 },
    execution: { killSwitch: null, exchangeHealthy: true, lastDataAt: T0 - 1000, marketClosedUntil, ...patch },
    limits: SEED_GUARD_LIMITS,
  });

  it('holds buys and sells until the opening it names; cancels pass; the kill switch is told first; an open market passes', () => {
    for (const side of ['buy', 'sell'] as const) {
      expect(checkIntent({ kind: 'place', side, notionalUsd: 100 }, ctx(OPEN))).toEqual({
        pass: false,
        gate: 'execution',
        refusal: 'market_closed',
        message: 'The stock market is closed: orders wait until it opens at 2026-03-02 14:30 UTC.',
      });
    }
    expect(checkIntent({ kind: 'cancel', side: 'buy', notionalUsd: 0 }, ctx(OPEN)).pass).toBe(true);
    expect(checkIntent({ kind: 'place', side: 'buy', notionalUsd: 100 }, ctx(OPEN, { killSwitch: 'global' }))).toMatchObject({ refusal: 'kill_switch' });
    // Closed explains the silence better than health or data age would.
    expect(checkIntent({ kind: 'place', side: 'buy', notionalUsd: 100 }, ctx(OPEN, { exchangeHealthy: false, lastDataAt: null }))).toMatchObject({ refusal: 'market_closed' });
    expect(checkIntent({ kind: 'place', side: 'buy', notionalUsd: 100 }, ctx(null)).pass).toBe(true);
    expect(marketClosedMessage(Number.NaN)).toBe('The stock market is closed: orders wait until it opens at its next session.');
  });
});

describe('MarketHoursVenue around a paper exchange', () => {
  const RULES: MarketRules = { symbol: 'AAPL/USD', base: 'AAPL', quote: 'USD', tickSize: 0.01, lotSize: 1e-9, minQty: 1e-9, minNotional: 1 };

  it('places nothing while closed, still cancels and reads, and trades fractional shares once open', async () => {
    const { clock, hours } = setup();
    const paper = new PaperExchange({ rules: RULES, quote: 1_000, base: 0, clock, makerFeePct: 0, takerFeePct: 0 });
    paper.restoreOrders([{ clientOrderId: 'ait-r-tp-1', exchangeOrderId: 'P-ait-r-tp-1', symbol: 'AAPL/USD', side: 'buy', type: 'limit', price: 150, qty: 0.5, filledQty: 0, status: 'open', updatedAt: T0 }], 0, 0);
    const venue = new MarketHoursVenue(paper, hours);
    expect(venue.exchangeId).toBe('paper');
    venue.observe('AAPL/USD', { time: T0 - 5 * MIN, open: 200, high: 201, low: 199, close: 200, volume: 10 });

    const closed = await venue.placeOrder({ clientOrderId: 'ait-r-base-1', symbol: 'AAPL/USD', side: 'buy', type: 'market', price: 0, qty: 0.123456789 }).catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(VenueError);
    expect([(closed as VenueError).kind, (closed as VenueError).reason, (closed as VenueError).message]).toEqual([
      'rejected',
      'market_closed',
      'The stock market is closed: orders wait until it opens at 2026-03-02 14:30 UTC.',
    ]);
    expect(await venue.fetchOrder('AAPL/USD', 'ait-r-base-1')).toBeNull();
    expect(await venue.cancelOrder('AAPL/USD', 'ait-r-tp-1')).toMatchObject({ status: 'canceled' });
    expect((await venue.fetchBalance()).free.USD).toBe(1_000);

    clock.set(new Date(OPEN));
    const placed = await venue.placeOrder({ clientOrderId: 'ait-r-base-2', symbol: 'AAPL/USD', side: 'buy', type: 'market', price: 0, qty: 0.123456789 });
    expect(placed).toMatchObject({ status: 'filled', qty: 0.123456789 });
    expect((await venue.fetchBalance()).total.AAPL).toBeCloseTo(0.123456789, 9);
    expect(await venue.marketSession()).toMatchObject({ open: true, closesAt: CLOSE });
  });
});
