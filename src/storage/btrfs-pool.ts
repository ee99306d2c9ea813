import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rm, rmdir, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError } from '../errors.js';
import { formatBytes } from '../format.js';
import type { Logger } from '../log.js';
import type { Shell } from '../shell.js';

/**
 * Where a btrfs pool lives (stored in the state file). Exactly one of:
 * - `image`: a sparse image file loop-mounted by dolly at `mountpoint`;
 * - `device`: a block device mounted by dolly at `mountpoint`;
 * - `directory`: a btrfs directory mounted by somebody else, used in place (`mountpoint` = it).
 */
export type BtrfsPoolConfig = {
  driver: 'btrfs';
  mountpoint: string;
  image?: string;
  device?: string;
  directory?: string;
  /** Devices added later (`dolly pool grow --add-device`): scanned before the pool is mounted. */
  added_devices?: string[];
};

export interface BtrfsPoolOptions {
  /** dolly's root directory; the image is `<root>/pool.img`, the mount point `<root>/pool`. */
  root: string;
  /** Size of the sparse image file (default 20G). */
  size?: string;
  device?: string;
  directory?: string;
}

export interface BtrfsPoolDeps {
  shell: Shell;
  logger: Logger;
  /** The effective user id (injected by tests; defaults to process.getuid). */
  getuid?: () => number;
}

export const BTRFS_SUPER_MAGIC = 0x9123683e;
const MIN_POOL_BYTES = 128 * 1024 ** 2;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Parses a size such as `512M`, `20G`, `1T` (binary units; a bare number is bytes). */
export function parseSize(text: string): number {
  const match = /^(\d{1,15})([KMGT]?)$/i.exec(text.trim());
  const bytes = match ? Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? Number.NaN) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidArgumentError(`invalid size ${JSON.stringify(text)}`, { hint: 'a whole number with a unit, e.g. 512M, 20G or 1T' });
  }
  return bytes;
}

/**
 * Provisions a btrfs pool for `dolly init --driver btrfs` and leaves it mounted.
 * - default: a sparse `<root>/pool.img`, formatted and loop-mounted at `<root>/pool`;
 * - `device`: used as is when it already holds btrfs; formatted only when blkid finds no
 *   signature at all on it (no file system, partition table or RAID member). Anything else is
 *   refused: dolly never overwrites data (wipe the device yourself if you mean it);
 * - `directory`: an already-mounted btrfs directory, used in place and never unmounted by dolly.
 * On failure it removes what it made (image file, mount point, mount, loop device).
 */
export async function createBtrfsPool(opts: BtrfsPoolOptions, deps: BtrfsPoolDeps): Promise<BtrfsPoolConfig> {
  if (opts.device !== undefined && opts.directory !== undefined) {
    throw new InvalidArgumentError('--device and --directory exclude each other', { hint: 'give one of them, or neither for an image file' });
  }
  if (opts.size !== undefined && (opts.device !== undefined || opts.directory !== undefined)) {
    throw new InvalidArgumentError('--size applies only to a pool image file', { hint: 'drop --size when using --device or --directory' });
  }
  if (opts.directory !== undefined) return adoptDirectory(resolve(opts.directory));
  const bytes = parseSize(opts.size ?? '20G');
  if (opts.device === undefined && bytes < MIN_POOL_BYTES) {
    throw new InvalidArgumentError(`pool size ${opts.size ?? ''} is too small`, { hint: 'a btrfs pool needs at least 128M' });
  }
  assertRoot(deps, 'creating a btrfs pool');
  const mountpoint = join(opts.root, 'pool');
  if (await isMountPoint(mountpoint)) throw new AlreadyExistsError(`${mountpoint} is already mounted`, { hint: 'use the existing pool or unmount it first' });
  await mkdir(opts.root, { recursive: true, mode: 0o700 });
  const undo: Array<() => Promise<void>> = [];
  try {
    await makeEmptyDir(mountpoint, undo);
    const config: BtrfsPoolConfig =
      opts.device === undefined
        ? await makeImage(join(opts.root, 'pool.img'), bytes, mountpoint, deps, undo)
        : await prepareDevice(opts.device, mountpoint, deps);
    undo.push(() => unmountBtrfsPool(config, deps));
    await mountBtrfsPool(config, deps);
    return config;
  } catch (error) {
    for (const step of undo.reverse()) await step().catch((e: unknown) => deps.logger.warn('undo failed', { error: String(e) }));
    throw error;
  }
}

