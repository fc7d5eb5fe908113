// Self-hosted bot packages served by /v1/updates: files named ait-bot-<version>.tar.gz in the
// releases directory (BOT_RELEASES_DIR). The newest stable version is "latest"; pre-releases can
// be downloaded by their exact version but are never offered as an update. A version must match
// strict semver before it gets near a file name, so no request can name a path.
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { appError } from '../kernel/errors.ts';
import { err, ok, type Result } from '../kernel/result.ts';

const IDENT = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
/** MAJOR.MINOR.PATCH with an optional pre-release (semver 2.0.0, build metadata not allowed). */
export const RELEASE_VERSION_PATTERN = new RegExp(`^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-(${IDENT}(?:\\.${IDENT})*))?$`);
const FILE_PATTERN = /^ait-bot-(.+)\.tar\.gz$/;
/** A version longer than this is not a version. */
const MAX_VERSION_LENGTH = 64;

export const isReleaseVersion = (text: string): boolean => text.length <= MAX_VERSION_LENGTH && RELEASE_VERSION_PATTERN.test(text);
export const releaseFileName = (version: string): string => `ait-bot-${version}.tar.gz`;

/** Semver precedence: negative when a < b. Both must be release versions. */
export function compareVersions(a: string, b: string): number {
  const [ma, mb] = [RELEASE_VERSION_PATTERN.exec(a), RELEASE_VERSION_PATTERN.exec(b)];
  if (!ma || !mb) throw new RangeError(`not a release version: ${!ma ? a : b}`);
  for (let i = 1; i <= 3; i++) {
    const d = compareNumeric(ma[i]!, mb[i]!);
    if (d !== 0) return d;
  }
  const [pa, pb] = [ma[4], mb[4]];
  if (pa === undefined || pb === undefined) return pa === pb ? 0 : pa === undefined ? 1 : -1; // 1.0.0-rc.1 < 1.0.0
  const [xa, xb] = [pa.split('.'), pb.split('.')];
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const [na, nb] = [/^\d+$/.test(xa[i]!), /^\d+$/.test(xb[i]!)];
    const d = na && nb ? compareNumeric(xa[i]!, xb[i]!) : na !== nb ? (na ? -1 : 1) : xa[i]! < xb[i]! ? -1 : xa[i]! > xb[i]! ? 1 : 0;
    if (d !== 0) return d;
  }
  return xa.length - xb.length;
}

/** Digit strings without leading zeros, compared without turning them into (possibly unsafe) numbers. */
const compareNumeric = (a: string, b: string): number => (a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0);

const isStable = (version: string): boolean => !version.includes('-');

export interface BotRelease {
  readonly version: string;
  readonly fileName: string;
  readonly size: number;
  readonly sha256: string;
}

export interface OpenedRelease {
  readonly release: BotRelease;
  /** The package's bytes; the file stays open until the stream ends or is destroyed. */
  readonly stream: Readable;
}

export interface UpdateCheck {
  /** Null when no release is published. */
  readonly latest: BotRelease | null;
  readonly updateAvailable: boolean;
}

/**
 * The releases directory. Checksums are computed once per file (same size and modification
 * time) and kept; a replaced file is hashed again.
 */
export class BotReleases {
  readonly #checksums = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

  constructor(readonly dir: string) {}

  /** Every published version, oldest first; none when the directory does not exist. */
  async versions(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // Symbolic links are allowed (a deploy may link packages in); open() checks they end at a file.
    const versions = entries.flatMap((entry) => {
      const version = entry.isFile() || entry.isSymbolicLink() ? FILE_PATTERN.exec(entry.name)?.[1] : undefined;
      return version && isReleaseVersion(version) ? [version] : [];
    });
    return versions.sort(compareVersions);
  }

  /** The newest stable version's number, without reading the file. */
  async latestVersion(): Promise<string | null> {
    return (await this.versions()).filter(isStable).at(-1) ?? null;
  }

  async latest(): Promise<BotRelease | null> {
    const version = await this.latestVersion();
    if (!version) return null;
    const found = await this.find(version);
    return found.ok ? found.value : null;
  }

  async find(version: string): Promise<Result<BotRelease>> {
    const opened = await this.open(version);
    if (!opened.ok) return opened;
    opened.value.stream.destroy();
    return ok(opened.value.release);
  }

  /** The package to download: release_not_found unless `version` is a published release. */
  async open(version: string): Promise<Result<OpenedRelease>> {
    if (!isReleaseVersion(version)) return err(appError('release_not_found'));
    const fileName = releaseFileName(version);
    let handle: FileHandle;
    try {
      handle = await open(join(this.dir, fileName), 'r');
    } catch (error) {
      if (['ENOENT', 'EISDIR', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return err(appError('release_not_found'));
      throw error;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        return err(appError('release_not_found'));
      }
      const sha256 = await this.#checksum(handle, fileName, stat.size, stat.mtimeMs);
      // Read through the same handle that was hashed: a file swapped meanwhile cannot mismatch.
      const stream = handle.createReadStream({ start: 0, autoClose: true });
      return ok({ release: { version, fileName, size: stat.size, sha256 }, stream });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /** Latest release and whether it is newer than `current`; invalid_input when `current` is not a version. */
  async check(current: string): Promise<Result<UpdateCheck>> {
    if (!isReleaseVersion(current)) {
      return err(appError('invalid_input', { field: 'current' }, 'current must be the running version, like 2.4.1.'));
    }
    const latest = await this.latest();
    return ok({ latest, updateAvailable: latest !== null && compareVersions(latest.version, current) > 0 });
  }

  async #checksum(handle: FileHandle, fileName: string, size: number, mtimeMs: number): Promise<string> {
    const known = this.#checksums.get(fileName);
    if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ start: 0, autoClose: false })) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    this.#checksums.set(fileName, { size, mtimeMs, sha256 });
    return sha256;
  }
}
