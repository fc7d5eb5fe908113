// Carries out the rotations a scan planned (src/app/scanner-scan.ts) once each is due:
//   suggest:  tell the owner which coin scores better and how to move.
//   rotate:   (owner opted in) wait until the run holds no position, stop it, and once it has
//             stopped start the same strategy, mode and capital on the better coin.
// pending -> suggested | stopping -> rotated, or skipped with the reason. Each pass is short and
// idempotent, so the every-minute job simply moves every due row one step.
import { queueAlerts } from '../alerts/outbox.ts';
import { read } from '../db/transaction.ts';
import { systemActor } from './deps.ts';
import { requestStop, startRun, type RunControl, type RunDeps } from './runs.ts';

/** How long an opted-in rotation waits for the run's open deal to close before the next look. */
export const FLAT_RECHECK_MS = 15 * 60_000;
/** A position worth less than this (quote currency) is dust, not an open deal. */
const DUST_USD = 1;

type RotationRow = Awaited<ReturnType<RunDeps['db']['scannerRotation']['findFirstOrThrow']>>;

export interface RotationPass {
  readonly suggested: number;
  readonly stopping: number;
  readonly rotated: number;
  readonly waiting: number;
  readonly skipped: number;
}

/** Does the run hold a position? Judged from its fills, so any replica can tell. */
async function holdsPosition(deps: RunDeps, runId: string): Promise<boolean> {
  const [row] = await read(() =>
    deps.db.$queryRaw<{ net: string | null; price: string | null }[]>`
      SELECT SUM(CASE WHEN side = 'buy' THEN qty ELSE -qty END)::text AS net,
             (SELECT price::text FROM run_fills WHERE run_id = ${runId}::uuid ORDER BY executed_at DESC LIMIT 1) AS price
      FROM run_fills WHERE run_id = ${runId}::uuid`,
  );
  const net = Number(row?.net ?? 0);
  const price = Number(row?.price ?? 0);
  return Math.abs(net) * price >= DUST_USD;
}

export async function processDueRotations(deps: RunDeps, control: RunControl, limit = 100): Promise<RotationPass> {
  const now = deps.clock.now();
  const due = await read(() =>
    deps.db.scannerRotation.findMany({
      where: { OR: [{ status: 'pending', dueAt: { lte: now } }, { status: 'stopping' }] },
      orderBy: { dueAt: 'asc' },
      take: limit,
    }),
  );
  const pass = { suggested: 0, stopping: 0, rotated: 0, waiting: 0, skipped: 0 };
  for (const row of due) {
    const outcome = row.status === 'stopping' ? await finishRotation(deps, control, row) : await actOnDue(deps, control, row);
    pass[outcome]++;
  }
  return pass;
}

const settle = (deps: RunDeps, row: RotationRow, data: { status: string; detail?: string | null; newRunId?: string | null; dueAt?: Date }) =>
  read(() =>
    // Guarded by the status it had when read: a second replica's pass cannot act twice.
    deps.db.scannerRotation.updateMany({
      where: { id: row.id, status: row.status },
      data: { ...data, processedAt: ['suggested', 'rotated', 'skipped'].includes(data.status) ? deps.clock.now() : null },
    }),
  );

const score = (value: unknown) => Number(value).toFixed(1);

