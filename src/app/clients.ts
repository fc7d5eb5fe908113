// Clients for operators (the admin CLI and the admin HTTP API): a client is a user account with
// its identities, licenses and exchange keys. The seed's fields map onto what the service has:
// - id: the user id, a platform id, @username, or `telegram:<id>` / `discord:<id>` (which also
//   creates the account on upsert: an account needs an identity to be reachable in chat);
// - name: the display name;
// - plan: the tier of the best live license. Setting a plan on a client without one issues a
//   license of that tier for them through the pool (issueLicense); changing an existing plan is
//   an upgrade (paid) or a revoke and a new issue, never a silent rewrite of a license;
// - status: `suspended` while an operator has suspended the account (suspension.ts: its runs and
//   follows stop, nothing that trades is allowed), else derived: `active` with an active license,
//   `inactive` without. Setting `suspended` (with an optional reason) suspends; `active` lifts a
//   suspension (it issues no license);
// - owner: the operator who owns the account relationship, free text;
// - limits: `guard` (the guard thresholds, src/engine/risk/limits.ts) and `risk` (run risk
//   defaults, src/engine/risk/risk-overrides.ts), set section by section (setLimits).
import { z } from 'zod';
import { inTransaction, read } from '../db/transaction.ts';
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { limitsProblems } from '../engine/risk/limits.ts';
import { appError } from '../kernel/errors.ts';
import { centsToDecimalString } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { listCredentials, storeCredentials, type CredentialDeps, type CredentialView } from './credentials.ts';
import type { Actor, AppDeps } from './deps.ts';
import { findLicenseByKey, issueLicense, listLicensesOfUser, revokeLicense, type LicenseView } from './licenses.ts';
import { setLimits } from './run-risk.ts';
import type { RunView } from './runs.ts';
import { reinstateClient, suspendClient } from './suspension.ts';
import { findTier } from './tiers.ts';
import { findUserId } from './user-directory.ts';
import { findIdentity, resolveIdentity } from './users.ts';
import { parseLicenseKey } from '../domain/license-key.ts';

export type ClientStatus = 'active' | 'inactive' | 'suspended';

export interface ClientSummary {
  readonly id: string;
  readonly name: string | null;
  /** Tier of the best active license, else of a license issued to them and not yet activated. */
  readonly plan: string | null;
  readonly status: ClientStatus;
  readonly suspension: { readonly at: Date; readonly reason: string | null } | null;
  readonly owner: string | null;
  /** A disputed payment: purchases are paused until an admin clears it (/admin unflag). */
  readonly flag: { readonly at: Date; readonly reason: string } | null;
  readonly identities: readonly { readonly platform: IdentityPlatform; readonly externalId: string; readonly username: string | null }[];
  readonly credentialCount: number;
  readonly createdAt: Date;
}

export interface ClientDetail extends ClientSummary {
  readonly limits: unknown;
  readonly licenses: readonly LicenseView[];
  readonly credentials: readonly CredentialView[];
}

const clientInclude = {
  identities: { orderBy: { createdAt: 'asc' } },
  licenses: { include: { tier: { select: { rank: true } } }, orderBy: { createdAt: 'asc' } },
  _count: { select: { credentials: true } },
} as const;

type ClientRow = Awaited<ReturnType<typeof loadRows>>[number];
const loadRows = (deps: AppDeps, where: { id?: string }) =>
  read(() => deps.db.user.findMany({ where, include: clientInclude, orderBy: { createdAt: 'asc' } }));

function toSummary(row: ClientRow): ClientSummary {
  const byRank = [...row.licenses].sort((a, b) => b.tier.rank - a.tier.rank);
  const active = byRank.find((l) => l.status === 'active');
  const pending = byRank.find((l) => l.status === 'issued');
  return {
    id: row.id,
    name: row.displayName,
    plan: (active ?? pending)?.tierId ?? null,
    status: row.suspendedAt ? 'suspended' : active ? 'active' : 'inactive',
    suspension: row.suspendedAt ? { at: row.suspendedAt, reason: row.suspendReason } : null,
    owner: row.owner,
    flag: row.flaggedAt ? { at: row.flaggedAt, reason: row.flagReason ?? '' } : null,
    identities: row.identities.map((i) => ({ platform: i.platform, externalId: i.externalId, username: i.username })),
    credentialCount: row._count.credentials,
    createdAt: row.createdAt,
  };
}

