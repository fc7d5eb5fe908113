// Runs the real service (src/main.ts) as a child process and reads its JSON log.
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../../src/kernel/paths.ts';

export interface RunningService {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly logs: () => Record<string, unknown>[];
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Only what the test passes: the service must not pick up the developer's DATABASE_URL etc. */
export function serviceEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const { PATH, HOME, TMPDIR } = process.env;
  // The exchange points at a closed loopback port unless a test brings a simulator: the scanner
  // scans at start-up, and tests never send traffic off this machine.
  return { PATH, HOME, TMPDIR, LOG_LEVEL: 'info', HTTP_PORT: '0', EXCHANGE_API_URL: 'http://127.0.0.1:9', ...vars };
}

export function runService(env: NodeJS.ProcessEnv) {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startService(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<RunningService> {
  const child = runService(env);
  const entries: Record<string, unknown>[] = [];
  let stderr = '';
  let buffer = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start within ${timeoutMs} ms:\n${stderr}\n${JSON.stringify(entries)}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          entries.push(entry);
          if (entry.msg === 'service started') {
            clearTimeout(timer);
            resolve(String(entry.address));
          }
        } catch {
          /* not a log line */
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before starting:\n${stderr}\n${JSON.stringify(entries)}`));
    });
  });

  return {
    child,
    baseUrl,
    logs: () => entries,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}
