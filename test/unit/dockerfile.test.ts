// No container engine runs here, so the image is checked as text: the build stage runs the
// commands test/e2e/release.test.ts runs for real (npm ci, npm run build), and the runtime stage is
// non-root, health-checked on /health, and holds every path the service reads at run time.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { variables } from '../../src/config/variables.ts';
import { projectPath } from '../../src/kernel/paths.ts';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Instructions per stage (continuation lines joined, comments dropped). */
function stages(dockerfile: string): { name: string | null; instructions: Instruction[] }[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const result: { name: string | null; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op!.toUpperCase() === 'FROM') result.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1] ?? null, instructions: [] });
    result.at(-1)?.instructions.push({ op: op!.toUpperCase(), args });
  }
  return result;
}

/** The destinations a stage's COPY instructions fill, as paths relative to WORKDIR /app. */
function copiedPaths(instructions: readonly Instruction[]): string[] {
  return instructions
    .filter((i) => i.op === 'COPY')
    .flatMap((i) => {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const destination = words.pop()!.replace(/^\/app\/?/, '');
      const sources = words.map((s) => s.replace(/^\/app\//, ''));
      // `COPY a b ./` keeps the names; `COPY src dest` renames to dest.
      return destination === './' || destination === '.' ? sources : destination.endsWith('/') ? sources.map((s) => destination + s.split('/').pop()) : [destination];
    });
}

const covers = (copied: readonly string[], path: string) => copied.some((c) => path === c || path.startsWith(`${c.replace(/\/$/, '')}/`));

describe('Dockerfile', async () => {
  const text = await readFile(projectPath('Dockerfile'), 'utf8');
  const all = stages(text);
  const build = all[0]!;
  const runtime = all.at(-1)!;
  const runs = (stage: typeof build) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const packageJson = JSON.parse(await readFile(projectPath('package.json'), 'utf8')) as { scripts: Record<string, string> };

  it('is multi-stage: the build stage installs everything and runs npm run build', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(runs(build)).toContain('npm ci');
    expect(runs(build)).toContain('npm run build');
    expect(packageJson.scripts.build).toBe('node scripts/build.mjs');
    // What the build reads is in the stage before it runs.
    const copied = copiedPaths(build.instructions);
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'prisma/schema.prisma', 'src', 'commands']) expect(covers(copied, path), path).toBe(true);
  });

  it('runs as a non-root user with production dependencies only', () => {
    const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(runs(runtime).some((r) => r.startsWith('npm ci --omit=dev'))).toBe(true);
    // USER comes before CMD, so the service never runs as root.
    const ops = runtime.instructions.map((i) => i.op);
    expect(ops.lastIndexOf('USER')).toBeLessThan(ops.indexOf('CMD'));
  });

  it('health-checks /health and starts the compiled service the deploy scripts start', () => {
    const health = runtime.instructions.find((i) => i.op === 'HEALTHCHECK');
    expect(health?.args).toMatch(/CMD .*127\.0\.0\.1:.*\/health/);
    const cmd = JSON.parse(runtime.instructions.find((i) => i.op === 'CMD')!.args) as string[];
    expect(cmd).toEqual(['node', 'dist/src/main.js']);
    expect(packageJson.scripts['deploy:live']).toMatch(/&& node dist\/src\/main\.js$/);
  });

  it('copies every path the service reads at run time into the runtime stage', () => {
    const copied = copiedPaths(runtime.instructions);
    expect(runtime.instructions.some((i) => i.op === 'COPY' && new RegExp(`--from=${build.name}\\b.*\\bdist\\b`).test(i.args))).toBe(true);
    // projectRoot finds package.json; main.ts migrates from prisma/migrations; the build puts the
    // Prisma client and the dashboard files under dist/; postinstall (npm ci) needs the generator script and schema.
    for (const path of ['package.json', 'prisma/migrations', 'dist/src/main.js', 'dist/src/db/generated', 'dist/src/http/dashboard', 'scripts/prisma-generate.mjs', 'prisma/schema.prisma', 'prisma.config.ts']) {
      expect(covers(copied, path), path).toBe(true);
    }
  });

  it('.dockerignore keeps local state, secrets and build output out, and nothing the image copies', async () => {
    const ignored = (await readFile(projectPath('.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const path of ['node_modules', '.env', '.data', 'dist', '.git']) expect(ignored).toContain(path);
    const fromContext = all.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1)));
    for (const source of fromContext) expect(ignored.some((p) => source === p || source.startsWith(`${p}/`)), source).toBe(false);
  });
});

describe('docker-compose.yml', async () => {
  const compose = await readFile(projectPath('docker-compose.yml'), 'utf8');
  const example = await readFile(projectPath('.env.example'), 'utf8');

  it('runs PostgreSQL 16 with a volume and a health check, and wires DATABASE_URL to it', () => {
    expect(compose).toContain('image: postgres:16');
    expect(compose).toMatch(/pgdata:\/var\/lib\/postgresql\/data/);
    expect(compose).toMatch(/pg_isready/);
    expect(compose).toMatch(/condition: service_healthy/);
    expect(compose).toMatch(/DATABASE_URL: postgres:\/\/ait:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432\/ait/);
  });

  it('.env.example names only variables the service (or compose) reads', () => {
    const names = example.split('\n').map((l) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(name in variables || name === 'POSTGRES_PASSWORD', name).toBe(true);
  });
});
