import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, InternalError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Shell } from '../shell.js';
import { assertVolumeId, mapNoSpace } from './driver-errors.js';
import type { DataMount, PoolSpace, StorageDriver } from './driver.js';

/** A pool of plain directories (stored in the state file). */
export type CopyPoolConfig = {
  driver: 'copy';
  directory: string;
};

export interface CopyDriverDeps {
  shell: Shell;
  logger: Logger;
}

const NO_SPACE_HINT = 'free space on the file system of the pool, or destroy clones and snapshots you no longer need';

/**
 * StorageDriver without copy-on-write, for any file system: each volume is a directory at
 * `<directory>/volumes/<id>`; snapshot() and clone() are full copies (`cp -a --reflink=never`),
 * so they take time and disk in proportion to the data, and are not atomic. A copy is made in
 * `<directory>/partial/` and renamed into place when complete, so a failed or interrupted copy
 * never shows up as a volume. seal() records a marker at `<directory>/sealed/<id>`, outside the
 * volume (its content is not made read-only).
 */
export class CopyDriver implements StorageDriver {
  readonly name = 'copy';
  readonly atomic = false;
  private warned = false;

  constructor(
    private readonly config: CopyPoolConfig,
    private readonly deps: CopyDriverDeps,
  ) {}

  private get volumesDir(): string {
    return join(this.config.directory, 'volumes');
  }

  private get sealedDir(): string {
    return join(this.config.directory, 'sealed');
  }

  private get partialDir(): string {
    return join(this.config.directory, 'partial');
  }

  async open(): Promise<void> {
    for (const dir of [this.volumesDir, this.sealedDir, this.partialDir]) await mkdir(dir, { recursive: true, mode: 0o700 });
    // Left over from an interrupted copy or removal.
    for (const entry of await readdir(this.partialDir)) await rm(join(this.partialDir, entry), { recursive: true, force: true });
  }

  async close(): Promise<void> {}

  async destroy(): Promise<void> {
    for (const dir of [this.volumesDir, this.sealedDir, this.partialDir]) await rm(dir, { recursive: true, force: true });
    // The pool directory itself goes only when nothing else is in it.
    await rmdir(this.config.directory).catch(() => undefined);
  }

  async createVolume(id: string): Promise<DataMount> {
    const path = await this.freePath(id);
    try {
      await mkdir(path, { mode: 0o755 });
    } catch (error) {
      throw mapNoSpace(error, `creating volume ${id}`, NO_SPACE_HINT);
    }
    return { kind: 'path', path };
  }

  async snapshot(sourceId: string, id: string): Promise<DataMount> {
    return this.copy(await this.existingPath(sourceId), id, `snapshotting ${sourceId}`);
  }

  async seal(id: string): Promise<void> {
    await this.existingPath(id);
    try {
      await writeFile(join(this.sealedDir, id), '');
    } catch (error) {
      throw mapNoSpace(error, `sealing ${id}`, NO_SPACE_HINT);
    }
  }

  async clone(snapshotId: string, id: string): Promise<DataMount> {
    const source = await this.existingPath(snapshotId);
    if (!(await exists(join(this.sealedDir, snapshotId)))) {
      throw new FailedPreconditionError(`snapshot ${snapshotId} is not sealed`, { hint: 'seal (prepare) the snapshot before cloning it' });
    }
    return this.copy(source, id, `cloning ${snapshotId}`);
  }

  async remove(id: string): Promise<void> {
    const path = await this.existingPath(id);
    // Out of sight at once; a removal cut short is finished by the next open().
    const doomed = join(this.partialDir, `${id}.${randomUUID()}`);
    await rename(path, doomed);
    await rm(join(this.sealedDir, id), { force: true });
    await rm(doomed, { recursive: true, force: true });
  }

  async mount(id: string): Promise<DataMount> {
    return { kind: 'path', path: await this.existingPath(id) };
  }

  async exists(id: string): Promise<boolean> {
    assertVolumeId(id);
    return isDirectory(join(await this.ready(), id));
  }

  async list(): Promise<string[]> {
    const entries = await readdir(await this.ready(), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  }

  async exclusiveBytes(id: string): Promise<number> {
    const path = await this.existingPath(id);
    const { stdout } = await this.deps.shell.run('du', ['-s', '-B1', path]);
    const bytes = Number(stdout.trim().split(/\s+/)[0]);
    if (!Number.isSafeInteger(bytes)) throw new InternalError(`unexpected output of du: ${stdout.trim()}`);
    return bytes;
  }

  /** Plain directories and container layers have no per-volume limit: only the pool's floor applies. */
  async limit(id: string): Promise<boolean> {
    if (!(await this.exists(id))) throw new NotFoundError(`volume ${id} not found`);
    return false;
  }

  /** No group limit over the clones either: below the reserve only new clones are refused. */
  async reserveFree(): Promise<null> {
    return null;
  }

  /** The pool is a directory on a file system dolly does not own: nothing dolly may trim. */
  async discardFree(): Promise<boolean> {
    return false;
  }

  async space(): Promise<PoolSpace> {
    const fs = await statfs(await this.ready());
    return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  }

  /** Copies `source` to the new volume `id` through the staging directory. */
  private async copy(source: string, id: string, what: string): Promise<DataMount> {
    const path = await this.freePath(id);
    if (!this.warned) {
      this.warned = true;
      this.deps.logger.warn('the copy driver makes full copies: snapshots and clones take time and disk in proportion to the data');
    }
    const staging = join(this.partialDir, `${id}.${randomUUID()}`);
    try {
      await this.deps.shell.run('cp', ['-a', '--reflink=never', '--', source, staging]);
      await rename(staging, path);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw mapNoSpace(error, what, NO_SPACE_HINT);
    }
    return { kind: 'path', path };
  }

  /** The volumes directory, after checking that the pool is open. */
  private async ready(): Promise<string> {
    const dirs = await Promise.all([this.volumesDir, this.sealedDir, this.partialDir].map(isDirectory));
    if (dirs.includes(false)) {
      throw new FailedPreconditionError(`the copy pool at ${this.config.directory} is not open`, { hint: 'open the pool first (`dolly up`)' });
    }
    return this.volumesDir;
  }

  private async existingPath(id: string): Promise<string> {
    assertVolumeId(id);
    const path = join(await this.ready(), id);
    if (!(await isDirectory(path))) throw new NotFoundError(`volume ${id} not found`);
    return path;
  }

  private async freePath(id: string): Promise<string> {
    assertVolumeId(id);
    const path = join(await this.ready(), id);
    if (await exists(path)) throw new AlreadyExistsError(`volume ${id} already exists`);
    // A marker left by a removal cut short must not make the new volume look sealed.
    await rm(join(this.sealedDir, id), { force: true });
    return path;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
