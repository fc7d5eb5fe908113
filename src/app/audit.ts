// The audit log is written inside the same transaction as the change it records.
import type { Tx } from '../db/client.ts';
import type { Actor } from './deps.ts';

export interface AuditRecord {
  readonly actor: Actor;
  readonly action: string;
  readonly entityType:
    | 'license'
    | 'pool_hold'
    | 'tier'
    | 'capacity_pool'
    | 'user'
    | 'identity'
    | 'credential'
    | 'key_intake'
    | 'command'
    | 'broadcast'
    | 'run'
    | 'kill_switch'
    /** Gated roles and groups; the entity is the chat identity, `<platform>:<external id>`. */
    | 'community';
  readonly entityId: string | null;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly at: Date;
}

/** Usually called with the transaction of the change it records; a lone entry may use the client. */
export async function recordAudit(tx: Pick<Tx, 'auditEntry'>, record: AuditRecord): Promise<void> {
  await tx.auditEntry.create({
    data: {
      actorType: record.actor.type,
      actorId: record.actor.id,
      action: record.action,
      entityType: record.entityType,
      entityId: record.entityId,
      before: toJson(record.before),
      after: toJson(record.after),
      createdAt: record.at,
    },
  });
}

/** Dates, Decimals and BigInts become strings; undefined stays absent. */
function toJson(value: unknown): object | undefined {
  if (value === undefined || value === null) return undefined;
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  ) as object;
}

export interface AuditView {
  readonly id: string;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly entity: string;
}

/** The newest audit entries, for /admin audit. */
export async function recentAudit(db: Pick<Tx, 'auditEntry'>, limit: number): Promise<AuditView[]> {
  const rows = await db.auditEntry.findMany({ orderBy: { id: 'desc' }, take: limit });
  return rows.map((r) => ({
    id: r.id.toString(),
    at: r.createdAt,
    actor: `${r.actorType}${r.actorId ? `:${r.actorId.slice(0, 8)}` : ''}`,
    action: r.action,
    entity: `${r.entityType}${r.entityId ? `:${r.entityId.slice(0, 8)}` : ''}`,
  }));
}
