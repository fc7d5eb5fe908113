// The multi-asset router on a real database: BTC daily candles (real 2021–2022 history, shifted to
// the test clock's days) served by the Binance simulator through the real ccxt client; the equity
// index as daily bars from the Alpaca simulator through the real Alpaca SDK. The job run twice (and concurrently) for one slot, a regime change,
// tolerance changes through /allocation, a tier upgrade, a crypto outage, risk-off from the index,
// batching, and /allocation through the command pipeline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocationFor, latestReading, reallocateAll, type RegimeInputs } from '../../src/app/allocation.ts';
import { issueLicense, revokeLicense } from '../../src/app/licenses.ts';
import { MODERATE_SPLITS, splitFor, type RiskTolerance } from '../../src/domain/allocation.ts';
import { detectMarketRegime, marketRegimeLabel, type MarketRegime } from '../../src/engine/market-regime.ts';
import { AlpacaCandleSource } from '../../src/exchange/alpaca/alpaca-candle-source.ts';
import { CcxtCandleSource } from '../../src/exchange/ccxt/ccxt-candle-source.ts';
import { ALLOCATION_JOB, allocationJob } from '../../src/jobs/allocation.ts';
import { JobScheduler } from '../../src/jobs/scheduler.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { emptyCandle, readCandle, type CandleSeries } from '../../src/market-data/candles.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { routerInputs } from '../../src/market-data/regime-inputs.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { AlpacaSim } from '../sim/alpaca-api.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

const DAY = 86_400_000;
/** The test clock's first day (createMigratedDatabase starts it at 12:00 that day). */
const TODAY = Date.UTC(2026, 2, 1);
/** Two historical days the market is replayed at: mid-August 2021 and mid-May 2022. */
const DAY_A = Date.UTC(2021, 7, 20);
const DAY_B = Date.UTC(2022, 4, 20);

let database: MigratedDatabase;
let chat: ChatHarness;
let sim: BinanceSpotSim;
let btc: CandleSeries;
let crypto: CcxtCandleSource;
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });

const alice: Person = { platform: 'telegram', id: '8101', username: 'alice' }; // pro ($25,000)
const bob: Person = { platform: 'telegram', id: '8102', username: 'bob' }; // starter ($5,000), later elite
const carol: Person = { platform: 'telegram', id: '8103', username: 'carol' }; // never licensed
const dave: Person = { platform: 'telegram', id: '8104', username: 'dave' }; // license revoked
const ids = new Map<Person, string>();

const text = (r: { text: string } | null) => r?.text ?? '';

async function license(person: Person, tier: string): Promise<string> {
  const issued = await issueLicense(database.deps, { tier, actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  const identity = await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: person.platform, externalId: person.id } } });
  ids.set(person, identity.userId);
  return issued.value.license.id;
}

/** The regime of the 90 closed days before `day`, straight from the CSV (no ccxt, no database). */
function expectedRegime(day: number): MarketRegime {
  const end = btc.time.indexOf(day);
  expect(end).toBeGreaterThan(90);
  const candles = Array.from({ length: 90 }, (_, k) => readCandle(btc, end - 90 + k, emptyCandle()));
  const detected = detectMarketRegime(candles, null);
  if (!detected.ok) throw new Error(detected.problem);
  return detected.reading.regime;
}

/** The BTC series with its times moved so that `day` falls on the test clock's first day. */
function shifted(series: CandleSeries, day: number): CandleSeries {
  const offset = TODAY - day;
  return { ...series, symbol: 'BTC/USDT', time: series.time.map((t) => t + offset) };
}

const cryptoOnly = (): RegimeInputs =>
  routerInputs({ clock: database.clock, cryptoSymbol: 'BTC/USDT', crypto, equityIndexSymbol: 'SPY', equityIndex: null });

const decisionsOf = (p: Person) => database.db.allocationDecision.findMany({ where: { userId: ids.get(p)! }, orderBy: { id: 'asc' } });
const alertsOf = (p: Person) => database.db.alertOutbox.findMany({ where: { userId: ids.get(p)!, alertType: 'allocation' }, orderBy: { createdAt: 'asc' } });
const pctsOf = (d: { cryptoPct: unknown; equityPct: unknown; derivativesPct: unknown; cashPct: unknown }) =>
  [d.cryptoPct, d.equityPct, d.derivativesPct, d.cashPct].map((v) => Number(String(v)));