/**
 * Mounts the pool when it is not mounted (after a reboot) and makes sure `volumes/` exists.
 * A `directory` pool is only checked: dolly never mounts it.
 */
export async function mountBtrfsPool(config: BtrfsPoolConfig, deps: BtrfsPoolDeps): Promise<void> {
  if (config.directory === undefined && !(await isMountPoint(config.mountpoint))) {
    assertRoot(deps, 'mounting the btrfs pool');
    const source = config.image ?? config.device;
    if (source === undefined) throw new InvalidArgumentError('the btrfs pool config names no image, device or directory');
    if (!(await pathExists(source))) {
      throw new FailedPreconditionError(`the pool's ${config.image ? 'image file' : 'device'} ${source} is missing`, {
        hint: 'restore it, or start over with `dolly teardown --purge` and `dolly init`',
      });
    }
    await mkdir(config.mountpoint, { recursive: true, mode: 0o700 });
    // A pool that spans added devices mounts only once the kernel knows all of them.
    for (const device of config.added_devices ?? []) await deps.shell.run('btrfs', ['device', 'scan', device], { nothrow: true });
    await deps.shell.run('mount', ['-o', config.image ? 'loop,noatime' : 'noatime', source, config.mountpoint]);
  }
  if (!(await isBtrfs(config.mountpoint))) {
    throw new FailedPreconditionError(`${config.mountpoint} is not a btrfs file system`, { hint: 'mount the pool again, or check the state file' });
  }
  await mkdir(join(config.mountpoint, 'volumes'), { recursive: true, mode: 0o700 });
}

/** How long an unmount that finds the pool busy is tried again. */
const UNMOUNT_BUSY_MS = 30_000;

/** Unmounts a pool dolly mounted and detaches its loop device. No-op for `directory` pools. */
export async function unmountBtrfsPool(config: BtrfsPoolConfig, deps: BtrfsPoolDeps): Promise<void> {
  if (config.directory !== undefined) return;
  if (await isMountPoint(config.mountpoint)) {
    // A server's container just removed can hold the mount for a moment (seen under load): "target is busy" is asked again for a while.
    let result = await deps.shell.run('umount', [config.mountpoint], { nothrow: true });
    for (let waited = 0; result.exitCode !== 0 && /busy/i.test(result.stderr) && waited < UNMOUNT_BUSY_MS; waited += 500) {
      await new Promise((r) => setTimeout(r, 500));
      result = await deps.shell.run('umount', [config.mountpoint], { nothrow: true });
    }
    if (result.exitCode !== 0) {
      throw new FailedPreconditionError(`cannot unmount the pool at ${config.mountpoint}: ${result.stderr.trim()}`, {
        hint: 'stop the servers that use it first (`dolly down`)',
      });
    }
  }
  if (config.image !== undefined) await detachLoopDevices(config.image, deps.shell);
}

/** Unmounts the pool and deletes its files: image and mount point, or a directory pool's `volumes/`. */
export async function removeBtrfsPool(config: BtrfsPoolConfig, deps: BtrfsPoolDeps): Promise<void> {
  if (config.directory !== undefined) {
    await rm(join(config.mountpoint, 'volumes'), { recursive: true, force: true });
    return;
  }
  await unmountBtrfsPool(config, deps);
  if (config.image !== undefined) await rm(config.image, { force: true });
  await rmdir(config.mountpoint).catch((error: unknown) => {
    if (!isCode(error, 'ENOENT')) throw error;
  });
}

/** `dolly pool grow`: exactly one of them. */
export interface PoolGrowRequest {
  /** The image file's new size (`20G`): larger than it is now. Image pools only. */
  size?: string;
  /** A blank, unused block device to add to the pool. */
  addDevice?: string;
}

/** What a grow did: the pool's size as the file system reports it, before and after. */
export interface PoolGrowth {
  from_bytes: number;
  to_bytes: number;
  /** The pool's configuration after it (a device added is listed in `added_devices`). */
  config: BtrfsPoolConfig;
}

