// `npm run admin` as an operator runs it: its own process against a real, migrated database.
// Child processes are slow to start, so each test batches several commands.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCredentials } from '../../src/app/credentials.ts';
import { projectRoot } from '../../src/kernel/paths.ts';
import { keyFingerprint, parseMasterKey } from '../../src/vault/master-key.ts';
import { Vault } from '../../src/vault/vault.ts';
import { createMigratedDatabase, type MigratedDatabase } from '../support/database.ts';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let database: MigratedDatabase;
const MASTER = randomBytes(32).toString('hex');

function admin(args: string[], options: { env?: Record<string, string>; stdin?: string; database?: boolean } = {}): Promise<Run> {
  const { PATH, HOME, TMPDIR } = process.env;
  const env = { PATH, HOME, TMPDIR, ...(options.database === false ? {} : { DATABASE_URL: database.url }), ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], { cwd: projectRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

const json = (run: Run) => {
  expect(run.stderr, run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as Record<string, any>;
};

beforeAll(async () => {
  database = await createMigratedDatabase();
});
afterAll(async () => {
  await database?.drop();
});

describe('npm run admin', { timeout: 120_000 }, () => {
  it('prints usage and exits 2 on a missing or unknown command, unknown flags, missing or malformed values; 1 without DATABASE_URL', async () => {
    const [none, unknown, badFlag, missing, badJson, positional, help, noDb, count] = await Promise.all([
      admin([]),
      admin(['drop-everything']),
      admin(['show-client', '--id', 'x', '--colour', 'red']),
      admin(['show-client']),
      admin(['upsert-client', '--id', 'telegram:1', '--limits', '{guard:']),
      admin(['store-credentials', '--id', 'x', '--exchange', 'binance', '--api-key', 'AKIA-secret-key-000111', 'stray-SECRET-value-999']),
      admin(['list-credentials', '--help']),
      admin(['list-clients'], { database: false }),
      admin(['issue-license', '--tier', 'pro', '--count', '0']),
    ]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: npm run admin -- <command>');
    for (const name of ['list-clients', 'show-client', 'upsert-client', 'store-credentials', 'list-credentials', 'issue-license', 'revoke-license', 'pool', 'rotate-master-key']) {
      expect(none.stdout).toContain(`  ${name} `);
    }
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('admin: unknown command "drop-everything"');
    expect(unknown.stderr).toContain('Usage: npm run admin -- <command>');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("Unknown option '--colour'");
    expect(badFlag.stderr).toContain('Usage: npm run admin -- show-client --id <client> [--json]');
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain('admin: missing --id');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--limits is not valid JSON');
    expect(badJson.stderr).toContain('Usage: npm run admin -- upsert-client');
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain('unexpected argument');
    expect(positional.stderr + positional.stdout).not.toContain('SECRET');
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Usage: npm run admin -- list-credentials --id <client> [--json]');
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain('admin: DATABASE_URL is not set');
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--count must be a whole number from 1 to 50');
    expect(await database.db.auditEntry.count()).toBe(0);
  });

  it('upsert-client creates, updates, suspends and reinstates a client, list-clients and show-client print tables or --json; refusals exit 2; all audited as cli', async () => {
    const created = json(
      await admin(['upsert-client', '--id', 'telegram:9001', '--name', 'Demo Client', '--plan', 'starter', '--limits', '{"guard":{"maxGlobalDrawdownUsd":200}}', '--json']),
    );
    expect(created).toMatchObject({
      created: true,
      client: { name: 'Demo Client', plan: 'starter', status: 'inactive', limits: { guard: { maxGlobalDrawdownUsd: 200 } }, identities: [{ platform: 'telegram', external_id: '9001' }] },
      issued_license: { tier: 'starter', status: 'issued', capital_usd: '5000.00' },
    });
    const id: string = created.client.id;
    const key: string = created.issued_license.key;
    expect(key).toMatch(/^AIT-/);

    const [list, listJson, show, refused, plan, unknown] = await Promise.all([
      admin(['list-clients']),
      admin(['list-clients', '--json']),
      admin(['show-client', '--id', 'telegram:9001']),
      admin(['upsert-client', '--id', id, '--reason', 'late', '--limits', '{"risk":{"bankrollUsd":500}}']),
      admin(['upsert-client', '--id', id, '--plan', 'pro']),
      admin(['show-client', '--id', '@nobody', '--json']),
    ]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+OWNER\s+PLAN\s+STATUS\s+IDENTITIES\s+KEYS$/m);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+Demo Client\\s+-\\s+starter\\s+inactive\\s+telegram:9001\\s+0$`, 'm'));
    expect(list.stdout).toContain('1 client(s)');
    expect(json(listJson).clients).toEqual([expect.objectContaining({ id, name: 'Demo Client', plan: 'starter', credential_count: 0 })]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`Client ${id}`);
    expect(show.stdout).toContain('limits      {"guard":{"maxGlobalDrawdownUsd":200}}');
    expect(show.stdout).toMatch(/AIT-\*{4}-\*{4}-\w{4}\s+starter\s+issued\s+\$5,000/);
    // The key was shown once, at issue; never again.
    expect(show.stdout).not.toContain(key);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('reason goes with status "suspended"');
    expect(refused.stderr).toContain('limits.risk has no setting "bankrollUsd"; valid settings are capital_reserve_pct, base_order_pct');
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain('revoke-license followed by issue-license');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('admin: user_not_found');

    // Suspend with an owner and run risk defaults: risk joins the guard section already there.
    const suspended = json(
      await admin(['upsert-client', '--id', id, '--status', 'suspended', '--reason', 'chargeback', '--owner', 'ops', '--limits', '{"risk":{"capital_reserve_pct":20}}', '--json']),
    );
    expect(suspended).toMatchObject({
      stopped: { runs: [], follows: 0 },
      client: { status: 'suspended', suspend_reason: 'chargeback', owner: 'ops', limits: { guard: { maxGlobalDrawdownUsd: 200 }, risk: { capital_reserve_pct: 20 } } },
    });
    expect((await database.db.user.findUniqueOrThrow({ where: { id } })).suspendedAt).toEqual(new Date(suspended.client.suspended_at));

    const renamed = json(await admin(['upsert-client', '--id', '9001', '--name', 'Renamed', '--owner', 'null', '--status', 'active', '--limits', 'null', '--json']));
    expect(renamed).toMatchObject({ created: false, issued_license: null, client: { id, name: 'Renamed', owner: null, status: 'inactive', suspended_at: null, limits: null } });
    const actions = await database.db.auditEntry.findMany({ where: { actorType: 'admin' }, orderBy: { id: 'asc' } });
    expect(actions.map((a) => [a.action, a.actorId])).toEqual([
      ['user.created', 'cli'],
      ['license.issued', 'cli'],
      ['user.renamed', 'cli'],
      ['user.limits_set', 'cli'],
      ['user.owner_set', 'cli'],
      ['user.limits_set', 'cli'],
      ['user.suspended', 'cli'],
      ['user.renamed', 'cli'],
      ['user.owner_set', 'cli'],
      ['user.limits_set', 'cli'],
      ['user.reinstated', 'cli'],
    ]);
    expect(await database.db.user.findUniqueOrThrow({ where: { id } })).toMatchObject({ limits: null, owner: null, suspendedAt: null, suspendReason: null });
  });

  it('store-credentials encrypts under CLIENT_MASTER_KEY and never prints secrets; list-credentials shows metadata only', async () => {
    const apiKey = `AK${randomBytes(12).toString('hex')}`;
    const apiSecret = `SS${randomBytes(16).toString('hex')}`;
    const okxSecret = `OS${randomBytes(16).toString('hex')}`;
    const env = { CLIENT_MASTER_KEY: MASTER };
    const [noKey, stored, fromStdin, badKey] = await Promise.all([
      admin(['store-credentials', '--id', '9001', '--exchange', 'binance', '--api-key', apiKey, '--api-secret', apiSecret]),
      admin(['store-credentials', '--id', '9001', '--exchange', 'binance', '--api-key', apiKey, '--api-secret', apiSecret, '--json'], { env }),
      admin(['store-credentials', '--id', '9001', '--exchange', 'okx', '--api-key', apiKey, '--passphrase', 'okx-pass-phrase', '--api-secret-stdin'], { env, stdin: `${okxSecret}\n` }),
      admin(['store-credentials', '--id', '9001', '--exchange', 'kraken', '--api-key', 'short', '--api-secret', apiSecret], { env }),
    ]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('CLIENT_MASTER_KEY is not set');
    expect(json(stored).credential).toEqual(expect.objectContaining({ exchange: 'binance', label: 'default', api_key_last4: apiKey.slice(-4), has_passphrase: false }));
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toContain(`Stored OKX keys ("default", key …${apiKey.slice(-4)}) encrypted under master key ${await keyFingerprint(await parseMasterKey(MASTER))}.`);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('invalid_credentials_input: The API key should be 16 to 256 characters');

    const [list, listJson] = await Promise.all([admin(['list-credentials', '--id', '9001']), admin(['list-credentials', '--id', '9001', '--json'])]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^EXCHANGE\s+LABEL\s+API KEY\s+PASSPHRASE\s+UPDATED$/m);
    expect(list.stdout).toMatch(new RegExp(`^binance\\s+default\\s+…${apiKey.slice(-4)}\\s+no`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^okx\\s+default\\s+…${apiKey.slice(-4)}\\s+yes`, 'm'));
    expect(json(listJson).credentials.map((c: { exchange: string }) => c.exchange)).toEqual(['binance', 'okx']);

    for (const run of [noKey, stored, fromStdin, badKey, list, listJson]) {
      for (const secret of [apiKey, apiSecret, okxSecret, 'okx-pass-phrase', MASTER]) {
        expect(run.stdout + run.stderr).not.toContain(secret);
      }
    }
    const rows = await database.db.exchangeCredential.findMany({ orderBy: { exchange: 'asc' } });
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      const bytes = Buffer.from(row.ciphertext).toString('latin1');
      expect(bytes).not.toContain(apiSecret);
      expect(bytes).not.toContain(okxSecret);
    }
    const vault = await Vault.create({ key: await parseMasterKey(MASTER) });
    const userId = rows[0]!.userId;
    expect(await decryptCredentials({ ...database.deps, vault }, { userId, exchange: 'okx' })).toEqual({ ok: true, value: { apiKey, apiSecret: okxSecret, passphrase: 'okx-pass-phrase' } });
    const audit = await database.db.auditEntry.findMany({ where: { entityType: 'credential' } });
    expect(audit.map((a) => [a.action, a.actorId])).toEqual([
      ['credential.added', 'cli'],
      ['credential.added', 'cli'],
    ]);

    // Another master key than the one the rows use is refused before anything is written.
    const wrong = await admin(['store-credentials', '--id', '9001', '--exchange', 'bybit', '--api-key', apiKey, '--api-secret', apiSecret], {
      env: { CLIENT_MASTER_KEY: randomBytes(32).toString('hex') },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('is not the key the stored credentials use');
    expect(await database.db.exchangeCredential.count()).toBe(2);
  });

  it('issue-license, revoke-license and pool go through the capacity pool', async () => {
    const issued = json(await admin(['issue-license', '--tier', 'pro', '--count', '2', '--json'])).issued as { key: string; tier: string; capital_usd: string }[];
    expect(issued.map((l) => [l.tier, l.capital_usd])).toEqual([
      ['pro', '25000.00'],
      ['pro', '25000.00'],
    ]);
    // The starter license from the upsert test plus these two.
    const [pool, poolText] = await Promise.all([admin(['pool', '--json']), admin(['pool'])]);
    const [byKey, forClient, unknownTier] = await Promise.all([
      admin(['revoke-license', '--key', issued[0]!.key, '--reason', 'test revoke', '--json']),
      admin(['issue-license', '--tier', 'trader', '--id', 'telegram:9001']),
      admin(['issue-license', '--tier', 'platinum']),
    ]);
    expect(json(pool)).toMatchObject({ cap_usd: '2500000.00', committed_usd: '55000.00', held_usd: '0.00' });
    expect(poolText.stdout).toContain('cap $2,500,000 · committed $55,000');
    expect(poolText.stdout).toMatch(/^whale\s+Whale\s+\$100,000\s+yes$/m);
    expect(json(byKey).revoked).toEqual([expect.objectContaining({ tier: 'pro', status: 'revoked' })]);
    expect(forClient.code).toBe(0);
    expect(forClient.stdout).toMatch(/Issued 1 trader license\(s\); the keys are shown only now:\n {2}AIT-/);
    expect(unknownTier.code).toBe(2);
    expect(unknownTier.stderr).toContain('tier_not_found');

    const revokeAll = await admin(['revoke-license', '--id', 'telegram:9001']);
    expect(revokeAll.code).toBe(0);
    expect(revokeAll.stdout).toMatch(/^Revoked AIT-\*{4}-\*{4}-\w{4} \(starter\), AIT-\*{4}-\*{4}-\w{4} \(trader\)\.$/m);
    const [after, both, again] = await Promise.all([
      admin(['pool', '--json']),
      admin(['revoke-license', '--key', issued[1]!.key, '--id', '9001']),
      admin(['revoke-license', '--key', issued[0]!.key]),
    ]);
    expect(json(after).committed_usd).toBe('25000.00');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give exactly one of --key or --id');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Nothing to revoke');
    const revoked = await database.db.auditEntry.findMany({ where: { action: 'license.revoked' } });
    expect(revoked.map((a) => a.actorId)).toEqual(['cli', 'cli', 'cli']);
  });

  it('rotate-master-key re-encrypts every stored key under NEW_CLIENT_MASTER_KEY, audited, without printing keys', async () => {
    const next = 'the next master passphrase for the vault';
    const [missing, done] = [
      await admin(['rotate-master-key'], { env: { CLIENT_MASTER_KEY: MASTER } }),
      await admin(['rotate-master-key', '--json'], { env: { CLIENT_MASTER_KEY: MASTER, NEW_CLIENT_MASTER_KEY: next } }),
    ];
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NEW_CLIENT_MASTER_KEY is not set');
    const [from, to] = [await keyFingerprint(await parseMasterKey(MASTER)), await keyFingerprint(await parseMasterKey(next))];
    expect(json(done)).toEqual({ rotated: 2, already_current: 0, from_version: from, to_version: to });
    for (const run of [missing, done]) {
      expect(run.stdout + run.stderr).not.toContain(MASTER);
      expect(run.stdout + run.stderr).not.toContain(next);
    }
    expect(await database.db.exchangeCredential.count({ where: { keyVersion: to } })).toBe(2);
    const row = await database.db.exchangeCredential.findFirstOrThrow({ where: { exchange: 'okx' } });
    const newVault = await Vault.create({ key: await parseMasterKey(next) });
    const oldVault = await Vault.create({ key: await parseMasterKey(MASTER) });
    expect(await decryptCredentials({ ...database.deps, vault: newVault }, { userId: row.userId, exchange: 'okx' })).toMatchObject({ ok: true, value: { passphrase: 'okx-pass-phrase' } });
    expect(await decryptCredentials({ ...database.deps, vault: oldVault }, { userId: row.userId, exchange: 'okx' })).toMatchObject({ ok: false, error: { code: 'credentials_undecryptable' } });
    expect(await database.db.auditEntry.findMany({ where: { action: 'credential.master_key_rotated' } })).toEqual([
      expect.objectContaining({ actorId: 'cli', after: { rotated: 2, alreadyCurrent: 0, fromVersion: from, toVersion: to } }),
    ]);
  });
});
