// Fee accrual: at each period end (the fee-accrual job's slot) every subject's cumulative realised
// P&L is measured and its fee for the period written to fee_accruals (src/domain/fees.ts does the
// arithmetic):
//  - performance: per user, the realised P&L of their LIVE runs (run_fills.realized_pnl, net of
//    trading fees, executed at or before the period end). Paper profit is not money and never
//    charged. Copy trades are not run fills, so copied profit pays copy fees, not this one too.
//  - copy: per live follow, the realised P&L of its filled copy trades completed by the period end;
//    the master's owner earns one share, the platform the other. Paper follows are not charged.
//
// Accruals are receivables: nothing here charges a card or moves money.
//
// Once per subject and period, whatever runs it: each subject is accrued in its own transaction
// under an advisory lock on (kind, subject), and reads its previous accrual inside it, so a re-run
// of the period, or another replica running it at the same time, finds the row and skips. A period
// older than the subject's latest accrual is skipped too: the cumulative P&L of the later one
// already covers it, and inserting it afterwards would break the HWM chain.
//
// A row is written only when the subject's cumulative P&L changed since its previous row (or, for
// the first, is not zero). An unchanged P&L cannot move the HWM or owe anything, and the latest
// row carries the HWM forward however old it is; skipping it keeps the table to one row per
// active subject and period. Loss periods do get a row (fee 0), so the history shows the drawdown
// and the recovery the HWM waited through.
import { queueAlerts, type QueuedAlert } from '../alerts/outbox.ts';
import type { Tx } from '../db/client.ts';
import { inTransaction, read } from '../db/transaction.ts';
import { copyFees, Decimal, feeRate, moneyText, performanceFee, type HighWaterStep } from '../domain/fees.ts';
import { centsFromDecimalString, formatUsd } from '../kernel/money.ts';
import type { AppDeps } from './deps.ts';

/** Percentages (10 = 10%), from config.fees. */
export interface FeeRates {
  readonly performancePct: number;
  readonly copyMasterPct: number;
  readonly copyPlatformPct: number;
}

export interface FeeDeps extends AppDeps {
  readonly fees: FeeRates;
}

export type FeeKind = 'performance' | 'copy';

export interface AccrualOutcome {
  /** Rows written. */
  readonly accrued: number;
  /** Subjects whose P&L had not changed since their last accrual. */
  readonly unchanged: number;
  /** Subjects already accrued for this period (or a later one). */
  readonly alreadyAccrued: number;
  /** Platform fees of the rows written, "12.34". */
  readonly platformFees: string;
  /** Master fees of the rows written (copy only), "12.34". */
  readonly masterFees: string;
}

export interface AccrualFailure {
  readonly kind: FeeKind;
  readonly subjectId: string;
  readonly error: unknown;
}

export interface AccrualSummary {
  readonly periodEnd: Date;
  readonly performance: AccrualOutcome;
  readonly copy: AccrualOutcome;
  /** Subjects that failed; the next period measures them again, so nothing is lost. */
  readonly failures: readonly AccrualFailure[];
}

interface Subject {
  readonly kind: FeeKind;
  readonly subjectId: string;
  readonly payerId: string;
  readonly masterUserId: string | null;
  /** The master's code (copy), for the notices. */
  readonly masterCode: string | null;
  readonly cumulativePnl: Decimal;
}

type Written = { readonly status: 'accrued'; readonly platformFee: Decimal; readonly masterFee: Decimal } | { readonly status: 'unchanged' | 'already_accrued' };

/** Accrues every subject's fees for the period ending at `periodEnd`. */
export async function accrueFees(deps: FeeDeps, periodEnd: Date): Promise<AccrualSummary> {
  const rates = {
    performance: feeRate(deps.fees.performancePct),
    master: feeRate(deps.fees.copyMasterPct),
    platform: feeRate(deps.fees.copyPlatformPct),
  };
  const subjects = [...(await performanceSubjects(deps, periodEnd)), ...(await copySubjects(deps, periodEnd))];
  const tally = { performance: newTally(), copy: newTally() };
  const failures: AccrualFailure[] = [];
  for (const subject of subjects) {
    try {
      const written = await inTransaction(deps.db, (tx) => accrueSubject(tx, deps, subject, periodEnd, rates));
      const t = tally[subject.kind];
      if (written.status === 'accrued') {
        t.accrued++;
        t.platformFees = t.platformFees.plus(written.platformFee);
        t.masterFees = t.masterFees.plus(written.masterFee);
      } else if (written.status === 'unchanged') t.unchanged++;
      else t.alreadyAccrued++;
    } catch (error) {
      failures.push({ kind: subject.kind, subjectId: subject.subjectId, error });
    }
  }
  return { periodEnd, performance: outcome(tally.performance), copy: outcome(tally.copy), failures };
}

