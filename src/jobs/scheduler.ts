// Scheduled jobs (node-cron) that run once per time slot across every replica.
//
// Each replica schedules every job with node-cron. When a job's timer fires, the replica tries to
// claim the slot by inserting the row (job, slot) into scheduled_job_runs (primary key (job, slot),
// INSERT … ON CONFLICT DO NOTHING): exactly one insert succeeds, and only that replica runs the job.
// The slot is the cron tick's *scheduled* time (node-cron hands it over, whole seconds), truncated
// to the job's resolution (the minute for a five-field expression, else the second), so replicas
// whose timers fire a few hundred milliseconds apart, or whose clocks disagree a little, compete for
// the same slot. Unlike an advisory lock held while running, the row also stops a replica that
// fires after the winner has already finished. The row then records who ran the slot, when it
// finished and its outcome ("expired 3 holds", or "error: <message>").
//
// What this does not do:
//  - Retry. A replica that claims a slot and dies before finishing leaves the row unfinished
//    (finished_at null) and nobody runs that slot again; the job's next slot runs normally. Jobs
//    are therefore written to catch up on whatever earlier slots left behind.
//  - Serialise slots across replicas. On one replica a job never overlaps itself (a tick that
//    arrives while the previous run is still busy is skipped there), but another replica may claim
//    the next slot while this one still runs the previous: jobs must tolerate that.
//
// A job that throws is logged and recorded as "error: <message>"; it never reaches node-cron or
// the process. Rows older than 30 days are pruned now and then by whichever replica runs a job.
import cron, { type ScheduledTask, type Logger as CronLogger } from 'node-cron';
import type { Db } from '../db/client.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/logger.ts';
import { scrubSecrets } from '../kernel/logger.ts';

export interface JobDefinition {
  /** Unique per scheduler; the key of its rows in scheduled_job_runs. */
  readonly name: string;
  /** node-cron expression: five fields (minute resolution) or six (leading seconds field). */
  readonly cron: string;
  /** IANA time zone the expression is read in; default UTC. */
  readonly timezone?: string;
  /** Does the work for one slot and sums it up in a short line (stored as the outcome). */
  readonly run: (slot: Date) => Promise<string>;
}

export type SlotResult =
  /** This replica claimed the slot and ran the job (`failed`: it threw; outcome is "error: …"). */
  | { readonly status: 'ran'; readonly slot: Date; readonly outcome: string; readonly failed: boolean }
  /** The slot was already claimed (by another replica, or earlier by this one): nothing ran. */
  | { readonly status: 'taken'; readonly slot: Date }
  /** The claim itself failed (database unreachable): nothing ran. */
  | { readonly status: 'claim_failed'; readonly slot: Date; readonly error: string };

export interface JobSchedulerOptions {
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Names this replica in scheduled_job_runs.replica (e.g. hostname-pid). */
  readonly replicaId: string;
  /** Rows whose slot is older than this are pruned; default 30 days. */
  readonly retentionMs?: number;
  /** A replica prunes at most this often; default 6 hours. */
  readonly pruneEveryMs?: number;
}

interface Registered {
  readonly def: JobDefinition;
  readonly timezone: string;
  /** 60000 when the expression only fires on second 0, else 1000. */
  readonly resolutionMs: number;
  task: ScheduledTask | null;
}

const DAY_MS = 86_400_000;
const MAX_OUTCOME_CHARS = 500;
/** How late a timer may fire and still run its slot (node-cron's default is 1 s). Never more than the gap to the next slot. */
const MISSED_TOLERANCE_MS = 30_000;

