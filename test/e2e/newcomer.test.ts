// A newcomer's first run, as they would do it: the real service (src/main.ts) in its own process
// with nothing configured but a data folder, typing into the console chat on its stdin and reading
// its stdout. Candles come from ../shared/data, read in place.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectPath, projectRoot } from '../../src/kernel/paths.ts';
import { createEmptyDatabase } from '../support/database.ts';
import { serviceEnv } from '../support/service.ts';

const CANDLES = projectPath('../shared/data/candles/BTC_USDT-5m.csv');

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The service with the console chat on its stdin; chat lines are stdout lines that are not JSON logs. */
class ConsoleSession {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #stdout = '';
  #stderr = '';

  constructor(env: NodeJS.ProcessEnv) {
    // CONSOLE_CHAT=on: stdin is a pipe here, not the terminal `auto` looks for.
    this.#child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: projectRoot, env: { ...env, CONSOLE_CHAT: 'on' }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout!.on('data', (c: Buffer) => (this.#stdout += c.toString()));
    this.#child.stderr!.on('data', (c: Buffer) => (this.#stderr += c.toString()));
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    cleanups.push(() => this.stop());
  }

  /** Everything the person at the terminal reads (the JSON log lines left out). */
  get chat(): string {
    return this.#stdout
      .split('\n')
      .filter((line) => !line.startsWith('{'))
      .join('\n');
  }

  get logs(): Record<string, unknown>[] {
    return this.#stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** Waits until the chat shows `pattern` after position `from`; returns the chat from `from` on. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.chat.slice(from);
      if (pattern.test(seen)) return seen;
      if (this.#child.exitCode !== null) throw new Error(`the service exited (${this.#child.exitCode}) before showing ${pattern}:\n${this.chat}\n${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; the chat so far:\n${this.chat}\n${this.#stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types a line and returns what the chat printed until `until` appeared. */
  async type(line: string, until: RegExp, timeoutMs?: number): Promise<string> {
    const from = this.chat.length;
    this.#child.stdin!.write(`${line}\n`);
    return this.waitFor(until, from, timeoutMs);
  }

  stop(): Promise<number | null> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    return this.#exited;
  }
}

async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ait-newcomer-'));
  // The embedded PostgreSQL runs as its own user, who must be able to enter the folder.
  await chmod(dir, 0o755);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'data');
}

describe("a newcomer's first run", () => {
  it('fresh install on replayed candles: banner, a license through the console operator, /paper dca, fills, /status, /stop', { timeout: 150_000 }, async () => {
    // Nothing configured but where local state goes and the replay: embedded PostgreSQL, generated master key.
    const session = new ConsoleSession(serviceEnv({ DATA_DIR: await freshDataDir(), MARKET_DATA: `replay:${CANDLES}@6000` }));

    // The banner's last line (the console's own greeting ends with the same words mid-line, and
    // may come first).
    const banner = await session.waitFor(/^Ctrl-C stops the service\.$/m, 0, 60_000);
    expect(banner).toMatch(/Database: +embedded PostgreSQL in .*ait-newcomer-.*\/data\/postgres on 127\.0\.0\.1:\d+/);
    expect(banner).toContain('Market data:  replay of BTC_USDT-5m.csv at 6000x (BTC/USDT)');
    expect(banner).toContain('/paper dca BTC/USDT');
    // The banner's HTTP address is the server that answers.
    const http = /HTTP: +(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
    expect(http).toBeDefined();
    expect((await fetch(`${http}/health`)).status).toBe(200);

    expect(await session.type('/start', /Send \/help for every command\./)).toContain('Paper first');
    // Not licensed yet: the gate says so, and the banner's next step is the way through.
    expect(await session.type('/paper dca BTC/USDT', /license/)).toContain('You need an active license');
    const issued = await session.type('/admin license create starter', /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    const key = /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/.exec(issued)![0];
    expect(await session.type(`/activate ${key}`, /activated/)).toMatch(/License AIT-\*{4}-\*{4}-[A-Z0-9]{4} activated: \*?starter/);

    const beforeRun = session.chat.length;
    const started = await session.type('/paper dca BTC/USDT', /Paper run #1 started/);
    expect(started).toContain('dca BTC/USDT with $1,000 of simulated capital on 5m candles');
    // The replay moves fast enough for the strategy to trade: a simulated buy is reported here.
    const fill = await session.waitFor(/Paper run #1 \(dca BTC\/USDT\): bought [\d.]+ at [\d.]+/, beforeRun, 90_000);
    expect(fill).not.toContain('could not be reached');

    const status = await session.type('/status', /Guards:/);
    expect(status).toMatch(/#1 🧪 paper dca BTC\/USDT \$1,000 — running/);
    // Progress: the run has been fed replayed candles from 2024 onwards.
    expect(status).toMatch(/Last candle 2024-\d\d-\d\d \d\d:\d\d UTC/);

    // The reply, then the run's own alert once its engine has stopped.
    const stopped = await session.type('/stop 1', /Paper run #1 \(dca BTC\/USDT\) stopped \(user\)/);
    expect(stopped).toContain('#1 🧪 paper dca BTC/USDT $1,000 — stopped (user)');
    expect(await session.stop()).toBe(0);
    expect(session.logs.map((e) => e.msg)).toContain('shutdown complete');
  });

  it('exchange out of reach: the start-up check and /paper say so plainly and point to MARKET_DATA=replay:', { timeout: 90_000 }, async () => {
    const database = await createEmptyDatabase();
    cleanups.push(() => database.drop());
    // serviceEnv points the exchange at a closed loopback port: what an offline machine gets, fast.
    const env = serviceEnv({ DATABASE_URL: database.url, DATA_DIR: await freshDataDir() });
    expect(env.EXCHANGE_API_URL).toBe('http://127.0.0.1:9');
    const session = new ConsoleSession(env);

    const startup = await session.waitFor(/⚠ Binance could not be reached/, 0, 60_000);
    expect(startup).toContain('Market data:  live public prices from Binance');
    expect(startup).toContain('⚠ Binance could not be reached from this machine (the connection was refused)');
    expect(startup).toContain('MARKET_DATA=replay:../shared/data/candles/BTC_USDT-5m.csv@60');

    const issued = await session.type('/admin license create starter', /AIT-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
    await session.type(`/activate ${/AIT-[A-Z0-9-]{14}/.exec(issued)![0]}`, /activated/);
    const reply = await session.type('/paper dca BTC/USDT', /MARKET_DATA=replay:/);
    expect(reply).toContain('Binance could not be reached from this machine (the connection was refused); try again in a minute.');
    expect(reply).toContain('restart with MARKET_DATA=replay:<path to a candle CSV>[@speed]');
    // Plain words only: no exchange host, port, URL or stack.
    expect(reply).not.toMatch(/127\.0\.0\.1|:9\b|api\/v3|VenueError|ECONNREFUSED|\bat .*\.ts:\d+/);
    expect(reply).not.toContain('Paper run #1 started');
    expect(await session.type('/runs', /No runs yet\.|Your runs/)).toContain('No runs yet.');

    expect(await session.stop()).toBe(0);
  });
});
