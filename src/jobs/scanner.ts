// Scheduled: the coin scanner (every 4 hours by default, once across replicas) and the
// every-minute pass that carries out due rotations (src/app/scanner-rotations.ts).
import type { AppDeps } from '../app/deps.ts';
import type { RunControl, RunDeps } from '../app/runs.ts';
import type { ScannerPolicy } from '../app/scanner.ts';
import { checkFootprint, planRotations, runScan, type ScanSettings } from '../app/scanner-scan.ts';
import { processDueRotations } from '../app/scanner-rotations.ts';
import type { Logger } from '../kernel/logger.ts';
import type { JobDefinition } from './scheduler.ts';

export const SCANNER_JOB = 'scanner';

export interface ScannerJobOptions {
  readonly cron: string;
  readonly settings: ScanSettings;
  readonly policy: ScannerPolicy;
  readonly adminUserIds: () => Promise<readonly string[]>;
  /** When the schedule fires next (the scheduler knows); the scan stores it as next_scan. */
  readonly nextScanAt: (slot: Date) => Date;
  readonly logger: Logger;
}

export function scannerJob(deps: AppDeps, options: ScannerJobOptions): JobDefinition {
  return {
    name: SCANNER_JOB,
    cron: options.cron,
    run: async (slot) => {
      const scan = await runScan(deps, options.settings, options.nextScanAt(slot));
      const rotations = await planRotations(deps, options.policy, scan);
      const footprint = await checkFootprint(deps, options.policy, scan, await options.adminUserIds());
      for (const entry of footprint.over) options.logger.warn({ symbol: entry.symbol, capitalUsd: entry.capitalUsd, volumeUsd: entry.volumeUsd, pct: entry.pct }, 'market footprint over threshold');
      const top = scan.rankings[0];
      return (
        `scan ${scan.id}: ${scan.rankings.length} ranked, ${scan.failures.length} failed` +
        (top ? `, top ${top.symbol} ${top.composite_score}` : '') +
        `; ${rotations} rotations planned; footprint over on ${footprint.over.length}`
      );
    },
  };
}

export function scannerRotationJob(deps: RunDeps, control: RunControl, options: { cron?: string } = {}): JobDefinition {
  return {
    name: 'scanner-rotations',
    cron: options.cron ?? '* * * * *',
    run: async () => {
      const pass = await processDueRotations(deps, control);
      return Object.entries(pass)
        .filter(([, n]) => n > 0)
        .map(([what, n]) => `${n} ${what}`)
        .join(', ') || 'nothing due';
    },
  };
}
