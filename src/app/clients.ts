// Clients for operators (the admin CLI and the admin HTTP API): a client is a user account with
// its identities, licenses and exchange keys. The seed's fields map onto what the service has:
// - id: the user id, a platform id, @username, or `telegram:<id>` / `discord:<id>` (which also
//   creates the account on upsert: an account needs an identity to be reachable in chat);
// - name: the display name;
// - plan: the tier of the best live license. Setting a plan on a client without one issues a
//   license of that tier for them through the pool (issueLicense); changing an existing plan is
//   an upgrade (paid) or a revoke and a new issue, never a silent rewrite of a license;
// - status: derived, `active` with an active license, else `inactive`. There is no suspension
//   state to set (a disputed payment only flags the account), so `status` is refused on upsert;
// - owner: nothing stores it, so it is refused rather than dropped or stuffed into `limits`;
// - limits: only the `guard` section is read by the service (src/engine/risk/limits.ts), so only
//   `guard` is accepted; a `risk` section would be stored and never enforced.
import { z } from 'zod';
import { inTransaction, read } from '../db/transaction.ts';
import type { IdentityPlatform } from '../db/generated/enums.ts';
import { parseGuardOverrides } from '../engine/risk/limits.ts';
import { appError } from '../kernel/errors.ts';
import { centsToDecimalString } from '../kernel/money.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { listCredentials, storeCredentials, type CredentialDeps, type CredentialView } from './credentials.ts';
import type { Actor, AppDeps } from './deps.ts';
import { findLicenseByKey, issueLicense, listLicensesOfUser, revokeLicense, type LicenseView } from './licenses.ts';
import { setLimits } from './run-risk.ts';
import { findTier } from './tiers.ts';
import { findUserId } from './user-directory.ts';
import { findIdentity, resolveIdentity } from './users.ts';
import { parseLicenseKey } from '../domain/license-key.ts';

export type ClientStatus = 'active' | 'inactive';

export interface ClientSummary {
  readonly id: string;
  readonly name: string | null;
  /** Tier of the best active license, else of a license issued to them and not yet activated. */
  readonly plan: string | null;
  readonly status: ClientStatus;
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
    status: active ? 'active' : 'inactive',
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
  /** null clears the account's overrides. */
  readonly limits?: { readonly guard?: Record<string, number> } | null;
}

const updateSchema = z.strictObject({
  name: z.string().trim().min(1, 'name must not be empty (use null to clear it)').max(64, 'name has at most 64 characters').nullable().optional(),
  plan: z.string().trim().min(1, 'plan must be a tier id, e.g. pro').max(32).optional(),
  limits: z.unknown().optional(),
  status: z.unknown().optional(),
  owner: z.unknown().optional(),
});

const UNSUPPORTED = {
  status:
    'status cannot be set: this service has no suspended state. A client is active while it has an active license; revoke its licenses to stop it trading.',
  owner: 'owner cannot be set: accounts have no owner field here, and limits are not a place to keep one.',
} as const;

/**
 * Checks an update as a whole and reports every problem at once (details.problems), naming the
 * field; the values themselves are never echoed.
 */
export function parseClientUpdate(raw: unknown): Result<ClientUpdate> {
  const parsed = updateSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')} (fields: name, plan, limits)` : `${i.path.join('.') || 'body'}: ${i.message}`,
    );
    return invalid(problems);
  }
  const { name, plan, limits, status, owner } = parsed.data;
  const problems: string[] = [];
  if (status !== undefined) problems.push(UNSUPPORTED.status);
  if (owner !== undefined) problems.push(UNSUPPORTED.owner);
  const checkedLimits = limits === undefined ? undefined : checkLimits(limits, problems);
  if (problems.length) return invalid(problems);
  if (name === undefined && plan === undefined && limits === undefined) return invalid(['nothing to change: give name, plan or limits']);
  return ok({
    ...(name === undefined ? {} : { name }),
    ...(plan === undefined ? {} : { plan }),
    ...(checkedLimits === undefined ? {} : { limits: checkedLimits }),
  });
}

function checkLimits(limits: unknown, problems: string[]): ClientUpdate['limits'] | undefined {
  if (limits === null) return null;
  if (typeof limits !== 'object' || Array.isArray(limits)) {
    problems.push('limits must be a JSON object like {"guard":{"maxRunLossUsd":100}}, or null to clear');
    return undefined;
  }
  const sections = Object.keys(limits);
  if (sections.includes('risk')) {
    problems.push(
      'limits.risk is not read by this service (position size comes from each run\'s capital and the tier\'s cap), so it is not stored; use limits.guard',
    );
  }
  const unknown = sections.filter((k) => k !== 'guard' && k !== 'risk');
  if (unknown.length) problems.push(`limits has no section ${unknown.map((k) => `"${k}"`).join(', ')}; the only section is guard`);
  const guard = parseGuardOverrides({ guard: (limits as { guard?: unknown }).guard });
  if (!guard.ok) problems.push(guard.error.message);
  return limits as ClientUpdate['limits'];
}

const invalid = (problems: string[]) => err(appError('invalid_input', { problems }, problems.join('; ')));

export interface UpsertedClient {
  readonly client: ClientDetail;
  readonly created: boolean;
  /** A license issued for the plan: its key is shown only in this result. */
  readonly issued: { readonly key: string; readonly license: LicenseView } | null;
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
  if (update.name !== undefined) await renameClient(deps, userId, update.name, actor);
  if (update.limits !== undefined) {
    const stored = await setLimits(deps, { kind: 'user', userId }, update.limits, actor);
    if (!stored.ok) return stored;
  }
  const client = await clientDetail(deps, userId);
  return client.ok ? ok({ client: client.value, created, issued }) : client;
}

async function renameClient(deps: AppDeps, userId: string, name: string | null, actor: Actor): Promise<void> {
  await inTransaction(deps.db, async (tx) => {
    const before = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { displayName: true } });
    if (before.displayName === name) return;
    const now = deps.clock.now();
    await tx.user.update({ where: { id: userId }, data: { displayName: name, updatedAt: now } });
    await recordAudit(tx, { actor, action: 'user.renamed', entityType: 'user', entityId: userId, before, after: { displayName: name }, at: now });
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
