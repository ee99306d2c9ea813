import { existsSync } from 'node:fs';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import { ensureCa, tlsDir } from './tls.js';
import { DEFAULT_IMAGE } from '../docker/image-build.js';
import type { State } from '../state/state.js';
import { createBtrfsPool, parseSize } from '../storage/btrfs-pool.js';
import type { DriverName } from '../storage/driver.js';
import { cloneLimitSettings } from './clone-limits.js';
import type { EngineDeps } from './context.js';

export interface InitOptions {
  driver?: DriverName;
  /** btrfs: size of the sparse image file (default 20G). */
  size?: string;
  /** btrfs: a block device to use instead of an image file. */
  device?: string;
  /** btrfs: an already-mounted btrfs directory to use in place. */
  directory?: string;
  /** The server image; absent: `replica init` chooses the one the source needs (Settings.image_auto). */
  image?: string;
  /** Clone port range, `6000-6099`. */
  ports?: string;
  bindAddress?: string;
  bufferPool?: string;
  /** `isolated` (default) or `host`: see Settings.clone_network. */
  cloneNetwork?: string;
  /** `on` (default) or `off`: see Settings.clone_tls. */
  cloneTls?: string;
  /** What one clone alone may write (`5G`, `0` = no limit); default a fifth of the pool. */
  cloneQuota?: string;
  /** Free space kept for the replica; default a tenth of the pool, at least 256M. */
  reserve?: string;
  /** A clone container's memory limit (`512M`); default the buffer pool plus 448M. */
  cloneMemory?: string;
  /** CPU cores a clone may use (`1`, `0.5`, `0`: no cap); default 1. */
  cloneCpus?: string;
  /** A clone server's max_connections; default 50. */
  cloneConnections?: string;
}

export interface InitResult {
  root: string;
  driver: DriverName;
  pool: Record<string, unknown>;
}

const DRIVERS: readonly DriverName[] = ['btrfs', 'copy', 'commit'];
const MIN_RESERVE_BYTES = 256 * 1024 * 1024;

/** `dolly init`: creates the pool of a root and its state. Refused when the root has one. */
export async function initPool(options: InitOptions, deps: EngineDeps): Promise<InitResult> {
  const driverName = options.driver ?? 'btrfs';
  if (!DRIVERS.includes(driverName)) {
    throw new InvalidArgumentError(`unknown driver ${JSON.stringify(driverName)}`, { hint: `choose one of ${DRIVERS.join(', ')}` });
  }
  const [portMin, portMax] = parsePorts(options.ports ?? '6000-6099');
  const bufferPool = options.bufferPool ?? '64M';
  if (!/^\d+[KMG]?$/i.test(bufferPool)) throw new InvalidArgumentError(`invalid buffer pool size ${JSON.stringify(bufferPool)}`, { hint: 'e.g. 64M or 1G' });
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  if (!/^[0-9a-fA-F.:]+$/.test(bindAddress)) throw new InvalidArgumentError(`invalid bind address ${JSON.stringify(bindAddress)}`, { hint: 'an IP address such as 127.0.0.1' });
  const cloneNetwork = options.cloneNetwork ?? 'isolated';
  const sizeOrZero = (text: string | undefined): number | undefined => (text === undefined ? undefined : text.trim() === '0' ? 0 : parseSize(text));
  const cloneQuota = sizeOrZero(options.cloneQuota);
  const reserve = sizeOrZero(options.reserve);
  if (cloneNetwork !== 'isolated' && cloneNetwork !== 'host') throw new InvalidArgumentError(`invalid clone network ${JSON.stringify(cloneNetwork)}`, { hint: 'isolated or host' });
  if (options.cloneTls !== undefined && options.cloneTls !== 'on' && options.cloneTls !== 'off') throw new InvalidArgumentError(`invalid --clone-tls ${JSON.stringify(options.cloneTls)}`, { hint: 'on or off' });
  const limits = cloneLimitSettings(options, bufferPool);
  assertPrivileges(driverName, options.directory);
  const rootExisted = existsSync(deps.root);
  try {
    return await initInRoot(driverName, { ...options, portMin, portMax, bufferPool, bindAddress, cloneNetwork, cloneQuotaBytes: cloneQuota, reserveBytes: reserve, limits }, deps);
  } catch (error) {
    // A failed init leaves no root directory it made.
    if (!rootExisted) await rmdir(deps.root).catch(() => undefined);
    throw error;
  }
}