export class JobScheduler {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #replicaId: string;
  readonly #retentionMs: number;
  readonly #pruneEveryMs: number;
  readonly #jobs = new Map<string, Registered>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #started = false;
  #stopped = false;
  #lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(options: JobSchedulerOptions) {
    if (!options.replicaId) throw new Error('JobScheduler needs a replicaId');
    this.#db = options.db;
    this.#clock = options.clock;
    this.#logger = options.logger.child({ component: 'scheduler', replica: options.replicaId });
    this.#replicaId = options.replicaId;
    this.#retentionMs = options.retentionMs ?? 30 * DAY_MS;
    this.#pruneEveryMs = options.pruneEveryMs ?? 6 * 3_600_000;
  }

  /** Adds a job; validates its expression and time zone. Scheduled at once when already started. */
  register(def: JobDefinition): void {
    if (!def.name) throw new Error('a scheduled job needs a name');
    if (this.#jobs.has(def.name)) throw new Error(`scheduled job "${def.name}" is already registered`);
    if (!cron.validate(def.cron)) throw new Error(`scheduled job "${def.name}": invalid cron expression "${def.cron}"`);
    const timezone = def.timezone ?? 'UTC';
    if (!isTimeZone(timezone)) throw new Error(`scheduled job "${def.name}": unknown time zone "${timezone}"`);
    const fields = cron.parse(def.cron);
    const resolutionMs = fields.second.length === 1 && fields.second[0] === 0 ? 60_000 : 1_000;
    const job: Registered = { def, timezone, resolutionMs, task: null };
    this.#jobs.set(def.name, job);
    if (this.#started && !this.#stopped) this.#schedule(job);
  }

  get jobNames(): readonly string[] {
    return [...this.#jobs.keys()];
  }

  /** Starts the timers of every registered job. */
  start(): void {
    if (this.#stopped) throw new Error('a stopped JobScheduler cannot be started again');
    if (this.#started) return;
    this.#started = true;
    for (const job of this.#jobs.values()) this.#schedule(job);
    this.#logger.info({ jobs: this.jobNames }, 'scheduler started');
  }

  /** The next time a started job fires, or null. */
  nextRun(name: string): Date | null {
    return this.#jobs.get(name)?.task?.getNextRun() ?? null;
  }

  /** Stops every timer, then waits for the jobs (and prunes) still running on this replica. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const job of this.#jobs.values()) {
      if (!job.task) continue;
      await job.task.destroy();
      job.task = null;
    }
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** The slot a tick at `at` belongs to: `at` truncated to the job's resolution. */
  slotFor(name: string, at: Date): Date {
    const job = this.#job(name);
    return new Date(Math.floor(at.getTime() / job.resolutionMs) * job.resolutionMs);
  }

  /**
   * Claims the slot and, if this replica won it, runs the job and records its outcome. Never
   * rejects (except for an unknown job name, a programming error).
   */
  runSlot(name: string, at: Date): Promise<SlotResult> {
    const job = this.#job(name);
    const slot = this.slotFor(name, at);
    const work = this.#runSlot(job, slot);
    this.#track(work);
    return work;
  }

  /** Deletes rows whose slot is older than the retention; returns how many. */
  async prune(): Promise<number> {
    const now = this.#clock.now();
    this.#lastPruneAt = now.getTime();
    const { count } = await this.#db.scheduledJobRun.deleteMany({ where: { slot: { lt: new Date(now.getTime() - this.#retentionMs) } } });
    if (count > 0) this.#logger.info({ rows: count }, 'pruned old scheduled job rows');
    return count;
  }

  #job(name: string): Registered {
    const job = this.#jobs.get(name);
    if (!job) throw new Error(`no scheduled job named "${name}"`);
    return job;
  }

  #track(work: Promise<unknown>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  #schedule(job: Registered): void {
    const name = job.def.name;
    job.task = cron.schedule(
      job.def.cron,
      // ctx.date is the slot node-cron matched, not the moment the timer fired.
      (ctx) => (this.#stopped ? undefined : this.runSlot(name, ctx.date)),
      {
        name: `ait:${name}`,
        timezone: job.timezone,
        noOverlap: true,
        missedExecutionTolerance: MISSED_TOLERANCE_MS,
        logger: cronLogger(this.#logger.child({ job: name })),
      },
    );
  }

  async #runSlot(job: Registered, slot: Date): Promise<SlotResult> {
    const name = job.def.name;
    let claimed: boolean;
    try {
      const { count } = await this.#db.scheduledJobRun.createMany({
        data: [{ job: name, slot, replica: this.#replicaId, startedAt: this.#clock.now() }],
        skipDuplicates: true,
      });
      claimed = count === 1;
    } catch (error) {
      this.#logger.error({ err: error, job: name, slot }, 'could not claim a scheduled job slot');
      return { status: 'claim_failed', slot, error: errorMessage(error) };
    }
    if (!claimed) {
      this.#logger.debug({ job: name, slot }, 'slot already claimed');
      return { status: 'taken', slot };
    }

    const startedMs = this.#clock.now().getTime();
    let outcome: string;
    let failed = false;
    try {
      outcome = clip(String(await job.def.run(slot)));
    } catch (error) {
      failed = true;
      outcome = clip(`error: ${errorMessage(error)}`);
      this.#logger.error({ err: error, job: name, slot }, 'scheduled job failed');
    }
    const finishedAt = this.#clock.now();
    if (!failed) this.#logger.info({ job: name, slot, outcome, ms: finishedAt.getTime() - startedMs }, 'scheduled job finished');
    try {
      await this.#db.scheduledJobRun.update({ where: { job_slot: { job: name, slot } }, data: { finishedAt, outcome } });
    } catch (error) {
      this.#logger.error({ err: error, job: name, slot }, 'could not record a scheduled job outcome');
    }
    if (finishedAt.getTime() - this.#lastPruneAt >= this.#pruneEveryMs) {
      await this.prune().catch((error: unknown) => this.#logger.warn({ err: error }, 'pruning scheduled job rows failed'));
    }
    return { status: 'ran', slot, outcome, failed };
  }
}

function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** Outcomes are stored, not only logged: keep them short and free of license keys. */
function clip(text: string): string {
  const clean = scrubSecrets(text, []);
  return clean.length > MAX_OUTCOME_CHARS ? `${clean.slice(0, MAX_OUTCOME_CHARS - 1)}…` : clean;
}

/** node-cron's own warnings (missed or overlapping ticks) go to our logs instead of the console. */
function cronLogger(logger: Logger): CronLogger {
  const text = (m: string | Error) => (m instanceof Error ? m.message : m);
  return {
    info: (message) => logger.info(`node-cron: ${message}`),
    warn: (message) => logger.warn(`node-cron: ${message}`),
    error: (message, err) => logger.error({ err: err ?? (message instanceof Error ? message : undefined) }, `node-cron: ${text(message)}`),
    debug: (message, err) => logger.debug({ err }, `node-cron: ${text(message)}`),
  };
}
