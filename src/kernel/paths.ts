// Locates files shipped with the project (migrations) whether running from src/ via tsx or
// from a build in dist/: walk up from this module to the folder that holds package.json.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const projectRoot = findProjectRoot();

export const projectPath = (...parts: string[]): string => resolve(projectRoot, ...parts);
