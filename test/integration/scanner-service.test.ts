// The coin scanner service against a real database: scans fetched through the real ccxt client
// from the Binance simulator (incrementally), staggered per-customer release, license and pool
// gating, jittered parameters, /scanner and /dashboard in chat, the footprint monitor and the
// scheduled job. Rotations (which need the run supervisor) are in scanner-rotations.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import { getPoolStatus, setPoolCap } from '../../src/app/pool.ts';
import { checkFootprint, runScan, type ScanSettings } from '../../src/app/scanner-scan.ts';
import {
  customerParams,
  DEFAULT_SCANNER_POLICY,
  recommendationFor,
  releasedScanFor,
  toScanView,
  type RankingItem,
  type ScanView,
} from '../../src/app/scanner.ts';
import { rotationTarget, staggerOffsetMs } from '../../src/domain/scanner-mitigations.ts';
import { DEFAULT_STRATEGY_PARAMS } from '../../src/engine/params.ts';
import { sliceSeries } from '../../src/engine/run-spec.ts';
import { isScanFailure, rankScans, scanSymbol, scanUniverse, type SymbolScan } from '../../src/engine/scanner.ts';
import { scannerJob } from '../../src/jobs/scanner.ts';
import { TestClock } from '../../src/kernel/clock.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { cents } from '../../src/kernel/money.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import type { CandleSeries } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { createCandleDownloader } from '../../src/market-data/exchange-candles.ts';
import { ReplayScannerCandles, RollingExchangeCandles } from '../../src/market-data/scanner-candles.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

const FIVE_MIN = 300_000;
const HOUR = 3_600_000;
const DAY_5M = 288;
/** The simulator's "now": candle 4000 is forming, 3999 is the last closed one. */
const CURSOR = 4000;
const RANKING_FIELDS = ['composite_score', 'cycles_per_day', 'daily_roi_pct', 'friendly_regime_pct', 'max_drawdown_pct', 'quote_volume_24h', 'symbol'];

let database: MigratedDatabase;
let chat: ChatHarness;
let sim: BinanceSpotSim;
const candles = new Map<string, CandleSeries>();

const alice: Person = { platform: 'telegram', id: '7101', username: 'alice' }; // early release
const bob: Person = { platform: 'telegram', id: '7102', username: 'bob' }; // late release
const carol: Person = { platform: 'telegram', id: '7103', username: 'carol' }; // never licensed
const dave: Person = { platform: 'telegram', id: '7104', username: 'dave' };

