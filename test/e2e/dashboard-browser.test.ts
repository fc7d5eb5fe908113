// The customer dashboard in a real browser (Debian's Chromium driven by playwright-core) against
// the real HTTP server on a seeded database: the page renders every data file under its strict
// Content-Security-Policy, without console errors, and a screenshot is kept for people to look at.
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardStatusJson } from '../../src/app/dashboard.ts';
import { DEFAULT_SCANNER_POLICY } from '../../src/app/scanner.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/kernel/logger.ts';
import { projectPath } from '../../src/kernel/paths.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';
import { COMMA_QUOTE_SYMBOL, FORMULA_SYMBOL, parseCsv, SCAN_RANKINGS, seedDashboard, type SeededDashboard } from '../support/dashboard-seed.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = projectPath('test-artifacts/dashboard.png');

let database: MigratedDatabase;
let server: FastifyInstance;
let browser: Browser | undefined;
let seed: SeededDashboard;
let baseUrl = '';

beforeAll(async () => {
  database = await createMigratedDatabase();
  seed = await seedDashboard(database);
  server = buildHttpServer({
    app: database.deps,
    logger: createLogger({ level: 'silent' }),
    probeDatabase: async () => undefined,
    dashboard: { policy: DEFAULT_SCANNER_POLICY },
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await database?.drop();
});

describe('the dashboard in Chromium', () => {
  it('renders status, equity chart, runs, trades and scanner, with no console errors or CSP violations', { timeout: 20_000 }, async () => {
    // A missing browser is a broken test machine, not a reason to pass.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const referers: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
    });
    page.on('request', (request) => {
      const referer = request.headers()['referer'];
      if (referer) referers.push(referer);
    });
    // Runs before the page's own code and outside its CSP, so it sees every violation.
    await page.addInitScript({
      content: `window.cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
    });

    const url = `${baseUrl}/dashboard/${seed.customerId}/`;
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    await page.waitForSelector('body[data-ready]', { timeout: 8_000 });
    const ready = await page.getAttribute('body', 'data-ready');
    expect(ready, (await page.textContent('#error')) ?? undefined).toBe('true');
    expect(await page.isVisible('#error')).toBe(false);

    const status = (await (await fetch(`${url}data/status.json`)).json()) as DashboardStatusJson;
    const csvRows = parseCsv(await (await fetch(`${url}data/trades.csv`)).text()).slice(1);

    // Account and bot cards.
    expect(await page.textContent('#account-tier')).toBe('Pro');
    expect(await page.textContent('#account-license')).toBe('Active');
    expect(await page.textContent('#account-runs')).toBe('2 (1 live, 1 paper)');
    expect(await page.textContent('#account-scanner')).toBe('Included');
    expect(await page.textContent('#bot-version')).toBe('1.4.2');
    expect(await page.textContent('#bot-equity')).toBe('$11,000.00');
    expect(await page.textContent('#bot-positions')).toBe('2');
    expect(await page.isVisible('#bot-stale')).toBe(false);

    // The chart: one vertex per point of the series.
    expect(status.equity.series.length).toBeGreaterThan(60);
    const vertices = await page.$eval('#equity-chart svg polyline.equity-line', (line) => line.getAttribute('points')!.trim().split(/\s+/).length);
    expect(vertices).toBe(status.equity.series.length);
    const axisLabels = await page.$$eval('#equity-chart svg text', (texts) => texts.map((t) => t.textContent));
    expect(axisLabels.length).toBeGreaterThanOrEqual(8);

    // Runs: both open runs, newest first.
    const runRows = await page.$$eval('#runs-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(runRows.map((r) => r.slice(0, 4))).toEqual([
      ['#2', 'grid', 'SOL/USDT', 'paper'],
      ['#1', 'dca', 'ETH/USDT', 'live'],
    ]);
    expect(runRows[1]![5]).toBe('+$3.20');

    // Trades: one row per CSV line, hostile text shown as plain text.
    const tradeRows = await page.$$eval('#trades-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(csvRows).toHaveLength(seed.trades.length);
    expect(tradeRows).toHaveLength(csvRows.length);
    // Source, symbol, side, price, qty, fee (the page groups digits: 61,200.5).
    expect(tradeRows.map((r) => [r[1], r[2], r[3], r[4]!.replaceAll(',', ''), r[5]!.replaceAll(',', ''), r[6]!.replaceAll(',', '')])).toEqual(
      csvRows.map((r) => r.slice(1, 7)),
    );
    expect(tradeRows.map((r) => r[4])).toContain('61,200.5');
    expect(tradeRows.map((r) => r[2])).toContain(COMMA_QUOTE_SYMBOL);
    expect(tradeRows.map((r) => r[2])).toContain(`'${FORMULA_SYMBOL}`);
    expect(await page.$$('#trades-table a, #trades-table img')).toHaveLength(0);

    // Scanner: the rankings in order.
    const scannerSymbols = await page.$$eval('#scanner-table tbody tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
    expect(scannerSymbols).toEqual(SCAN_RANKINGS.map((r) => r.symbol));
    expect(await page.textContent('#scanner-table tbody tr td:nth-child(3)')).toBe('81.25');

    expect(await page.evaluate('window.cspViolations')).toEqual([]);
    expect(problems).toEqual([]);
    // The capability URL never travels in a Referer header.
    expect(referers).toEqual([]);

    await mkdir(projectPath('test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = await readFile(SCREENSHOT);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    // IHDR: width and height of the full page.
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBeGreaterThan(1200);
    expect((await stat(SCREENSHOT)).size).toBeGreaterThan(50_000);
  });
});
