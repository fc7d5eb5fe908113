// `npm run build`: compiles src/ and commands/ (with the generated Prisma client) to dist/ and
// copies the files the service reads next to its modules at run time. Run `node dist/src/main.js`.
// Plain JavaScript so it needs nothing but node and the installed TypeScript.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/** Non-TypeScript files the built service reads at run time (relative to the project root). */
const RUNTIME_ASSET_DIRS = ['src/http/dashboard'];

if (!existsSync(join(root, 'src/db/generated/client.ts'))) {
  console.error('The Prisma client is not generated (src/db/generated): run `npm run db:generate` first.');
  process.exit(1);
}

// A clean build: a module deleted from src/ must not live on in dist/.
rmSync(dist, { recursive: true, force: true });

// The package exports only package.json; its `bin` entry names the compiler's script.
const tsPackage = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = join(dirname(tsPackage), JSON.parse(readFileSync(tsPackage, 'utf8')).bin.tsc);
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error('build failed: TypeScript reported errors (above)');
  process.exit(compiled.status ?? 1);
}

for (const dir of RUNTIME_ASSET_DIRS) {
  for (const name of readdirSync(join(root, dir))) {
    if (name.endsWith('.ts')) continue;
    cpSync(join(root, dir, name), join(dist, dir, name), { recursive: true });
  }
}
console.log(`built ${relative(process.cwd(), join(dist, 'src/main.js')) || 'dist/src/main.js'}`);