const bpPcts = (regime: MarketRegime, tolerance: RiskTolerance) => {
  const s = splitFor(regime, tolerance);
  return [s.crypto / 100, s.equity / 100, s.derivatives / 100, s.cash / 100];
};
const usdSum = (d: { cryptoUsd: unknown; equityUsd: unknown; derivativesUsd: unknown; cashUsd: unknown }) =>
  [d.cryptoUsd, d.equityUsd, d.derivativesUsd, d.cashUsd].reduce<number>((sum, v) => sum + Math.round(Number(String(v)) * 100), 0);

let regimeA: MarketRegime;
let regimeB: MarketRegime;
let slot = new Date(TODAY + 12 * 3_600_000 + 20 * 60_000); // 12:20 on the first day

beforeAll(async () => {
  const loaded = await loadCandlesCsv(projectPath('..', 'shared', 'data', 'candles', 'BTC_USD-1d.csv'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  btc = loaded.series;
  regimeA = expectedRegime(DAY_A);
  regimeB = expectedRegime(DAY_B);
  sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: shifted(btc, DAY_A), startIndex: btc.time.indexOf(DAY_A) }]);
  crypto = new CcxtCandleSource({ exchange: 'binance', apiUrl: sim.baseUrl });
  database = await createMigratedDatabase();
  database.clock.set(slot);
  chat = await createChatHarness(database);
  await license(alice, 'pro');
  await license(bob, 'starter');
  const daveLicense = await license(dave, 'trader');
  const revoked = await revokeLicense(database.deps, { licenseId: daveLicense, reason: 'test', actor: { type: 'admin', id: 'test' } });
  expect(revoked.ok).toBe(true);
  expect(text(await chat.say(carol, '/start'))).not.toBe('');
  ids.set(carol, (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: 'telegram', externalId: carol.id } } })).userId);
});

afterAll(async () => {
  await crypto?.close();
  await sim?.close();
  await database?.drop();
});

