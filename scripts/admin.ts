// The operators' command line: `npm run admin -- <command> [flags]`. It works against the
// PostgreSQL in DATABASE_URL (the service's own database, local or remote) through the same
// use-cases as chat and the admin HTTP API, and audits every change as admin `cli`.
// Exit codes: 0 done, 1 failed (nothing matched, pool full, database unreachable...), 2 usage
// (unknown command or flag, missing or malformed value). Secrets are never printed: keys show
// their last 4 characters, and the values of secret flags are scrubbed from every line written.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  clientJson,
  credentialJson,
  issueClientLicenses,
  licenseJson,
  listClientCredentials,
  listClients,
  parseClientUpdate,
  revokeClientLicenses,
  showClient,
  storeClientCredentials,
  upsertClient,
  type ClientDetail,
} from '../src/app/clients.ts';
import { recordAudit } from '../src/app/audit.ts';
import type { CredentialView } from '../src/app/credentials.ts';
import type { Actor, AppDeps } from '../src/app/deps.ts';
import type { LicenseView } from '../src/app/licenses.ts';
import { getPoolStatus } from '../src/app/pool.ts';
import { ConfigError, parseConfig, type Config } from '../src/config/config.ts';
import { createDb, type Db } from '../src/db/client.ts';
import { isUnavailable } from '../src/db/errors.ts';
import { systemClock } from '../src/kernel/clock.ts';
import type { AppError } from '../src/kernel/errors.ts';
import { centsToDecimalString, formatUsd } from '../src/kernel/money.ts';
import { keyFingerprint, MasterKeyError, parseMasterKey } from '../src/vault/master-key.ts';
import { RotationError, rotateMasterKey } from '../src/vault/rotate.ts';
import { Vault } from '../src/vault/vault.ts';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

const ACTOR: Actor = { type: 'admin', id: 'cli' };

/** A usage problem (exit 2) or a failure (exit 1); `usage` names the command whose usage to print. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    readonly command?: string,
  ) {
    super(message);
  }
}

interface Output {
  readonly json: unknown;
  readonly text: string;
}

interface Context {
  readonly deps: AppDeps;
  readonly config: Config;
}

type Values = Record<string, string | boolean | undefined>;

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: ParseArgsOptionsConfig;
  readonly required?: readonly string[];
  /** Flags whose values are secrets: scrubbed from output. */
  readonly secret?: readonly string[];
  run(ctx: Context, values: Values): Promise<Output>;
}

const text = { type: 'string' } as const;
const CLIENT_REF = '<client>: a user id, a platform id, @username, telegram:<id> or discord:<id>';