/**
 * Grows a mounted pool while everything on it runs: `size` enlarges the image file (truncate,
 * `losetup -c`, `btrfs filesystem resize <devid>:max`); `addDevice` adds a blank, unused block
 * device (`btrfs device add`). Bad input is refused before anything changes; a failure after the
 * image file was enlarged shrinks it back.
 */
export async function growBtrfsPool(config: BtrfsPoolConfig, request: PoolGrowRequest, deps: BtrfsPoolDeps): Promise<PoolGrowth> {
  const how = 'grow it with `dolly pool grow --size N` (a larger image file) or `--add-device DEV` (a blank disk)';
  if (request.size === undefined && request.addDevice === undefined) throw new InvalidArgumentError('say how to grow the pool', { hint: how });
  if (request.size !== undefined && request.addDevice !== undefined) throw new InvalidArgumentError('--size and --add-device exclude each other', { hint: 'give one of them' });
  if (config.directory !== undefined) {
    throw new FailedPreconditionError(`the pool is the directory ${config.directory}, whose file system dolly does not manage`, {
      hint: 'grow that file system yourself (`btrfs device add`, `btrfs filesystem resize`): dolly sees the new space at once',
    });
  }
  if (request.size !== undefined && config.image === undefined) {
    throw new InvalidArgumentError(`--size grows a pool image file; this pool is on the device ${config.device ?? '?'}`, { hint: 'add a device instead: `dolly pool grow --add-device DEV`' });
  }
  const bytes = request.size === undefined ? 0 : parseSize(request.size);
  assertRoot(deps, 'growing the btrfs pool');
  if (!(await isMountPoint(config.mountpoint)) || !(await isBtrfs(config.mountpoint))) {
    throw new FailedPreconditionError(`the pool at ${config.mountpoint} is not mounted`, { hint: 'mount it first (`dolly up`), then grow it' });
  }
  const from = await fsBytes(config.mountpoint);
  const grown = config.image !== undefined && request.size !== undefined ? await growImage(config, config.image, request.size, bytes, deps) : await addDevice(config, request.addDevice ?? '', deps);
  return { from_bytes: from, to_bytes: await fsBytes(config.mountpoint), config: grown };
}

async function growImage(config: BtrfsPoolConfig, image: string, sizeText: string, bytes: number, deps: BtrfsPoolDeps): Promise<BtrfsPoolConfig> {
  const current = (await stat(image)).size;
  if (bytes <= current) {
    throw new InvalidArgumentError(`the pool image is already ${formatBytes(current)}; --size ${sizeText} would not grow it`, { hint: `give a size larger than ${formatBytes(current)}` });
  }
  const host = await statfs(dirname(image));
  if (bytes - current > host.bavail * host.bsize) {
    throw new ResourceExhaustedError(`growing the pool image by ${formatBytes(bytes - current)} needs that much free under ${dirname(image)}, which has ${formatBytes(host.bavail * host.bsize)}`, {
      hint: 'free space there first, or add a disk instead: `dolly pool grow --add-device DEV`',
    });
  }
  const loops = await loopDevicesOf(image, deps.shell);
  const members = await poolDevices(config.mountpoint, deps.shell);
  const member = members.find((m) => loops.includes(m.path));
  if (member === undefined) throw new FailedPreconditionError(`no loop device of ${image} is part of the pool at ${config.mountpoint}`, { hint: 'mount the pool again (`dolly down`, `dolly up`)' });
  await truncate(image, bytes);
  try {
    await deps.shell.run('losetup', ['-c', member.path]);
    await deps.shell.run('btrfs', ['filesystem', 'resize', `${member.devid}:max`, config.mountpoint]);
  } catch (error) {
    await truncate(image, current).catch(() => undefined);
    await deps.shell.run('losetup', ['-c', member.path], { nothrow: true });
    throw error;
  }
  deps.logger.info(`pool image ${image} grown from ${formatBytes(current)} to ${formatBytes(bytes)}`);
  return config;
}