describe('multi-asset router', () => {
  it('reads two different regimes on the two replayed days (the premise of these tests)', () => {
    expect(regimeA).not.toBe(regimeB);
    expect(MODERATE_SPLITS[regimeA].cash).toBe(0); // aggressive = moderate there
    expect(MODERATE_SPLITS[regimeB].cash).toBeGreaterThan(0);
  });

  it('records one reading and one decision with one alert per licensed user, however often the slot runs', async () => {
    const job = allocationJob(database.deps, { cron: '20 * * * *', inputs: cryptoOnly(), logger });
    const outcomes = await Promise.all([job.run(slot), job.run(slot)]);
    outcomes.push(await job.run(slot));
    for (const outcome of outcomes) expect(outcome).toMatch(new RegExp(`^regime ${regimeA} `));
    expect(outcomes.join(' | ')).toContain('no equity venue is connected');

    const readings = await database.db.marketRegimeReading.findMany();
    expect(readings).toHaveLength(1);
    expect(readings[0]!.regime).toBe(regimeA);
    expect(readings[0]!.takenAt).toEqual(slot);

    for (const [person, capital] of [[alice, 25_000], [bob, 5_000]] as const) {
      const decisions = await decisionsOf(person);
      expect(decisions).toHaveLength(1);
      const d = decisions[0]!;
      expect(d).toMatchObject({ regime: regimeA, riskTolerance: 'moderate', reason: 'first', readingId: readings[0]!.id });
      expect(Number(String(d.capitalUsd))).toBe(capital);
      expect(pctsOf(d)).toEqual(bpPcts(regimeA, 'moderate'));
      expect(usdSum(d)).toBe(capital * 100);
      const alerts = await alertsOf(person);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]!.eventId).toBe(`allocation:${d.id}`);
      expect(alerts[0]!.text).toMatch(new RegExp(`^Market regime is ${marketRegimeLabel(regimeA)}: your \\$${capital.toLocaleString('en-US')} is split crypto `));
    }
    for (const person of [carol, dave]) {
      expect(await decisionsOf(person)).toHaveLength(0);
      expect(await alertsOf(person)).toHaveLength(0);
    }
  });

  it('runs once per slot through the scheduler', async () => {
    const scheduler = new JobScheduler({ db: database.db, clock: database.clock, logger, replicaId: 'test-replica' });
    scheduler.register(allocationJob(database.deps, { cron: '20 * * * *', inputs: cryptoOnly(), logger }));
    const next = new Date(slot.getTime() + 3_600_000);
    database.clock.set(next);
    const first = await scheduler.runSlot(ALLOCATION_JOB, next);
    expect(first).toMatchObject({ status: 'ran', failed: false, outcome: expect.stringMatching(/^regime .*; 2 users, 0 decisions, 0 alerts$/) });
    expect((await scheduler.runSlot(ALLOCATION_JOB, next)).status).toBe('taken');
    await scheduler.stop();
    slot = next;
    expect(await database.db.marketRegimeReading.count()).toBe(2);
    expect(await decisionsOf(alice)).toHaveLength(1); // same regime, tolerance and capital
  });

  it('/allocation shows the regime, what it saw, the split in dollars and the tolerance; licensed users only', async () => {
    const reply = text(await chat.say(alice, '/allocation'));
    expect(reply).toContain(`market regime: *${marketRegimeLabel(regimeA)}*`);
    expect(reply).toMatch(/Why: .+\./);
    expect(reply).toMatch(/• Crypto \(BTC\/USDT\): volatility \d+% a year · 30-day return [+−]\d+\.\d% · \d+\.\d% below its 60-day high/);
    expect(reply).toContain('• Equities: no index data (no equity venue is connected), so the regime is read from crypto alone.');
    const s = splitFor(regimeA, 'moderate');
    expect(reply).toContain('Your $25,000, risk tolerance *moderate*:');
    expect(reply).toContain(`• crypto ${s.crypto / 100}% — $${((25_000 * s.crypto) / 10_000).toLocaleString('en-US')}`);
    expect(reply).toContain(`• equities ${s.equity / 100}% — $${((25_000 * s.equity) / 10_000).toLocaleString('en-US')}`);
    expect(reply).toContain('• derivatives — disabled (phase 2)');
    expect(reply).toContain('• cash 0% — $0');
    expect(reply).toContain('Last changed 2026-03-01 12:20 UTC (first allocation).');
    expect(reply).toContain('runs are not resized automatically');

    expect(text(await chat.say(carol, '/allocation'))).toContain('You need an active license');
    expect(text(await chat.say(alice, '/allocation yolo'))).toMatch(/must be one of conservative, moderate, aggressive/);
    expect(await database.db.user.findUniqueOrThrow({ where: { id: ids.get(alice)! } })).toMatchObject({ riskTolerance: 'moderate' });
  });

  it('a tolerance change records a decision and alerts it; the same tolerance again changes nothing', async () => {
    const reply = text(await chat.say(alice, '/allocation conservative'));
    expect(reply).toContain('Risk tolerance set to *conservative* (was moderate). Your split changed:');
    expect(reply).toContain('Your $25,000, risk tolerance *conservative*:');
    expect(reply).toContain(`• cash 25% — $6,250`);
    expect(await database.db.user.findUniqueOrThrow({ where: { id: ids.get(alice)! } })).toMatchObject({ riskTolerance: 'conservative' });
    const decisions = await decisionsOf(alice);
    expect(decisions).toHaveLength(2);
    expect(decisions[1]).toMatchObject({ regime: regimeA, riskTolerance: 'conservative', reason: 'risk_tolerance' });
    expect(pctsOf(decisions[1]!)).toEqual(bpPcts(regimeA, 'conservative'));
    const alerts = await alertsOf(alice);
    expect(alerts).toHaveLength(2);
    expect(alerts[1]!.text).toMatch(new RegExp(`^Your risk tolerance is now conservative \\(market regime ${marketRegimeLabel(regimeA)}\\): your \\$25,000 is split `));
    const audit = await database.db.auditEntry.findMany({ where: { action: 'allocation.risk_tolerance', entityId: ids.get(alice)! } });
    expect(audit).toHaveLength(1);

    expect(text(await chat.say(alice, '/allocation CONSERVATIVE'))).toContain('Your risk tolerance is already *conservative*.');
    expect(await decisionsOf(alice)).toHaveLength(2);
    expect(await alertsOf(alice)).toHaveLength(2);
  });

  it('a tolerance change that keeps the split is recorded but not alerted, and the next pass leaves it', async () => {
    // Aggressive only moves cash, and this regime holds none.
    expect(text(await chat.say(bob, '/allocation aggressive'))).toContain('Risk tolerance set to *aggressive* (was moderate).\n');
    const decisions = await decisionsOf(bob);
    expect(decisions).toHaveLength(2);
    expect(decisions[1]).toMatchObject({ riskTolerance: 'aggressive', reason: 'risk_tolerance' });
    expect(pctsOf(decisions[1]!)).toEqual(pctsOf(decisions[0]!));
    expect(await alertsOf(bob)).toHaveLength(1);

    const outcome = await allocationJob(database.deps, { cron: '20 * * * *', inputs: cryptoOnly(), logger }).run(slot);
    expect(outcome).toMatch(/2 users, 0 decisions, 0 alerts$/);
  });

  it('a regime change records a new decision and one alert per licensed user', async () => {
    const days = (DAY_B - DAY_A) / DAY;
    for (let i = 0; i < days; i++) expect(sim.advanceCandle('BTC/USDT')).toBe(true);
    slot = new Date(slot.getTime() + days * DAY);
    database.clock.set(slot);
    const job = allocationJob(database.deps, { cron: '20 * * * *', inputs: cryptoOnly(), logger });
    expect(await job.run(slot)).toMatch(new RegExp(`^regime ${regimeB} .*; 2 users, 2 decisions, 2 alerts$`));
    expect(await job.run(slot)).toMatch(/2 users, 0 decisions, 0 alerts$/);

    for (const [person, tolerance, before] of [[alice, 'conservative', 2], [bob, 'aggressive', 2]] as const) {
      const decisions = await decisionsOf(person);
      expect(decisions).toHaveLength(before + 1);
      const latest = decisions[before]!;
      expect(latest).toMatchObject({ regime: regimeB, riskTolerance: tolerance, reason: 'regime' });
      expect(pctsOf(latest)).toEqual(bpPcts(regimeB, tolerance));
      const alerts = await alertsOf(person);
      expect(alerts.filter((a) => a.eventId === `allocation:${latest.id}`)).toHaveLength(1);
      expect(alerts.at(-1)!.text).toMatch(new RegExp(`^Market regime is now ${marketRegimeLabel(regimeB)}: `));
    }
    expect(await alertsOf(alice)).toHaveLength(3);
    expect(await alertsOf(bob)).toHaveLength(2);
    for (const person of [carol, dave]) expect(await decisionsOf(person)).toHaveLength(0);
  });

  it('a tier upgrade changes the capital: recorded and alerted at the next pass', async () => {
    await license(bob, 'elite');
    const before = await allocationFor(database.deps, ids.get(bob)!);
    expect(before.ok && before.value.pending).toBe(true);
    expect(text(await chat.say(bob, '/allocation'))).toContain('Not recorded yet: the router records it at its next run.');

    slot = new Date(slot.getTime() + 3_600_000);
    database.clock.set(slot);
    expect(await allocationJob(database.deps, { cron: '20 * * * *', inputs: cryptoOnly(), logger }).run(slot)).toMatch(/2 users, 1 decisions, 1 alerts$/);
    const latest = (await decisionsOf(bob)).at(-1)!;
    expect(latest).toMatchObject({ reason: 'capital', regime: regimeB });
    expect(Number(String(latest.capitalUsd))).toBe(50_000);
    expect(usdSum(latest)).toBe(5_000_000);
    expect((await alertsOf(bob)).at(-1)!.text).toMatch(/^Your capital is now \$50,000 /);
  });

  it('without crypto candles nothing is recorded and every allocation stays', async () => {
    const readings = await database.db.marketRegimeReading.count();
    const decisions = await database.db.allocationDecision.count();
    sim.failNext('/api/v3/klines', 503, { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' }, 5);
    slot = new Date(slot.getTime() + 3_600_000);
    database.clock.set(slot);
    const outcome = await allocationJob(database.deps, { cron: '20 * * * *', inputs: cryptoOnly(), logger }).run(slot);
    sim.clearFaults();
    expect(outcome).toMatch(/^skipped \(allocations kept\): no BTC\/USDT candles: /);
    expect(await database.db.marketRegimeReading.count()).toBe(readings);
    expect(await database.db.allocationDecision.count()).toBe(decisions);
    expect(logLines.some((l) => l.includes('router skipped: crypto candles unavailable'))).toBe(true);
    const overview = await allocationFor(database.deps, ids.get(alice)!);
    expect(overview.ok && overview.value.current?.regime).toBe(regimeB);
  });

  it('reads risk-off from a falling equity index (Alpaca daily bars), and crypto alone when the index cannot be fetched', async () => {
    const alpaca = await AlpacaSim.start({ now: () => database.clock.now().getTime(), assets: [{ symbol: 'SPY' }] });
    try {
      alpaca.addDataKey('ROUTERKEY', 'router-secret');
      // 60 sessions of SPY (bars open at 05:00 UTC, midnight in New York): flat, then down 15%
      // over the last 20; plus today's bar, still forming, at a price that would hide the fall.
      const today = Math.floor(slot.getTime() / DAY) * DAY;
      const sessions: number[] = [];
      for (let t = today - DAY; sessions.length < 60; t -= DAY) if (![0, 6].includes(new Date(t).getUTCDay())) sessions.unshift(t + 5 * 3_600_000);
      const closes = sessions.map((_, i) => (i < 40 ? 500 * (i % 2 ? 1.002 : 0.998) : 500 * 0.992 ** (i - 39)));
      const bar = (time: number, close: number) => ({ time, open: close, high: close, low: close, close, volume: 1_000_000 });
      alpaca.addBars('SPY', '1Day', [...sessions.map((time, i) => bar(time, closes[i]!)), bar(today + 5 * 3_600_000, 1_000)]);
      const index = new AlpacaCandleSource({ dataUrl: alpaca.baseUrl, credentials: { keyId: 'ROUTERKEY', secret: 'router-secret' }, clock: database.clock });
      const withIndex = routerInputs({ clock: database.clock, cryptoSymbol: 'BTC/USDT', crypto, equityIndexSymbol: 'SPY', equityIndex: index });
      slot = new Date(slot.getTime() + 3_600_000);
      database.clock.set(slot);
      expect(await allocationJob(database.deps, { cron: '20 * * * *', inputs: withIndex, logger }).run(slot)).toMatch(
        /^regime risk_off \(equity index .* below its recent high and falling\); 2 users, 2 decisions, 2 alerts$/,
      );
      expect(alpaca.callsTo('GET', '/v2/stocks/SPY/bars').at(-1)).toMatchObject({ keyId: 'ROUTERKEY', query: { timeframe: '1Day' } });
      const riskOff = (await database.db.marketRegimeReading.findMany({ orderBy: { id: 'desc' }, take: 1 }))[0]!;
      expect(riskOff.metrics).toMatchObject({ equity: { symbol: 'SPY', candles: 60, lastClose: closes.at(-1), trend: 'down' }, equityProblem: null });
      expect((await alertsOf(alice)).at(-1)!.text).toMatch(
        /^Market regime is now risk-off: your \$25,000 is split crypto 15% \(\$3,750\) · equities 22\.5% \(\$5,625\) · cash 62\.5% \(\$15,625\)\./,
      );
      const shown = text(await chat.say(alice, '/allocation'));
      expect(shown).toContain('market regime: *risk-off*');
      expect(shown).toMatch(/• Equities \(SPY\): volatility \d+% a year · 21-session return −\d+\.\d% · \d+\.\d% below its 42-session high · trending down/);

      alpaca.failNext('GET /v2/stocks/SPY/bars', 503, { code: 50010000, message: 'internal server error' }, 3);
      slot = new Date(slot.getTime() + 3_600_000);
      database.clock.set(slot);
      expect(await allocationJob(database.deps, { cron: '20 * * * *', inputs: withIndex, logger }).run(slot)).toMatch(
        new RegExp(`^regime ${regimeB} .*, SPY candles unavailable: .*; 2 users, 2 decisions, 2 alerts$`),
      );
      expect(logLines.some((l) => l.includes('router: equity index unavailable, reading crypto alone'))).toBe(true);
      expect(text(await chat.say(alice, '/allocation'))).toMatch(/• Equities: no index data \(SPY candles unavailable: [^\n]+\), so the regime is read from crypto alone\./);
    } finally {
      await alpaca.close();
    }
  });

  it('re-splits many users in batches, once each, and a pass over a superseded reading stops', async () => {
    const extra: Person[] = Array.from({ length: 7 }, (_, i) => ({ platform: 'discord', id: `90${i}`, username: `u${i}` }));
    for (const person of extra) await license(person, 'starter');
    const reading = await latestReading(database.deps);
    expect(reading).not.toBeNull();
    const first = await reallocateAll(database.deps, reading!, { batchSize: 3 });
    expect(first).toEqual({ users: 9, decisions: 7, alerts: 7, superseded: false });
    for (const person of extra) {
      const decisions = await decisionsOf(person);
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({ reason: 'first', regime: reading!.regime });
    }
    expect(await reallocateAll(database.deps, reading!, { batchSize: 3 })).toEqual({ users: 9, decisions: 0, alerts: 0, superseded: false });

    const older = (await database.db.marketRegimeReading.findFirstOrThrow({ where: { regime: 'risk_off' } })).id.toString();
    const stale = await reallocateAll(database.deps, { ...reading!, id: older, regime: 'risk_off' }, { batchSize: 3 });
    expect(stale).toEqual({ users: 0, decisions: 0, alerts: 0, superseded: true });
  });
});