const text = (r: { text: string } | null) => r?.text ?? '';
const userIdOf = async (p: Person) =>
  (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;

async function load(file: string): Promise<CandleSeries> {
  const loaded = await loadCandlesCsv(projectPath('../shared/data/candles', file));
  if (!loaded.ok) throw new Error(`${file}: ${loaded.error.message}`);
  return loaded.series;
}

async function license(person: Person, tier = 'starter'): Promise<string> {
  const issued = await issueLicense(database.deps, { tier, actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  return userIdOf(person);
}

/** A customer id (the real format) whose stable offset in `windowMs` lies in [lo, hi]. */
function customerIdWithOffset(tag: string, windowMs: number, lo: number, hi: number): string {
  for (let i = 0; i < 1_000_000; i++) {
    const id = `c_${`${tag}${i}`.padEnd(22, 'x')}`;
    const offset = staggerOffsetMs(id, windowMs);
    if (offset >= lo && offset <= hi) return id;
  }
  throw new Error(`no customer id with an offset in [${lo}, ${hi}]`);
}

const item = (symbol: string, score: number, volume = 5_000_000): RankingItem => ({
  symbol,
  composite_score: score,
  daily_roi_pct: Math.round(score * 10) / 1000,
  cycles_per_day: 2.5,
  friendly_regime_pct: 70,
  max_drawdown_pct: 4.2,
  quote_volume_24h: volume,
});

/** A scan as the job stores it, taken now on the test clock. */
async function insertScan(rankings: readonly RankingItem[], failures: { symbol: string; problem: string }[] = []): Promise<ScanView> {
  const takenAt = database.clock.now();
  const row = await database.db.scannerScan.create({
    data: {
      takenAt,
      nextScanAt: new Date(takenAt.getTime() + 4 * HOUR),
      exchange: 'binance',
      timeframe: '5m',
      lookbackDays: 7,
      rankings: rankings as unknown as object[],
      failures,
      candles: 6048,
      durationMs: 12,
    },
  });
  return toScanView(row);
}

/** The seven stored fields of a scan result, as runScan stores them. */
const stored = (s: SymbolScan): RankingItem => ({
  symbol: s.symbol,
  composite_score: s.composite_score,
  daily_roi_pct: s.daily_roi_pct,
  cycles_per_day: s.cycles_per_day,
  friendly_regime_pct: s.friendly_regime_pct,
  max_drawdown_pct: s.max_drawdown_pct,
  quote_volume_24h: s.quote_volume_24h,
});

/** What scanSymbol says about candles [from, to) of each file, ranked. */
function expectedRankings(from: number, to: number): RankingItem[] {
  const results = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'].map((s) => scanSymbol(sliceSeries(candles.get(s)!, from, to)));
  const { rankings, failures } = rankScans(results);
  expect(failures).toEqual([]);
  return rankings.map(stored);
}

beforeAll(async () => {
  for (const file of ['BTC_USDT-5m.csv', 'ETH_USDT-5m.csv', 'SOL_USDT-5m.csv']) {
    const series = await load(file);
    candles.set(series.symbol, series);
  }
  sim = await BinanceSpotSim.start(
    [...candles.values()].map((series) => {
      const [base, quote] = series.symbol.split('/') as [string, string];
      return { base, quote, candles: series, startIndex: CURSOR };
    }),
  );
  database = await createMigratedDatabase();
  chat = await createChatHarness(database);
});
afterAll(async () => {
  await sim?.close();
  await database?.drop();
});

describe('before the first scan', () => {
  it('needs a license, then says no scan is ready yet', async () => {
    const unlicensed = await database.db.user.create({ data: {} });
    const refused = await recommendationFor(database.deps, DEFAULT_SCANNER_POLICY, { userId: unlicensed.id, customerId: 'c_nolicensexxxxxxxxxxxxx' });
    expect(refused.ok === false && refused.error.code).toBe('no_license');

    const aliceId = await license(alice);
    const early = await recommendationFor(database.deps, DEFAULT_SCANNER_POLICY, { userId: aliceId, customerId: 'c_earlycustomerxxxxxxxx' });
    expect(early.ok === false && early.error.code).toBe('no_scan_yet');
    expect(text(await chat.say(alice, '/scanner'))).toContain('has not finished its first scan');
    // The command is for licensed members only.
    expect(text(await chat.say(carol, '/scanner'))).toContain('/activate');
  });
});

describe('a scan from an exchange', () => {
  const universe = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'DOGE/USDT'];
  const scanClock = new TestClock(new Date(1)); // set to the simulator's time below
  let settings: ScanSettings;

  beforeAll(() => {
    scanClock.set(new Date(candles.get('BTC/USDT')!.time[CURSOR]! + 1)); // 1 ms into the forming candle
    settings = {
      universe,
      exchange: 'binance',
      timeframe: '5m',
      lookbackDays: 7,
      candles: new RollingExchangeCandles(createCandleDownloader({ exchange: 'binance', apiUrl: sim.baseUrl })),
    };
  });

  it('backtests exactly the last 7 days of closed candles of every listed coin, and stores the ranking', async () => {
    const deps = { ...database.deps, clock: scanClock };
    const nextScanAt = new Date(scanClock.now().getTime() + 4 * HOUR);
    const view = await runScan(deps, settings, nextScanAt);

    const row = await database.db.scannerScan.findUniqueOrThrow({ where: { id: view.id } });
    expect(row.takenAt).toEqual(scanClock.now());
    expect(row.nextScanAt).toEqual(nextScanAt);
    expect(row).toMatchObject({ exchange: 'binance', timeframe: '5m', lookbackDays: 7, candles: 3 * 7 * DAY_5M });
    expect(row.durationMs).toBeGreaterThanOrEqual(0);
    expect(row.failures).toEqual([{ symbol: 'DOGE/USDT', problem: 'binance has no market DOGE/USDT' }]);

    const rankings = row.rankings as unknown as RankingItem[];
    expect(rankings.map((r) => r.symbol).sort()).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
    for (const r of rankings) expect(Object.keys(r).sort()).toEqual(RANKING_FIELDS);
    for (let i = 1; i < rankings.length; i++) expect(rankings[i - 1]!.composite_score).toBeGreaterThanOrEqual(rankings[i]!.composite_score);
    // The same numbers as a backtest of candles [CURSOR - 7 days, CURSOR) straight from the CSV:
    // the window is the recent 7 days, and the forming candle is left out.
    expect(rankings).toEqual(expectedRankings(CURSOR - 7 * DAY_5M, CURSOR));
    const withForming = scanSymbol(sliceSeries(candles.get('SOL/USDT')!, CURSOR - 7 * DAY_5M + 1, CURSOR + 1));
    expect(isScanFailure(withForming)).toBe(false);
    expect(rankings.find((r) => r.symbol === 'SOL/USDT')!.quote_volume_24h).not.toBe((withForming as SymbolScan).quote_volume_24h);
    expect(view.rankings).toEqual(rankings);

    // 2,016 candles a coin: three pages of klines each; markets were loaded once.
    for (const native of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']) expect(sim.callsTo('/api/v3/klines').filter((c) => c.query.symbol === native)).toHaveLength(3);
    expect(sim.callsTo('/api/v3/klines').filter((c) => c.query.symbol === 'DOGEUSDT')).toHaveLength(0);
    expect(sim.callsTo('/api/v3/exchangeInfo')).toHaveLength(1);
  });

  it('the next scan fetches only the candles closed since, one request per coin', async () => {
    const before = sim.callsTo('/api/v3/klines').length;
    for (let i = 0; i < 3; i++) for (const symbol of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']) expect(sim.advanceCandle(symbol)).toBe(true);
    scanClock.advance(3 * FIVE_MIN);
    const nextScanAt = new Date(scanClock.now().getTime() + 4 * HOUR);
    const view = await runScan({ ...database.deps, clock: scanClock }, settings, nextScanAt);

    const fresh = sim.callsTo('/api/v3/klines').slice(before);
    expect(fresh.map((c) => c.query.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    const firstNew = String(candles.get('BTC/USDT')!.time[CURSOR]);
    for (const call of fresh) expect(call.query.startTime).toBe(firstNew);
    expect(sim.callsTo('/api/v3/exchangeInfo')).toHaveLength(1);

    const row = await database.db.scannerScan.findUniqueOrThrow({ where: { id: view.id } });
    expect(row.candles).toBe(3 * 7 * DAY_5M); // the window slid: as many candles, 3 newer
    expect(row.nextScanAt).toEqual(nextScanAt);
    expect(row.rankings).toEqual(expectedRankings(CURSOR + 3 - 7 * DAY_5M, CURSOR + 3));
    expect(row.failures).toEqual([{ symbol: 'DOGE/USDT', problem: 'binance has no market DOGE/USDT' }]);
    expect(await database.db.scannerScan.count()).toBe(2);
  });
});

describe('staggered release', () => {
  const policy = DEFAULT_SCANNER_POLICY; // a 3 h window
  const early = customerIdWithOffset('early', policy.staggerMs, 10 * 60_000, 40 * 60_000);
  const late = customerIdWithOffset('late', policy.staggerMs, 2 * HOUR, 2 * HOUR + 50 * 60_000);
  let older: ScanView;
  let newer: ScanView;

  beforeAll(async () => {
    const aliceId = await userIdOf(alice);
    const bobId = await license(bob);
    await database.db.user.update({ where: { id: aliceId }, data: { customerId: early } });
    await database.db.user.update({ where: { id: bobId }, data: { customerId: late } });
  });

  it('gives each customer a new scan at their own offset, the previous one until then', async () => {
    const offEarly = staggerOffsetMs(early, policy.staggerMs);
    const offLate = staggerOffsetMs(late, policy.staggerMs);
    database.clock.advance(HOUR);
    older = await insertScan([item('ETH/USDT', 61), item('BTC/USDT', 44), item('SOL/USDT', 30), item('XRP/USDT', 12), item('ADA/USDT', 5)]);
    database.clock.advance(4 * HOUR);
    newer = await insertScan([item('SOL/USDT', 72), item('XRP/USDT', 58), item('ETH/USDT', 41), item('BTC/USDT', 33), item('ADA/USDT', 20)]);
    const t = newer.takenAt.getTime();

    // Right after the scan: neither has it; both still see the older one (released to both by now).
    expect((await releasedScanFor(database.deps, early, policy.staggerMs))?.id).toBe(older.id);
    expect((await releasedScanFor(database.deps, late, policy.staggerMs))?.id).toBe(older.id);

    database.clock.set(new Date(t + offEarly - 1));
    expect((await releasedScanFor(database.deps, early, policy.staggerMs))?.id).toBe(older.id);
    database.clock.set(new Date(t + offEarly));
    expect((await releasedScanFor(database.deps, early, policy.staggerMs))?.id).toBe(newer.id);

    database.clock.set(new Date(t + (offEarly + offLate) / 2));
    const aliceRec = await recommendationFor(database.deps, policy, { userId: await userIdOf(alice), customerId: early });
    const bobRec = await recommendationFor(database.deps, policy, { userId: await userIdOf(bob), customerId: late });
    if (!aliceRec.ok || !bobRec.ok) throw new Error('recommendations refused');
    expect(aliceRec.value.scan.id).toBe(newer.id);
    expect(aliceRec.value.rankings.map((r) => r.symbol)).toEqual(['SOL/USDT', 'XRP/USDT', 'ETH/USDT', 'BTC/USDT', 'ADA/USDT']);
    expect(bobRec.value.scan.id).toBe(older.id);
    expect(bobRec.value.rankings[0]).toEqual(item('ETH/USDT', 61));

    database.clock.set(new Date(t + offLate));
    expect((await releasedScanFor(database.deps, late, policy.staggerMs))?.id).toBe(newer.id);
    database.clock.set(new Date(t + policy.staggerMs));
    for (const customerId of [early, late, 'c_anyoneelsexxxxxxxxxxx']) {
      expect((await releasedScanFor(database.deps, customerId, policy.staggerMs))?.id).toBe(newer.id);
    }
  });

  it('with scans faster than the window, a late customer still sees the last scan released to everyone', async () => {
    const offLate = staggerOffsetMs(late, policy.staggerMs);
    database.clock.advance(HOUR);
    const base = await insertScan([item('BTC/USDT', 50)]);
    database.clock.set(new Date(base.takenAt.getTime() + policy.staggerMs + 1)); // base released to all
    const first = await insertScan([item('ETH/USDT', 50)]);
    database.clock.advance(HOUR);
    const second = await insertScan([item('SOL/USDT', 50)]);
    // Two scans inside the window, neither released to the late customer yet: the base one is.
    database.clock.set(new Date(first.takenAt.getTime() + offLate - 1));
    expect((await releasedScanFor(database.deps, late, policy.staggerMs))?.id).toBe(base.id);
    database.clock.set(new Date(first.takenAt.getTime() + offLate));
    expect((await releasedScanFor(database.deps, late, policy.staggerMs))?.id).toBe(first.id);
    database.clock.set(new Date(second.takenAt.getTime() + offLate));
    expect((await releasedScanFor(database.deps, late, policy.staggerMs))?.id).toBe(second.id);
    // The tests below read the two scans of the test above.
    await database.db.scannerScan.deleteMany({ where: { id: { in: [base.id, first.id, second.id] } } });
  });

  it('the pool over its cap degrades the scanner (soft) and then closes it (hard); parameters are jittered per customer', async () => {
    const policy = DEFAULT_SCANNER_POLICY;
    const aliceCustomer = { userId: await userIdOf(alice), customerId: early };
    const bobCustomer = { userId: await userIdOf(bob), customerId: late };
    const actor = { type: 'admin' as const, id: 'test' };
    const { cap, committed } = await getPoolStatus(database.deps);
    expect(committed).toBe(cents(1_000_000)); // two starter licenses, $5,000 each

    const normal = await recommendationFor(database.deps, policy, aliceCustomer);
    if (!normal.ok) throw new Error(normal.error.code);
    expect(normal.value).toMatchObject({ degraded: false, warning: null, rotationThresholdPct: 20 });
    expect(normal.value.rankings).toHaveLength(5);

    await setPoolCap(database.deps, cents(Math.round(committed / 1.05)), actor); // 5% over: soft
    const soft = await recommendationFor(database.deps, policy, aliceCustomer);
    if (!soft.ok) throw new Error(soft.error.code);
    expect(soft.value.degraded).toBe(true);
    expect(soft.value.rankings).toEqual(normal.value.rankings.slice(0, 3));
    expect(soft.value.scan.rankings).toHaveLength(5);
    expect(soft.value.warning).toContain('The capacity pool is over its cap ($10,000 committed of $9,523.81)');
    expect(soft.value.warning).toContain('Only the top 3 coins are shown until then.');
    expect(text(await chat.say(alice, '/scanner'))).toContain('Only the top 3 coins are shown');

    await setPoolCap(database.deps, cents(Math.round(committed / 1.2)), actor); // 20% over: hard
    const hard = await recommendationFor(database.deps, policy, aliceCustomer);
    expect(hard.ok === false && hard.error.code).toBe('pool_over_cap');
    expect(text(await chat.say(alice, '/scanner'))).toContain('The capacity pool is over its cap, so this is paused for now.');
    await setPoolCap(database.deps, cap, actor);

    // Jitter: stable per customer, different between customers, ±5–10% on both ends of both ranges.
    const base = DEFAULT_STRATEGY_PARAMS.params;
    const a1 = await recommendationFor(database.deps, policy, aliceCustomer);
    const a2 = await recommendationFor(database.deps, policy, aliceCustomer);
    const b1 = await recommendationFor(database.deps, policy, bobCustomer);
    if (!a1.ok || !a2.ok || !b1.ok) throw new Error('recommendations refused');
    expect(a2.value.paramSet).toEqual(a1.value.paramSet);
    expect(a1.value.paramSet).toEqual(customerParams(early, policy).paramSet);
    expect(b1.value.paramSet).toEqual(customerParams(late, policy).paramSet);
    expect(a1.value.paramSet.params.tp_range).not.toEqual(b1.value.paramSet.params.tp_range);
    expect(a1.value.paramSet.params.deviation_range).not.toEqual(b1.value.paramSet.params.deviation_range);
    for (const rec of [a1.value, b1.value]) {
      const p = rec.paramSet.params;
      for (const [range, baseRange, factor] of [
        [p.tp_range, base.tp_range, rec.jitter.tp],
        [p.deviation_range, base.deviation_range, rec.jitter.dev],
      ] as const) {
        const shift = Math.abs(factor - 1);
        expect(shift).toBeGreaterThanOrEqual(0.05);
        expect(shift).toBeLessThanOrEqual(0.1);
        expect(range[0]).toBeCloseTo(baseRange[0] * factor, 4);
        expect(range[1]).toBeCloseTo(baseRange[1] * factor, 4);
      }
      // Only the two ranges move.
      expect({ ...p, tp_range: null, deviation_range: null }).toEqual({ ...base, tp_range: null, deviation_range: null });
    }
  });
});

describe('/scanner and /dashboard in chat', () => {
  it('/scanner lists the ranking with the user\'s own jittered ranges', async () => {
    const reply = text(await chat.say(alice, '/scanner'));
    const newest = await database.db.scannerScan.findFirstOrThrow({ orderBy: { takenAt: 'desc' } });
    const rankings = newest.rankings as unknown as RankingItem[];
    expect(reply).toContain(`scan of ${newest.takenAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    expect(reply).toContain(`next ${newest.nextScanAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    const listed = [...reply.matchAll(/^(\d+)\. \*([A-Z]+\/[A-Z]+)\* — score ([\d.]+)/gm)].map((m) => [Number(m[1]), m[2], Number(m[3])]);
    expect(listed).toEqual(rankings.map((r, i) => [i + 1, r.symbol, r.composite_score]));

    const customerId = (await database.db.user.findUniqueOrThrow({ where: { id: await userIdOf(alice) } })).customerId!;
    const { paramSet } = customerParams(customerId, DEFAULT_SCANNER_POLICY);
    const [tpLo, tpHi] = paramSet.params.tp_range;
    const [devLo, devHi] = paramSet.params.deviation_range;
    expect(reply).toContain(`TP ${tpLo.toFixed(2)}–${tpHi.toFixed(2)}%`);
    expect(reply).toContain(`deviation ${devLo.toFixed(2)}–${devHi.toFixed(2)}%`);
    expect(reply).toContain('Auto-rotation is off');
    // Another customer is shown other numbers.
    const bobReply = text(await chat.say(bob, '/scanner'));
    expect(bobReply).not.toContain(`TP ${tpLo.toFixed(2)}–${tpHi.toFixed(2)}%`);
  });

  it('/scanner autorotate on persists the opt-in and audits it once', async () => {
    const userId = await userIdOf(alice);
    expect(text(await chat.say(alice, '/scanner autorotate'))).toContain('Auto-rotation is *off*');
    expect(text(await chat.say(alice, '/scanner autorotate on'))).toContain('Auto-rotation *on*');
    expect((await database.db.user.findUniqueOrThrow({ where: { id: userId } })).autoRotate).toBe(true);
    expect(text(await chat.say(alice, '/scanner autorotate on'))).toContain('Auto-rotation *on*');
    const audits = await database.db.auditEntry.findMany({ where: { action: 'scanner.autorotate', entityId: userId } });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorType: 'user', actorId: userId, entityType: 'user', before: { autoRotate: false }, after: { autoRotate: true } });
    expect(text(await chat.say(alice, '/scanner autorotate'))).toContain('Auto-rotation is *on*');
    expect(text(await chat.say(alice, '/scanner'))).toContain('Auto-rotation is on');

    expect(text(await chat.say(alice, '/scanner autorotate off'))).toContain('Auto-rotation *off*');
    expect((await database.db.user.findUniqueOrThrow({ where: { id: userId } })).autoRotate).toBe(false);
    expect(await database.db.auditEntry.count({ where: { action: 'scanner.autorotate', entityId: userId } })).toBe(2);
    // Bob's setting is his own.
    expect((await database.db.user.findUniqueOrThrow({ where: { id: await userIdOf(bob) } })).autoRotate).toBe(false);
  });

  it('/dashboard answers privately with a stable link carrying the customer id', async () => {
    const first = await chat.say(dave, '/dashboard'); // needs no license; makes the id on first use
    const userId = await userIdOf(dave);
    const customerId = (await database.db.user.findUniqueOrThrow({ where: { id: userId } })).customerId;
    expect(customerId).toMatch(/^c_[A-Za-z0-9_-]{22}$/);
    expect(first?.private).toBe(true);
    expect(text(first)).toContain(`Your dashboard: http://127.0.0.1:8080/dashboard/${customerId}/`);
    const second = await chat.say(dave, '/dashboard');
    expect(text(second)).toBe(text(first));
    const aliceReply = text(await chat.say(alice, '/dashboard'));
    expect(aliceReply).toContain(`/dashboard/${(await database.db.user.findUniqueOrThrow({ where: { id: await userIdOf(alice) } })).customerId}/`);
    expect(text(await chat.say(dave, '/dashboard', { chat: 'group' }))).toBe('Please use this command in a private chat with me.');
  });
});

describe('footprint', () => {
  it('alerts every admin once per scan about coins where our capital reaches 20% of the 24 h volume', async () => {
    const admins = [await database.db.user.create({ data: {} }), await database.db.user.create({ data: {} })].map((u) => u.id);
    const aliceId = await userIdOf(alice);
    const aliceLicense = await database.db.license.findFirstOrThrow({ where: { userId: aliceId } });
    const now = database.clock.now();
    // A live run here on SOL, and self-hosted bots' positions: a fresh report and a stale one.
    await database.db.tradingRun.create({
      data: { userId: aliceId, seq: 1, mode: 'live', strategy: 'grid', exchange: 'binance', symbol: 'SOL/USDT', timeframe: '5m', capitalUsd: '4000.00', params: {}, credentialLabel: 'default', startedAt: now },
    });
    const report = (userId: string, licenseId: string, receivedAt: Date, positions: object[]) =>
      database.db.botStatusReport.create({
        data: { userId, licenseId, receivedAt, botVersion: '1.0.0', equityUsd: '5000.00', positions, payload: {} },
      });
    const bobId = await userIdOf(bob);
    const bobLicense = await database.db.license.findFirstOrThrow({ where: { userId: bobId } });
    const bigEth = [{ symbol: 'ETH/USDT', qty: 30, avg_price: 3000, capital_usd: 90_000 }];
    await report(bobId, bobLicense.id, new Date(now.getTime() - 3 * HOUR), bigEth); // stale (> 1 h): ignored
    await report(aliceId, aliceLicense.id, new Date(now.getTime() - 40 * 60_000), bigEth); // superseded by her newer report
    await report(aliceId, aliceLicense.id, new Date(now.getTime() - 10 * 60_000), [
      { symbol: 'SOL/USDT', qty: 20, avg_price: 100, capital_usd: 2000 },
      { symbol: 'ETH/USDT', qty: 1, avg_price: 3000, capital_usd: 3000 },
      { symbol: 'ETH/BTC', qty: 5, avg_price: 0.05, capital_usd: 1500 },
    ]);
    database.clock.advance(60_000);
    // SOL: $6,000 on $25,000 of volume = 24% (over); ETH: $3,000 on $20,000 = 15% (under);
    // ETH/BTC's volume is in BTC, so it cannot be compared (even though 1500 ≥ 20% of 10).
    const scan = await insertScan([item('SOL/USDT', 70, 25_000), item('ETH/USDT', 50, 20_000), item('ETH/BTC', 40, 10), item('BTC/USDT', 30, 900_000)]);

    const report1 = await checkFootprint(database.deps, DEFAULT_SCANNER_POLICY, scan, admins);
    expect(report1.over).toEqual([{ symbol: 'SOL/USDT', capitalUsd: 6000, volumeUsd: 25_000, pct: 24 }]);
    expect(report1.unassessed).toEqual(['ETH/BTC']);
    const alerts = await database.db.alertOutbox.findMany({ where: { alertType: 'operations' }, orderBy: { userId: 'asc' } });
    expect(alerts.map((a) => a.userId)).toEqual([...admins].sort());
    for (const alert of alerts) {
      expect(alert.eventId).toBe(`footprint:${scan.id}:SOL/USDT:${alert.userId}`);
      expect(alert.priority).toBe(1);
      expect(alert.text).toContain('our capital on SOL/USDT is $6,000, 24% of its 24 h volume ($25,000; alert at 20%)');
      expect(alert.payload).toEqual({ symbol: 'SOL/USDT', capitalUsd: 6000, volumeUsd: 25_000, pct: 24, scanId: String(scan.id) });
    }
    expect(await database.db.alertOutbox.count({ where: { userId: aliceId, alertType: 'operations' } })).toBe(0);

    const report2 = await checkFootprint(database.deps, DEFAULT_SCANNER_POLICY, scan, admins);
    expect(report2.over).toHaveLength(1);
    expect(await database.db.alertOutbox.count({ where: { alertType: 'operations' } })).toBe(2);

    // A stopped run no longer counts: SOL drops to $2,000 (8%).
    await database.db.tradingRun.updateMany({ where: { userId: aliceId, symbol: 'SOL/USDT' }, data: { status: 'stopped', stoppedAt: database.clock.now() } });
    expect((await checkFootprint(database.deps, DEFAULT_SCANNER_POLICY, scan, admins)).over).toEqual([]);
  });
});

describe('the scheduled jobs', () => {
  it('scannerJob scans replayed candles, stores the scan with next_scan, plans rotations and sums it up', async () => {
    const btc = candles.get('BTC/USDT')!;
    const eth = candles.get('ETH/USDT')!;
    const source = new ReplayScannerCandles(new Map([[btc.symbol, btc], [eth.symbol, eth]]));
    expect(source.symbols()).toEqual(['BTC/USDT', 'ETH/USDT']);
    // What the job must find: the last 3 days of each file, ranked.
    const lastDays = (s: CandleSeries) => sliceSeries(s, s.length - 3 * DAY_5M, s.length);
    const expected = (await scanUniverse([lastDays(btc), lastDays(eth)])).rankings.map(stored);
    expect(expected).toHaveLength(2);
    const [best, worst] = expected as [RankingItem, RankingItem];
    // A paper DCA run on the worse coin: rotated only if the better one clears the threshold.
    const aliceId = await userIdOf(alice);
    const dcaRun = await database.db.tradingRun.create({
      data: { userId: aliceId, seq: 2, mode: 'paper', strategy: 'dca', exchange: 'replay', symbol: worst.symbol, timeframe: '5m', capitalUsd: '500.00', params: {}, startedAt: database.clock.now() },
    });
    // Over these days BTC/USDT scores > 0 and ETH/USDT loses (0): a rotation is due.
    expect(rotationTarget({ currentSymbol: worst.symbol, rankings: expected, thresholdPct: 20 })?.symbol).toBe(best.symbol);

    database.clock.advance(HOUR);
    const slot = database.clock.now();
    const job = scannerJob(database.deps, {
      cron: '0 */4 * * *',
      settings: { universe: ['BTC/USDT', 'ETH/USDT'], exchange: 'replay', timeframe: '5m', lookbackDays: 3, candles: source },
      policy: DEFAULT_SCANNER_POLICY,
      adminUserIds: async () => [],
      nextScanAt: (s) => new Date(s.getTime() + 4 * HOUR),
      logger: createLogger({ level: 'silent', destination: { write: () => undefined } }),
    });
    expect(job.name).toBe('scanner');
    const outcome = await job.run(slot);

    const row = await database.db.scannerScan.findFirstOrThrow({ orderBy: { id: 'desc' } });
    expect(row.takenAt).toEqual(slot);
    expect(row.nextScanAt).toEqual(new Date(slot.getTime() + 4 * HOUR));
    expect(row.exchange).toBe('replay');
    expect(row.lookbackDays).toBe(3);
    expect(row.rankings).toEqual(expected);
    expect(row.candles).toBe(2 * 3 * DAY_5M);
    expect(row.failures).toEqual([]);
    const rotations = await database.db.scannerRotation.findMany({ where: { scanId: row.id } });
    expect(rotations).toHaveLength(1);
    const customerId = (await database.db.user.findUniqueOrThrow({ where: { id: aliceId } })).customerId!;
    expect(rotations[0]).toMatchObject({
      runId: dcaRun.id,
      userId: aliceId,
      fromSymbol: worst.symbol,
      toSymbol: best.symbol,
      action: 'suggest', // alice turned auto-rotation off again
      status: 'pending',
      dueAt: new Date(slot.getTime() + staggerOffsetMs(customerId, DEFAULT_SCANNER_POLICY.staggerMs)),
    });
    expect(Number(rotations[0]!.toScore)).toBe(best.composite_score);
    expect(Number(rotations[0]!.fromScore)).toBe(worst.composite_score);
    expect(outcome).toBe(
      `scan ${row.id}: 2 ranked, 0 failed, top ${best.symbol} ${best.composite_score}; 1 rotations planned; footprint over on 0`,
    );
  });
});
