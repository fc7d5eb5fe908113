// Per-user token bucket: a burst of commands is fine, a flood is slowed down with a clear
// "try again in N s". In memory: each replica limits its own traffic, which is what protects it.
import type { Clock } from '../kernel/clock.ts';

export interface RateLimitSettings {
  readonly burst: number;
  readonly perMinute: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; updatedMs: number }>();
  readonly #refillPerMs: number;

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly clock: Clock,
  ) {
    this.#refillPerMs = settings.perMinute / 60_000;
  }

  take(key: string): RateDecision {
    const now = this.clock.now().getTime();
    const bucket = this.#buckets.get(key) ?? { tokens: this.settings.burst, updatedMs: now };
    bucket.tokens = Math.min(this.settings.burst, bucket.tokens + (now - bucket.updatedMs) * this.#refillPerMs);
    bucket.updatedMs = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    this.#evictFullBuckets(now);
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#refillPerMs / 1000)) };
  }

  /** Buckets that have refilled completely carry no state worth keeping. */
  #evictFullBuckets(now: number): void {
    if (this.#buckets.size < 10_000) return;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.updatedMs) * this.#refillPerMs >= this.settings.burst) this.#buckets.delete(key);
    }
  }
}
