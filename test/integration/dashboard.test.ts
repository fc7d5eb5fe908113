// The customer dashboard over HTTP on a real database: what status.json, trades.csv and
// scanner.json say, that nothing secret reaches any response, that unknown and malformed ids look
// the same, and the headers that keep the capability URL from leaking.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_STALE_AFTER_MS, DASHBOARD_CSV_HEADER, MAX_EQUITY_POINTS, spreadsheetSafeCsvField, type DashboardStatusJson } from '../../src/app/dashboard.ts';
import { ensureCustomerId } from '../../src/app/customers.ts';
import { DEFAULT_SCANNER_POLICY } from '../../src/app/scanner.ts';
import { resolveIdentity } from '../../src/app/users.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { COMMA_QUOTE_SYMBOL, CREDENTIAL_LABEL, DASHBOARD_NOW, FORMULA_SYMBOL, parseCsv, SCAN_RANKINGS, seedDashboard, type SeededDashboard } from '../support/dashboard-seed.ts';

const NOW_MS = Date.parse(DASHBOARD_NOW);
const DAY = 86_400_000;

let database: MigratedDatabase;
let server: FastifyInstance;
let seed: SeededDashboard;
/** Every response body this file saw, searched for secrets at the end. */
const bodies: string[] = [];

beforeAll(async () => {
  database = await createMigratedDatabase();
  seed = await seedDashboard(database);
  server = buildHttpServer({
    app: database.deps,
    logger: createLogger({ level: 'silent' }),
    probeDatabase: async () => undefined,
    dashboard: { policy: DEFAULT_SCANNER_POLICY },
  });
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

async function get(url: string): Promise<LightMyRequestResponse> {
  const response = await server.inject({ method: 'GET', url });
  bodies.push(response.body);
  return response;
}

const base = () => `/dashboard/${seed.customerId}`;

function expectDashboardHeaders(response: LightMyRequestResponse) {
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers['x-robots-tag']).toMatch(/\bnoindex\b/);
  expect(response.headers['referrer-policy']).toBe('no-referrer');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  const csp = String(response.headers['content-security-policy']);
  for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:"]) {
    expect(csp.split(';').map((d) => d.trim())).toContain(directive);
  }
  expect(csp).not.toContain('unsafe-inline');
}

describe('GET /dashboard/:customerId/data/status.json', () => {
  it('shows the account, the bot, the open runs and a bounded equity series', async () => {
    const response = await get(`${base()}/data/status.json`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expectDashboardHeaders(response);
    const status = response.json<DashboardStatusJson>();

    expect(status.account).toEqual({ customer_id: seed.customerId, tier: 'pro', tier_name: 'Pro', license_status: 'active' });
    expect(status.generated_at).toBe(DASHBOARD_NOW);
    const lastPush = seed.botPushes.at(-1)!;
    expect(status.bot).toEqual({
      version: '1.4.2',
      equity_usd: lastPush[1],
      open_positions: [
        { symbol: 'BTC/USDT', qty: 0.05, avg_price: 60_000, capital_usd: 3_000 },
        { symbol: 'ETH/USDT', qty: 1.5, avg_price: 3100.5, capital_usd: 4_650.75 },
      ],
      received_at: new Date(lastPush[0]).toISOString(),
      stale: false,
    });
    expect(status.runs).toEqual([
      { seq: 2, strategy: 'grid', symbol: 'SOL/USDT', mode: 'paper', capital_usd: 1000, status: 'running', realized_pnl_usd: 0, started_at: new Date(NOW_MS - 2 * DAY).toISOString() },
      { seq: 1, strategy: 'dca', symbol: 'ETH/USDT', mode: 'live', capital_usd: 500, status: 'running', realized_pnl_usd: 3.2, started_at: new Date(seed.liveRun.startedAt).toISOString() },
    ]);

    // Real money: the bot's equity plus the live run's, never the paper run's.
    const { series } = status.equity;
    expect(status.equity.basis).toBe('real');
    expect(series.length).toBeGreaterThan(60);
    expect(series.length).toBeLessThanOrEqual(MAX_EQUITY_POINTS);
    for (let i = 1; i < series.length; i++) {
      expect(series[i]![0]).toBeGreaterThan(series[i - 1]![0]);
      // Both curves only rise, so their sum never falls.
      expect(series[i]![1]).toBeGreaterThanOrEqual(series[i - 1]![1]);
    }
    expect(series[0]![0]).toBeGreaterThanOrEqual(NOW_MS - 30 * DAY);
    // Before the live run started, the series is the bot alone, from its first push.
    expect(series[0]![1]).toBe(seed.botPushes[0]![1]);
    const beforeLive = series.filter(([t]) => t < seed.liveRun.startedAt);
    expect(beforeLive.length).toBeGreaterThan(30);
    const botAt = (t: number) => seed.botPushes.filter(([ms]) => ms <= t).at(-1)![1];
    for (const [t, v] of beforeLive) expect(v).toBe(botAt(t));
    // Now: the last push plus the live run's last snapshot (521), not plus the paper run's 1004.
    expect(series.at(-1)).toEqual([NOW_MS, lastPush[1] + seed.liveRun.snapshots.at(-1)![1]]);
  });

  it('an account without license, bot or runs gets an empty but well-formed status', async () => {
    const response = await get(`/dashboard/${seed.emptyCustomerId}/data/status.json`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      account: { customer_id: seed.emptyCustomerId, tier: null, tier_name: null, license_status: 'none' },
      generated_at: DASHBOARD_NOW,
      bot: null,
      runs: [],
      equity: { basis: 'none', bucket_ms: 7_200_000, series: [] },
    });
  });

  it('a bot pushing every 2 minutes for a month still gives at most 500 points', async () => {
    const busy = await resolveIdentity(database.deps, { platform: 'telegram', externalId: 'dash-busy' });
    const customerId = await ensureCustomerId(database.db, busy.userId);
    await database.db.$executeRaw`
      INSERT INTO bot_status_reports (user_id, license_id, received_at, bot_version, equity_usd, positions, payload)
      SELECT ${busy.userId}::uuid, gen_random_uuid(), ${new Date(NOW_MS)}::timestamptz - (n * interval '2 minutes'), '1.0.0', 5000 + (n % 97), '[]', '{}'
      FROM generate_series(0, 21600) AS n`;
    const status = (await get(`/dashboard/${customerId}/data/status.json`)).json<DashboardStatusJson>();
    expect(status.equity.basis).toBe('real');
    expect(status.equity.series.length).toBeGreaterThan(300);
    expect(status.equity.series.length).toBeLessThanOrEqual(MAX_EQUITY_POINTS);
  });
});