const commands: Record<string, Command> = {
  'list-clients': {
    summary: 'List every client (account) with owner, plan, status, identities and key count',
    usage: 'list-clients [--json]',
    options: {},
    async run({ deps }) {
      const clients = await listClients(deps);
      return {
        json: { clients: clients.map(clientJson) },
        text: [
          table(
            ['ID', 'NAME', 'OWNER', 'PLAN', 'STATUS', 'IDENTITIES', 'KEYS'],
            clients.map((c) => [c.id, c.name ?? '-', c.owner ?? '-', c.plan ?? '-', c.status + (c.flag ? ' (flagged)' : ''), identities(c), String(c.credentialCount)]),
          ),
          `${clients.length} client(s)`,
        ].join('\n'),
      };
    },
  },

  'show-client': {
    summary: 'Show one client: identities, licenses, limits and key metadata',
    usage: `show-client --id <client> [--json]\n  ${CLIENT_REF}`,
    options: { id: text },
    required: ['id'],
    async run({ deps }, values) {
      const client = orFail(await showClient(deps, String(values.id)));
      return { json: { client: clientJson(client) }, text: describeClient(client) };
    },
  },

  'upsert-client': {
    summary: 'Create (telegram:<id> / discord:<id>) or update a client: name, owner, plan, status, limits',
    usage: [
      `upsert-client --id <client> [--name <text>] [--owner <text|null>] [--plan <tier>]`,
      `              [--status active|suspended [--reason <text>]] [--limits <json|null>] [--json]`,
      `  ${CLIENT_REF}`,
      '  --plan   issues a license of that tier for a client without one (the key is shown once);',
      '           changing a plan is revoke-license then issue-license',
      '  --status suspended stops the client\'s runs and copy follows and refuses anything that trades',
      '           until --status active; the running service stops the runs within its lease renewal',
      '  --limits sections guard and risk, e.g. \'{"guard":{"maxRunLossUsd":100},"risk":{"capital_reserve_pct":20}}\';',
      '           a section given replaces that section, {"risk":null} removes it, null clears all',
    ].join('\n'),
    options: { id: text, name: text, owner: text, plan: text, status: text, reason: text, limits: text },
    required: ['id'],
    async run({ deps }, values) {
      let limits: unknown;
      if (values.limits !== undefined) {
        try {
          limits = JSON.parse(String(values.limits));
        } catch {
          throw new CliError('--limits is not valid JSON, e.g. \'{"guard":{"maxRunLossUsd":100}}\'', 2, 'upsert-client');
        }
      }
      // --owner null clears the owner, like --limits null.
      const owner = values.owner === 'null' ? null : values.owner;
      const raw = Object.fromEntries(
        Object.entries({ name: values.name, owner, plan: values.plan, status: values.status, reason: values.reason, limits }).filter(([, v]) => v !== undefined),
      );
      const update = orFail(parseClientUpdate(raw), 'upsert-client');
      const done = orFail(await upsertClient(deps, String(values.id), update, ACTOR), 'upsert-client');
      return {
        json: {
          created: done.created,
          client: clientJson(done.client),
          issued_license: done.issued ? { ...licenseJson(done.issued.license), key: done.issued.key } : null,
          ...(done.stopped ? { stopped: { runs: done.stopped.runs.map((r) => r.seq), follows: done.stopped.follows } } : {}),
        },
        text: [
          `${done.created ? 'Created' : 'Updated'} client ${done.client.id}.`,
          ...(done.issued ? [`Issued a ${done.issued.license.tierId} license; its key is shown only now: ${done.issued.key}`] : []),
          ...(done.stopped
            ? [`Suspended: ${done.stopped.runs.length} run(s) stopping (the running service stops them within a lease renewal), ${done.stopped.follows} copy follow(s) stopped.`]
            : []),
          '',
          describeClient(done.client),
        ].join('\n'),
      };
    },
  },

  'store-credentials': {
    summary: 'Store (or replace) a client\'s exchange API keys, encrypted (needs CLIENT_MASTER_KEY)',
    usage: [
      'store-credentials --id <client> --exchange <id> --api-key <key> (--api-secret <secret> | --api-secret-stdin)',
      '                  [--passphrase <text>] [--label <label>] [--json]',
      `  ${CLIENT_REF}`,
      '  --api-secret-stdin reads the secret from standard input, keeping it out of shell history',
    ].join('\n'),
    options: { id: text, exchange: text, 'api-key': text, 'api-secret': text, 'api-secret-stdin': { type: 'boolean' }, passphrase: text, label: text },
    required: ['id', 'exchange', 'api-key'],
    secret: ['api-key', 'api-secret', 'passphrase'],
    async run({ deps, config }, values) {
      if ((values['api-secret'] === undefined) === (values['api-secret-stdin'] !== true)) {
        throw new CliError('give the secret with exactly one of --api-secret or --api-secret-stdin', 2, 'store-credentials');
      }
      const apiSecret = values['api-secret-stdin'] ? await readStdin() : String(values['api-secret']);
      if (values['api-secret-stdin']) secretValues.push(apiSecret.trim());
      const vault = await vaultFor(config, 'store-credentials');
      await refuseForeignKey(deps.db, vault);
      const credential = orFail(
        await storeClientCredentials(
          { ...deps, vault },
          String(values.id),
          {
            exchange: String(values.exchange),
            apiKey: String(values['api-key']),
            apiSecret,
            passphrase: values.passphrase === undefined ? null : String(values.passphrase),
            label: values.label === undefined ? null : String(values.label),
          },
          ACTOR,
        ),
        'store-credentials',
      );
      return {
        json: { credential: credentialJson(credential) },
        text: `Stored ${credential.exchangeName} keys ("${credential.label}", key …${credential.apiKeyLast4}) encrypted under master key ${vault.keyVersion}.`,
      };
    },
  },

  'list-credentials': {
    summary: 'List a client\'s stored exchange keys (metadata only, never secrets)',
    usage: `list-credentials --id <client> [--json]\n  ${CLIENT_REF}`,
    options: { id: text },
    required: ['id'],
    async run({ deps }, values) {
      const credentials = orFail(await listClientCredentials(deps, String(values.id)));
      return { json: { credentials: credentials.map(credentialJson) }, text: credentialTable(credentials) };
    },
  },

  'issue-license': {
    summary: 'Issue license keys of a tier (from the capacity pool), optionally for a client',
    usage: `issue-license --tier <tier> [--count <1-50>] [--id <client>] [--json]\n  ${CLIENT_REF}\n  Keys are shown only now.`,
    options: { tier: text, count: text, id: text },
    required: ['tier'],
    async run({ deps }, values) {
      const count = values.count === undefined ? 1 : Number(values.count);
      if (!Number.isInteger(count) || count < 1 || count > 50) throw new CliError('--count must be a whole number from 1 to 50', 2, 'issue-license');
      const result = orFail(
        await issueClientLicenses(deps, { tier: String(values.tier), count, ...(values.id === undefined ? {} : { ref: String(values.id) }) }, ACTOR),
      );
      const issued = result.issued.map((i) => ({ ...licenseJson(i.license), key: i.key }));
      const lines = [
        `Issued ${issued.length} ${result.issued[0]!.license.tierId} license(s); the keys are shown only now:`,
        ...result.issued.map((i) => `  ${i.key}  (${formatUsd(i.license.capital)})`),
      ];
      if (result.refusal) {
        // Some were issued before the pool filled: say so, and still fail.
        process.stdout.write(`${scrub(values.json ? JSON.stringify({ issued, refusal: result.refusal }, null, 2) : lines.join('\n'))}\n`);
        throw new CliError(`stopped after ${issued.length}: ${result.refusal.message}`, 1);
      }
      return { json: { issued }, text: lines.join('\n') };
    },
  },

  'revoke-license': {
    summary: 'Revoke a license by key, or every live license of a client; capital returns to the pool',
    usage: `revoke-license (--key <license key> | --id <client>) [--reason <text>] [--json]\n  ${CLIENT_REF}`,
    options: { key: text, id: text, reason: text },
    async run({ deps }, values) {
      if ((values.key === undefined) === (values.id === undefined)) throw new CliError('give exactly one of --key or --id', 2, 'revoke-license');
      const reason = values.reason === undefined ? 'revoked by admin' : String(values.reason).trim().slice(0, 200) || 'revoked by admin';
      const target = values.key === undefined ? { ref: String(values.id) } : { key: String(values.key) };
      const revoked = orFail(await revokeClientLicenses(deps, { ...target, reason }, ACTOR), 'revoke-license');
      return { json: { revoked: revoked.map(licenseJson) }, text: `Revoked ${revoked.map((l) => `${l.maskedKey} (${l.tierId})`).join(', ')}.` };
    },
  },

  pool: {
    summary: 'Show the capacity pool: cap, committed, held, free, and which tiers still fit',
    usage: 'pool [--json]',
    options: {},
    async run({ deps }) {
      const pool = await getPoolStatus(deps);
      return {
        json: {
          cap_usd: centsToDecimalString(pool.cap),
          committed_usd: centsToDecimalString(pool.committed),
          held_usd: centsToDecimalString(pool.held),
          available_usd: centsToDecimalString(pool.available),
          percent_used: pool.percentUsed,
          enforcement: pool.enforcement,
          tiers: pool.tiers.map((t) => ({ id: t.id, name: t.name, max_capital_usd: centsToDecimalString(t.maxCapital), purchasable: t.purchasable })),
        },
        text: [
          `Capacity pool: ${pool.percentUsed}% used (${pool.enforcement})`,
          `cap ${formatUsd(pool.cap)} · committed ${formatUsd(pool.committed)} · held ${formatUsd(pool.held)} · free ${formatUsd(pool.available)}`,
          '',
          table(['TIER', 'NAME', 'CAPITAL', 'FITS'], pool.tiers.map((t) => [t.id, t.name, formatUsd(t.maxCapital), t.purchasable ? 'yes' : 'no'])),
        ].join('\n'),
      };
    },
  },

  'rotate-master-key': {
    summary: 'Re-encrypt every stored exchange key from CLIENT_MASTER_KEY to NEW_CLIENT_MASTER_KEY',
    usage: [
      'rotate-master-key [--json]',
      '  CLIENT_MASTER_KEY (current) and NEW_CLIENT_MASTER_KEY (next) come from the environment;',
      '  all rows or none. Afterwards set CLIENT_MASTER_KEY to the new value and restart the service.',
    ].join('\n'),
    options: {},
    async run({ deps, config }) {
      const current = await vaultKey(config, 'rotate-master-key');
      // Read here like the rotate-master-key script does: it exists only for this command.
      const nextRaw = process.env.NEW_CLIENT_MASTER_KEY?.trim();
      if (!nextRaw) throw new CliError('NEW_CLIENT_MASTER_KEY is not set: give the new key (32 bytes in base64 or hex, or a passphrase of 16+ characters)', 1);
      secretValues.push(nextRaw);
      const next = await parseMasterKey(nextRaw, 'NEW_CLIENT_MASTER_KEY');
      const report = await rotateMasterKey(deps.db, { key: current }, { key: next });
      await recordAudit(deps.db, {
        actor: ACTOR,
        action: 'credential.master_key_rotated',
        entityType: 'credential',
        entityId: null,
        after: { ...report },
        at: deps.clock.now(),
      });
      return {
        json: { rotated: report.rotated, already_current: report.alreadyCurrent, from_version: report.fromVersion, to_version: report.toVersion },
        text: [
          `Re-encrypted ${report.rotated} credential(s) (${report.alreadyCurrent} already under the new key): ${report.fromVersion} -> ${report.toVersion}.`,
          'Now set CLIENT_MASTER_KEY to the value of NEW_CLIENT_MASTER_KEY and restart the service.',
        ].join('\n'),
      };
    },
  },
};

