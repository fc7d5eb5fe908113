// REST API v1, part 3: bot updates served from a releases directory (check, download with its
// checksum, no way out of the directory) and the heartbeat's newest version.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotReleases, compareVersions, isReleaseVersion } from '../../src/app/bot-releases.ts';
import { PUBLIC_BASE_URL, startApiHarness, type ApiHarness, type Bot } from '../support/api-v1.ts';

let api: ApiHarness;
let root: string;
let releasesDir: string;
let bot: Bot;
const packages = new Map<string, Buffer>();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ait-releases-'));
  releasesDir = join(root, 'releases');
  await mkdir(releasesDir);
  // 2.10.0 is newer than 2.9.0 (not by string order); 3.0.0-rc.1 is a pre-release, never "latest".
  for (const [version, size] of [['2.4.1', 1000], ['2.9.0', 2000], ['2.10.0', 300_000], ['3.0.0-rc.1', 10]] as const) {
    const data = Buffer.alloc(size, version);
    packages.set(version, data);
    await writeFile(join(releasesDir, `ait-bot-${version}.tar.gz`), data);
  }
  await writeFile(join(releasesDir, 'README.txt'), 'not a package');
  await writeFile(join(releasesDir, 'ait-bot-latest.tar.gz'), 'not a version');
  await mkdir(join(releasesDir, 'ait-bot-9.9.9.tar.gz')); // a directory, not a package
  // Outside the releases directory: must never be served.
  await writeFile(join(root, 'ait-bot-7.7.7.tar.gz'), 'secret');
  await writeFile(join(root, 'secret.tar.gz'), 'secret');
  api = await startApiHarness({ releasesDir });
  bot = await api.bot();
});
afterAll(async () => {
  await api?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('GET /v1/updates/check', () => {
  it('names the newest stable release with its link, checksum and size', async () => {
    const response = await api.call('GET', '/v1/updates/check?current=2.9.0', bot.key);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      latest: '2.10.0',
      update_available: true,
      download_url: `${PUBLIC_BASE_URL}/v1/updates/download/2.10.0`,
      sha256: sha256(packages.get('2.10.0')!),
      size: 300_000,
    });
  });

  it('no update when current is the latest or newer (a pre-release of the next major)', async () => {
    for (const current of ['2.10.0', '3.0.0-rc.1']) {
      const response = await api.call('GET', `/v1/updates/check?current=${current}`, bot.key);
      expect(response.json()).toMatchObject({ latest: '2.10.0', update_available: false });
    }
  });

  it('a missing or malformed current version is 400; no bearer is 401', async () => {
    for (const query of ['', '?current=', '?current=2.4', '?current=v2.4.1', '?current=../../x']) {
      const response = await api.call('GET', `/v1/updates/check${query}`, bot.key);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'bad_request', problems: [{ field: 'current' }] });
    }
    expect((await api.call('GET', '/v1/updates/check?current=2.4.1', null)).statusCode).toBe(401);
  });

  it('without any release: latest null; the heartbeat falls back to the parameter set version', async () => {
    const empty = await startApiHarness({ releasesDir: join(root, 'missing'), database: api.database });
    const b = await empty.bot();
    expect((await empty.call('GET', '/v1/updates/check?current=1.0.0', b.key)).json()).toEqual({
      latest: null,
      update_available: false,
      download_url: null,
      sha256: null,
      size: null,
    });
    expect((await empty.call('GET', '/v1/auth/heartbeat', b.key)).json().bot_version_latest).toBe('2.4.1');
    await empty.close();
  });

  it('the heartbeat names the newest release', async () => {
    expect((await api.call('GET', '/v1/auth/heartbeat', bot.key)).json().bot_version_latest).toBe('2.10.0');
  });
});

describe('GET /v1/updates/download/{version}', () => {
  it('streams the package with its checksum header', async () => {
    const response = await api.call('GET', '/v1/updates/download/2.10.0', bot.key);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/gzip');
    expect(response.headers['content-disposition']).toBe('attachment; filename="ait-bot-2.10.0.tar.gz"');
    expect(response.headers['content-length']).toBe('300000');
    expect(response.rawPayload.equals(packages.get('2.10.0')!)).toBe(true);
    expect(response.headers['x-checksum-sha256']).toBe(sha256(response.rawPayload));
  });

  it('pre-releases can be downloaded by their exact version', async () => {
    const response = await api.call('GET', '/v1/updates/download/3.0.0-rc.1', bot.key);
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload.equals(packages.get('3.0.0-rc.1')!)).toBe(true);
  });

  it('a replaced package is hashed again', async () => {
    const data = Buffer.from('a rebuilt 2.4.1 package');
    await writeFile(join(releasesDir, 'ait-bot-2.4.1.tar.gz'), data);
    const response = await api.call('GET', '/v1/updates/download/2.4.1', bot.key);
    expect(response.headers['x-checksum-sha256']).toBe(sha256(data));
    expect(response.rawPayload.equals(data)).toBe(true);
  });

  it('unknown versions, non-versions and paths out of the directory are 404 release_not_found', async () => {
    const attempts = ['9.9.9', '5.0.0', 'latest', '..%2Fait-bot-7.7.7', '1.0.0%2F..%2F..%2Fsecret', '..%2F..%2Fsecret', '7.7.7'];
    for (const version of attempts) {
      const response = await api.call('GET', `/v1/updates/download/${version}`, bot.key);
      expect(response.statusCode, version).toBe(404);
      expect(response.json().error, version).toBe('release_not_found');
    }
    // Not even routed: a raw or encoded ../ leaves the route.
    for (const path of ['/v1/updates/download/../secret', '/v1/updates/download/%2E%2E', '/v1/updates/download/../../secret.tar.gz']) {
      const raw = await api.call('GET', path, bot.key);
      expect(raw.statusCode, path).toBe(404);
      expect(raw.headers['content-type'], path).toMatch(/^application\/json/);
    }
  });

  it('needs an activated license', async () => {
    expect((await api.call('GET', '/v1/updates/download/2.10.0', null)).statusCode).toBe(401);
    const { key } = await api.issueKey();
    expect((await api.call('GET', '/v1/updates/download/2.10.0', key)).statusCode).toBe(403);
  });
});

describe('releases', () => {
  it('semver precedence, strictly parsed', () => {
    const sorted = ['1.0.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta', '1.0.0-alpha.beta', '1.0.0-rc.1', '1.0.0-beta.11', '1.0.0-beta.2', '0.9.10', '0.9.9'].sort(compareVersions);
    expect(sorted).toEqual(['0.9.9', '0.9.10', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']);
    for (const bad of ['01.0.0', '1.0', '1.0.0+build', '1.0.0-', '1.0.0-01', 'v1.0.0', '1.0.0/..', '']) expect(isReleaseVersion(bad), bad).toBe(false);
  });

  it('a symbolic link to a package inside is served; versions() ignores non-packages', async () => {
    await symlink(join(releasesDir, 'ait-bot-2.9.0.tar.gz'), join(releasesDir, 'ait-bot-2.9.1.tar.gz'));
    const releases = new BotReleases(releasesDir);
    expect(await releases.versions()).toEqual(['2.4.1', '2.9.0', '2.9.1', '2.10.0', '3.0.0-rc.1']);
    const found = await releases.find('2.9.1');
    expect(found.ok && found.value.sha256).toBe(sha256(packages.get('2.9.0')!));
  });
});
