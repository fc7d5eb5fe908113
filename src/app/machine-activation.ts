// Self-hosted bots: a license is activated on one machine (POST /v1/auth/activate), and from
// then on the bot authenticates every API call with the license key alone. The key is resolved
// by its hash; it is never stored, logged or echoed. The machine id is the bot's hash of its
// hardware identifiers: it is kept on the license (another machine is refused) but the audit
// log holds only a fingerprint of it.
import { createHash } from 'node:crypto';
import type { LicenseStatus } from '../db/generated/enums.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { hashLicenseKey, parseLicenseKey } from '../domain/license-key.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { ensureCustomerId } from './customers.ts';
import type { Actor, AppDeps } from './deps.ts';
import { queueLicenseEvent } from './license-alerts.ts';
import { lockLicense, lockLicenseByKeyHash, toLicenseView, updateLicense, type LicenseView } from './license-records.ts';

/** What a bot may send as its machine id: a hash or an id, not free text. */
export const MACHINE_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/** Enough of the machine id to tell machines apart in the audit log, and no more. */
export const machineFingerprint = (machineId: string): string => createHash('sha256').update(machineId).digest('hex').slice(0, 12);

export interface MachineActivation {
  readonly license: LicenseView;
  readonly customerId: string;
  /** When the license was activated on this machine (the same on every repeat). */
  readonly activatedAt: Date;
  /** True when this machine had already activated it. */
  readonly alreadyBound: boolean;
  /** True when the activation made a new account (the license had no owner yet). */
  readonly newAccount: boolean;
}

/**
 * Binds a license to the machine presenting it. An active license stays with its owner; an
 * issued license nobody owns makes a new account and is activated for it. The same machine again
 * is harmless; another machine gets license_already_bound (support can release it: unbindMachine).
 */
export async function activateMachine(deps: AppDeps, input: { key: string; machineId: string }): Promise<Result<MachineActivation>> {
  if (!MACHINE_ID_PATTERN.test(input.machineId)) {
    return err(appError('invalid_input', { field: 'machine_id' }, 'machine_id must be 8 to 128 characters of A-Z, a-z, 0-9, ".", "_", ":" or "-".'));
  }
  const parsed = parseLicenseKey(input.key);
  if (!parsed.ok) return parsed;
  const keyHash = hashLicenseKey(parsed.value);

  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const row = await lockLicenseByKeyHash(tx, keyHash);
    if (!row) return err(appError('license_not_found'));
    if (row.status === 'revoked') return err(appError('license_revoked'));

    if (row.machineId !== null) {
      if (row.machineId !== input.machineId || !row.userId) return err(appError('license_already_bound'));
      return ok({
        license: toLicenseView(row),
        customerId: await ensureCustomerId(tx, row.userId),
        activatedAt: row.machineBoundAt ?? row.activatedAt ?? now,
        alreadyBound: true,
        newAccount: false,
      });
    }

    let license = toLicenseView(row);
    let userId = row.userId;
    let newAccount = false;
    if (row.status !== 'active' || !userId) {
      // Issued and not yet activated: for the account it was issued to, or a new one.
      if (!userId) {
        userId = (await tx.user.create({ data: { createdAt: now, updatedAt: now } })).id;
        newAccount = true;
      }
      license = await updateLicense(
        tx,
        row,
        { status: 'active', userId, activatedAt: now },
        { actor: { type: 'user', id: userId }, action: 'license.activated', now },
      );
      await queueLicenseEvent(tx, { type: 'activated', license }, now);
    }
    await tx.license.update({ where: { id: row.id }, data: { machineId: input.machineId, machineBoundAt: now, updatedAt: now } });
    await recordAudit(tx, {
      actor: { type: 'user', id: userId },
      action: 'license.machine_bound',
      entityType: 'license',
      entityId: row.id,
      after: { machine: machineFingerprint(input.machineId), newAccount },
      at: now,
    });
    return ok({ license, customerId: await ensureCustomerId(tx, userId), activatedAt: now, alreadyBound: false, newAccount });
  });
}

/** Support releases a license from its machine (a new computer): the next machine to activate gets it. */
export async function unbindMachine(deps: AppDeps, input: { licenseId: string; actor: Actor }): Promise<Result<LicenseView>> {
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const row = await lockLicense(tx, input.licenseId);
    if (!row) return err(appError('license_not_found'));
    if (row.machineId !== null) {
      await tx.license.update({ where: { id: row.id }, data: { machineId: null, machineBoundAt: null, updatedAt: now } });
      await recordAudit(tx, {
        actor: input.actor,
        action: 'license.machine_unbound',
        entityType: 'license',
        entityId: row.id,
        before: { machine: machineFingerprint(row.machineId) },
        at: now,
      });
    }
    return ok(toLicenseView(row));
  });
}

/** The license behind a bearer key, whatever its state. */
export interface BotLicense {
  readonly licenseId: string;
  readonly tierId: string;
  readonly status: LicenseStatus;
  readonly userId: string | null;
  readonly machineId: string | null;
  readonly customerId: string | null;
}

/** A license a bot may use: active, owned and activated on a machine. */
export interface ActiveBotLicense {
  readonly licenseId: string;
  readonly tierId: string;
  readonly userId: string;
  readonly customerId: string;
  readonly machineId: string;
}

/** Resolves a presented key: invalid_license_format, license_not_found, or the license. */
export async function findBotLicense(deps: AppDeps, key: string): Promise<Result<BotLicense>> {
  const parsed = parseLicenseKey(key);
  if (!parsed.ok) return parsed;
  const row = await read(() =>
    deps.db.license.findUnique({
      where: { keyHash: hashLicenseKey(parsed.value) },
      select: { id: true, tierId: true, status: true, userId: true, machineId: true, user: { select: { customerId: true } } },
    }),
  );
  if (!row) return err(appError('license_not_found'));
  let customerId = row.user?.customerId ?? null;
  // A license moved to another account by support keeps its machine; that account may not have an id yet.
  if (!customerId && row.userId && row.machineId && row.status === 'active') customerId = await read(() => ensureCustomerId(deps.db, row.userId!));
  return ok({ licenseId: row.id, tierId: row.tierId, status: row.status, userId: row.userId, machineId: row.machineId, customerId });
}

/** Whether a bot may use the license: license_revoked, machine_not_activated, or the license. */
export function botAccess(license: BotLicense): Result<ActiveBotLicense> {
  if (license.status === 'revoked') return err(appError('license_revoked'));
  if (license.status !== 'active' || !license.machineId || !license.userId || !license.customerId) {
    return err(appError('machine_not_activated'));
  }
  return ok({
    licenseId: license.licenseId,
    tierId: license.tierId,
    userId: license.userId,
    customerId: license.customerId,
    machineId: license.machineId,
  });
}

export interface HeartbeatStatus {
  readonly valid: boolean;
  readonly tierId: string;
  /** Why the license is not valid; null when it is. */
  readonly message: string | null;
}

/** GET /v1/auth/heartbeat: a revoked license is answered (valid: false), not refused, so the bot learns it. */
export function heartbeatStatus(license: BotLicense): HeartbeatStatus {
  const access = botAccess(license);
  return { valid: access.ok, tierId: license.tierId, message: access.ok ? null : access.error.message };
}
