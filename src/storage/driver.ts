/**
 * Where a server's data directory comes from when its container is created.
 * - `path`: a host directory, bind-mounted at the server's datadir (btrfs, copy).
 * - `image`: the data lives inside an image; the container's writable layer is the volume (commit).
 */
export type DataMount = { kind: 'path'; path: string } | { kind: 'image'; image: string };

export interface PoolSpace {
  totalBytes: number;
  freeBytes: number;
}

export type { CloneGroupUsage } from './clone-group.js';
import type { CloneGroupUsage } from './clone-group.js';

export type DriverName = 'btrfs' | 'copy' | 'commit';

/**
 * A storage driver keeps the volumes of one pool (after containerd's snapshotter).
 *
 * Ids are opaque strings chosen by the caller (`[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 100 chars).
 * Lifecycle of a volume:
 *   createVolume(id)          an empty writable volume (the replica's datadir)
 *   snapshot(source, id)      a new writable volume with the point-in-time content of `source`.
 *                             Atomic drivers (`atomic: true`) take it while `source`'s server runs
 *                             (the caller has quiesced it); for the others the caller stops it first.
 *                             With `{ cloneGroup: true }` (a branch: a clone's saved state) the new
 *                             volume counts with the clones against the reserve (see reserveFree).
 *   seal(id)                  the volume's content becomes read-only: a committed snapshot
 *   clone(snapshot, id)       a writable child of a sealed snapshot; costs only what it changes
 *                             (cloning an unsealed volume is a FailedPreconditionError)
 *   remove(id)                deletes one volume; children made by clone() are not affected.
 *                             Remove the volume's server first (the commit driver refuses otherwise).
 * Every method that creates something removes what it made when it fails half-way, and maps
 * "no space left" to ResourceExhaustedError, unknown ids to NotFoundError and taken ids to
 * AlreadyExistsError.
 */
export interface StorageDriver {
  readonly name: DriverName;
  /** True when snapshot() is point-in-time while the source is written to. */
  readonly atomic: boolean;

  /** Makes the pool usable (mounts it if needed). Idempotent. */
  open(): Promise<void>;
  /** Unmounts / detaches the pool; volumes are kept. Idempotent. */
  close(): Promise<void>;
  /** Deletes every volume and the pool itself. The pool must not be in use. */
  destroy(): Promise<void>;

  createVolume(id: string): Promise<DataMount>;
  snapshot(sourceId: string, id: string, options?: { cloneGroup?: boolean }): Promise<DataMount>;
  seal(id: string): Promise<void>;
  clone(snapshotId: string, id: string): Promise<DataMount>;
  remove(id: string): Promise<void>;

  /** How a container reaches the volume's data. */
  mount(id: string): Promise<DataMount>;
  exists(id: string): Promise<boolean>;
  /** Every volume id in the pool. */
  list(): Promise<string[]>;
  /** Bytes that belong to this volume alone (freed if it were removed). */
  exclusiveBytes(id: string): Promise<number>;
  /**
   * Caps the bytes this volume alone may hold (what it changes, for a clone): writes past it fail
   * with "quota exceeded" in that volume only. Returns false when the driver cannot enforce a
   * limit (nothing is changed then).
   */
  limit(id: string, bytes: number): Promise<boolean>;
  space(): Promise<PoolSpace>;
  /**
   * Keeps `reserveBytes` of the pool's free space out of reach of all clones together (what
   * clone() made): caps what they hold at what they hold now plus (free space − reserveBytes),
   * enforced by the kernel, so a write past it fails with "quota exceeded" in the clone that makes
   * it, whichever clone that is; volumes made by createVolume() and snapshot() never count and are
   * never refused. Clones made after the first call are in the group from their creation (no
   * rescan). The cap is computed from the free space at the call: call it again when that moved
   * (the replica grew, volumes were removed, the pool grew). Returns what the clones hold and
   * their cap, or null when the driver cannot enforce it (nothing is changed then).
   */
  reserveFree(reserveBytes: number): Promise<CloneGroupUsage | null>;
  /**
   * Hands the blocks of removed volumes back to the device underneath (TRIM: a loop image gets
   * holes punched), so a removed volume's bytes are gone from the disk, not only unlinked. Returns
   * false when the driver cannot (the pool is a directory or Docker's own storage).
   */
  discardFree(): Promise<boolean>;
}

const VOLUME_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** True for a volume id that cannot escape a path or break a command. */
export function isValidVolumeId(id: string): boolean {
  return VOLUME_ID.test(id) && !id.includes('..');
}
