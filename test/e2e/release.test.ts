// Release commands as an operator types them: the deploy:live guard refuses (and says why)
// before anything is built; `npm run deploy:paper` builds dist/ and starts the compiled service
// with live trading off on a throwaway database. The Dockerfile's build stage runs the same
// `npm run build`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrator.ts';
import { projectPath, projectRoot } from '../../src/kernel/paths.ts';
import { createEmptyDatabase, MIGRATIONS_DIR } from '../support/database.ts';
import { serviceEnv } from '../support/service.ts';
import { eventually } from '../support/trading.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const guard = (target: 'paper' | 'live', vars: Record<string, string>, flags: string[] = []) =>
  run(process.execPath, ['--import', 'tsx', 'scripts/deploy.ts', target, ...flags], serviceEnv(vars));

describe('npm run deploy:live refuses', () => {
  it('without PROMOTE_CONFIRM, saying which phrase it needs, and builds nothing', async () => {
    const result = await run('npm', ['run', 'deploy:live'], serviceEnv({}));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('set PROMOTE_CONFIRM=I_ACKNOWLEDGE_RISK to confirm (it is not set)');
    expect(result.stderr).toContain('Nothing was built or started.');
    expect(result.stdout).not.toContain('build.mjs');
  });

  it('with another phrase', async () => {
    const result = await guard('live', { PROMOTE_CONFIRM: 'yes' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('(it is set to something else)');
  });

  it('when live trading is off in the configuration', async () => {
    const result = await guard('live', { PROMOTE_CONFIRM: 'I_ACKNOWLEDGE_RISK', LIVE_TRADING: 'off' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('live trading is switched off in this configuration (LIVE_TRADING=off)');
  });

  it('when the configuration is invalid, naming the variable without echoing a secret', async () => {
    const result = await guard('live', { PROMOTE_CONFIRM: 'I_ACKNOWLEDGE_RISK', LOG_INGEST_WEBHOOK: 'ftp://logs:tok3n-s3cret@example.test/in', HTTP_PORT: 'eighty' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('LOG_INGEST_WEBHOOK must be an http(s) URL');
    expect(result.stderr).toContain('HTTP_PORT must be');
    expect(result.stderr).not.toContain('tok3n-s3cret');
  });

  it('and passes its checks with the phrase and live trading on (--check: nothing built or started)', async () => {
    const result = await guard('live', { PROMOTE_CONFIRM: 'I_ACKNOWLEDGE_RISK' }, ['--check']);
    expect(result).toMatchObject({ code: 0, stdout: 'deploy:live: checks passed (--check: nothing built or started).\n' });
    // deploy:paper forces live trading off whatever the environment says, and says so.
    const paper = await guard('paper', { LIVE_TRADING: 'on' }, ['--check']);
    expect(paper.code).toBe(0);
    expect(paper.stdout).toContain('LIVE_TRADING=on is overridden: this deployment trades paper only');
  });
});

describe('npm run deploy:paper', () => {
  it('builds dist/ and starts the compiled service with live trading off: migrations, /health and the dashboard assets found from dist', async () => {
    const database = await createEmptyDatabase();
    cleanups.push(() => database.drop());
    const dir = await mkdtemp(join(tmpdir(), 'ait-release-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // LIVE_TRADING=on in the environment: deploy:paper must still start paper only.
    const env = serviceEnv({ DATABASE_URL: database.url, DATA_DIR: join(dir, 'data'), CONSOLE_CHAT: 'off', LIVE_TRADING: 'on' });
    // Its own process group: npm, its shell and the service stop together.
    const child = spawn('npm', ['run', 'deploy:paper'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    });
    let output = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const entries = () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);

    const started = await eventually(
      () => (child.exitCode !== null ? Promise.reject(new Error(`deploy:paper exited ${child.exitCode}:\n${output}\n${stderr}`)) : entries().find((e) => e.msg === 'service started')),
      60_000,
      'the compiled service to start',
    );
    expect(output).toContain('deploy:paper: checks passed and built; starting node dist/src/main.js with LIVE_TRADING=off.');
    expect(existsSync(projectPath('dist/src/main.js'))).toBe(true);
    expect(started.liveTrading).toBe(false);
    expect(entries().find((e) => e.msg === 'migrations up to date')).toMatchObject({ applied: (await readMigrations(MIGRATIONS_DIR)).length });
    const base = String(started.address);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: 'up' });
    const css = await fetch(`${base}/dashboard/assets/dashboard.css`);
    expect(css.status).toBe(200);
    expect((await css.text()).length).toBeGreaterThan(100);

    process.kill(-child.pid!, 'SIGTERM');
    // npm may exit before the service it started has finished stopping: wait for the service's word.
    await eventually(() => entries().some((e) => e.msg === 'shutdown complete'), 20_000, 'the service to shut down');
    await exited;
  }, 90_000);
});