export async function listClients(deps: AppDeps): Promise<ClientSummary[]> {
  return (await loadRows(deps, {})).map(toSummary);
}

const PLATFORM_REF = /^(telegram|discord):(\S{1,64})$/i;

/** The user a client reference names, or null. `telegram:<id>` / `discord:<id>` match exactly. */
export async function findClientId(deps: AppDeps, ref: string): Promise<string | null> {
  const platform = PLATFORM_REF.exec(ref.trim());
  if (platform) {
    const identity = await findIdentity(deps, { platform: platform[1]!.toLowerCase() as IdentityPlatform, externalId: platform[2]! });
    return identity?.userId ?? null;
  }
  return findUserId(deps, ref);
}

export async function showClient(deps: AppDeps, ref: string): Promise<Result<ClientDetail>> {
  const userId = await findClientId(deps, ref);
  return userId ? clientDetail(deps, userId) : err(appError('user_not_found'));
}

async function clientDetail(deps: AppDeps, userId: string): Promise<Result<ClientDetail>> {
  const [row] = await loadRows(deps, { id: userId });
  if (!row) return err(appError('user_not_found'));
  const [licenses, credentials] = await Promise.all([listLicensesOfUser(deps, userId), listCredentials(deps, userId)]);
  return ok({ ...toSummary(row), limits: row.limits ?? null, licenses, credentials });
}

// ------------------------------------------------------------------------------------- upsert

export interface ClientUpdate {
  readonly name?: string | null;
  readonly plan?: string;
  /** null clears it. */
  readonly owner?: string | null;
  readonly status?: 'active' | 'suspended';
  /** Why it is suspended (operators only); with status suspended. */
  readonly reason?: string | null;
  /** Sections given replace those sections (null removes one); null clears the account's overrides. */
  readonly limits?: Readonly<Record<string, unknown>> | null;
}

const FIELDS = 'name, plan, owner, status, reason, limits';

const updateSchema = z.strictObject({
  name: z.string().trim().min(1, 'name must not be empty (use null to clear it)').max(64, 'name has at most 64 characters').nullable().optional(),
  plan: z.string().trim().min(1, 'plan must be a tier id, e.g. pro').max(32).optional(),
  owner: z.string('owner must be a string (use null to clear it)').trim().min(1, 'owner must not be empty (use null to clear it)').max(100, 'owner has at most 100 characters').nullable().optional(),
  status: z.enum(['active', 'suspended'], 'status must be active or suspended').optional(),
  reason: z.string('reason must be a string').trim().min(1, 'reason must not be empty').max(200, 'reason has at most 200 characters').optional(),
  limits: z.unknown().optional(),
});

/**
 * Checks an update as a whole and reports every problem at once (details.problems), naming the
 * field; the values themselves are never echoed.
 */
export function parseClientUpdate(raw: unknown): Result<ClientUpdate> {
  const parsed = updateSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')} (fields: ${FIELDS})` : `${i.path.join('.') || 'body'}: ${i.message}`,
    );
    return invalid(problems);
  }
  const { name, plan, owner, status, reason, limits } = parsed.data;
  const problems: string[] = [];
  if (reason !== undefined && status !== 'suspended') problems.push('reason goes with status "suspended" (it says why the account is suspended)');
  if (limits !== undefined && limits !== null) problems.push(...limitsProblems(limits, 'user'));
  if (problems.length) return invalid(problems);
  const update: ClientUpdate = {
    ...(name === undefined ? {} : { name }),
    ...(plan === undefined ? {} : { plan }),
    ...(owner === undefined ? {} : { owner }),
    ...(status === undefined ? {} : { status }),
    ...(reason === undefined ? {} : { reason }),
    ...(limits === undefined ? {} : { limits: limits as ClientUpdate['limits'] }),
  };
  if (Object.keys(update).length === 0) return invalid([`nothing to change: give any of ${FIELDS}`]);
  return ok(update);
}

const invalid = (problems: string[]) => err(appError('invalid_input', { problems }, problems.join('; ')));

export interface UpsertedClient {
  readonly client: ClientDetail;
  readonly created: boolean;
  /** A license issued for the plan: its key is shown only in this result. */
  readonly issued: { readonly key: string; readonly license: LicenseView } | null;
  /** What a suspension stopped: wake `runs` where a run supervisor is at hand. */
  readonly stopped: { readonly runs: readonly RunView[]; readonly follows: number } | null;
}