// ----------------------------------------------------------------------------------- helpers

/** Raw values of secret flags (and stdin/env secrets): scrubbed from everything written. */
const secretValues: string[] = [];
const scrub = (line: string) => secretValues.filter((s) => s.length >= 4).reduce((out, s) => out.replaceAll(s, '[redacted]'), line);

/** Codes that mean "the input is wrong": exit 2 with the command's usage. */
const USAGE_CODES = new Set(['invalid_input', 'invalid_credentials_input', 'passphrase_required', 'unknown_exchange', 'invalid_license_format', 'tier_not_found']);

function orFail<T>(result: { ok: true; value: T } | { ok: false; error: AppError }, command?: string): T {
  if (result.ok) return result.value;
  const { code, message } = result.error;
  const problems = (result.error.details?.problems as string[] | undefined) ?? null;
  const text = problems && problems.length > 1 ? `${code}:\n${problems.map((p) => `  - ${p}`).join('\n')}` : `${code}: ${message}`;
  throw new CliError(text, USAGE_CODES.has(code) ? 2 : 1, USAGE_CODES.has(code) ? command : undefined);
}

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const identities = (c: { identities: ClientDetail['identities'] }) =>
  c.identities.map((i) => `${i.platform}:${i.externalId}${i.username ? ` @${i.username}` : ''}`).join(', ') || '-';
