import { Regime } from '../src/engine/regime-codes.ts';

const NAMES = new Map<number, string>(Object.entries(Regime).map(([name, code]) => [code as number, name.toLowerCase().replace('_', ' ')]));

/** "ranging", "trending bull", "warmup" … for a regime code (null: not known yet). */
export const regimeName = (code: number | null): string => (code === null ? 'unknown' : (NAMES.get(code) ?? 'unknown'));
