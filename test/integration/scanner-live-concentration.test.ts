// The coin-diversification rule on live runs, through chat against the Binance simulator with the
// real ccxt client: at most 40% of the tier's capital may sit on one coin across a user's live
// runs. Paper runs are not bound by it (no market footprint), and rotations of live runs respect it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import { planRun, type RunDeps } from '../../src/app/runs.ts';
import { planRotations } from '../../src/app/scanner-scan.ts';
import { DEFAULT_SCANNER_POLICY, toScanView, type RankingItem } from '../../src/app/scanner.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import type { Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { createTradingHarness, type TradingHarness } from '../support/trading.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

let database: MigratedDatabase;
let h: TradingHarness;
let sim: BinanceSpotSim;
const text = (r: { text: string } | null) => r?.text ?? '';
const userIdOf = async (p: Person) =>
  (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;

/** A Pro member ($25,000: at most $10,000 on one coin) with keys stored for a simulator account. */
async function member(id: string): Promise<Person> {
  const person: Person = { platform: 'telegram', id, username: `m${id}` };
  const apiKey = `K${randomBytes(16).toString('hex')}`;
  const secret = `S${randomBytes(24).toString('hex')}`;
  sim.addAccount({ apiKey, secret, balances: { USDT: 50_000, BTC: 0, ETH: 0, SOL: 0 }, canWithdraw: false });
  const issued = await issueLicense(database.deps, { tier: 'pro', actor: { type: 'admin', id: 'test' } });
  if (!issued.ok) throw new Error(issued.error.code);
  expect(text(await h.chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  expect(text(await h.chat.say(person, `/keys set binance ${apiKey} ${secret}`))).toContain('keys saved');
  return person;
}

/** /live new, the button and the typed phrase. */
async function goLive(person: Person, spec: string): Promise<string> {
  const ask = await h.chat.say(person, `/live new ${spec}`);
  expect(text(ask)).toContain('Live trading uses real money');
  expect(text(await h.chat.press(person, ask, 'Continue'))).toContain('/ack I ACKNOWLEDGE RISK');
  return text(await h.chat.say(person, '/ack I ACKNOWLEDGE RISK'));
}

beforeAll(async () => {
  const markets = [];
  for (const [base, file] of [['BTC', 'BTC_USDT-5m.csv'], ['ETH', 'ETH_USDT-5m.csv'], ['SOL', 'SOL_USDT-5m.csv']] as const) {
    const loaded = await loadCandlesCsv(projectPath('../shared/data/candles', file));
    if (!loaded.ok) throw new Error(loaded.error.message);
    markets.push({ base, quote: 'USDT', candles: loaded.series, startIndex: 400 });
  }
  sim = await BinanceSpotSim.start(markets);
  database = await createMigratedDatabase();
  h = await createTradingHarness(database, { settings: { exchangeApiUrl: sim.baseUrl, tickMs: 100 }, paperFirstDays: 0 });
  await h.trading.supervisor.start();
});
afterAll(async () => {
  await h?.close();
  await sim?.close();
  await database?.drop();
});

describe('coin concentration on live runs', () => {
  let person: Person;

  it('refuses a live run that would put more than 40% of the tier on one coin, naming the amounts', async () => {
    person = await member('9501');
    expect(await goLive(person, 'dca BTC/USDT 6000')).toContain('Live run #1 started');

    const refused = await h.chat.say(person, '/live new dca BTC/USDT 5000');
    expect(text(refused)).toBe(
      'BTC/USDT would hold $11,000 of your $25,000 capital (44%). At most 40% ($10,000) may sit on one coin: you can add up to $4,000 more to BTC/USDT, or pick another coin.',
    );
    expect(refused?.buttons).toBeUndefined();
    expect(await database.db.tradingRun.count({ where: { mode: 'live' } })).toBe(1);

    // The planner gives the stable code and the figures behind it.
    const deps: RunDeps = { ...database.deps, runSettings: { defaultExchange: 'binance', paperFirstDays: 0 } };
    const spec = { strategy: 'dca', symbol: 'BTC/USDT', capitalUsd: 5000, params: {} };
    const plan = await planRun(deps, { userId: await userIdOf(person), mode: 'live', spec, actor: { type: 'user', id: null } });
    expect(plan.ok === false && plan.error).toMatchObject({ code: 'coin_concentration', details: { symbol: 'BTC/USDT', sharePct: 44, maxUsd: 4000 } });
    // A stricter setting is honoured.
    const strict = await planRun({ ...deps, runSettings: { ...deps.runSettings, maxCoinSharePct: 20 } }, { userId: await userIdOf(person), mode: 'live', spec: { ...spec, symbol: 'ETH/USDT', capitalUsd: 5001 }, actor: { type: 'user', id: null } });
    expect(strict.ok === false && strict.error.code).toBe('coin_concentration');
  });

  it('lets the same amount go on another coin, up to exactly 40% on the first, and paper runs anywhere', async () => {
    expect(await goLive(person, 'dca ETH/USDT 5000')).toContain('Live run #2 started');
    expect(await goLive(person, 'grid BTC/USDT 4000 count=6')).toContain('Live run #3 started'); // $10,000 on BTC: exactly 40%
    expect(text(await h.chat.say(person, '/live new grid BTC/USDT 10'))).toContain('At most 40% ($10,000) may sit on one coin: pick another coin.');
    expect(text(await h.chat.say(person, '/paper dca BTC/USDT 12000'))).toContain('Paper run #4 started');
    const live = await database.db.tradingRun.findMany({ where: { userId: await userIdOf(person), mode: 'live' }, orderBy: { seq: 'asc' } });
    expect(live.map((r) => [r.symbol, Number(r.capitalUsd), r.status])).toEqual([
      ['BTC/USDT', 6000, 'running'],
      ['ETH/USDT', 5000, 'running'],
      ['BTC/USDT', 4000, 'running'],
    ]);
    // Another user's coins are not this user's concern.
    const other = await member('9502');
    expect(await goLive(other, 'dca BTC/USDT 10000')).toContain('Live run #1 started');
  });

  it('live rotations avoid coins the user already runs and coins the rule would overfill', async () => {
    const rankings: RankingItem[] = [
      { symbol: 'BTC/USDT', composite_score: 80, daily_roi_pct: 0.4, cycles_per_day: 3, friendly_regime_pct: 80, max_drawdown_pct: 2, quote_volume_24h: 1e9 },
      { symbol: 'SOL/USDT', composite_score: 70, daily_roi_pct: 0.3, cycles_per_day: 3, friendly_regime_pct: 80, max_drawdown_pct: 2, quote_volume_24h: 1e9 },
      { symbol: 'ETH/USDT', composite_score: 30, daily_roi_pct: 0.1, cycles_per_day: 1, friendly_regime_pct: 60, max_drawdown_pct: 2, quote_volume_24h: 1e9 },
    ];
    const scanNow = async () => {
      const now = database.clock.now();
      return toScanView(
        await database.db.scannerScan.create({
          data: { takenAt: now, nextScanAt: new Date(now.getTime() + 4 * 3_600_000), exchange: 'binance', timeframe: '5m', lookbackDays: 7, rankings: rankings as unknown as object[], failures: [], candles: 6048, durationMs: 1 },
        }),
      );
    };
    const ethRun = await database.db.tradingRun.findUniqueOrThrow({ where: { userId_seq: { userId: await userIdOf(person), seq: 2 } } });
    // The $5,000 ETH run could move; BTC scores best but already holds this user's $10,000 (40%): SOL.
    const first = await scanNow();
    expect(await planRotations(database.deps, DEFAULT_SCANNER_POLICY, first)).toBe(1);
    const rows = await database.db.scannerRotation.findMany();
    expect(rows.map((r) => [r.runId, r.fromSymbol, r.toSymbol, r.action])).toEqual([[ethRun.id, 'ETH/USDT', 'SOL/USDT', 'suggest']]);
    // At most 15% a coin ($3,750), $5,000 fits nowhere: nothing is planned.
    database.clock.advance(60_000);
    const strict = await scanNow();
    expect(await planRotations(database.deps, { ...DEFAULT_SCANNER_POLICY, maxCoinSharePct: 15 }, strict)).toBe(0);
    expect(await database.db.scannerRotation.count({ where: { scanId: strict.id } })).toBe(0);
  });
});
