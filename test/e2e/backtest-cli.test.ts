// The backtest and walk-forward commands as a user runs them, on every shared candle file.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectPath, projectRoot } from '../../src/kernel/paths.ts';
import { loadCandlesCsv } from '../../src/market-data/csv-candles.ts';
import { BinanceSpotSim } from '../sim/binance-spot.ts';

const CANDLES = projectPath('../shared/data/candles');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ait-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
const backtest = (...args: string[]) => run('scripts/backtest.ts', args);

describe('backtest CLI', () => {
  it('runs on every shared candle file', { timeout: 120_000 }, async () => {
    const files = (await readdir(CANDLES)).filter((f) => f.endsWith('.csv')).sort();
    expect(files.length).toBeGreaterThanOrEqual(11);
    const strategies = ['dca', 'grid'];
    const results = await Promise.all(files.map((file, i) => backtest('--strategy', strategies[i % 2]!, '--data', join(CANDLES, file), '--quiet')));
    for (const [i, r] of results.entries()) {
      expect(r.stderr, files[i]).not.toMatch(/failed|Error/);
      expect(r.code, `${files[i]}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/total ROI -?\d+\.\d+%/);
    }
  });

  it('writes byte-identical results for the same input', { timeout: 60_000 }, async () => {
    const args = ['--strategy', 'dca', '--data', join(CANDLES, 'ETH_USDT-5m.csv'), '--from', '2024-03-01', '--to', '2024-04-01', '--quiet'];
    const [a, b] = await Promise.all([backtest(...args, '--out', join(work, 'a')), backtest(...args, '--out', join(work, 'b'))]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    for (const file of ['result.json', 'equity.csv', 'fills.csv']) {
      const [x, y] = await Promise.all([readFile(join(work, 'a', file)), readFile(join(work, 'b', file))]);
      expect(x.length).toBeGreaterThan(100);
      expect(x.equals(y), file).toBe(true);
    }
    const result = JSON.parse(await readFile(join(work, 'a', 'result.json'), 'utf8'));
    expect(result.window).toMatchObject({ from: '2024-03-01T00:00:00.000Z', to: '2024-04-01T00:00:00.000Z', candles: 31 * 288 });
  });

  it('ranks a parameter sweep run on worker threads', { timeout: 60_000 }, async () => {
    const r = await backtest('--strategy', 'grid', '--data', join(CANDLES, 'SOL_USDT-5m.csv'), '--to', '2024-02-01', '--sweep', 'count=5,10,20', '--sweep', 'spacing=arithmetic,geometric', '--threads', '2', '--out', join(work, 'sweep'), '--quiet');
    expect(r.code, r.stderr).toBe(0);
    const sweep = JSON.parse(await readFile(join(work, 'sweep', 'sweep.json'), 'utf8')) as { results: { overrides: Record<string, string>; metrics: { dailyRoiPct: number } }[] };
    expect(sweep.results).toHaveLength(6);
    const scores = sweep.results.map((x) => x.metrics.dailyRoiPct);
    expect([...scores].sort((p, q) => q - p)).toEqual(scores);
  });

  it('explains bad input: a malformed row with its line number, unknown parameters, bad flags', async () => {
    const bad = join(work, 'bad.csv');
    await writeFile(bad, 'timestamp_ms,open,high,low,close,volume\n1704067200000,100,101,99,100,5\n1704067500000,100,99,98,100,5\n');
    const malformed = await backtest('--strategy', 'dca', '--data', bad);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/bad\.csv: line 3: high 99 is below/);

    const unknown = await backtest('--strategy', 'dca', '--data', join(CANDLES, 'ETH_BTC-5m.csv'), '--param', 'tp_rnage=1,2');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown parameter 'tp_rnage'");

    const flag = await backtest('--strategy', 'momentum', '--data', bad);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--strategy must be dca or grid');
  });
});

describe('backtest CLI with candles from an exchange', () => {
  it('fetches through ccxt once, then runs from the cache', { timeout: 60_000 }, async () => {
    const loaded = await loadCandlesCsv(join(CANDLES, 'BTC_USDT-5m.csv'));
    if (!loaded.ok) throw new Error(loaded.error.message);
    const sim = await BinanceSpotSim.start([{ base: 'BTC', quote: 'USDT', candles: loaded.series }]);
    try {
      const args = ['--strategy', 'dca', '--exchange', 'binance', '--symbol', 'BTC/USDT', '--timeframe', '5m', '--from', '2024-02-01', '--to', '2024-02-04', '--cache-dir', join(work, 'cache'), '--exchange-url', sim.baseUrl, '--quiet'];
      const first = await backtest(...args);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain('fetched and cached candles');
      expect(first.stdout).toContain('864 candles');
      const klines = sim.callsTo('/api/v3/klines').length;
      const second = await backtest(...args);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toContain('using cached candles');
      expect(second.stdout.split('\n').slice(1)).toEqual(first.stdout.split('\n').slice(1));
      expect(sim.callsTo('/api/v3/klines').length).toBe(klines);
    } finally {
      await sim.close();
    }
  });
});

describe('walk-forward CLI', () => {
  it('optimises in-sample, tests out-of-sample, stage by stage', { timeout: 60_000 }, async () => {
    const config = join(work, 'wf.json');
    await writeFile(
      config,
      JSON.stringify({ strategy: 'dca', data: join(CANDLES, 'ETH_BTC-5m.csv'), in_sample_days: 4, out_of_sample_days: 2, sweep: { tp_range: ['0.6,2.5', '1,3'] } }),
    );
    const r = await run('scripts/walkforward.ts', ['--config', config, '--out', join(work, 'wf')]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(work, 'wf', 'walkforward.json'), 'utf8')) as {
      stages: { inSample: { from: string; to: string }; outOfSample: { from: string; to: string }; chosen: Record<string, string> }[];
    };
    expect(report.stages.length).toBe(8); // 20 days of data: stages every 2 days while 4 + 2 fit
    for (const s of report.stages) {
      expect(Date.parse(s.outOfSample.from)).toBeGreaterThan(Date.parse(s.inSample.to));
      expect(['0.6,2.5', '1,3']).toContain(s.chosen.tp_range);
    }
    const bad = join(work, 'wf-bad.json');
    await writeFile(bad, JSON.stringify({ strategy: 'dca', data: 'x.csv', in_sample_days: -1, out_of_sample_days: 2, sweep: {} }));
    const refused = await run('scripts/walkforward.ts', ['--config', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('in_sample_days');
  });
});
