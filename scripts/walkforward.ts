// npm run walkforward -- --config configs/walkforward.json [--out dir]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { toJsonStable } from '../src/engine/report.ts';
import { runWalkForward, walkForwardConfigSchema } from '../src/engine/walkforward.ts';
import { loadCandlesCsv } from '../src/market-data/csv-candles.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string', default: 'configs/walkforward.json' }, out: { type: 'string' } } });
  const configPath = resolve(values.config);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    process.stderr.write(`walkforward: cannot read ${values.config}: ${(error as Error).message}\n`);
    return 2;
  }
  const parsed = walkForwardConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    process.stderr.write(`walkforward: ${values.config}: ${issue.path.join('.') || '(top level)'}: ${issue.message}\n`);
    return 2;
  }
  const config = parsed.data;
  const loaded = await loadCandlesCsv(resolve(dirname(configPath), config.data));
  if (!loaded.ok) {
    process.stderr.write(`walkforward: ${config.data}: line ${loaded.error.line}: ${loaded.error.message}\n`);
    return 1;
  }
  const report = runWalkForward(loaded.series, config);
  const pct = (x: number) => `${x.toFixed(2)}%`.padStart(8);
  process.stdout.write(`${report.symbol} ${report.strategy} walk-forward, ${report.stages.length} stages, ranked by ${report.rank}\n`);
  process.stdout.write('stage  in-sample → out-of-sample  chosen                          IS ROI   OOS ROI  OOS maxDD\n');
  for (const s of report.stages) {
    const chosen = Object.entries(s.chosen).map(([k, v]) => `${k}=${v}`).join(' ').padEnd(30);
    process.stdout.write(
      `${String(s.stage).padStart(5)}  ${s.inSample.from.slice(0, 10)} → ${s.outOfSample.from.slice(0, 10)}  ${chosen} ${pct(s.inSampleMetrics.totalRoiPct)} ${pct(s.outOfSampleMetrics.totalRoiPct)} ${pct(s.outOfSampleMetrics.maxDrawdownPct)}\n`,
    );
  }
  process.stdout.write(`out-of-sample, compounded: ${report.outOfSampleRoiPct.toFixed(2)}%\n`);
  if (values.out) {
    await mkdir(values.out, { recursive: true });
    await writeFile(join(values.out, 'walkforward.json'), toJsonStable(report));
  }
  return report.stages.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`walkforward failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
