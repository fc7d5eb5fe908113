// The revenue report on a real database: license sales (paid holds, refunds), performance and
// copy fees accrued from seeded fills and copy trades, MRR over the trailing 30 days; the totals
// reconcile to the cent with the rows. Then GET /v1/admin/revenue (bearer ADMIN_API_TOKEN, audited)
// and /admin revenue through the command pipeline.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accrueFees, type FeeDeps } from '../../src/app/fees.ts';
import { revenueSummary } from '../../src/app/revenue.ts';
import { Decimal } from '../../src/domain/fees.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { centsFromDecimalString, formatUsd } from '../../src/kernel/money.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createChatHarness, type ChatHarness, type Person } from '../support/chat.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { feeSeed } from '../support/fee-seed.ts';

const TOKEN = 'revenue-admin-token-0123456789-abcdef';
const boss: Person = { platform: 'telegram', id: '7001', username: 'boss' };
const member: Person = { platform: 'telegram', id: '7002', username: 'member' };

let database: MigratedDatabase;
let http: FastifyInstance;
let chat: ChatHarness;

/** Sold licenses: [tier, kind, price, refunded]. */
const SALES: readonly [string, 'purchase' | 'upgrade', string, boolean][] = [
  ['starter', 'purchase', '500.00', false],
  ['pro', 'purchase', '2500.00', false],
  ['pro', 'purchase', '2500.00', true],
  ['trader', 'upgrade', '499.99', false],
];

beforeAll(async () => {
  database = await createMigratedDatabase();
  const { db, clock } = database;
  const seed = feeSeed(db);
  const buyer = await seed.user('buyer');
  for (const [i, [tierId, kind, price, refunded]] of SALES.entries()) {
    await db.poolHold.create({
      data: {
        userId: buyer,
        tierId,
        kind,
        status: 'committed',
        amountUsd: new Decimal(price).times(10).toFixed(2),
        priceUsd: price,
        paymentRef: `pi_test_${i}`,
        externalRef: `cs_test_${i}`,
        expiresAt: clock.now(),
        committedAt: clock.now(),
        ...(refunded ? { reversedAt: clock.now() } : {}),
      },
    });
  }
  // A held, unpaid checkout is not revenue.
  await db.poolHold.create({ data: { userId: buyer, tierId: 'elite', kind: 'purchase', amountUsd: '50000.00', priceUsd: '5000.00', expiresAt: clock.now() } });

  // Fees in three periods: one older than 30 days (clock: 2026-03-01 12:00), two within.
  const deps: FeeDeps = { ...database.deps, fees: { performancePct: 10, copyMasterPct: 5, copyPlatformPct: 2 } };
  const trader = await seed.user('trader');
  const live = await seed.run(trader, 'live');
  const paper = await seed.run(trader, 'paper');
  const masterOwner = await seed.user('master');
  const follower = await seed.user('follower');
  const masterRun = await seed.run(masterOwner, 'live');
  const follow = await seed.follow(await seed.master(masterRun, masterOwner, 'REV1'), follower, 'live');

  await seed.fill(live, '1234.567', '2026-01-05T10:00:00Z');
  await seed.copyTrade(follow, masterRun, '333.33', '2026-01-05T11:00:00Z');
  await accrueFees(deps, new Date('2026-01-10T00:10:00Z'));
  await seed.fill(live, '-500', '2026-02-10T10:00:00Z');
  await seed.fill(paper, '9999', '2026-02-10T10:00:00Z');
  await seed.copyTrade(follow, masterRun, '333.33', '2026-02-10T11:00:00Z');
  await accrueFees(deps, new Date('2026-02-15T00:10:00Z'));
  await seed.fill(live, '765.433', '2026-02-27T10:00:00Z');
  await seed.copyTrade(follow, masterRun, '0.01', '2026-02-27T11:00:00Z');
  await accrueFees(deps, new Date('2026-02-28T00:10:00Z'));

  http = buildHttpServer({ app: database.deps, logger: createLogger({ level: 'silent' }), probeDatabase: async () => undefined, adminRevenue: { token: TOKEN } });
  chat = await createChatHarness(database, { adminTelegramIds: [boss.id] });
});
afterAll(async () => {
  await http?.close();
  await database?.drop();
});

/** Sums of the fee_accruals rows, in JS over the rows themselves. */
async function feeRows() {
  const rows = await database.db.feeAccrual.findMany();
  const sum = (pick: (r: (typeof rows)[number]) => boolean, key: 'platformFeeUsd' | 'masterFeeUsd') =>
    rows.filter(pick).reduce((s, r) => s.plus(r[key].toString()), new Decimal(0));
  const windowStart = database.clock.now().getTime() - 30 * 86_400_000;
  return {
    count: rows.length,
    performance: sum((r) => r.kind === 'performance', 'platformFeeUsd'),
    copy: sum((r) => r.kind === 'copy', 'platformFeeUsd'),
    masters: sum((r) => r.kind === 'copy', 'masterFeeUsd'),
    recent: sum((r) => r.periodEnd.getTime() > windowStart, 'platformFeeUsd'),
  };
}

