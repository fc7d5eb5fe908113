// The release guard behind `npm run deploy:paper` and `npm run deploy:live`: checks the
// configuration (for live: the explicit promotion too), then builds; npm starts
// `node dist/src/main.js` only when this exits 0.
// Usage: node --import tsx scripts/deploy.ts <paper|live> [--check]
//   --check  validate and exit without building (nothing is started either way).
import { spawnSync } from 'node:child_process';
import { ConfigError, parseConfig, type Config } from '../src/config/config.ts';
import { projectPath } from '../src/kernel/paths.ts';

const PROMOTE_PHRASE = 'I_ACKNOWLEDGE_RISK';

type Target = 'paper' | 'live';

/** Why this deployment must not go ahead, or null when it may. */
function refusal(target: Target, env: Readonly<Record<string, string | undefined>>): string | null {
  if (target === 'live') {
    const confirm = env.PROMOTE_CONFIRM;
    if (confirm !== PROMOTE_PHRASE) {
      const got = confirm === undefined || confirm === '' ? 'it is not set' : 'it is set to something else';
      return `deploy:live trades real money: set PROMOTE_CONFIRM=${PROMOTE_PHRASE} to confirm (${got}).`;
    }
  }
  let config: Config;
  try {
    // deploy:paper starts the service with LIVE_TRADING=off, so that is the configuration to check.
    config = parseConfig(target === 'paper' ? { ...env, LIVE_TRADING: 'off' } : env);
  } catch (error) {
    if (error instanceof ConfigError) return `deploy:${target}: ${error.message}`;
    throw error;
  }
  if (target === 'live' && !config.execution.liveTrading) {
    return 'deploy:live: live trading is switched off in this configuration (LIVE_TRADING=off). Set LIVE_TRADING=on (or unset it) to deploy live, or use npm run deploy:paper.';
  }
  return null;
}

function main(): number {
  const [target, ...flags] = process.argv.slice(2);
  if (target !== 'paper' && target !== 'live') {
    process.stderr.write('usage: node --import tsx scripts/deploy.ts <paper|live> [--check]\n');
    return 2;
  }
  // Read here, like a composition root: PROMOTE_CONFIRM exists only for this command.
  const problem = refusal(target, process.env);
  if (problem) {
    process.stderr.write(`${problem}\nNothing was built or started.\n`);
    return 1;
  }
  if (target === 'paper' && process.env.LIVE_TRADING === 'on') process.stdout.write('deploy:paper: LIVE_TRADING=on is overridden: this deployment trades paper only.\n');
  if (flags.includes('--check')) {
    process.stdout.write(`deploy:${target}: checks passed (--check: nothing built or started).\n`);
    return 0;
  }
  const build = spawnSync(process.execPath, [projectPath('scripts/build.mjs')], { cwd: projectPath(), stdio: 'inherit' });
  if (build.status !== 0) {
    process.stderr.write(`deploy:${target}: the build failed; nothing was started.\n`);
    return build.status ?? 1;
  }
  process.stdout.write(`deploy:${target}: checks passed and built; starting node dist/src/main.js${target === 'paper' ? ' with LIVE_TRADING=off' : ''}.\n`);
  return 0;
}

process.exitCode = main();
