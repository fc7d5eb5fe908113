export { Atr } from './atr.ts';
export { Ema } from './ema.ts';
export { Rsi } from './rsi.ts';
export { Sma } from './sma.ts';
