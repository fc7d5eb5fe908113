// Paper runs end to end through chat: the supervisor, the shared market data (replayed from real
// candles), the paper exchange, the ledger and the database, as main.ts wires them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLicense } from '../../src/app/licenses.ts';
import { loadReplaySeries } from '../../src/market-data/replay-source.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import type { Person } from '../support/chat.ts';
import { createTradingHarness, eventually, type TradingHarness } from '../support/trading.ts';

const alice: Person = { platform: 'telegram', id: '8101', username: 'alice' };
const bob: Person = { platform: 'telegram', id: '8102', username: 'bob' };
const admin: Person = { platform: 'telegram', id: '8199', username: 'admin' };
/** Replay speed: one 5-minute candle per second of (test) clock. */
const SPEED = 300;

let database: MigratedDatabase;
let h: TradingHarness;
let series: Awaited<ReturnType<typeof loadReplaySeries>>;
const text = (r: { text: string } | null) => r?.text ?? '';
const userIdOf = async (p: Person) =>
  (await database.db.identity.findUniqueOrThrow({ where: { platform_externalId: { platform: p.platform, externalId: p.id } } })).userId;
const runOf = async (p: Person, seq: number) => database.db.tradingRun.findUniqueOrThrow({ where: { userId_seq: { userId: await userIdOf(p), seq } } });
/** Reveals `n` more candles of the replay. */
const candles = (n: number) => database.clock.advance(n * 1000);

beforeAll(async () => {
  database = await createMigratedDatabase();
  series = await loadReplaySeries(projectPath('../shared/data/candles'), ['BTC/USDT'], { timeframe: '5m' });
  h = await createTradingHarness(database, { settings: { replay: { series, speed: SPEED } }, adminTelegramIds: [admin.id] });
  await h.trading.supervisor.start();
  for (const [person, tier] of [[alice, 'starter'], [bob, 'starter']] as const) {
    const issued = await issueLicense(database.deps, { tier, actor: { type: 'admin', id: 'test' } });
    if (!issued.ok) throw new Error(issued.error.code);
    expect(text(await h.chat.say(person, `/activate ${issued.value.key}`))).toContain('activated');
  }
});
afterAll(async () => {
  await h?.close();
  await database?.drop();
});