describe('GET /dashboard/:customerId/data/trades.csv', () => {
  it('lists bot trades and run fills newest first, and parses back to the stored values', async () => {
    const response = await get(`${base()}/data/trades.csv`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expectDashboardHeaders(response);

    const [header, ...rows] = parseCsv(response.body);
    expect(header!.join(',')).toBe(DASHBOARD_CSV_HEADER);
    expect(DASHBOARD_CSV_HEADER).toBe('executed_at,source,symbol,side,price,qty,fee,realized_pnl_usd');
    expect(rows).toHaveLength(seed.trades.length);
    const guard = (s: string) => (s.startsWith('=') ? `'${s}` : s);
    expect(rows).toEqual(seed.trades.map((t) => [t.executedAt, t.source, guard(t.symbol), t.side, t.price, t.qty, t.fee, t.realizedPnl]));
  });

  it('quotes commas and quotes, and defuses formulas but not negative numbers', async () => {
    const csv = (await get(`${base()}/data/trades.csv`)).body;
    expect(csv).toContain('"ODD,""COIN""/USDT"');
    expect(csv).toContain(`"'=HYPERLINK(""https://evil.example"",""x"")"`);
    expect(csv).not.toMatch(/(^|,)=/m);
    // The formula trade's loss stays a number a spreadsheet can sum.
    expect(csv).toMatch(/,-4\.096\r\n/);
    const rows = parseCsv(csv).slice(1);
    expect(rows.find((r) => r[2] === COMMA_QUOTE_SYMBOL)).toBeDefined();
    expect(rows.find((r) => r[2] === `'${FORMULA_SYMBOL}`)).toBeDefined();
  });

  it('guards every formula prefix, leaves plain numbers alone', () => {
    expect(spreadsheetSafeCsvField('+SUM(A1)')).toBe("'+SUM(A1)");
    expect(spreadsheetSafeCsvField('-2+3')).toBe("'-2+3");
    expect(spreadsheetSafeCsvField('@cmd')).toBe("'@cmd");
    expect(spreadsheetSafeCsvField('\tx')).toBe("'\tx");
    expect(spreadsheetSafeCsvField('=1,2')).toBe(`"'=1,2"`);
    expect(spreadsheetSafeCsvField('-12.5')).toBe('-12.5');
    expect(spreadsheetSafeCsvField('+7')).toBe('+7');
    expect(spreadsheetSafeCsvField('-1e-7')).toBe('-1e-7');
    expect(spreadsheetSafeCsvField('BTC/USDT')).toBe('BTC/USDT');
  });

  it('an account without trades gets the header only', async () => {
    const response = await get(`/dashboard/${seed.emptyCustomerId}/data/trades.csv`);
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(`${DASHBOARD_CSV_HEADER}\r\n`);
  });
});

describe('GET /dashboard/:customerId/data/scanner.json', () => {
  it('is the scan released to the customer, in the recommendation shape', async () => {
    const response = await get(`${base()}/data/scanner.json`);
    expect(response.statusCode).toBe(200);
    expectDashboardHeaders(response);
    expect(response.json()).toEqual({
      timestamp: new Date(NOW_MS - 10 * 3_600_000).toISOString(),
      rankings: SCAN_RANKINGS.map((r) => ({
        symbol: r.symbol.replace('/', ''),
        pair: r.symbol,
        composite_score: r.composite_score,
        daily_roi_pct: r.daily_roi_pct,
        cycles_per_day: r.cycles_per_day,
        friendly_regime_pct: r.friendly_regime_pct,
      })),
      rotation_threshold_pct: DEFAULT_SCANNER_POLICY.rotationThresholdPct,
      next_scan: new Date(NOW_MS + 2 * 3_600_000).toISOString(),
      degraded: false,
      warning: null,
      message: null,
    });
  });

  it('a customer without a license gets a message instead of rankings', async () => {
    const response = await get(`/dashboard/${seed.emptyCustomerId}/data/scanner.json`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({ rankings: [], message: expect.stringMatching(/license/i), reason: 'no_license' });
  });
});

describe('the page', () => {
  it('GET /dashboard/:id/ is the HTML page, with no inline script or style', async () => {
    const response = await get(`${base()}/`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expectDashboardHeaders(response);
    const html = response.body;
    expect(html).toContain('<script src="../assets/dashboard.js" defer></script>');
    expect(html).toContain('<link rel="stylesheet" href="../assets/dashboard.css">');
    // The CSP forbids these anyway; keeping them out keeps the page working under it.
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script src="../assets/dashboard.js" defer>']);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('GET /dashboard/:id redirects to the trailing slash (relative data URLs need it)', async () => {
    const response = await get(base());
    expect(response.statusCode).toBe(301);
    expect(response.headers.location).toBe(`${base()}/`);
    expectDashboardHeaders(response);
  });

  it('serves the script and the stylesheet; the script never writes markup', async () => {
    const js = await get('/dashboard/assets/dashboard.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(js.body).toContain("setAttribute('data-ready'");
    expect(js.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    const css = await get('/dashboard/assets/dashboard.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.body).toContain('.equity-line');
  });
});

describe('ids that open no dashboard', () => {
  const unknownId = () => `c_${randomBytes(16).toString('base64url')}`;
  const malformed = ['nope', 'c_short', `c_${'A'.repeat(21)}!`, `${unknownId()}x`, 'assets'];
  const paths = ['', '/', '/data/status.json', '/data/trades.csv', '/data/scanner.json'];

  it('unknown and malformed ids get the same 404 on every route', async () => {
    for (const path of paths) {
      const responses = [await get(`/dashboard/${unknownId()}${path}`), ...(await Promise.all(malformed.map((id) => get(`/dashboard/${encodeURIComponent(id)}${path}`))))];
      for (const response of responses) {
        expect(response.statusCode, path).toBe(404);
        expect(response.body).toBe(responses[0]!.body);
        expect(response.headers['content-type']).toBe(responses[0]!.headers['content-type']);
        expectDashboardHeaders(response);
      }
    }
    expect(JSON.parse(bodies.at(-1)!)).toEqual({ error: 'not_found', message: 'There is no dashboard at this address.' });
  });

  it('a customer id of one account never shows another account', async () => {
    const other = (await get(`/dashboard/${seed.emptyCustomerId}/data/trades.csv`)).body;
    expect(other).not.toContain('BTC/USDT');
  });
});

describe('secrets', () => {
  it('no response carries the license key, its hash, the exchange key label or the internal user id', async () => {
    // Every route once more, so this test stands on its own.
    for (const path of ['/', '/data/status.json', '/data/trades.csv', '/data/scanner.json']) await get(`${base()}${path}`);
    expect(bodies.length).toBeGreaterThan(10);
    const all = bodies.join('\n');
    expect(all).toContain(seed.customerId);
    for (const secret of [seed.licenseKey, seed.keyHash, seed.licenseKey.slice(-4), CREDENTIAL_LABEL, seed.userId, 'not-copied', 'Zq9X']) {
      expect(all, secret).not.toContain(secret);
    }
  });
});

describe('staleness', () => {
  // Last in the file: the clock only moves forward.
  it('the bot is stale once its last push is more than 10 minutes old', async () => {
    const lastPush = seed.botPushes.at(-1)![0];
    database.clock.set(new Date(lastPush + BOT_STALE_AFTER_MS));
    expect((await get(`${base()}/data/status.json`)).json<DashboardStatusJson>().bot?.stale).toBe(false);
    database.clock.advance(1);
    expect((await get(`${base()}/data/status.json`)).json<DashboardStatusJson>().bot?.stale).toBe(true);
  });
});