const newTally = () => ({ accrued: 0, unchanged: 0, alreadyAccrued: 0, platformFees: new Decimal(0), masterFees: new Decimal(0) });
const outcome = (t: ReturnType<typeof newTally>): AccrualOutcome => ({
  accrued: t.accrued,
  unchanged: t.unchanged,
  alreadyAccrued: t.alreadyAccrued,
  platformFees: moneyText(t.platformFees),
  masterFees: moneyText(t.masterFees),
});

async function performanceSubjects(deps: AppDeps, periodEnd: Date): Promise<Subject[]> {
  const rows = await read(() =>
    deps.db.$queryRaw<{ user_id: string; pnl: string }[]>`
      SELECT r.user_id::text AS user_id, sum(f.realized_pnl)::text AS pnl
      FROM run_fills f JOIN trading_runs r ON r.id = f.run_id
      WHERE r.mode = 'live' AND f.executed_at <= ${periodEnd}
      GROUP BY r.user_id
      ORDER BY r.user_id`,
  );
  return rows.map((r) => ({ kind: 'performance', subjectId: r.user_id, payerId: r.user_id, masterUserId: null, masterCode: null, cumulativePnl: new Decimal(r.pnl) }));
}

async function copySubjects(deps: AppDeps, periodEnd: Date): Promise<Subject[]> {
  const rows = await read(() =>
    deps.db.$queryRaw<{ follow_id: string; user_id: string; master_user_id: string; code: string; pnl: string }[]>`
      SELECT t.follow_id::text AS follow_id, f.user_id::text AS user_id, m.user_id::text AS master_user_id, m.code,
             sum(t.realized_pnl)::text AS pnl
      FROM copy_trades t
      JOIN copy_follows f ON f.id = t.follow_id
      JOIN copy_masters m ON m.id = f.master_id
      WHERE f.mode = 'live' AND t.status = 'filled' AND t.completed_at <= ${periodEnd}
      GROUP BY t.follow_id, f.user_id, m.user_id, m.code
      ORDER BY t.follow_id`,
  );
  return rows.map((r) => ({ kind: 'copy', subjectId: r.follow_id, payerId: r.user_id, masterUserId: r.master_user_id, masterCode: r.code, cumulativePnl: new Decimal(r.pnl) }));
}