describe('paper runs', () => {
  it('refuses bad specs and capital beyond the tier, naming the problem', async () => {
    expect(text(await h.chat.say(alice, '/paper martingale BTC/USDT'))).toContain('strategy must be one of dca, grid');
    expect(text(await h.chat.say(alice, '/paper grid BTCUSDT'))).toContain('write it like BTC/USDT');
    expect(text(await h.chat.say(alice, '/paper grid BTC/USDT 500 tp_range=banana'))).toContain('tp_range');
    expect(text(await h.chat.say(alice, '/paper grid DOGE/USDT 500'))).toContain('no market DOGE/USDT');
    // Starter: $5,000 cap minus the 10% reserve leaves $4,500.
    const tooMuch = text(await h.chat.say(alice, '/paper grid BTC/USDT 4600'));
    expect(tooMuch).toContain('$4,500.00');
    expect(await database.db.tradingRun.count()).toBe(0);
  });

  it('places a grid, fills it from real candles, and reports it as paper', async () => {
    const started = text(await h.chat.say(alice, '/paper grid BTC/USDT 1000 count=20'));
    expect(started).toContain('Paper run #1 started');
    const run = await runOf(alice, 1);
    expect(run.mode).toBe('paper');

    candles(1);
    const placed = await eventually(async () => {
      const n = await database.db.runOrder.count({ where: { runId: run.id, status: 'open' } });
      return n > 0 ? n : undefined;
    }, 10_000, 'grid legs to be placed');
    expect(placed).toBeGreaterThan(1);
    const params = (await runOf(alice, 1)).params as Record<string, string>;
    expect(Number(params.lower)).toBeGreaterThan(0); // the range is fixed at the first candle, for restarts
    const orders = await database.db.runOrder.findMany({ where: { runId: run.id } });
    expect(new Set(orders.map((o) => o.clientOrderId)).size).toBe(orders.length);
    for (const o of orders) expect(o.clientOrderId).toMatch(/^ait-[0-9a-f]{12}-b\d+-1$/);

    // Let the market move until a leg fills.
    await eventually(async () => {
      if ((await database.db.runFill.count({ where: { runId: run.id, delivered: true } })) > 0) return true;
      candles(10);
      return undefined;
    }, 20_000, 'a grid fill');
    const fill = await database.db.runFill.findFirstOrThrow({ where: { runId: run.id } });
    expect(fill.side).toBe('buy');
    expect(h.events.some((e) => e.type === 'fill' && e.run.id === run.id && e.run.mode === 'paper')).toBe(true);
    // Alerts are queued in the outbox with the step that caused them, marked as paper.
    const alerts = await database.db.alertOutbox.findMany({ where: { userId: run.userId } });
    expect(alerts.find((a) => a.eventId === `started:${run.id}`)?.alertType).toBe('run_status');
    const fillAlert = alerts.find((a) => a.eventId === `fill:${run.id}:${fill.tradeId}`);
    expect(fillAlert?.text).toContain('🧪 Paper run #1');
    expect(fillAlert?.priority).toBe(3);

    const snapshot = await database.db.runEquitySnapshot.findFirstOrThrow({ where: { runId: run.id }, orderBy: { at: 'asc' } });
    expect(Number(snapshot.equity)).toBeCloseTo(1000, 0); // the first step's equity: nothing traded yet
    const status = text(await h.chat.say(alice, '/status 1'));
    expect(status).toContain('🧪 paper');
    expect(status).toMatch(/open orders \d+/);
    expect(status).toContain('Guards: run loss ≤ $200');
  });

  it('keeps runs private to their owner', async () => {
    expect(text(await h.chat.say(bob, '/status 1'))).toContain('You have no run with that number');
    expect(text(await h.chat.say(bob, '/stop 1'))).toContain('You have no run with that number');
    expect(text(await h.chat.say(bob, '/runs'))).toContain('No runs yet');
    expect((await runOf(alice, 1)).status).toBe('running');
  });

  it('stops a run: cancels its open orders and records why', async () => {
    const run = await runOf(alice, 1);
    expect(text(await h.chat.say(alice, '/stop 1'))).toContain('Stopping run #1');
    const stopped = await eventually(async () => {
      const r = await runOf(alice, 1);
      return r.status === 'stopped' ? r : undefined;
    }, 10_000, 'the run to stop');
    expect(stopped.stopReason).toBe('user');
    expect(await database.db.runOrder.count({ where: { runId: run.id, status: { in: ['open', 'pending', 'canceling', 'unknown'] } } })).toBe(0);
    expect(h.trading.supervisor.liveStatus(run.id)).toBeNull();
    expect(text(await h.chat.say(alice, '/stop 1'))).toContain('not running any more');
  });

  it('refuses live trading before the paper-first period', async () => {
    const reply = text(await h.chat.say(alice, '/live 1'));
    expect(reply).toContain('Live trading unlocks after 7 days of paper trading');
    expect(await database.db.tradingRun.count({ where: { mode: 'live' } })).toBe(0);
  });

  it('/kill is idempotent, and a killed run stays down after a restart', async () => {
    expect(text(await h.chat.say(alice, '/paper dca BTC/USDT 500'))).toContain('Paper run #2 started');
    candles(1);
    const first = text(await h.chat.say(alice, '/kill'));
    expect(first).toContain('Killed 1 run');
    expect(text(await h.chat.say(alice, '/kill'))).toContain('Nothing to kill');
    const killed = await eventually(async () => {
      const r = await runOf(alice, 2);
      return r.status === 'killed' ? r : undefined;
    }, 10_000, 'the run to be killed');
    expect(killed.stopReason).toBe('kill');
    const killAlert = await database.db.alertOutbox.findUniqueOrThrow({ where: { eventId: `stopped:${killed.id}` } });
    expect(killAlert).toMatchObject({ alertType: 'kill_switch', priority: 0 });
    // A new supervisor (a restart) resumes nothing that was killed.
    const again = await createTradingHarness(database, { settings: { replay: { series, speed: SPEED } } });
    try {
      expect(await again.trading.supervisor.start()).toBe(0);
      expect((await runOf(alice, 2)).status).toBe('killed');
    } finally {
      await again.close();
    }
  });

  it('the admin kill switch stops everyone, blocks new runs until released, and only admins may use it', async () => {
    expect(text(await h.chat.say(bob, '/paper dca BTC/USDT 500'))).toContain('Paper run #1 started');
    expect(text(await h.chat.say(bob, '/admin killall'))).toBe('Sorry, that command is for admins only.');
    const ask = await h.chat.say(admin, '/admin killall maintenance');
    expect(text(ask)).toContain('Stop *every* run');
    expect(text(await h.chat.press(admin, ask, 'Kill all'))).toContain('engaged: 1 run stopping');
    await eventually(async () => ((await runOf(bob, 1)).status === 'killed' ? true : undefined), 10_000, 'bob\'s run to be killed');
    expect(text(await h.chat.say(bob, '/paper dca BTC/USDT 500'))).toContain('halted by an admin kill switch');
    expect(text(await h.chat.say(admin, '/admin resume'))).toContain('released');
    expect(text(await h.chat.say(admin, '/admin resume'))).toContain('not engaged');
    expect(text(await h.chat.say(bob, '/paper dca BTC/USDT 500'))).toContain('Paper run #2 started');
    expect((await runOf(bob, 1)).status).toBe('killed');
  });
});