const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '-');

function credentialTable(credentials: readonly CredentialView[]): string {
  return table(
    ['EXCHANGE', 'LABEL', 'API KEY', 'PASSPHRASE', 'UPDATED'],
    credentials.map((c) => [c.exchange, c.label, `…${c.apiKeyLast4}`, c.hasPassphrase ? 'yes' : 'no', day(c.updatedAt)]),
  );
}

function licenseTable(licenses: readonly LicenseView[]): string {
  return table(
    ['KEY', 'TIER', 'STATUS', 'CAPITAL', 'ACTIVATED'],
    licenses.map((l) => [l.maskedKey, l.tierId, l.status, formatUsd(l.capital), day(l.activatedAt)]),
  );
}

function describeClient(c: ClientDetail): string {
  return [
    `Client ${c.id}`,
    `  name        ${c.name ?? '-'}`,
    `  plan        ${c.plan ?? '-'}`,
    `  owner       ${c.owner ?? '-'}`,
    `  status      ${c.status}${c.suspension ? ` since ${day(c.suspension.at)}${c.suspension.reason ? `: ${c.suspension.reason}` : ''}` : ''}`,
    `  flagged     ${c.flag ? `${day(c.flag.at)}: ${c.flag.reason}` : 'no'}`,
    `  identities  ${identities(c)}`,
    `  limits      ${c.limits === null ? '-' : JSON.stringify(c.limits)}`,
    `  since       ${day(c.createdAt)}`,
    'Licenses',
    indent(licenseTable(c.licenses)),
    'Exchange keys',
    indent(credentialTable(c.credentials)),
  ].join('\n');
}

const indent = (block: string) => block.split('\n').map((l) => `  ${l}`).join('\n');

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function vaultKey(config: Config, command: string): Promise<Uint8Array> {
  if (config.masterKey === null) {
    throw new CliError(`CLIENT_MASTER_KEY is not set: ${command} needs the service's master key (the same value the service runs with)`, 1);
  }
  return parseMasterKey(config.masterKey);
}

