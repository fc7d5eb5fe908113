// Row-level helpers for licenses, shared by the license and hold use-cases. Every write here
// records its audit entry in the caller's transaction.
import type { Prisma, Tx } from '../db/client.ts';
import type { LicenseStatus } from '../db/generated/enums.ts';
import { generateLicenseKey, hashLicenseKey, keyLast4, maskedKey, type LicenseKey } from '../domain/license-key.ts';
import { isUuid } from '../kernel/ids.ts';
import { centsToDecimalString, type Cents } from '../kernel/money.ts';
import { recordAudit } from './audit.ts';
import type { Actor } from './deps.ts';
import { decimalToCents } from './tiers.ts';

export interface LicenseView {
  readonly id: string;
  readonly tierId: string;
  readonly status: LicenseStatus;
  readonly capital: Cents;
  /** e.g. AIT-****-****-7KQ2; the full key is never stored. */
  readonly maskedKey: string;
  readonly userId: string | null;
  readonly boundIdentityId: string | null;
  readonly activatedAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokedReason: string | null;
}

interface LicenseRow {
  id: string;
  tierId: string;
  status: LicenseStatus;
  capitalUsd: { toFixed(d: number): string };
  keyLast4: string;
  userId: string | null;
  boundIdentityId: string | null;
  activatedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
}

export function toLicenseView(row: LicenseRow): LicenseView {
  return {
    id: row.id,
    tierId: row.tierId,
    status: row.status,
    capital: decimalToCents(row.capitalUsd),
    maskedKey: maskedKey(row.keyLast4),
    userId: row.userId,
    boundIdentityId: row.boundIdentityId,
    activatedAt: row.activatedAt,
    revokedAt: row.revokedAt,
    revokedReason: row.revokedReason,
  };
}

export interface IssuedLicense {
  readonly license: LicenseView;
  /** Shown to the buyer exactly once. */
  readonly key: LicenseKey;
}

/** Inserts and audits a license (the caller has checked the pool). */
export async function insertLicense(
  tx: Tx,
  input: { tierId: string; capital: Cents; userId: string | null; actor: Actor; now: Date; holdId?: string },
): Promise<IssuedLicense> {
  let key = generateLicenseKey();
  // ~54 random bits make a clash practically impossible; checking first keeps the transaction alive if one happens.
  while (await tx.license.findUnique({ where: { keyHash: hashLicenseKey(key) }, select: { id: true } })) {
    key = generateLicenseKey();
  }
  const row = await tx.license.create({
    data: {
      keyHash: hashLicenseKey(key),
      keyLast4: keyLast4(key),
      tierId: input.tierId,
      capitalUsd: centsToDecimalString(input.capital),
      userId: input.userId,
      createdAt: input.now,
    },
  });
  const license = toLicenseView(row);
  await recordAudit(tx, {
    actor: input.actor,
    action: 'license.issued',
    entityType: 'license',
    entityId: license.id,
    after: input.holdId ? { ...license, holdId: input.holdId } : license,
    at: input.now,
  });
  return { license, key };
}

/** Updates a license and audits the change with its before and after. */
export async function updateLicense(
  tx: Tx,
  row: LicenseRow,
  data: Omit<Prisma.LicenseUncheckedUpdateInput, 'updatedAt'>,
  audit: { actor: Actor; action: string; now: Date },
): Promise<LicenseView> {
  const updated = await tx.license.update({ where: { id: row.id }, data: { ...data, updatedAt: audit.now } });
  const after = toLicenseView(updated);
  await recordAudit(tx, {
    actor: audit.actor,
    action: audit.action,
    entityType: 'license',
    entityId: row.id,
    before: toLicenseView(row),
    after,
    at: audit.now,
  });
  return after;
}

/** Locks a license row for the rest of the transaction; null when there is no such license. */
/** The license with this key hash, row-locked for the rest of the transaction; null when none. */
export async function lockLicenseByKeyHash(tx: Tx, keyHash: string) {
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM licenses WHERE key_hash = ${keyHash} FOR UPDATE`;
  return locked[0] ? tx.license.findUnique({ where: { id: locked[0].id } }) : null;
}

export async function lockLicense(tx: Tx, licenseId: string) {
  if (!isUuid(licenseId)) return null;
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM licenses WHERE id = ${licenseId}::uuid FOR UPDATE`;
  return locked[0] ? tx.license.findUnique({ where: { id: licenseId } }) : null;
}
