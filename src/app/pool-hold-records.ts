// Row-level helpers for pool holds, shared by the hold and license use-cases.
import type { Tx } from '../db/client.ts';
import type { PoolHoldKind, PoolHoldStatus } from '../db/generated/enums.ts';
import type { Cents } from '../kernel/money.ts';
import { recordAudit } from './audit.ts';
import type { Actor } from './deps.ts';
import { decimalToCents } from './tiers.ts';

export interface HoldView {
  readonly id: string;
  readonly userId: string;
  readonly tierId: string;
  readonly licenseId: string | null;
  readonly kind: PoolHoldKind;
  readonly status: PoolHoldStatus;
  /** Capital reserved: the tier's max capital, or the difference for an upgrade. */
  readonly amount: Cents;
  /** What the buyer pays for it. */
  readonly price: Cents;
  readonly expiresAt: Date;
}

export interface HoldRow {
  id: string;
  userId: string;
  tierId: string;
  licenseId: string | null;
  kind: PoolHoldKind;
  status: PoolHoldStatus;
  amountUsd: { toFixed(d: number): string };
  priceUsd: { toFixed(d: number): string };
  expiresAt: Date;
}

export const toHoldView = (row: HoldRow): HoldView => ({
  id: row.id,
  userId: row.userId,
  tierId: row.tierId,
  licenseId: row.licenseId,
  kind: row.kind,
  status: row.status,
  amount: decimalToCents(row.amountUsd),
  price: decimalToCents(row.priceUsd),
  expiresAt: row.expiresAt,
});

/** Releases a held hold and audits it; its capital returns to the pool. */
export async function releaseHoldRow(tx: Tx, row: HoldRow, reason: string, actor: Actor, now: Date): Promise<HoldView> {
  const updated = await tx.poolHold.update({
    where: { id: row.id },
    data: { status: 'released', releasedAt: now, releaseReason: reason, updatedAt: now },
  });
  const after = toHoldView(updated);
  await recordAudit(tx, {
    actor,
    action: 'pool_hold.released',
    entityType: 'pool_hold',
    entityId: row.id,
    before: toHoldView(row),
    after: { ...after, reason },
    at: now,
  });
  return after;
}
