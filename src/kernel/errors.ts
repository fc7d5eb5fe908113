// Stable identifiers for expected failures. Chat adapters and HTTP render them; the
// default English text lives here so every platform says the same thing.

export const errorMessages = {
  invalid_input: 'That input is not valid.',
  invalid_license_format:
    'That does not look like a license key. Keys look like AIT-XXXX-XXXX-XXXX; check for a typo.',
  license_not_found: 'No license matches that key.',
  license_already_bound: 'Contact support to transfer license',
  license_revoked: 'This license has been revoked. Contact support if you think this is a mistake.',
  license_not_upgradable: 'This license cannot be upgraded.',
  tier_not_found: 'There is no such tier.',
  tier_not_higher: 'Pick a tier above your current one to upgrade.',
  pool_full: 'The capacity pool is full: there is not enough capital left for this tier right now.',
  pool_over_cap: 'The capacity pool is over its cap, so this is paused for now.',
  hold_not_found: 'That reservation does not exist.',
  hold_not_active: 'That reservation is no longer active.',
  hold_expired: 'That reservation expired and the pool no longer has room for it.',
  identity_not_found: 'That account is not known here yet.',
  database_unavailable: 'The database is not reachable right now; try again in a moment.',
} as const;

export type ErrorCode = keyof typeof errorMessages;

export interface AppError {
  readonly code: ErrorCode;
  readonly message: string;
  /** Extra facts for renderers (e.g. the pool meter with pool_full); never secrets. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export function appError(code: ErrorCode, details?: Record<string, unknown>, message?: string): AppError {
  return { code, message: message ?? errorMessages[code], ...(details ? { details } : {}) };
}

/**
 * An infrastructure failure (database down, timeouts) translated at the boundary, so no
 * caller ever sees a raw driver error. It carries the original as `cause` for the logs.
 */
export class UnavailableError extends Error {
  readonly code = 'database_unavailable' as const;
  constructor(cause: unknown) {
    super(errorMessages.database_unavailable, { cause });
    this.name = 'UnavailableError';
  }
}