async function addDevice(config: BtrfsPoolConfig, device: string, deps: BtrfsPoolDeps): Promise<BtrfsPoolConfig> {
  const info = await stat(device).catch(() => null);
  if (info === null) throw new NotFoundError(`device ${device} does not exist`, { hint: 'give a disk or partition such as /dev/sdb' });
  if (!info.isBlockDevice()) throw new InvalidArgumentError(`${device} is not a block device`, { hint: 'give a disk or partition such as /dev/sdb' });
  const path = await realpath(device);
  if ((await poolDevices(config.mountpoint, deps.shell)).some((m) => m.path === path)) {
    throw new AlreadyExistsError(`${device} is already part of the pool`, { hint: 'give another, blank device' });
  }
  // An exclusive open fails while the device is mounted or held (RAID, LVM, dm-crypt, a swap area).
  const handle = await open(path, constants.O_RDONLY | constants.O_EXCL).catch((error: unknown) => {
    if (isCode(error, 'EBUSY')) throw new FailedPreconditionError(`${device} is in use (mounted, or held by another device)`, { hint: 'give a blank device nothing uses' });
    throw error;
  });
  await handle.close();
  const probe = await deps.shell.run('blkid', ['-p', '-o', 'export', path], { nothrow: true });
  if (probe.exitCode === 0) {
    throw new FailedPreconditionError(`${device} is not empty (${probe.stdout.trim().split('\n').join(', ')})`, {
      hint: 'dolly adds only blank devices: pick another one, or wipe it yourself (`wipefs -a`) if its data is not needed',
    });
  }
  if (probe.exitCode !== 2) throw new FailedPreconditionError(`cannot probe ${device}: ${probe.stderr.trim()}`);
  await deps.shell.run('btrfs', ['device', 'add', path, config.mountpoint]);
  deps.logger.info(`device ${path} added to the pool at ${config.mountpoint}`);
  return { ...config, added_devices: [...(config.added_devices ?? []), path] };
}

/** The devices of a mounted pool (`btrfs filesystem show`): devid and path. */
async function poolDevices(mountpoint: string, shell: Shell): Promise<Array<{ devid: number; path: string }>> {
  const { stdout } = await shell.run('btrfs', ['filesystem', 'show', mountpoint]);
  return [...stdout.matchAll(/devid\s+(\d+)\s+size\s.*\spath\s+(\S+)/g)].map((m) => ({ devid: Number(m[1]), path: m[2] ?? '' }));
}

/** The file system's size as statfs reports it (what `dolly status` shows). */
async function fsBytes(mountpoint: string): Promise<number> {
  const fs = await statfs(mountpoint);
  return fs.blocks * fs.bsize;
}

/** True when `path` is a mount point in this process's mount namespace. */
export async function isMountPoint(path: string): Promise<boolean> {
  const target = await realpath(path).catch(() => resolve(path));
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === target);
}

/** The loop devices backing `image` (`losetup -j`). */
export async function loopDevicesOf(image: string, shell: Shell): Promise<string[]> {
  const { stdout } = await shell.run('losetup', ['-j', image]);
  return stdout.split('\n').flatMap((line) => /^(\/dev\/loop\d+):/.exec(line)?.[1] ?? []);
}

/** How long a detach may wait for a device another process (udev's probe, a scan) still holds. */
const DETACH_WAIT_MS = 10_000;

/**
 * Detaches the image's loop devices and waits until they are gone: on a device another process
 * has open for a moment (udev probes a device after its file system is unmounted), `losetup -d`
 * only marks it to go once closed, so a teardown that returned at once could leave it listed.
 */