/**
 * Creates (from `telegram:<id>` / `discord:<id>`) or updates a client. Everything that can be
 * refused is checked before the first write; the license is issued first because the pool may
 * be full. Each change is audited by the use-case that makes it.
 */
export async function upsertClient(deps: AppDeps, ref: string, update: ClientUpdate, actor: Actor): Promise<Result<UpsertedClient>> {
  let userId = await findClientId(deps, ref);
  const platform = PLATFORM_REF.exec(ref.trim());
  if (!userId && !platform) {
    return err(appError('user_not_found', { ref }, 'No client matches that. Use a user id, a platform id or @username; create one with telegram:<id> or discord:<id>.'));
  }
  let planTier: string | null = null;
  if (update.plan !== undefined) {
    const tier = await findTier(deps.db, update.plan);
    if (!tier) return err(appError('tier_not_found', { tier: update.plan }, `There is no tier "${update.plan}".`));
    const live = userId ? (await listLicensesOfUser(deps, userId)).filter((l) => l.status !== 'revoked') : [];
    if (live.length > 0 && !live.some((l) => l.tierId === tier.id)) {
      const current = [...new Set(live.map((l) => l.tierId))].join(', ');
      return err(
        appError(
          'invalid_input',
          { field: 'plan', problems: [`plan: the client already holds a ${current} license`] },
          `The client already holds a ${current} license. Changing plan is an upgrade (/upgrade, paid) or revoke-license followed by issue-license.`,
        ),
      );
    }
    if (live.length === 0) planTier = tier.id;
  }

  let created = false;
  if (!userId) {
    const resolved = await resolveIdentity(deps, { platform: platform![1]!.toLowerCase() as IdentityPlatform, externalId: platform![2]! });
    userId = resolved.userId;
    created = resolved.created;
    if (created) {
      await read(() =>
        recordAudit(deps.db, { actor, action: 'user.created', entityType: 'user', entityId: userId, after: { identity: `${resolved.platform}:${resolved.externalId}` }, at: deps.clock.now() }),
      );
    }
  }

  let issued: UpsertedClient['issued'] = null;
  if (planTier) {
    const result = await issueLicense(deps, { tier: planTier, userId, actor });
    if (!result.ok) return result;
    issued = { key: result.value.key, license: result.value.license };
  }
  if (update.name !== undefined) await setProfileField(deps, userId, 'displayName', update.name, actor);
  if (update.owner !== undefined) await setProfileField(deps, userId, 'owner', update.owner, actor);
  if (update.limits !== undefined) {
    const stored = await setLimits(deps, { kind: 'user', userId }, update.limits, actor);
    if (!stored.ok) return stored;
  }
  let stopped: UpsertedClient['stopped'] = null;
  if (update.status === 'suspended') {
    const done = await suspendClient(deps, { userId, reason: update.reason ?? null, actor });
    stopped = { runs: done.runs, follows: done.followsStopped };
  } else if (update.status === 'active') {
    await reinstateClient(deps, { userId, actor });
  }
  const client = await clientDetail(deps, userId);
  return client.ok ? ok({ client: client.value, created, issued, stopped }) : client;
}

const PROFILE_ACTIONS = { displayName: 'user.renamed', owner: 'user.owner_set' } as const;

/** Sets the display name or the owner; audited when it changes. */
async function setProfileField(deps: AppDeps, userId: string, field: keyof typeof PROFILE_ACTIONS, value: string | null, actor: Actor): Promise<void> {
  await inTransaction(deps.db, async (tx) => {
    const row = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { displayName: true, owner: true } });
    if (row[field] === value) return;
    const now = deps.clock.now();
    await tx.user.update({ where: { id: userId }, data: { [field]: value, updatedAt: now } });
    await recordAudit(tx, { actor, action: PROFILE_ACTIONS[field], entityType: 'user', entityId: userId, before: { [field]: row[field] }, after: { [field]: value }, at: now });
  });
}

// ------------------------------------------------------------------------------ credentials

export interface ClientCredentialsInput {
  readonly exchange: string;
  readonly label?: string | null;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly passphrase?: string | null;
}

