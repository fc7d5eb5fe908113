// The one trade loop: feed -> strategy -> risk gates -> venue. Backtests drive it with a
// historical feed and the simulated venue; paper trading drives it with live candles and the
// same simulated venue; live trading with the exchange venue. Nothing else places orders.
import type { CandleView } from '../market-data/candles.ts';
import { emptyCandle } from '../market-data/candles.ts';
import type { Fill, OpenOrderView, OrderIntent, PositionView, Rejection, Strategy, StrategyContext, Venue } from './types.ts';

/** A check between a strategy and the venue; returns the intent to send, or null to drop it. */
export interface RiskGate {
  check(intent: OrderIntent, ctx: StrategyContext): OrderIntent | null;
}

/** The execution issue fills this hook with the tier and guard checks. */
export const passThroughGate: RiskGate = { check: (intent) => intent };

export class StrategyError extends Error {
  constructor(
    readonly strategyId: string,
    readonly at: number,
    cause: unknown,
  ) {
    super(`strategy ${strategyId} failed at ${new Date(at).toISOString()}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StrategyError';
  }
}

export interface RunnerHooks {
  onRejection?(intent: OrderIntent, reason: Rejection, now: number): void;
}

class Context implements StrategyContext {
  now = 0;
  candle: CandleView = emptyCandle();
  constructor(private readonly venue: Venue) {}
  get position(): PositionView {
    return this.venue.position;
  }
  get openOrders(): readonly OpenOrderView[] {
    return this.venue.openOrders;
  }
}

export class Runner {
  readonly #ctx: Context;
  #failure: StrategyError | null = null;
  rejections = 0;

  constructor(
    readonly strategy: Strategy,
    readonly venue: Venue,
    private readonly timeframeMs: number,
    private readonly gate: RiskGate = passThroughGate,
    private readonly hooks: RunnerHooks = {},
  ) {
    this.#ctx = new Context(venue);
  }

  /** Set once a strategy throws: the run stops trading and reports why. */
  get failure(): StrategyError | null {
    return this.#failure;
  }

  /** One closed candle: fills first (orders placed earlier), then the strategy decides at the close. */
  step(candle: CandleView): void {
    if (this.#failure) return;
    const ctx = this.#ctx;
    ctx.candle = candle;
    ctx.now = candle.time + this.timeframeMs;
    this.venue.matchCandle(candle, this.#onFill);
    if (this.#failure) return;
    let intents: readonly OrderIntent[];
    try {
      intents = this.strategy.onCandle(ctx);
    } catch (error) {
      this.#failure = new StrategyError(this.strategy.id, ctx.now, error);
      return;
    }
    if (intents.length !== 0) this.#submit(intents);
  }

  readonly #onFill = (fill: Fill): void => {
    if (this.#failure) return;
    let intents: readonly OrderIntent[];
    try {
      intents = this.strategy.onFill(fill, this.#ctx);
    } catch (error) {
      this.#failure = new StrategyError(this.strategy.id, this.#ctx.now, error);
      return;
    }
    if (intents.length !== 0) this.#submit(intents);
  };

  #submit(intents: readonly OrderIntent[]): void {
    const ctx = this.#ctx;
    for (const raw of intents) {
      const intent = this.gate.check(raw, ctx);
      if (!intent) continue;
      const rejection = this.venue.submit(intent, ctx.now, ctx.candle.close, this.#onFill);
      if (rejection) {
        this.rejections++;
        this.hooks.onRejection?.(intent, rejection, ctx.now);
      }
    }
  }
}
