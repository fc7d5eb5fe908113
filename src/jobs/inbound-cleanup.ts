// Scheduled: deletes dedupe and button rows nobody needs any more. Both tables only grew before.
//  - inbound_updates: the ids of handled chat updates, kept so a redelivered update never runs
//    twice. Platforms redeliver within hours (Telegram keeps updates for 24 h), so a week is ample.
//  - chat_actions: what a button does. Once used or expired, a press only gets "this button has
//    expired"; after a week the row goes (a press on it then gets the same answer: not found).
//  - community_sync_requests: written with every license change, whether or not a community is
//    configured. Processed ones go after a week; unprocessed ones after four (nobody consumes
//    them without a community, and once one is configured, reconciliation covers the past).
//  - api_rate_limits: a bucket whose theoretical arrival time has passed is full again, which is
//    the same as having no row.
//  - bot_status_reports: self-hosted bots push every 2 minutes; the dashboard charts 30 days, so
//    90 are kept. scanner_scans (and their rotations): 30 days of history.
// Deletes run in batches, so a first run over a large backlog never holds long locks.
import type { AppDeps } from '../app/deps.ts';
import { pruneRateLimits } from '../app/api-rate-limit.ts';
import type { JobDefinition } from './scheduler.ts';

export const DEFAULT_CLEANUP_RETENTION_MS = 7 * 86_400_000;
const DEFAULT_BATCH = 5000;

export interface CleanupOptions {
  /** Rows older than this go; default 7 days. */
  readonly retentionMs?: number;
  /** Rows deleted per statement; default 5000. */
  readonly batchSize?: number;
}

export interface CleanupResult {
  readonly inboundUpdates: number;
  readonly chatActions: number;
  readonly communitySyncs: number;
  readonly rateLimits: number;
  readonly botStatusReports: number;
  readonly scannerScans: number;
}

const DAY_MS = 86_400_000;
export const BOT_STATUS_RETENTION_MS = 90 * DAY_MS;
export const SCANNER_SCAN_RETENTION_MS = 30 * DAY_MS;

export async function pruneInboundAndActions(deps: AppDeps, options: CleanupOptions = {}): Promise<CleanupResult> {
  const cutoff = new Date(deps.clock.now().getTime() - (options.retentionMs ?? DEFAULT_CLEANUP_RETENTION_MS));
  const batch = options.batchSize ?? DEFAULT_BATCH;
  const inboundUpdates = await inBatches(batch, () =>
    deps.db.$executeRaw`
      DELETE FROM inbound_updates
      WHERE (platform, update_id) IN (
        SELECT platform, update_id FROM inbound_updates WHERE received_at < ${cutoff} LIMIT ${batch}::int)`,
  );
  const chatActions = await inBatches(batch, () =>
    deps.db.$executeRaw`
      DELETE FROM chat_actions
      WHERE id IN (
        SELECT id FROM chat_actions WHERE used_at < ${cutoff} OR expires_at < ${cutoff} LIMIT ${batch}::int)`,
  );
  const staleCutoff = new Date(deps.clock.now().getTime() - 4 * (options.retentionMs ?? DEFAULT_CLEANUP_RETENTION_MS));
  const communitySyncs = await inBatches(batch, () =>
    deps.db.$executeRaw`
      DELETE FROM community_sync_requests
      WHERE id IN (
        SELECT id FROM community_sync_requests WHERE processed_at < ${cutoff} OR created_at < ${staleCutoff} LIMIT ${batch}::int)`,
  );
  const now = deps.clock.now();
  // One row per license and endpoint group: small enough for one statement.
  const rateLimits = await pruneRateLimits(deps);
  const statusCutoff = new Date(now.getTime() - BOT_STATUS_RETENTION_MS);
  const botStatusReports = await inBatches(batch, () =>
    deps.db.$executeRaw`
      DELETE FROM bot_status_reports WHERE id IN (SELECT id FROM bot_status_reports WHERE received_at < ${statusCutoff} LIMIT ${batch}::int)`,
  );
  const scanCutoff = new Date(now.getTime() - SCANNER_SCAN_RETENTION_MS);
  const scannerScans = await inBatches(batch, () =>
    deps.db.$executeRaw`
      DELETE FROM scanner_scans WHERE id IN (SELECT id FROM scanner_scans WHERE taken_at < ${scanCutoff} LIMIT ${batch}::int)`,
  );
  return { inboundUpdates, chatActions, communitySyncs, rateLimits, botStatusReports, scannerScans };
}

async function inBatches(batch: number, deleteBatch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteBatch();
    total += n;
    if (n < batch) return total;
  }
}

export function inboundCleanupJob(deps: AppDeps, options: CleanupOptions & { cron?: string } = {}): JobDefinition {
  const { cron, ...cleanup } = options;
  return {
    name: 'inbound-cleanup',
    cron: cron ?? '17 3 * * *',
    run: async () => {
      const r = await pruneInboundAndActions(deps, cleanup);
      return (
        `pruned ${r.inboundUpdates} inbound updates, ${r.chatActions} chat actions, ${r.communitySyncs} community syncs, ` +
        `${r.rateLimits} rate-limit buckets, ${r.botStatusReports} bot status reports, ${r.scannerScans} scans`
      );
    },
  };
}
