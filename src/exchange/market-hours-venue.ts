// Market hours for venues that trade in sessions (US equities): a market clock read from the
// exchange and cached until its next open or close, and a venue decorator that places no order
// while the market is closed. The composition root wraps every equities venue in it, the paper
// exchange of an equity paper run included, so paper and live runs keep the same hours.
//
// Only placing is refused: cancels, order and trade reads and balances still go through (a
// closed market still answers them, and a run must be able to stop at night). The run engine
// also reads `marketSession()` so its execution gate holds orders while closed (one clear
// message per closure) instead of sending them to be refused; the refusal here is the backstop
// for the edge of a session, and for anything else that places orders through the venue.
import type { Clock } from '../kernel/clock.ts';
import type { CandleView } from '../market-data/candles.ts';
import { marketClosedMessage } from '../engine/risk/gates.ts';
import {
  VenueError,
  type Balances,
  type ExchangeVenue,
  type KeyPermissions,
  type MarketRules,
  type MarketSession,
  type OrderRequest,
  type Ticker,
  type VenueOrder,
  type VenueTrade,
} from './venue.ts';

/** The exchange's market clock at one moment (Alpaca's `/v2/clock`). */
export interface MarketClockReading {
  readonly isOpen: boolean;
  readonly nextOpen: number;
  readonly nextClose: number;
}

/** Reads the exchange's market clock; failures leave as VenueError. */
export interface MarketClockSource {
  readMarketClock(): Promise<MarketClockReading>;
}

/** A reading is trusted at most this long even before its next open or close (a changed schedule, a halt). */
const MAX_READING_AGE_MS = 30 * 60_000;

/**
 * The market's session, read from the exchange's clock and cached until the next open or close
 * it announced (so a whole session costs one or two clock calls). Concurrent callers share one
 * read; a failed read is not cached.
 */
export class MarketHours {
  #session: MarketSession | null = null;
  #validUntil = -Infinity;
  #reading: Promise<MarketSession> | null = null;

  constructor(
    private readonly source: MarketClockSource,
    private readonly clock: Clock,
  ) {}

  async session(): Promise<MarketSession> {
    const now = this.clock.now().getTime();
    if (this.#session && now < this.#validUntil) return this.#session;
    this.#reading ??= this.#read(now).finally(() => {
      this.#reading = null;
    });
    return this.#reading;
  }

  async #read(now: number): Promise<MarketSession> {
    const reading = await this.source.readMarketClock();
    const previous = this.#session;
    // When the state flipped since the last reading, it flipped at the time that reading announced.
    let since = now;
    if (previous && previous.open === reading.isOpen) since = previous.since;
    else if (previous) since = Math.min(now, previous.open ? previous.closesAt : previous.opensAt);
    const session: MarketSession = { open: reading.isOpen, since, opensAt: reading.nextOpen, closesAt: reading.nextClose };
    const nextChange = reading.isOpen ? reading.nextClose : reading.nextOpen;
    this.#session = session;
    // A clock whose next change is already past (skew between our clock and theirs) is asked again next time.
    this.#validUntil = Math.min(nextChange, now + MAX_READING_AGE_MS);
    return session;
  }
}

/** An equities venue that refuses to place orders while its market is closed. */
export class MarketHoursVenue implements ExchangeVenue {
  readonly exchangeId: string;

  constructor(
    private readonly inner: ExchangeVenue,
    private readonly hours: MarketHours,
  ) {
    this.exchangeId = inner.exchangeId;
  }

  async placeOrder(request: OrderRequest): Promise<VenueOrder> {
    const session = await this.hours.session();
    if (!session.open) {
      throw new VenueError('rejected', marketClosedMessage(session.opensAt), { exchangeId: this.exchangeId, reason: 'market_closed' });
    }
    return this.inner.placeOrder(request);
  }

  marketSession(): Promise<MarketSession> {
    return this.hours.session();
  }

  market(symbol: string): Promise<MarketRules> {
    return this.inner.market(symbol);
  }

  fetchTicker(symbol: string): Promise<Ticker> {
    return this.inner.fetchTicker(symbol);
  }

  fetchBalance(): Promise<Balances> {
    return this.inner.fetchBalance();
  }

  keyPermissions(): Promise<KeyPermissions> {
    return this.inner.keyPermissions();
  }

  cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    return this.inner.cancelOrder(symbol, clientOrderId);
  }

  fetchOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    return this.inner.fetchOrder(symbol, clientOrderId);
  }

  fetchOpenOrders(symbol: string): Promise<VenueOrder[]> {
    return this.inner.fetchOpenOrders(symbol);
  }

  fetchMyTrades(symbol: string, since: number): Promise<VenueTrade[]> {
    return this.inner.fetchMyTrades(symbol, since);
  }

  observe(symbol: string, candle: Readonly<CandleView>): void {
    this.inner.observe?.(symbol, candle);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