describe('revenueSummary', () => {
  it('reports the three streams, master payouts apart, and totals that reconcile to the cent', async () => {
    const report = await revenueSummary(database.deps);
    const fees = await feeRows();
    expect(fees.count).toBe(6);
    // Licenses: 500 + 2500 + 2500 + 499.99 sold, 2500 refunded.
    expect(report.streams.subscription).toBe('3499.99');
    // Performance: HWM 1234.567 → 123.46; then 1500.000 → 150.00 in all. Copy platform: 2% of 666.67 → 13.33.
    expect(report.streams.performanceFee).toBe(fees.performance.toFixed(2));
    expect(report.streams.performanceFee).toBe('150.00');
    expect(report.streams.copyTradingFee).toBe(fees.copy.toFixed(2));
    expect(report.streams.copyTradingFee).toBe('13.33');
    expect(report.masterPayouts).toBe(fees.masters.toFixed(2));
    expect(report.masterPayouts).toBe('33.33');
    const parts = new Decimal(report.streams.subscription).plus(report.streams.performanceFee).plus(report.streams.copyTradingFee);
    expect(report.total).toBe(parts.toFixed(2));
    expect(report.total).toBe('3663.32');
    // MRR: only the accruals of the last 30 days (period ends 2026-02-15 and 02-28).
    expect(report.mrr).toBe(fees.recent.toFixed(2));
    expect(report.mrr).toBe('33.20'); // 26.54 performance (02-28) + 6.66 copy (02-15)
    expect(new Decimal(report.mrr).lt(fees.performance.plus(fees.copy))).toBe(true);
    expect(report.arr).toBe(new Decimal(report.mrr).times(12).toFixed(2));
    expect(report.asOf.toISOString()).toBe(database.clock.now().toISOString());
    expect([report.total, report.mrr, report.arr, report.masterPayouts].every((a) => /^\d+\.\d{2}$/.test(a))).toBe(true);
  });
});

describe('GET /v1/admin/revenue', () => {
  const get = (headers: Record<string, string> = {}) => http.inject({ method: 'GET', url: '/v1/admin/revenue', headers });

  it('refuses a missing or wrong token with 401, without auditing', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const response = await get(headers);
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.json()).toMatchObject({ error: 'unauthorized' });
      expect(response.body).not.toContain(TOKEN);
    }
    expect(await database.db.auditEntry.count({ where: { action: 'revenue.viewed' } })).toBe(0);
  });

  it('answers the report shaped like the seed with the token, and audits the read', async () => {
    const response = await get({ authorization: `Bearer ${TOKEN}` });
    expect(response.statusCode).toBe(200);
    const report = await revenueSummary(database.deps);
    expect(response.json()).toMatchObject({
      total_revenue: report.total,
      mrr: report.mrr,
      arr: report.arr,
      revenue_by_type: { subscription: report.streams.subscription, performance_fee: report.streams.performanceFee, copy_trading_fee: report.streams.copyTradingFee },
      master_payouts: report.masterPayouts,
      as_of: database.clock.now().toISOString(),
    });
    expect(response.json().definitions.mrr).toContain('trailing 30 days');
    const audit = await database.db.auditEntry.findMany({ where: { action: 'revenue.viewed' } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorType: 'admin', actorId: 'admin-api' });
  });

  it('does not exist when no admin token is configured', async () => {
    const bare = buildHttpServer({ app: database.deps, logger: createLogger({ level: 'silent' }), probeDatabase: async () => undefined });
    const response = await bare.inject({ method: 'GET', url: '/v1/admin/revenue', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.statusCode).toBe(404);
    await bare.close();
  });
});

describe('/admin revenue', () => {
  it('shows the streams, total, master payouts and MRR/ARR, with the tier table and the pool meter', async () => {
    const report = await revenueSummary(database.deps);
    const usd = (amount: string) => formatUsd(centsFromDecimalString(amount));
    const text = (await chat.say(boss, '/admin revenue'))?.text ?? '';
    expect(text).toContain(`Licenses (lifetime, net of refunds): ${usd(report.streams.subscription)}`);
    expect(text).toContain(`Performance fees: ${usd(report.streams.performanceFee)}`);
    expect(text).toContain(`Copy-trading fees (platform share): ${usd(report.streams.copyTradingFee)}`);
    expect(text).toContain(`*Total: ${usd(report.total)}*`);
    expect(text).toContain(`Owed to copy masters (not revenue): ${usd(report.masterPayouts)}`);
    expect(text).toContain(`MRR ${usd(report.mrr)} · ARR ${usd(report.arr)}`);
    expect(text).toMatch(/pro\s+purchase\s+2\s+\$5,000\s+refunds 1 \(\$2,500\)/);
    expect(text).toContain('*Capacity pool*');
  });

  it('is for admins only', async () => {
    expect((await chat.say(member, '/admin revenue'))?.text).toContain('for admins only');
  });
});
