// What a run tells its owner. The composition root delivers these (the alerts issue routes them
// through an outbox); every event names its run, and paper runs are marked as paper wherever
// they are shown.
export interface RunRef {
  readonly id: string;
  readonly userId: string;
  readonly seq: number;
  readonly mode: 'paper' | 'live';
  readonly strategy: string;
  readonly symbol: string;
}

export type RunEvent =
  | { readonly type: 'fill'; readonly run: RunRef; readonly tradeId: string; readonly side: 'buy' | 'sell'; readonly price: number; readonly qty: number; readonly tag: string; readonly realizedPnl: number }
  | { readonly type: 'order_rejected'; readonly run: RunRef; readonly clientOrderId: string; readonly tag: string; readonly reason: string; readonly message: string }
  /** Told at most once an hour per reason (hourBucket = start of that hour, ms); market_closed once per closure (hourBucket = when it opens). */
  | { readonly type: 'risk_refused'; readonly run: RunRef; readonly refusal: string; readonly message: string; readonly hourBucket: number }
  | { readonly type: 'guard_tripped'; readonly run: RunRef; readonly guard: string; readonly message: string }
  | { readonly type: 'exchange_banned'; readonly run: RunRef; readonly retryAfterMs: number; readonly minuteBucket: number }
  | { readonly type: 'run_started'; readonly run: RunRef; readonly capitalUsd: number }
  | { readonly type: 'run_stopped'; readonly run: RunRef; readonly status: 'stopped' | 'killed' | 'failed'; readonly reason: string; readonly detail: string | null };

export type EmitRunEvent = (event: RunEvent) => void;

/** "Paper run #3" / "Live run #3": every message about a run says which kind it is. */
export const runLabel = (run: RunRef): string => `${run.mode === 'paper' ? '🧪 Paper' : '💰 Live'} run #${run.seq} (${run.strategy} ${run.symbol})`;

const num = (n: number, digits = 8) => Number(n.toFixed(digits)).toString();

export function describeRunEvent(event: RunEvent): string {
  const label = runLabel(event.run);
  switch (event.type) {
    case 'fill':
      return `${label}: ${event.side === 'buy' ? 'bought' : 'sold'} ${num(event.qty)} at ${num(event.price)}${event.side === 'sell' ? ` (realised ${event.realizedPnl >= 0 ? '+' : ''}${event.realizedPnl.toFixed(2)})` : ''}.`;
    case 'order_rejected':
      return `${label}: the exchange refused order ${event.tag}: ${event.message}`;
    case 'risk_refused':
      return `${label}: an order was held back by the risk engine: ${event.message}`;
    case 'guard_tripped':
      return `${label} stopped by a guard: ${event.message}. Open orders were cancelled.`;
    case 'exchange_banned':
      return `${label}: the exchange has temporarily banned our requests (too many); orders pause for ${Math.ceil(event.retryAfterMs / 1000)} s.`;
    case 'run_started':
      return `${label} started with $${event.capitalUsd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}.`;
    case 'run_stopped':
      return `${label} ${event.status}${event.reason ? ` (${event.reason}${event.detail ? `: ${event.detail}` : ''})` : ''}.`;
  }
}