/** Stores (or replaces) a client's exchange keys, encrypted; returns only their metadata. */
export async function storeClientCredentials(deps: CredentialDeps, ref: string, input: ClientCredentialsInput, actor: Actor): Promise<Result<CredentialView>> {
  const userId = await findClientId(deps, ref);
  if (!userId) return err(appError('user_not_found'));
  return storeCredentials(deps, { ...input, userId, actor });
}

export async function listClientCredentials(deps: AppDeps, ref: string): Promise<Result<CredentialView[]>> {
  const userId = await findClientId(deps, ref);
  return userId ? ok(await listCredentials(deps, userId)) : err(appError('user_not_found'));
}

// -------------------------------------------------------------------------------- licenses

/** Issues `count` licenses of a tier, for a client when `ref` is given; stops at the first refusal. */
export async function issueClientLicenses(
  deps: AppDeps,
  input: { tier: string; count: number; ref?: string },
  actor: Actor,
): Promise<Result<{ issued: { key: string; license: LicenseView }[]; refusal: ReturnType<typeof appError> | null }>> {
  const userId = input.ref === undefined ? null : await findClientId(deps, input.ref);
  if (input.ref !== undefined && !userId) return err(appError('user_not_found'));
  const issued: { key: string; license: LicenseView }[] = [];
  for (let i = 0; i < input.count; i++) {
    const result = await issueLicense(deps, { tier: input.tier, userId, actor });
    if (!result.ok) {
      if (issued.length === 0) return result;
      return ok({ issued, refusal: result.error });
    }
    issued.push({ key: result.value.key, license: result.value.license });
  }
  return ok({ issued, refusal: null });
}

/** Revokes one license (by key) or every live license of a client; their capital returns to the pool. */
export async function revokeClientLicenses(
  deps: AppDeps,
  input: { key?: string; ref?: string; reason: string },
  actor: Actor,
): Promise<Result<LicenseView[]>> {
  let targets: LicenseView[];
  if (input.key !== undefined) {
    if (!parseLicenseKey(input.key).ok) return err(appError('invalid_license_format'));
    const found = await findLicenseByKey(deps, input.key);
    if (!found.ok) return found;
    targets = [found.value];
  } else {
    const userId = input.ref === undefined ? null : await findClientId(deps, input.ref);
    if (!userId) return err(appError('user_not_found'));
    targets = await listLicensesOfUser(deps, userId);
  }
  const live = targets.filter((l) => l.status !== 'revoked');
  if (live.length === 0) return err(appError('license_not_found', {}, 'Nothing to revoke: no live license matches.'));
  const done: LicenseView[] = [];
  for (const license of live) {
    const result = await revokeLicense(deps, { licenseId: license.id, reason: input.reason, actor });
    if (!result.ok) return result;
    done.push(result.value);
  }
  return ok(done);
}

// ------------------------------------------------------------------------------------ JSON

/** The wire shape shared by `admin --json` and the admin HTTP API (snake_case, ISO dates, decimal strings). */
export function clientJson(client: ClientSummary | ClientDetail): Record<string, unknown> {
  const base = {
    id: client.id,
    name: client.name,
    plan: client.plan,
    status: client.status,
    suspended_at: client.suspension?.at.toISOString() ?? null,
    suspend_reason: client.suspension?.reason ?? null,
    owner: client.owner,
    flagged: client.flag ? { at: client.flag.at.toISOString(), reason: client.flag.reason } : null,
    identities: client.identities.map((i) => ({ platform: i.platform, external_id: i.externalId, username: i.username })),
    credential_count: client.credentialCount,
    created_at: client.createdAt.toISOString(),
  };
  if (!('licenses' in client)) return base;
  return {
    ...base,
    limits: client.limits,
    licenses: client.licenses.map(licenseJson),
    credentials: client.credentials.map(credentialJson),
  };
}

export function licenseJson(l: LicenseView): Record<string, unknown> {
  return {
    id: l.id,
    key: l.maskedKey,
    tier: l.tierId,
    status: l.status,
    capital_usd: centsToDecimalString(l.capital),
    activated_at: l.activatedAt?.toISOString() ?? null,
    revoked_at: l.revokedAt?.toISOString() ?? null,
  };
}

export function credentialJson(c: CredentialView): Record<string, unknown> {
  return {
    exchange: c.exchange,
    label: c.label,
    api_key_last4: c.apiKeyLast4,
    has_passphrase: c.hasPassphrase,
    added_at: c.addedAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}
