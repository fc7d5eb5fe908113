// One PostgreSQL server for the whole run: the one in DATABASE_URL when set, otherwise an
// embedded server in a temporary folder. Each test file then creates its own database on it.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { projectPath } from '../../src/kernel/paths.ts';
import { parseConfig } from '../../src/config/config.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

let embedded: EmbeddedPostgres | undefined;
let tempDir: string | undefined;
/** Tests keep local state in temporary folders; the repository's own .data is the user's. */
const projectDataDir = projectPath('.data');
let projectDataDirExisted = true;

export async function setup(project: TestProject): Promise<void> {
  projectDataDirExisted = existsSync(projectDataDir);
  const database = parseConfig(process.env).database;
  if (database.kind === 'external') {
    project.provide('pgAdminUrl', database.url);
    return;
  }
  tempDir = await mkdtemp(join(tmpdir(), 'ait-test-pg-'));
  await chmod(tempDir, 0o755); // the server may run as user postgres
  embedded = await startEmbeddedPostgres({ dataDir: join(tempDir, 'postgres'), port: 0 });
  project.provide('pgAdminUrl', embedded.url);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
  if (!projectDataDirExisted && existsSync(projectDataDir)) {
    // Vitest reports an error thrown here but still exits 0, so fail the run explicitly.
    process.exitCode = 1;
    console.error(`\nFAIL: a test wrote into ${projectDataDir}: give it its own DATA_DIR (a temporary folder)\n`);
  }
}
