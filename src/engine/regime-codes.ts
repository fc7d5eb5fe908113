// Market regimes as small integers, so a per-candle regime track fits in a Uint8Array.

export const Regime = {
  /** Not enough history yet (indicators warming up). */
  WARMUP: 0,
  RANGING: 1,
  TRENDING_BULL: 2,
  TRENDING_BEAR: 3,
  EXTREME: 4,
} as const;

export type RegimeCode = (typeof Regime)[keyof typeof Regime];
