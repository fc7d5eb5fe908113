// License events as outbox alerts (/alerts type `license`), queued by the license use-cases in
// the same transaction as the change, so a committed change always has its alert and a rolled-back
// one never does. The event id is the license, the event and the moment of the change: the same
// change queued twice is stored once, a later change of the same kind (a second transfer) is new.
//
// Texts name a license by its tier and masked key (AIT-****-****-7KQ2). The key itself never
// appears: only its hash and last four characters are stored, and chat is no place for it anyway.
// Free text from an admin (a revocation reason) is scrubbed of anything that looks like a key.
//
// The same transaction also queues a community sync for every account whose access may have
// changed (src/app/community-requests.ts): gated roles and groups follow the license.
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import type { Tx } from '../db/client.ts';
import { scrubSecrets } from '../kernel/logger.ts';
import { formatUsd } from '../kernel/money.ts';
import { queueCommunitySync, type CommunitySync } from './community-requests.ts';
import type { LicenseView } from './license-records.ts';

export type LicenseEvent =
  /** A license was issued to a known user (a paid purchase, or an admin issuing it for them). */
  | { readonly type: 'issued'; readonly license: LicenseView }
  | { readonly type: 'activated'; readonly license: LicenseView }
  /** Rebound by support; `fromUserId` is the previous owner when it was another account. */
  | { readonly type: 'transferred'; readonly license: LicenseView; readonly fromUserId: string | null }
  | { readonly type: 'upgraded'; readonly license: LicenseView; readonly fromTierId: string }
  /** A refunded upgrade taken back: the license is on `license.tierId` again. */
  | { readonly type: 'downgraded'; readonly license: LicenseView; readonly fromTierId: string; readonly reason: string }
  | { readonly type: 'revoked'; readonly license: LicenseView; readonly userId: string | null; readonly reason: string };

/** The alerts one license event sends (none when the license belongs to nobody yet). */
export async function licenseEventAlerts(tx: Tx, event: LicenseEvent, now: Date): Promise<QueuedAlert[]> {
  const { license } = event;
  const at = now.getTime();
  const id = (name: string) => `license:${license.id}:${name}:${at}`;
  const name = `${await tierName(tx, license.tierId)} license ${license.maskedKey}`;
  const alert = (eventId: string, userId: string | null, text: string): QueuedAlert[] =>
    userId
      ? [{ eventId, userId, alertType: 'license', text, payload: { type: `license_${event.type}`, licenseId: license.id, tierId: license.tierId } }]
      : [];
  const limit = `Capital limit ${formatUsd(license.capital)}.`;

  switch (event.type) {
    case 'issued':
      return alert(id('issued'), license.userId, `🎟 You have a new ${name}. Activate it with /activate and its key.`);
    case 'activated':
      return alert(id('activated'), license.userId, `✅ Your ${name} is active. ${limit}`);
    case 'transferred': {
      const moved = event.fromUserId && event.fromUserId !== license.userId;
      return [
        ...alert(id('transferred'), license.userId, `✅ The ${name} was moved to your account by support. ${limit}`),
        ...(moved ? alert(id('transferred_away'), event.fromUserId, `ℹ️ Your ${name} was moved to another account by support.`) : []),
      ];
    }
    case 'upgraded':
      return alert(id('upgraded'), license.userId, `⬆️ Your license ${license.maskedKey} was upgraded from ${await tierName(tx, event.fromTierId)} to ${await tierName(tx, license.tierId)}. ${limit}`);
    case 'downgraded':
      return alert(
        id('downgraded'),
        license.userId,
        `↩️ Your upgrade to ${await tierName(tx, event.fromTierId)} was undone (${scrubSecrets(event.reason, [])}): license ${license.maskedKey} is on ${await tierName(tx, license.tierId)} again. ${limit}`,
      );
    case 'revoked':
      return alert(
        id('revoked'),
        event.userId,
        `⛔ Your ${name} was revoked${event.reason ? ` (${scrubSecrets(event.reason, [])})` : ''}. Contact support if you think this is a mistake.`,
      );
  }
}

/** Queues the event's alerts and community syncs in the caller's transaction. */
export async function queueLicenseEvent(tx: Tx, event: LicenseEvent, now: Date): Promise<void> {
  await queueAlerts(tx, await licenseEventAlerts(tx, event, now), now);
  await queueCommunitySync(tx, licenseEventSyncs(event), now);
}

/**
 * The accounts whose gated access the event may change. An issued license grants nothing until
 * it is activated, so issuing syncs nobody.
 */
export function licenseEventSyncs(event: LicenseEvent): CommunitySync[] {
  const { license } = event;
  const of = (userId: string | null, reason: CommunitySync['reason']): CommunitySync[] => (userId ? [{ userId, reason }] : []);
  switch (event.type) {
    case 'issued':
      return [];
    case 'activated':
      return of(license.userId, 'license_activated');
    case 'upgraded':
      return of(license.userId, 'license_upgraded');
    case 'downgraded':
      return of(license.userId, 'license_downgraded');
    case 'transferred':
      return [
        ...of(license.userId, 'license_transferred'),
        ...(event.fromUserId && event.fromUserId !== license.userId ? of(event.fromUserId, 'license_transferred_away') : []),
      ];
    case 'revoked':
      return of(event.userId, 'license_revoked');
  }
}

async function tierName(tx: Tx, tierId: string): Promise<string> {
  const tier = await tx.tier.findUnique({ where: { id: tierId }, select: { name: true } });
  return tier?.name ?? tierId;
}