async function vaultFor(config: Config, command: string): Promise<Vault> {
  return Vault.create({ key: await vaultKey(config, command) });
}

/**
 * Keys sealed under a key the service does not hold can never be used: when stored keys exist
 * and none is under this CLIENT_MASTER_KEY, it is almost surely the wrong one.
 */
async function refuseForeignKey(db: Db, vault: Vault): Promise<void> {
  const versions = await db.exchangeCredential.groupBy({ by: ['keyVersion'], _count: { _all: true } });
  if (versions.length > 0 && !versions.some((v) => v.keyVersion === vault.keyVersion)) {
    throw new CliError(
      `CLIENT_MASTER_KEY (fingerprint ${vault.keyVersion}) is not the key the stored credentials use (${versions.map((v) => v.keyVersion).join(', ')}): nothing was stored`,
      1,
    );
  }
}

function generalUsage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    'Usage: npm run admin -- <command> [flags]   (DATABASE_URL must point at the service\'s PostgreSQL)',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json for machine-readable output and --help for its flags.',
  ].join('\n');
}

const commandUsage = (name: string) => `Usage: npm run admin -- ${commands[name]!.usage}`;

function parseError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  // Positional values are not echoed: a secret typed in the wrong place would land in the terminal.
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return 'unexpected argument: every value follows its --flag';
  return (e.message ?? String(error)).split('. To specify a positional')[0]!;
}

// -------------------------------------------------------------------------------------- main

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const wanted = name === 'help' ? rest[0] : undefined;
    if (wanted && commands[wanted]) process.stdout.write(`${commandUsage(wanted)}\n`);
    else process.stdout.write(`${generalUsage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) throw new CliError(`unknown command "${name.slice(0, 40)}"`, 2, '');

  let values: Values;
  try {
    values = parseArgs({ args: rest, options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as Values;
  } catch (error) {
    // Scrub whatever was typed after a secret flag before any of it is echoed.
    collectSecrets(command, rest);
    throw new CliError(parseError(error), 2, name);
  }
  collectSecrets(command, rest);
  if (values.help) {
    process.stdout.write(`${commandUsage(name)}\n`);
    return 0;
  }
  const missing = (command.required ?? []).filter((flag) => values[flag] === undefined || values[flag] === '');
  if (missing.length) throw new CliError(`missing ${missing.map((f) => `--${f}`).join(', ')}`, 2, name);

  let config: Config;
  try {
    config = parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 1);
    throw error;
  }
  if (config.database.kind !== 'external') {
    throw new CliError('DATABASE_URL is not set: the admin CLI works on the service\'s PostgreSQL, e.g. DATABASE_URL=postgres://user:pass@host:5432/ait npm run admin -- list-clients', 1);
  }
  secretValues.push(...config.secretValues);
  const db = createDb(config.database.url, { poolSize: 2 });
  try {
    const deps: AppDeps = { db, clock: systemClock, pool: { holdTtlMs: config.pool.holdTtlMs, hardOveragePct: config.pool.hardOveragePct } };
    const output = await command.run({ deps, config }, values);
    process.stdout.write(`${scrub(values.json ? JSON.stringify(output.json, null, 2) : output.text)}\n`);
    return 0;
  } finally {
    await db.$disconnect();
  }
}

function collectSecrets(command: Command, args: string[]): void {
  for (const flag of command.secret ?? []) {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === `--${flag}` && args[i + 1] !== undefined) secretValues.push(args[i + 1]!.trim());
      else if (arg.startsWith(`--${flag}=`)) secretValues.push(arg.slice(flag.length + 3).trim());
    }
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof CliError) {
    process.stderr.write(`${scrub(`admin: ${error.message}`)}\n`);
    if (error.command !== undefined) process.stderr.write(`${error.command ? commandUsage(error.command) : generalUsage()}\n`);
    process.exitCode = error.exitCode;
  } else if (error instanceof MasterKeyError || error instanceof RotationError) {
    process.stderr.write(`${scrub(`admin: ${error.message}`)}\n`);
    process.exitCode = 1;
  } else {
    // Unexpected: one short line, no stack (a driver message may quote a query's values at length).
    const e = error as Error;
    const line = isUnavailable(error) ? 'the database is not reachable (check DATABASE_URL)' : `${e?.name ?? 'Error'}: ${String(e?.message ?? error).split('\n')[0]}`;
    process.stderr.write(`${scrub(`admin: failed: ${line}`)}\n`);
    process.exitCode = 1;
  }
}
