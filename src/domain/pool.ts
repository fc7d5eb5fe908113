// Pure rules of the global capacity pool.
import { cents, type Cents } from '../kernel/money.ts';

export interface PoolUsage {
  readonly cap: Cents;
  /** Capital of every license that is not revoked. */
  readonly committed: Cents;
  /** Capital reserved by unexpired, unpaid holds. */
  readonly held: Cents;
}

/** normal: within cap. soft: over cap by less than the hard margin (warn). hard: block new runs and scanner. */
export type EnforcementLevel = 'normal' | 'soft' | 'hard';

export const available = (u: PoolUsage): Cents => cents(Math.max(0, u.cap - u.committed - u.held));

export const fits = (u: PoolUsage, amount: Cents): boolean => u.committed + u.held + amount <= u.cap;

export function percentUsed(u: PoolUsage): number {
  if (u.cap === 0) return u.committed + u.held > 0 ? 100 : 0;
  return Math.round(((u.committed + u.held) * 10_000) / u.cap) / 100;
}

/**
 * Only committed capital counts: holds can never push the pool over its cap (reservations are
 * refused instead), so being over cap means the cap was lowered below what was already sold.
 */
export function enforcementLevel(u: PoolUsage, hardOveragePct: number): EnforcementLevel {
  if (u.committed <= u.cap) return 'normal';
  const hardLimit = u.cap + (u.cap * hardOveragePct) / 100;
  return u.committed < hardLimit ? 'soft' : 'hard';
}
