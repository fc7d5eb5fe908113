// A step that trades nothing writes the strategy's state at most once a minute (and through the
// group-committing StepWriter); a restarted run replays the candles after its last checkpoint.
// The same two runs (a grid and a DCA) go through the same candles on two databases; one service
// is shut down in the middle and a new one takes over from the database. Both must end with the
// same orders, fills and positions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateLicense, issueLicense } from '../../src/app/licenses.ts';
import { startRun } from '../../src/app/runs.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { composeTrading, type Trading } from '../../src/compose-trading.ts';
import { SEED_GUARD_LIMITS } from '../../src/engine/risk/limits.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries, CandleView } from '../../src/market-data/candles.ts';
import { loadReplaySeries } from '../../src/market-data/replay-source.ts';
import { generateMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { ManualFeed } from '../support/manual-feed.ts';
import { eventually } from '../support/trading.ts';

const KEY = { exchange: 'replay', symbol: 'BTC/USDT', timeframe: '5m' };
/** Clock time per candle: a checkpoint (every 60 s of clock) comes every 12 candles. */
const CANDLE_CLOCK_MS = 5_000;
const FIRST = 150;
const TOTAL = 230;

let series: ReadonlyMap<string, CandleSeries>;
const candle = (i: number): CandleView => {
  const s = series.get('BTC/USDT')!;
  const at = 2_000 + i;
  return { time: s.time[at]!, open: s.open[at]!, high: s.high[at]!, low: s.low[at]!, close: s.close[at]!, volume: s.volume[at]! };
};

interface Service {
  trading: Trading;
  feed: ManualFeed;
}

async function startService(database: MigratedDatabase, history: readonly CandleView[]): Promise<Service> {
  const feed = new ManualFeed(database.clock);
  feed.remember(KEY, history);
  const trading = composeTrading({
    app: database.deps,
    vault: await Vault.create({ key: await generateMasterKey() }),
    clock: database.clock,
    logger: createLogger({ level: 'silent' }),
    replicaId: `checkpoints-${Math.random().toString(36).slice(2, 8)}`,
    feed,
    settings: {
      exchangeApiUrl: null,
      replay: { series, speed: 1 },
      orderConcurrency: 3,
      orderRateIntervalMs: 0,
      replace: { timeoutMs: 600_000, slippagePct: 0.003, maxRetries: 3 },
      guard: { ...SEED_GUARD_LIMITS, staleTickerMs: 86_400_000 },
      tickMs: 600_000,
    },
  });
  await trading.supervisor.start();
  return { trading, feed };
}

async function startRuns(database: MigratedDatabase): Promise<string[]> {
  const deps = database.deps;
  const identity = await resolveIdentity(deps, { platform: 'console', externalId: 'cp-1', username: null });
  const issued = await issueLicense(deps, { tier: 'trader', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  const activated = await activateLicense(deps, { key: issued.value.key, identity });
  if (!activated.ok) throw new Error(activated.error.code);
  const ids: string[] = [];
  for (const [strategy, params] of [['grid', { count: '20' }], ['dca', {}]] as const) {
    const run = await startRun(
      { ...deps, runSettings: { defaultExchange: 'replay', paperFirstDays: 7 } },
      { userId: identity.userId, mode: 'paper', spec: { strategy, symbol: 'BTC/USDT', capitalUsd: 2_000, params }, actor: { type: 'system', id: 'test' } },
    );
    if (!run.ok) throw new Error(run.error.message);
    ids.push(run.value.id);
  }
  return ids;
}

async function feedCandles(database: MigratedDatabase, service: Service, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    database.clock.advance(CANDLE_CLOCK_MS);
    await service.feed.publish(KEY, candle(i));
  }
}

/** Orders and fills without what differs between the two databases (run ids in client order ids, clock times). */
async function tradeRecord(database: MigratedDatabase, runIds: readonly string[]) {
  const strip = (id: string) => id.replace(/^ait-[0-9a-f]+-/, '');
  const out = [];
  for (const runId of runIds) {
    const orders = await database.db.runOrder.findMany({ where: { runId }, orderBy: { clientOrderId: 'asc' } });
    const fills = await database.db.runFill.findMany({ where: { runId }, orderBy: { tradeId: 'asc' } });
    out.push({
      orders: orders.map((o) => [strip(o.clientOrderId), o.side, o.price.toString(), o.qty.toString(), o.filledQty.toString(), o.status]).sort(),
      fills: fills.map((f) => [strip(f.tradeId), f.side, f.price.toString(), f.qty.toString(), f.realizedPnl.toString(), f.delivered]).sort(),
    });
  }
  return out;
}

let control: MigratedDatabase;
let subject: MigratedDatabase;
const open: Service[] = [];

beforeAll(async () => {
  series = await loadReplaySeries(projectPath('../shared/data/candles'), ['BTC/USDT'], { timeframe: '5m' });
  [control, subject] = await Promise.all([createMigratedDatabase(), createMigratedDatabase()]);
});
afterAll(async () => {
  for (const s of open) await s.trading.close();
  await Promise.all([control?.drop(), subject?.drop()]);
});

describe('run checkpoints', () => {
  it('a run restarted from a checkpoint older than its last candle replays the rest and trades exactly as one that never stopped', async () => {
    const controlRuns = await startRuns(control);
    const subjectRuns = await startRuns(subject);
    const steady = await startService(control, []);
    let first = await startService(subject, []);
    open.push(steady, first);

    await feedCandles(control, steady, 0, FIRST);
    await feedCandles(subject, first, 0, FIRST);

    // The scenario under test: what is on record is older than what the runs have seen.
    const lastSeen = candle(FIRST - 1).time;
    const stored = await subject.db.tradingRun.findMany({ where: { id: { in: subjectRuns } }, select: { lastCandleAt: true } });
    expect(stored.some((r) => r.lastCandleAt!.getTime() < lastSeen)).toBe(true);
    expect(stored.every((r) => r.lastCandleAt!.getTime() <= lastSeen)).toBe(true);
    const fillsBefore = await subject.db.runFill.count();
    expect(fillsBefore).toBeGreaterThan(0);

    // Shut down; a new service takes the runs over from the database and catches up from the feed's history.
    await first.trading.close();
    open.splice(open.indexOf(first), 1);
    first = await startService(subject, Array.from({ length: FIRST }, (_, i) => candle(i)));
    open.push(first);
    for (const runId of subjectRuns) {
      await eventually(() => first.trading.supervisor.liveStatus(runId)?.lastCandleTime === lastSeen, 10_000, `run ${runId} caught up`);
    }

    await feedCandles(control, steady, FIRST, TOTAL);
    await feedCandles(subject, first, FIRST, TOTAL);

    const [expected, actual] = await Promise.all([tradeRecord(control, controlRuns), tradeRecord(subject, subjectRuns)]);
    expect(actual).toEqual(expected);
    expect(actual.flatMap((r) => r.fills).length).toBeGreaterThan(fillsBefore);
    for (let i = 0; i < controlRuns.length; i++) {
      const a = first.trading.supervisor.liveStatus(subjectRuns[i]!)!;
      const b = steady.trading.supervisor.liveStatus(controlRuns[i]!)!;
      // Equal up to the 12 decimals the database keeps (a restarted run sums its stored fills).
      const rounded = (o: object) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(8)) : v]));
      expect(rounded(a)).toEqual(rounded(b));
    }
  });
});
