import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, CommandFailedError, FailedPreconditionError, InternalError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Shell } from '../shell.js';
import { CLONE_GROUP, ensureQuotas, qgroupExclusive, quotasOn, type QuotaMode } from './btrfs-quota.js';
import { cloneGroupLimit, type CloneGroupUsage } from './clone-group.js';
import { BTRFS_SUPER_MAGIC, mountBtrfsPool, removeBtrfsPool, unmountBtrfsPool, type BtrfsPoolConfig } from './btrfs-pool.js';
import { assertVolumeId, mapNoSpace } from './driver-errors.js';
import type { DataMount, PoolSpace, StorageDriver } from './driver.js';

export interface BtrfsDriverDeps {
  shell: Shell;
  logger: Logger;
  /** The effective user id (injected by tests; defaults to process.getuid). */
  getuid?: () => number;
}

/** A subvolume's root directory always has this inode number. */
const SUBVOLUME_INODE = 256;
const NO_SPACE_HINT = 'grow the pool (`btrfs filesystem resize`) or destroy clones and snapshots you no longer need';

/**
 * StorageDriver on a btrfs pool: each volume is a subvolume at `<mountpoint>/volumes/<id>`.
 * snapshot() and clone() are writable subvolume snapshots (atomic, O(1)); seal() sets the
 * subvolume's `ro` property. exclusiveBytes() reads `btrfs filesystem du` (no quotas needed).
 * Quotas (limit, reserveFree) are simple quotas where the kernel has them: every clone is made
 * straight into the qgroup CLONE_GROUP (`snapshot -i`), which costs no rescan only in that mode.
 */
export class BtrfsDriver implements StorageDriver {
  readonly name = 'btrfs';
  readonly atomic = true;
  private quotas: QuotaMode | undefined;
  private warnedFull = false;

  constructor(
    private readonly config: BtrfsPoolConfig,
    private readonly deps: BtrfsDriverDeps,
  ) {}

  async open(): Promise<void> {
    await mountBtrfsPool(this.config, this.deps);
  }

  async close(): Promise<void> {
    await unmountBtrfsPool(this.config, this.deps);
  }

  /** Deletes every volume, then the pool; an image or device pool whose source is gone is removed all the same. */
  async destroy(): Promise<void> {
    try {
      await this.open();
      for (const id of await this.list()) await this.remove(id);
    } catch (error) {
      if (!(error instanceof FailedPreconditionError) || this.config.directory !== undefined) throw error;
      this.deps.logger.warn('the btrfs pool cannot be opened; removing it without deleting its volumes one by one', { reason: error.message });
    }
    await removeBtrfsPool(this.config, this.deps);
  }

  async createVolume(id: string): Promise<DataMount> {
    const path = await this.freePath(id);
    await this.btrfs(['subvolume', 'create', path], `creating volume ${id}`, path);
    return { kind: 'path', path };
  }

  async snapshot(sourceId: string, id: string, options: { cloneGroup?: boolean } = {}): Promise<DataMount> {
    const source = await this.existingPath(sourceId);
    const path = await this.freePath(id);
    // A branch joins the clones' qgroup as it is made, like a clone: what its prepare writes counts there.
    const group = options.cloneGroup === true && (await this.cloneGroupExists()) ? ['-i', CLONE_GROUP] : [];
    await this.btrfs(['subvolume', 'snapshot', ...group, source, path], `snapshotting ${sourceId}`, path);
    return { kind: 'path', path };
  }

  async seal(id: string): Promise<void> {
    const path = await this.existingPath(id);
    await this.btrfs(['property', 'set', '-ts', path, 'ro', 'true'], `sealing ${id}`);
  }

  async clone(snapshotId: string, id: string): Promise<DataMount> {
    const source = await this.existingPath(snapshotId);
    if (!(await this.isSealed(source))) {
      throw new FailedPreconditionError(`snapshot ${snapshotId} is not sealed`, { hint: 'seal (prepare) the snapshot before cloning it' });
    }
    const path = await this.freePath(id);
    const group = (await this.cloneGroupExists()) ? ['-i', CLONE_GROUP] : [];
    await this.btrfs(['subvolume', 'snapshot', ...group, source, path], `cloning ${snapshotId}`, path);
    return { kind: 'path', path };
  }

  async remove(id: string): Promise<void> {
    const path = await this.existingPath(id);
    // A read-only subvolume can be deleted as it is; its clones are independent subvolumes.
    // btrfs frees a deleted subvolume's extents in the background, after the next commit (up to
    // 30 s later); until then the space is not back, and a replica made again right after its
    // volume went found the pool full. Committing at once lets the cleaner free it in milliseconds.
    await this.btrfs(['subvolume', 'delete', '--commit-after', path], `removing ${id}`);
  }

  async discardFree(): Promise<boolean> {
    await this.volumesDir();
    // Deleted subvolumes are freed by the cleaner in the background: wait for it, then trim.
    await this.deps.shell.run('btrfs', ['subvolume', 'sync', this.config.mountpoint]);
    await this.deps.shell.run('fstrim', [this.config.mountpoint]);
    return true;
  }

  async mount(id: string): Promise<DataMount> {
    return { kind: 'path', path: await this.existingPath(id) };
  }

  async exists(id: string): Promise<boolean> {
    assertVolumeId(id);
    return isSubvolume(join(await this.volumesDir(), id));
  }

  async list(): Promise<string[]> {
    const dir = await this.volumesDir();
    const ids: string[] = [];
    for (const entry of await readdir(dir)) {
      if (await isSubvolume(join(dir, entry))) ids.push(entry);
    }
    return ids.sort();
  }

