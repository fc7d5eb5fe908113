// Scheduled: repairs gated community drift (a role changed by hand, someone who slipped into a
// gated group, a sync given up after too many failures) through the community service. Safe to
// overlap with the next slot on another replica: every change is decided from the platform's
// current state, and reconciliation never invites anyone it invited before.
import type { CommunityAccessService } from '../app/community.ts';
import type { JobDefinition } from './scheduler.ts';

export function communityReconcileJob(service: Pick<CommunityAccessService, 'reconcile'>, options: { cron?: string } = {}): JobDefinition {
  return {
    name: 'community-reconcile',
    cron: options.cron ?? '*/15 * * * *',
    run: () => service.reconcile(),
  };
}
