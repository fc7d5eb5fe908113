// Named leases in Postgres: one holder at a time, renewed while held, taken over once lapsed.
import type { Db } from './client.ts';

/** Takes or renews the lease; true while this holder has it. One statement, so it is atomic. */
export async function holdLease(db: Db, name: string, holder: string, now: Date, ttlMs: number): Promise<boolean> {
  const until = new Date(now.getTime() + ttlMs);
  const rows = await db.$queryRaw<{ holder: string }[]>`
    INSERT INTO leases (name, holder, until) VALUES (${name}, ${holder}, ${until})
    ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
      WHERE leases.holder = EXCLUDED.holder OR leases.until < ${now}
    RETURNING holder`;
  return rows.length === 1 && rows[0]!.holder === holder;
}

/** Gives the lease up (on a clean shutdown), so another replica need not wait for it to lapse. */
export async function releaseLease(db: Db, name: string, holder: string): Promise<void> {
  await db.lease.deleteMany({ where: { name, holder } });
}