  async exclusiveBytes(id: string): Promise<number> {
    const path = await this.existingPath(id);
    const { stdout } = await this.deps.shell.run('btrfs', ['filesystem', 'du', '-s', '--raw', path]);
    // "     Total   Exclusive  Set shared  Filename" then one line of numbers.
    const exclusive = Number(stdout.trim().split('\n').at(-1)?.trim().split(/\s+/)[1]);
    if (!Number.isSafeInteger(exclusive)) throw new InternalError(`unexpected output of btrfs filesystem du: ${stdout.trim()}`);
    return exclusive;
  }

  /** A qgroup limit on the subvolume's exclusive bytes (quotas are turned on for the pool the first time). */
  async limit(id: string, bytes: number): Promise<boolean> {
    const path = await this.existingPath(id);
    await this.quotaMode();
    await this.btrfs(['qgroup', 'limit', '-e', String(bytes), path], `limiting ${id}`);
    return true;
  }

  /**
   * A limit on the exclusive bytes of the level-1 qgroup CLONE_GROUP, made the first time. Only on
   * simple quotas: on full ones (a pool whose quotas an older dolly turned on, or a kernel before
   * 6.7) each clone joining the group would mark the pool's accounting inconsistent, and btrfs then
   * counts nothing, per-clone limits included, until a whole-pool rescan.
   */
  async reserveFree(reserveBytes: number): Promise<CloneGroupUsage | null> {
    await this.volumesDir();
    if ((await this.quotaMode()) !== 'simple') {
      if (!this.warnedFull) this.deps.logger.debug('the pool has full btrfs quotas: clones are limited one by one, not together', { hint: 'a pool made by this dolly on a 6.7+ kernel has simple quotas' });
      this.warnedFull = true;
      return null;
    }
    const mountpoint = this.config.mountpoint;
    let held = await qgroupExclusive(mountpoint, CLONE_GROUP, this.deps.shell);
    if (held === null) {
      // Clones created at once all find no group the first time: one creates it, the others see it made.
      await this.btrfs(['qgroup', 'create', CLONE_GROUP, mountpoint], 'creating the clones\' qgroup').catch((error: unknown) => {
        if (!(error instanceof CommandFailedError && /File exists/.test(error.stderr))) throw error;
      });
      held = (await qgroupExclusive(mountpoint, CLONE_GROUP, this.deps.shell)) ?? 0;
    }
    const { freeBytes } = await this.space();
    const limitBytes = cloneGroupLimit(held, freeBytes, reserveBytes);
    await this.btrfs(['qgroup', 'limit', '-e', String(limitBytes), CLONE_GROUP, mountpoint], 'limiting the clones together');
    return { heldBytes: held, limitBytes };
  }

  async space(): Promise<PoolSpace> {
    await this.volumesDir();
    const fs = await statfs(this.config.mountpoint);
    return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  }

  private async quotaMode(): Promise<QuotaMode> {
    this.quotas ??= await ensureQuotas(this.config.mountpoint, this.deps.shell).catch((error: unknown) => {
      throw mapNoSpace(error, 'turning on quotas', NO_SPACE_HINT);
    });
    return this.quotas;
  }

  /** Whether reserveFree() made the clones' qgroup (quotas off: no). */
  private async cloneGroupExists(): Promise<boolean> {
    if (this.quotas === undefined && !(await quotasOn(this.config.mountpoint, this.deps.shell))) return false;
    return (await qgroupExclusive(this.config.mountpoint, CLONE_GROUP, this.deps.shell)) !== null;
  }

  /** `<mountpoint>/volumes`, after checking that the pool is mounted. */
  private async volumesDir(): Promise<string> {
    const fs = await statfs(this.config.mountpoint).catch(() => null);
    const dir = join(this.config.mountpoint, 'volumes');
    if (fs?.type !== BTRFS_SUPER_MAGIC || !(await stat(dir).then((s) => s.isDirectory(), () => false))) {
      throw new FailedPreconditionError(`the btrfs pool at ${this.config.mountpoint} is not mounted`, {
        hint: 'open the pool first (`dolly up` mounts it again after a reboot)',
      });
    }
    return dir;
  }

  private async existingPath(id: string): Promise<string> {
    assertVolumeId(id);
    const path = join(await this.volumesDir(), id);
    if (!(await isSubvolume(path))) throw new NotFoundError(`volume ${id} not found`);
    return path;
  }

  private async freePath(id: string): Promise<string> {
    assertVolumeId(id);
    const path = join(await this.volumesDir(), id);
    if (await stat(path).then(() => true, () => false)) throw new AlreadyExistsError(`volume ${id} already exists`);
    return path;
  }

  private async isSealed(path: string): Promise<boolean> {
    const { stdout } = await this.deps.shell.run('btrfs', ['property', 'get', '-ts', path, 'ro']);
    return stdout.trim() === 'ro=true';
  }

  /**
   * Runs one btrfs command; maps "no space left" to ResourceExhaustedError. `made` is the
   * subvolume the command creates: deleted again if it exists after a failure.
   */
  private async btrfs(args: string[], what: string, made?: string): Promise<void> {
    try {
      await this.deps.shell.run('btrfs', args);
    } catch (error) {
      if (made !== undefined && (await isSubvolume(made))) {
        await this.deps.shell.run('btrfs', ['subvolume', 'delete', made], { nothrow: true });
      }
      throw mapNoSpace(error, what, NO_SPACE_HINT);
    }
  }
}

async function isSubvolume(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  return info !== null && info.isDirectory() && info.ino === SUBVOLUME_INODE;
}
