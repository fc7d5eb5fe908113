// The REST API's cross-cutting rules, in a fixed order: bearer license → may this license be
// used (revoked, not activated) → rate limit → handler. Expected failures become one JSON shape,
// `{ error, message, ... }`, with their HTTP status decided here and nowhere else.
//
// The license key arrives in the Authorization header and goes no further than the hash lookup:
// it is not logged (the server logs route patterns, never headers or bodies) nor echoed.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { takeRateLimit, type ApiLimitGroup, type RateAllowance } from '../../../app/api-rate-limit.ts';
import type { BotReleases } from '../../../app/bot-releases.ts';
import type { AppDeps } from '../../../app/deps.ts';
import type { PaymentGateway } from '../../../app/billing.ts';
import { botAccess, findBotLicense, type ActiveBotLicense, type BotLicense } from '../../../app/machine-activation.ts';
import type { ScannerPolicy } from '../../../app/scanner.ts';
import type { AppError, ErrorCode } from '../../../kernel/errors.ts';

/** What the API needs besides the use-cases' deps (HttpDeps.apiV1). */
export interface ApiV1Settings {
  readonly policy: ScannerPolicy;
  /** This service's public address, for dashboard and download links. */
  readonly publicBaseUrl: string;
  /** Bot packages: ait-bot-<version>.tar.gz. */
  readonly releasesDir: string;
  /** Absent: POST /v1/license/upgrade answers 503 payments_off. */
  readonly payments?: PaymentGateway;
}

export interface ApiV1Context {
  readonly app: AppDeps;
  readonly settings: ApiV1Settings;
  readonly releases: BotReleases;
}

/** Every expected failure's HTTP status; anything unlisted is a 400. */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_input: 400,
  invalid_license_format: 400,
  tier_not_found: 400,
  license_revoked: 403,
  license_already_bound: 403,
  machine_not_activated: 403,
  no_license: 403,
  no_license_to_upgrade: 403,
  not_your_customer_id: 403,
  account_under_review: 403,
  pool_over_cap: 403,
  license_not_found: 404,
  customer_not_found: 404,
  release_not_found: 404,
  tier_not_higher: 409,
  license_not_upgradable: 409,
  pool_full: 409,
  rate_limited: 429,
  no_scan_yet: 503,
  payments_off: 503,
  payment_unavailable: 503,
};

/** `{ error, message }` plus what the client can act on: field problems, the wait, the pool meter. */
export function sendError(reply: FastifyReply, error: AppError, status = HTTP_STATUS[error.code] ?? 400): FastifyReply {
  const details = error.details ?? {};
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (error.code === 'invalid_input') {
    // All 400s of the API share one identifier (fastify's own, e.g. for malformed JSON, too).
    body.error = 'bad_request';
    body.problems = Array.isArray(details.problems) ? details.problems : [{ field: details.field ?? '(body)', message: error.message }];
  }
  if (error.code === 'rate_limited') {
    body.retry_after_s = details.retryAfterS;
    reply.header('retry-after', String(details.retryAfterS));
  }
  if (error.code === 'pool_over_cap' || error.code === 'pool_full') body.pool = details;
  return reply.code(status).send(body);
}

/**
 * 401 for a missing credential (`unauthorized`, an HTTP-level identifier like `bad_request`) or
 * one that is not a license (invalid_license_format, license_not_found), with the RFC 6750 challenge.
 */
function sendUnauthorized(reply: FastifyReply, error: AppError | null): FastifyReply {
  if (!error) {
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({ error: 'unauthorized', message: 'Send your license key as Authorization: Bearer AIT-XXXX-XXXX-XXXX.' });
  }
  return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: error.code, message: error.message });
}

/** The bearer credential, or null when there is none. */
function bearerOf(request: FastifyRequest): string | null {
  const match = /^Bearer\s+(\S.*)$/i.exec(request.headers.authorization ?? '');
  return match ? match[1]!.trim() : null;
}

/** The license behind the request's bearer key; null after answering 401 when there is none. */
async function authenticate(ctx: ApiV1Context, request: FastifyRequest, reply: FastifyReply): Promise<BotLicense | null> {
  const key = bearerOf(request);
  if (!key) {
    sendUnauthorized(reply, null);
    return null;
  }
  const found = await findBotLicense(ctx.app, key);
  if (!found.ok) {
    // Malformed and unknown keys alike: the credential is not valid.
    sendUnauthorized(reply, found.error);
    return null;
  }
  return found.value;
}

/** One request's bucket: refused (429) → false. */
async function withinLimit(ctx: ApiV1Context, reply: FastifyReply, licenseId: string, group: ApiLimitGroup | null): Promise<RateAllowance | null | false> {
  if (!group) return null;
  const taken = await takeRateLimit(ctx.app, { licenseId, group });
  if (taken.ok) return taken.value;
  sendError(reply, taken.error);
  return false;
}

export interface BotCall<L> {
  readonly license: L;
  /** When this endpoint takes the license's next request; null for endpoints without a limit. */
  readonly nextAllowedAt: Date | null;
}

type Handler<L> = (request: FastifyRequest, reply: FastifyReply, call: BotCall<L>) => Promise<unknown>;

/** An endpoint for an active, machine-activated license. */
export function botRoute(ctx: ApiV1Context, group: ApiLimitGroup | null, handler: Handler<ActiveBotLicense>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const license = await authenticate(ctx, request, reply);
    if (!license) return reply;
    const access = botAccess(license);
    if (!access.ok) return sendError(reply, access.error);
    const allowance = await withinLimit(ctx, reply, license.licenseId, group);
    if (allowance === false) return reply;
    return handler(request, reply, { license: access.value, nextAllowedAt: allowance?.nextAllowedAt ?? null });
  };
}

/** Like botRoute, but a revoked license gets through (the heartbeat tells the bot so). */
export function licenseStateRoute(ctx: ApiV1Context, group: ApiLimitGroup | null, handler: Handler<BotLicense>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const license = await authenticate(ctx, request, reply);
    if (!license) return reply;
    const access = botAccess(license);
    if (!access.ok && access.error.code !== 'license_revoked') return sendError(reply, access.error);
    const allowance = await withinLimit(ctx, reply, license.licenseId, group);
    if (allowance === false) return reply;
    return handler(request, reply, { license, nextAllowedAt: allowance?.nextAllowedAt ?? null });
  };
}