async function initInRoot(
  driverName: DriverName,
  options: InitOptions & { portMin: number; portMax: number; bufferPool: string; bindAddress: string; cloneNetwork: 'isolated' | 'host'; cloneQuotaBytes: number | undefined; reserveBytes: number | undefined; limits: ReturnType<typeof cloneLimitSettings> },
  deps: EngineDeps,
): Promise<InitResult> {
  const { portMin, portMax, bufferPool, bindAddress, cloneNetwork } = options;
  if (deps.store.read() !== null) {
    throw new AlreadyExistsError(`${deps.root} already has a dolly pool`, { hint: 'use it, or remove it with `dolly teardown --purge`' });
  }
  await mkdir(deps.root, { recursive: true, mode: 0o700 });
  const pool = await createPoolConfig(driverName, options, deps);
  const state: State = {
    version: 2,
    root: deps.root,
    pool,
    settings: { image: options.image ?? DEFAULT_IMAGE, ...(options.image === undefined ? { image_auto: true } : {}), port_min: portMin, port_max: portMax, bind_address: bindAddress, buffer_pool: bufferPool, clone_network: cloneNetwork, ...(options.cloneTls === 'off' ? { clone_tls: false } : {}) },
    snapshots: [],
    clones: [],
    jobs: [],
  };
  Object.assign(state.settings, options.limits);
  const driver = deps.driver(state);
  try {
    await driver.open();
    const { totalBytes } = await driver.space();
    state.settings.clone_quota_bytes = options.cloneQuotaBytes ?? Math.floor(totalBytes / 5);
    state.settings.reserve_bytes = options.reserveBytes ?? Math.max(Math.floor(totalBytes / 10), MIN_RESERVE_BYTES);
    deps.store.create(state);
    await ensureCa(deps.root, deps.shell);
    await deps.runtime.ensureShared();
  } catch (error) {
    await rm(tlsDir(deps.root), { recursive: true, force: true });
    await driver.destroy().catch(() => undefined);
    if (!(error instanceof AlreadyExistsError)) deps.store.delete();
    throw error;
  }
  if (driver.name === 'copy') deps.logger.warn('the copy driver makes full copies: snapshots and clones take time and disk in proportion to the data');
  return { root: deps.root, driver: driverName, pool };
}

/** The btrfs driver mounts (unless given a mounted directory): root only. Checked before anything else. */
export function assertPrivileges(driver: DriverName, directory?: string, uid: number | undefined = process.getuid?.()): void {
  if (driver === 'btrfs' && directory === undefined && uid !== 0) {
    throw new PermissionDeniedError('the btrfs driver needs root (loop devices, mount, subvolumes)', { hint: 'run as root, or choose `--driver copy`' });
  }
}

async function createPoolConfig(driver: DriverName, options: InitOptions, deps: EngineDeps): Promise<State['pool']> {
  switch (driver) {
    case 'btrfs':
      return createBtrfsPool(
        { root: deps.root, ...(options.size ? { size: options.size } : {}), ...(options.device ? { device: options.device } : {}), ...(options.directory ? { directory: options.directory } : {}) },
        { shell: deps.shell, logger: deps.logger },
      );
    case 'copy': {
      const directory = options.directory ?? join(deps.root, 'pool');
      await mkdir(directory, { recursive: true, mode: 0o700 });
      return { driver: 'copy', directory };
    }
    case 'commit':
      return { driver: 'commit', baseImage: options.image ?? DEFAULT_IMAGE };
  }
}

function parsePorts(text: string): [number, number] {
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  if (!match || min < 1024 || max > 65535 || min > max) {
    throw new InvalidArgumentError(`invalid port range ${JSON.stringify(text)}`, { hint: 'use MIN-MAX within 1024-65535, e.g. 6000-6099' });
  }
  return [min, max];
}
