// The service as a user starts it: `src/main.ts` in its own process, on a real database.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrator.ts';
import { createEmptyDatabase, MIGRATIONS_DIR } from '../support/database.ts';
import { runService, serviceEnv, startService } from '../support/service.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function getJson(url: string) {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('the service', () => {
  it('with DATABASE_URL: migrates, serves /health and the pool meter, and stops cleanly on SIGTERM', async () => {
    const database = await createEmptyDatabase();
    cleanups.push(() => database.drop());
    // Its own DATA_DIR: the service keeps local state (the master key) there, never in the repository.
    const dir = await mkdtemp(join(tmpdir(), 'ait-e2e-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const service = await startService(serviceEnv({ DATABASE_URL: database.url, DATA_DIR: join(dir, 'data') }));

    expect(await getJson(`${service.baseUrl}/health`)).toMatchObject({ status: 200, body: { status: 'ok', database: 'up' } });
    const pool = await getJson(`${service.baseUrl}/v1/pool/status`);
    expect(pool).toMatchObject({ status: 200, body: { cap_usd: 2_500_000, available_usd: 2_500_000 } });
    // The API v1 and the dashboards are served by the same process.
    const openapi = await getJson(`${service.baseUrl}/v1/openapi.json`);
    expect(openapi).toMatchObject({ status: 200, body: { openapi: '3.1.0' } });
    const heartbeat = await fetch(`${service.baseUrl}/v1/auth/heartbeat`);
    expect(heartbeat.status).toBe(401);
    expect((await fetch(`${service.baseUrl}/dashboard/c_AAAAAAAAAAAAAAAAAAAAAA/`)).status).toBe(404);

    expect(await service.stop('SIGTERM')).toBe(0);
    const messages = service.logs().map((e) => e.msg);
    expect(messages).toContain('shutdown complete');
    // The start-up scan ran, and found the (closed) exchange unreachable without crashing anything.
    expect(service.logs().some((e) => e.job === 'scanner')).toBe(true);
    // The database password never reaches the log.
    const password = decodeURIComponent(new URL(database.url).password);
    if (password) expect(JSON.stringify(service.logs())).not.toContain(password);
  });

  it('without DATABASE_URL: runs its own PostgreSQL under DATA_DIR and reuses it on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ait-e2e-'));
    await chmod(dir, 0o755);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');

    const first = await startService(serviceEnv({ DATA_DIR: dataDir, POOL_CAP_USD: '1234567' }));
    expect((await getJson(`${first.baseUrl}/health`)).status).toBe(200);
    expect((await getJson(`${first.baseUrl}/v1/pool/status`)).body.cap_usd).toBe(1_234_567);
    expect(first.logs().find((e) => e.msg === 'database ready')?.database).toMatch(/^embedded PostgreSQL in .*data\/postgres/);
    expect(await first.stop('SIGINT')).toBe(0);

    // Second start: same data (the cap set by the first run survives), nothing left to migrate.
    const second = await startService(serviceEnv({ DATA_DIR: dataDir }));
    expect((await getJson(`${second.baseUrl}/v1/pool/status`)).body.cap_usd).toBe(1_234_567);
    const migrationCount = (await readMigrations(MIGRATIONS_DIR)).length;
    expect(second.logs().find((e) => e.msg === 'migrations up to date')).toMatchObject({ applied: 0, alreadyApplied: migrationCount });
    expect(await second.stop('SIGTERM')).toBe(0);

    // The embedded server was stopped too: its pid file is gone.
    await expect(readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('recovers after being killed outright (SIGKILL), and refuses to share a live data directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ait-e2e-'));
    await chmod(dir, 0o755);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const env = serviceEnv({ DATA_DIR: join(dir, 'data') });

    const crashed = await startService(env);
    expect(await crashed.stop('SIGKILL')).toBeNull();
    // Its PostgreSQL runs in its own process group and survived the kill.
    const orphanPid = Number((await readFile(join(dir, 'data', 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(() => process.kill(orphanPid, 0)).not.toThrow();

    const recovered = await startService(env);
    cleanups.push(() => recovered.stop('SIGTERM'));
    expect(recovered.logs().some((e) => e.msg === 'stopping an embedded PostgreSQL left running by a previous process')).toBe(true);
    expect((await getJson(`${recovered.baseUrl}/health`)).status).toBe(200);

    // A second service on the same data directory while the first is alive is refused, not allowed to kill it.
    await expect(startService(env)).rejects.toThrow(/already running the embedded database/);
    expect((await getJson(`${recovered.baseUrl}/health`)).status).toBe(200);
  });

  it('refuses a bad setting with one line naming the variable', async () => {
    const child = runService(serviceEnv({ HTTP_PORT: 'http' }));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(78);
    expect(stderr.trim().split('\n')).toEqual([
      'Invalid configuration: HTTP_PORT must be a TCP port from 0 to 65535 (0 picks a free port) (got "http")',
    ]);
  });
});
