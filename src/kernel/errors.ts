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
  unknown_exchange:
    'That exchange is not supported. Supported exchanges: Binance, Bybit, OKX, KuCoin, Bitget, Kraken, Coinbase, Gate.io, MEXC and Alpaca (stocks).',
  invalid_credentials_input:
    'Those API keys do not look right. Copy the API key and secret again exactly as the exchange shows them.',
  passphrase_required: 'This exchange also needs the API passphrase you chose when you created the key.',
  credentials_not_found: 'No API keys are saved for that exchange.',
  credentials_undecryptable:
    'Your saved API keys for this exchange can no longer be read (the server encryption key changed). Please add them again.',
  intake_link_invalid: 'This link has expired or was already used. Ask the bot for a new one.',
  alert_not_mutable: 'Kill-switch alerts cannot be turned off: they are how you learn that trading stopped.',
  link_code_invalid: 'That link code is not valid. Codes expire after 10 minutes and work once; ask for a new one with /link.',
  link_same_platform: 'Use the code on your other platform (Telegram or Discord), not on the one that issued it.',
  link_platform_taken: 'That account already has an identity on this platform linked. Contact support to move it.',
  link_conflict: 'Both accounts hold exchange keys for the same exchange; remove one with /keys remove first.',
  user_not_found: 'No user matches that. Use a user id, a platform id or @username.',
  database_unavailable: 'The database is not reachable right now; try again in a moment.',
  invalid_run_spec: 'That run description is not valid.',
  run_not_found: 'You have no run with that number. See /runs.',
  run_not_active: 'That run is not running any more.',
  kill_switch_engaged: 'Trading is halted by an admin kill switch right now: no run can start. Try again later.',
  no_license: 'You need an active license for that. Activate one with /activate <key>, or see /tiers.',
  tier_capital_exceeded: 'That is more capital than your tier allows.',
  paper_first: 'Live trading unlocks after a week of paper trading on this account.',
  live_trading_off: 'This server trades on paper only right now: live runs and live follows are switched off. Paper trading works as usual (/paper).',
  live_keys_missing: 'Live trading needs your exchange API keys first: add them with /keys add.',
  keys_rejected: 'The exchange did not accept your API keys. Check them, then add them again with /keys add.',
  keys_can_withdraw:
    'These API keys are allowed to withdraw funds. For your safety, create a key without withdrawal permission and add it with /keys add.',
  exchange_unreachable: 'The exchange could not be reached right now; try again in a minute.',
  live_ack_missing: 'There is nothing to acknowledge: start with /live and press the button first (it is valid for 10 minutes).',
  live_ack_wrong: 'That is not the phrase. Type exactly: /ack I ACKNOWLEDGE RISK',
  payments_off: 'Payments are not set up on this server. An admin can issue you a license instead.',
  payment_unavailable: 'The payment provider could not be reached right now; nothing was charged. Try again in a minute.',
  no_license_to_upgrade: 'You have no active license to upgrade. Buy one with /buy.',
  not_paid_for: 'That license was not bought through a payment here, so there is nothing to refund.',
  already_refunded: 'That payment was already refunded.',
  no_scan_yet: 'The scanner has not finished its first scan yet; try again in a few minutes.',
  coin_concentration: 'That would put too much of your capital on one coin.',
  customer_not_found: 'No customer matches that id.',
  not_your_customer_id: 'This license belongs to another customer id.',
  machine_not_activated: 'Activate this license on your machine first (POST /v1/auth/activate).',
  rate_limited: 'Too many requests; wait a moment and try again.',
  release_not_found: 'There is no bot package with that version.',
  market_closed: 'The stock market is closed right now; orders go in when it opens.',
  master_not_found: 'No published master matches that code. See who you follow with /follow.',
  master_tier_too_low: 'Publishing a run for copy trading needs a higher tier.',
  already_published: 'That run is already published for copy trading.',
  cannot_follow_self: 'You cannot follow your own run.',
  follow_not_found: 'You do not follow that master.',
  copy_capital_exceeded: 'That is more capital than your tier has left for copy trading.',
  account_under_review: 'Your account is under review after a payment dispute, so purchases are paused. Contact support.',
  account_suspended: 'Your account is suspended. Contact support.',
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