async function actOnDue(deps: RunDeps, control: RunControl, row: RotationRow): Promise<keyof RotationPass> {
  const run = await read(() => deps.db.tradingRun.findUnique({ where: { id: row.runId } }));
  if (!run || run.status !== 'running' || run.symbol !== row.fromSymbol) {
    await settle(deps, row, { status: 'skipped', detail: 'the run is no longer running on that coin' });
    return 'skipped';
  }
  const now = deps.clock.now();
  const better = `${row.toSymbol} scores ${score(row.toScore)} against ${score(row.fromScore)} for ${row.fromSymbol}`;
  // The start command as the user types it, with the run's own overrides, so the move keeps them.
  const overrides = Object.entries(run.params as Record<string, string>).map(([k, v]) => ` ${k}=${v}`).join('');
  const restart = `/${run.mode === 'live' ? 'live new' : 'paper'} ${run.strategy} ${row.toSymbol} ${Number(run.capitalUsd)}${overrides}`;
  if (row.action === 'suggest') {
    const claimed = await settle(deps, row, { status: 'suggested' });
    if (claimed.count === 0) return 'skipped';
    await queueAlerts(
      deps.db,
      [
        {
          eventId: `rotation:${row.id}`,
          userId: row.userId,
          alertType: 'scanner',
          text:
            `🔄 Scanner: ${better} (rotation threshold reached). Run #${run.seq} (${run.strategy} ${run.mode} on ${row.fromSymbol}) could move: ` +
            `/stop ${run.seq}, then ${restart}. ` +
            `Or let me rotate for you when a deal has closed: /scanner autorotate on`,
          payload: { runId: run.id, seq: run.seq, from: row.fromSymbol, to: row.toSymbol },
        },
      ],
      now,
    );
    return 'suggested';
  }
  if (await holdsPosition(deps, run.id)) {
    await settle(deps, row, { status: 'pending', detail: 'waiting for the open deal to close', dueAt: new Date(now.getTime() + FLAT_RECHECK_MS) });
    return 'waiting';
  }
  const claimed = await settle(deps, row, { status: 'stopping', detail: `stopping run #${run.seq} to move it to ${row.toSymbol}` });
  if (claimed.count === 0) return 'skipped';
  const stopped = await requestStop(deps, run.userId, run.seq, { reason: 'rotation', detail: `rotating to ${row.toSymbol}`, actor: systemActor('scanner') });
  if (!stopped.ok) {
    await settle(deps, { ...row, status: 'stopping' }, { status: 'skipped', detail: stopped.error.message });
    return 'skipped';
  }
  await control.wake(run.id);
  return (await finishRotation(deps, control, { ...row, status: 'stopping' })) === 'rotated' ? 'rotated' : 'stopping';
}

/** Once the old run has stopped, starts its successor on the better coin. */
async function finishRotation(deps: RunDeps, control: RunControl, row: RotationRow): Promise<keyof RotationPass> {
  const run = await read(() => deps.db.tradingRun.findUniqueOrThrow({ where: { id: row.runId } }));
  if (run.status === 'running' || run.status === 'stopping') return 'stopping';
  const now = deps.clock.now();
  if (run.status !== 'stopped' || run.stopReason !== 'rotation') {
    // Killed, failed, or stopped for another reason meanwhile: the user's intent wins.
    await settle(deps, row, { status: 'skipped', detail: `run #${run.seq} ended (${run.stopReason ?? run.status}) before the rotation` });
    return 'skipped';
  }
  const started = await startRun(deps, {
    userId: run.userId,
    mode: run.mode,
    spec: { strategy: run.strategy, symbol: row.toSymbol, params: run.params as Record<string, string>, capitalUsd: Number(run.capitalUsd) },
    exchange: run.exchange,
    credentialLabel: run.credentialLabel,
    actor: systemActor('scanner'),
  });
  if (!started.ok) {
    await settle(deps, row, { status: 'skipped', detail: started.error.message });
    await queueAlerts(
      deps.db,
      [{ eventId: `rotation:${row.id}:failed`, userId: row.userId, alertType: 'scanner', text: `🔄 Scanner: run #${run.seq} stopped to move to ${row.toSymbol}, but the new run could not start: ${started.error.message}` }],
      now,
    );
    return 'skipped';
  }
  await settle(deps, row, { status: 'rotated', newRunId: started.value.id, detail: null });
  await control.wake(started.value.id);
  await queueAlerts(
    deps.db,
    [
      {
        eventId: `rotation:${row.id}:done`,
        userId: row.userId,
        alertType: 'scanner',
        text: `🔄 Scanner: rotated run #${run.seq} from ${row.fromSymbol} to ${row.toSymbol} (score ${score(row.toScore)} vs ${score(row.fromScore)}): it continues as run #${started.value.seq}.`,
        payload: { from: row.fromSymbol, to: row.toSymbol, oldRunId: run.id, newRunId: started.value.id },
      },
    ],
    now,
  );
  return 'rotated';
}
