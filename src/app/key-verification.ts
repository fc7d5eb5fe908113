// Live trading only on keys the exchange has accepted: the balance must be readable, and a key
// allowed to withdraw, or not allowed to trade, is refused where the exchange says so (Binance
// reports its key's restrictions, Alpaca its account's status; Alpaca keys never withdraw). Verified once per stored key; replacing the key clears it.
import { read } from '../db/transaction.ts';
import { isVenueError, type ExchangeVenue } from '../exchange/venue.ts';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';
import { recordAudit } from './audit.ts';
import { decryptCredentials, type CredentialDeps, type ExchangeSecrets } from './credentials.ts';
import type { Actor } from './deps.ts';

/** Opens a venue on an account; the composition root decides which implementation. */
export type AccountVenueFactory = (exchange: string, secrets: ExchangeSecrets) => ExchangeVenue;

export interface KeyCheck {
  readonly verifiedAt: Date;
  /** Null when the exchange does not report withdrawal permission. */
  readonly canWithdraw: boolean | null;
}

export async function verifyStoredKeys(
  deps: CredentialDeps & { readonly openAccount: AccountVenueFactory },
  ref: { userId: string; exchange: string; label: string; actor: Actor },
): Promise<Result<KeyCheck>> {
  const row = await read(() =>
    deps.db.exchangeCredential.findUnique({ where: { userId_exchange_label: { userId: ref.userId, exchange: ref.exchange, label: ref.label } } }),
  );
  if (!row) return err(appError('live_keys_missing', { exchange: ref.exchange }));
  if (row.verifiedAt) return ok({ verifiedAt: row.verifiedAt, canWithdraw: false });
  const secrets = await decryptCredentials(deps, ref);
  if (!secrets.ok) return secrets;
  const venue = deps.openAccount(ref.exchange, secrets.value);
  let canWithdraw: boolean | null;
  let canTrade: boolean | null;
  try {
    await venue.fetchBalance();
    ({ canWithdraw, canTrade } = await venue.keyPermissions());
  } catch (error) {
    if (isVenueError(error) && error.kind === 'authentication') return err(appError('keys_rejected', { exchange: ref.exchange }));
    return err(appError('exchange_unreachable', { exchange: ref.exchange }));
  } finally {
    await venue.close().catch(() => undefined);
  }
  const now = deps.clock.now();
  await recordAudit(deps.db, {
    actor: ref.actor,
    action: canWithdraw ? 'credential.refused_withdrawal' : canTrade === false ? 'credential.refused_no_trading' : 'credential.verified',
    entityType: 'credential',
    entityId: row.id,
    after: { exchange: ref.exchange, label: ref.label, canWithdraw, canTrade },
    at: now,
  });
  if (canWithdraw === true) return err(appError('keys_can_withdraw', { exchange: ref.exchange }));
  // A key (or account) the exchange says may not trade would only fail every live order.
  if (canTrade === false) {
    return err(appError('keys_rejected', { exchange: ref.exchange }, 'The exchange says these API keys (or their account) may not trade. Allow trading for the key, then add it again with /keys add.'));
  }
  // Only if the row is still the one we checked (a replacement in between must be checked anew).
  await deps.db.exchangeCredential.updateMany({ where: { id: row.id, updatedAt: row.updatedAt }, data: { verifiedAt: now } });
  return ok({ verifiedAt: now, canWithdraw });
}