async function detachLoopDevices(image: string, shell: Shell): Promise<void> {
  const deadline = Date.now() + DETACH_WAIT_MS;
  for (;;) {
    const devices = await loopDevicesOf(image, shell);
    if (devices.length === 0 || Date.now() > deadline) return;
    for (const device of devices) await shell.run('losetup', ['-d', device], { nothrow: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function makeImage(image: string, bytes: number, mountpoint: string, deps: BtrfsPoolDeps, undo: Array<() => Promise<void>>): Promise<BtrfsPoolConfig> {
  try {
    await writeFile(image, '', { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if (isCode(error, 'EEXIST')) throw new AlreadyExistsError(`${image} already exists`, { hint: 'use the existing pool, or remove it first' });
    throw error;
  }
  undo.push(async () => {
    await detachLoopDevices(image, deps.shell);
    await rm(image, { force: true });
  });
  await truncate(image, bytes);
  const fs = await statfs(image);
  if (bytes > fs.bavail * fs.bsize) {
    deps.logger.warn('the pool image is larger than the free space under it; writes will fail once that runs out', { image, bytes });
  }
  await deps.shell.run('mkfs.btrfs', ['-q', '-L', 'dolly', image]);
  return { driver: 'btrfs', mountpoint, image };
}

async function prepareDevice(device: string, mountpoint: string, deps: BtrfsPoolDeps): Promise<BtrfsPoolConfig> {
  const info = await stat(device).catch(() => null);
  if (info === null) throw new NotFoundError(`device ${device} does not exist`, { hint: 'give a disk or partition such as /dev/sdb' });
  if (!info.isBlockDevice()) throw new InvalidArgumentError(`${device} is not a block device`, { hint: 'give a disk or partition such as /dev/sdb' });
  // A mounted device is somebody's file system (another root's pool, perhaps): never shared.
  const mounted = await deps.shell.run('findmnt', ['-n', '-o', 'TARGET', '--source', device], { nothrow: true });
  if (mounted.exitCode === 0 && mounted.stdout.trim() !== '') {
    throw new FailedPreconditionError(`${device} is mounted at ${mounted.stdout.trim().split('\n')[0]}`, {
      hint: 'dolly takes a device nobody uses: pick another one, or give --directory for a btrfs file system that is mounted',
    });
  }
  const probe = await deps.shell.run('blkid', ['-p', '-o', 'export', device], { nothrow: true });
  if (probe.exitCode === 0) {
    const type = /^TYPE=(.*)$/m.exec(probe.stdout)?.[1];
    if (type !== 'btrfs') {
      throw new FailedPreconditionError(`${device} is not empty (${probe.stdout.trim().split('\n').join(', ')})`, {
        hint: 'dolly formats only blank devices: pick another one, or wipe it yourself (`wipefs -a`) if its data is not needed',
      });
    }
  } else if (probe.exitCode === 2) {
    await deps.shell.run('mkfs.btrfs', ['-q', '-L', 'dolly', device]);
  } else {
    throw new FailedPreconditionError(`cannot probe ${device}: ${probe.stderr.trim()}`);
  }
  return { driver: 'btrfs', mountpoint, device };
}

async function adoptDirectory(directory: string): Promise<BtrfsPoolConfig> {
  const info = await stat(directory).catch(() => null);
  if (info === null || !info.isDirectory()) throw new NotFoundError(`directory ${directory} does not exist`, { hint: 'give the directory where a btrfs file system is mounted, or drop --directory' });
  if (!(await isBtrfs(directory))) {
    throw new InvalidArgumentError(`${directory} is not on a btrfs file system`, { hint: 'mount a btrfs file system there first, or drop --directory' });
  }
  const volumes = join(directory, 'volumes');
  try {
    await mkdir(volumes, { mode: 0o700 });
  } catch (error) {
    if (isCode(error, 'EEXIST')) throw new AlreadyExistsError(`${volumes} already exists`, { hint: 'another dolly root may use this directory; pick an empty one' });
    throw error;
  }
  return { driver: 'btrfs', mountpoint: directory, directory };
}

async function makeEmptyDir(path: string, undo: Array<() => Promise<void>>): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
    undo.push(() => rmdir(path));
  } catch (error) {
    if (!isCode(error, 'EEXIST')) throw error;
    const info = await stat(path);
    if (!info.isDirectory() || (await readdir(path)).length > 0) {
      throw new AlreadyExistsError(`${path} exists and is not an empty directory`, { hint: 'use the existing pool, or move it away first' });
    }
  }
}

async function isBtrfs(path: string): Promise<boolean> {
  const fs = await statfs(path).catch(() => null);
  return fs !== null && fs.type === BTRFS_SUPER_MAGIC;
}

function assertRoot(deps: BtrfsPoolDeps, what: string): void {
  const uid = deps.getuid ? deps.getuid() : process.getuid?.();
  if (uid !== 0) {
    throw new PermissionDeniedError(`${what} needs root (loop devices, mkfs, mount)`, {
      hint: 'run dolly as root, use --directory with an already-mounted btrfs, or choose `--driver copy`',
    });
  }
}

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}
