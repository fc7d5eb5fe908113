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

export async function leaseHolder(db: Db, name: string): Promise<string | null> {
  return (await db.lease.findUnique({ where: { name } }))?.holder ?? null;
}

/** Takes the lease from a holder known to be dead, without waiting for it to lapse. */
export async function takeOverLease(db: Db, name: string, deadHolder: string, holder: string, now: Date, ttlMs: number): Promise<boolean> {
  const { count } = await db.lease.updateMany({ where: { name, holder: deadHolder }, data: { holder, until: new Date(now.getTime() + ttlMs) } });
  return count === 1;
}

/**
 * Replica ids are host:pid:nonce. A holder on this host whose process is gone is dead for
 * sure (a restart after a crash): no need to wait out its lease.
 */
export function isDeadLocalReplica(holder: string, host: string): boolean {
  const [holderHost, pid] = holder.split(':');
  if (holderHost !== host || !pid || !/^\d+$/.test(pid) || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Gives the lease up (on a clean shutdown), so another replica need not wait for it to lapse. */
export async function releaseLease(db: Db, name: string, holder: string): Promise<void> {
  await db.lease.deleteMany({ where: { name, holder } });
}
