import type { Db } from '../db/client.ts';
import type { Clock } from '../kernel/clock.ts';

/** What every use-case needs; built once by the composition root (src/main.ts). */
export interface AppDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly pool: {
    readonly holdTtlMs: number;
    readonly hardOveragePct: number;
  };
}

/** Who did something, for the audit log. */
export interface Actor {
  readonly type: 'user' | 'admin' | 'system';
  readonly id: string | null;
}

export const systemActor = (id: string): Actor => ({ type: 'system', id });