async function accrueSubject(
  tx: Tx,
  deps: AppDeps,
  subject: Subject,
  periodEnd: Date,
  rates: { performance: Decimal; master: Decimal; platform: Decimal },
): Promise<Written> {
  // Serialises this subject across replicas and re-runs; the reads below then see any row the
  // other committed (READ COMMITTED takes a fresh snapshot per statement).
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`fee_accrual:${subject.kind}:${subject.subjectId}`}, 0))`;
  const where = { kind: subject.kind, subjectId: subject.subjectId };
  const latest = await tx.feeAccrual.findFirst({ where, orderBy: { periodEnd: 'desc' } });
  if (latest && latest.periodEnd >= periodEnd) return { status: 'already_accrued' };
  const previousPnl = latest ? new Decimal(latest.cumulativePnlUsd.toString()) : new Decimal(0);
  if (subject.cumulativePnl.eq(previousPnl)) return { status: 'unchanged' };

  const hwmBefore = latest ? new Decimal(latest.hwmAfterUsd.toString()) : new Decimal(0);
  const charged = await tx.feeAccrual.aggregate({ where, _sum: { platformFeeUsd: true, masterFeeUsd: true } });
  const platformCharged = new Decimal((charged._sum.platformFeeUsd ?? 0).toString());
  const masterCharged = new Decimal((charged._sum.masterFeeUsd ?? 0).toString());

  const fees = periodFees(subject, { hwmBefore, platformCharged, masterCharged }, rates);
  await tx.feeAccrual.create({
    data: {
      kind: subject.kind,
      subjectId: subject.subjectId,
      userId: subject.payerId,
      masterUserId: subject.masterUserId,
      periodEnd,
      cumulativePnlUsd: subject.cumulativePnl.toString(),
      hwmBeforeUsd: fees.hwmBefore.toString(),
      hwmAfterUsd: fees.hwmAfter.toString(),
      gainUsd: fees.gain.toString(),
      platformFeeUsd: moneyText(fees.platformFee),
      masterFeeUsd: moneyText(fees.masterFee),
      createdAt: deps.clock.now(),
    },
  });
  await queueAlerts(tx, feeNotices(subject, periodEnd, fees), deps.clock.now());
  return { status: 'accrued', platformFee: fees.platformFee, masterFee: fees.masterFee };
}

type PeriodFees = HighWaterStep & { readonly platformFee: Decimal; readonly masterFee: Decimal };

function periodFees(
  subject: Subject,
  before: { hwmBefore: Decimal; platformCharged: Decimal; masterCharged: Decimal },
  rates: { performance: Decimal; master: Decimal; platform: Decimal },
): PeriodFees {
  if (subject.kind === 'performance') {
    const { fee, ...step } = performanceFee({ hwmBefore: before.hwmBefore, charged: before.platformCharged, cumulativePnl: subject.cumulativePnl, rate: rates.performance });
    return { ...step, platformFee: fee, masterFee: new Decimal(0) };
  }
  return copyFees({
    hwmBefore: before.hwmBefore,
    cumulativePnl: subject.cumulativePnl,
    masterCharged: before.masterCharged,
    platformCharged: before.platformCharged,
    masterRate: rates.master,
    platformRate: rates.platform,
  });
}

const usd = (amount: Decimal) => formatUsd(centsFromDecimalString(moneyText(amount)));

/** What the payer (and, for copy fees, the master's owner) is told about a non-zero fee. */
function feeNotices(subject: Subject, periodEnd: Date, fee: PeriodFees): QueuedAlert[] {
  if (fee.platformFee.isZero() && fee.masterFee.isZero()) return [];
  const eventId = `fee:${subject.kind}:${subject.subjectId}:${periodEnd.toISOString()}`;
  const period = `${periodEnd.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const payload = { type: 'fee_accrued', kind: subject.kind, periodEnd: periodEnd.toISOString(), gainUsd: moneyText(fee.gain), hwmUsd: moneyText(fee.hwmAfter) };
  if (subject.kind === 'performance') {
    return [
      {
        eventId: `${eventId}:payer`,
        userId: subject.payerId,
        alertType: 'license',
        text:
          `💸 Performance fee ${usd(fee.platformFee)}: your live realised profit reached a new high of ${usd(fee.hwmAfter)} ` +
          `(previous high ${usd(fee.hwmBefore)}, +${usd(fee.gain)}), up to ${period}. The fee is recorded on your account.`,
        payload: { ...payload, feeUsd: moneyText(fee.platformFee) },
      },
    ];
  }
  const notices: QueuedAlert[] = [
    {
      eventId: `${eventId}:payer`,
      userId: subject.payerId,
      alertType: 'license',
      text:
        `💸 Copy-trading fees on your copies of ${subject.masterCode}: ${usd(fee.masterFee)} to the master and ${usd(fee.platformFee)} platform fee, ` +
        `on +${usd(fee.gain)} of new realised profit (new high ${usd(fee.hwmAfter)}), up to ${period}. The fees are recorded on your account.`,
      payload: { ...payload, masterFeeUsd: moneyText(fee.masterFee), platformFeeUsd: moneyText(fee.platformFee) },
    },
  ];
  if (subject.masterUserId && !fee.masterFee.isZero()) {
    notices.push({
      eventId: `${eventId}:master`,
      userId: subject.masterUserId,
      alertType: 'license',
      text: `💰 You earned ${usd(fee.masterFee)} as master of ${subject.masterCode}: a follower's copies made +${usd(fee.gain)} of new realised profit, up to ${period}.`,
      payload: { ...payload, role: 'master', masterFeeUsd: moneyText(fee.masterFee) },
    });
  }
  return notices;
}
