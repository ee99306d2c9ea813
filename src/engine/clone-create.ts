import type { CloneView } from '../model/wire.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError } from '../errors.js';
import { formatBytes } from '../format.js';
import type { StorageDriver } from '../storage/driver.js';
import type { Clone, JobStep, Snapshot, State } from '../state/state.js';
import { reportStep, type EngineDeps } from './context.js';
import { withJob, type JobRun, type Reservation } from './jobs.js';
import { generateName, generatePassword, generateServerId, shortId, validateName } from './names.js';
import { isPortFree, lowestFreePort } from './ports.js';
import { reconcile } from './reconcile.js';
import { isBranch, maskingOn, newestReplicaSnapshot, noSnapshot, type SnapshotGate } from './snapshot-access.js';
import { CLONE_USER, cloneConnectOptions, readCa, cloneServerName, cloneSpec, startAndWait } from './servers.js';

export interface CloneCreateOptions {
  snapshot?: string;
  name?: string;
  /** Give the clone's user every privilege (FILE, SUPER, plugins) inside its own server. */
  admin?: boolean;
  /** Log in as this production account (NAME@'%' in the snapshot) with a new password, instead of `dolly`. */
  user?: string;
  /** With masking on, clone an unmasked snapshot (admins only: the caller checks). */
  unmasked?: boolean;
  /** Who it belongs to (a token's name; default `local`, the host's CLI). */
  owner?: string;
  /** When the engine destroys it (RFC 3339). */
  expiresAt?: string;
  /** What the caller may see and have (a token's); default: everything (the host's CLI). */
  gate?: SnapshotGate;
  /** Aborting stops the wait and removes what was made. */
  signal?: AbortSignal;
  /** Fields the caller adds to the event this records (who asked: `by`; why: `reason`). */
  event?: Record<string, unknown>;
}

export type { CloneView };

/**
 * The snapshot a clone is made from: the one named, or by default the newest ready snapshot of the
 * replica (never a branch). A named snapshot the caller may not see (`visible`) is "not found",
 * exactly as if it did not exist; only ready snapshots are used. With `choose` (a clone is made or
 * reset from it) and masking on, an unmasked snapshot needs `choose.unmasked` (admins: the caller
 * checks who may ask), and the default is the newest masked (or with `unmasked`, unmasked) one.
 */
export function findSnapshot(state: State, id: string | undefined, visible: (snapshot: Snapshot) => boolean = () => true, choose?: { unmasked?: boolean }): Snapshot {
  if (id === undefined) {
    const newest = newestReplicaSnapshot(state, choose?.unmasked ? { unmasked: true } : {});
    if (newest) return newest;
    if (maskingOn(state) && !choose?.unmasked && newestReplicaSnapshot(state, { unmasked: true })) {
      throw new NotFoundError('there is no masked snapshot yet (masking rules are set)', { hint: 'run `dolly snapshot create` (it masks), or `dolly snapshot mask ID`; admins may clone an unmasked one with --unmasked' });
    }
    const branches = state.snapshots.some((s) => s.status === 'ready' && isBranch(s));
    throw new NotFoundError('there is no snapshot of the replica yet', {
      hint: branches ? 'run `dolly snapshot create` (a branch is never the default: name it with --snapshot ID)' : 'run `dolly snapshot create`',
    });
  }
  const found = state.snapshots.find((s) => s.id === id);
  if (!found || !visible(found)) throw noSnapshot(id);
  if (found.status !== 'ready') throw new FailedPreconditionError(`snapshot ${id} is ${found.status}`, { hint: 'wait for the command that works on it, or pick another snapshot' });
  if (choose !== undefined && maskingOn(state) && found.masked !== true && !choose.unmasked) {
    throw new PermissionDeniedError(`snapshot ${id} is not masked, and masking rules are set`, { hint: 'clone a masked snapshot (`dolly snapshot list`), or, as an admin, pass --unmasked' });
  }
  return found;
}

/** A clone by name; unless `anyStatus`, refused while another command works on it. */
export function findClone(state: State, name: string, options: { anyStatus?: boolean } = {}): Clone {
  const clone = state.clones.find((c) => c.name === name);
  if (!clone) throw new NotFoundError(`no clone named ${JSON.stringify(name)}`, { hint: 'list them with `dolly clone list`' });
  if (!options.anyStatus && clone.status !== 'ready') {
    throw new FailedPreconditionError(`clone ${name} is ${clone.status}`, { hint: 'another dolly command works on it: wait for it (a crashed one is cleaned up by the next command)' });
  }
  return clone;
}

export function cloneView(state: State, clone: Clone): CloneView {
  const { host } = cloneConnectOptions(state, clone);
  const h = host ?? '127.0.0.1';
  return {
    name: clone.name,
    host: h,
    port: clone.port,
    user: clone.user,
    password: clone.password,
    snapshot: clone.snapshot,
    dsn: `mysql://${encodeURIComponent(clone.user)}:${encodeURIComponent(clone.password)}@${h}:${clone.port}/${state.settings.clone_tls === false ? '' : '?ssl-mode=VERIFY_CA'}`,
    ...(state.settings.clone_tls === false ? {} : cloneTls(state.root, clone.production_account === true && (state.snapshots.find((s) => s.id === clone.snapshot)?.tls_accounts ?? []).includes(`${clone.user}@%`))),
    created_at: clone.created_at,
    owner: clone.owner ?? 'local',
    expires_at: clone.expires_at ?? null,
    protected_until: clone.protected_until ?? null,
  };
}

/** The CA a clone's client verifies it with; none when the root has no CA (a clone made before TLS runs without). */
function cloneTls(root: string, required: boolean): { tls?: CloneView['tls'] } {
  const ca = readCa(root);
  return ca === null ? {} : { tls: { mode: 'VERIFY_CA', ca, ...(required ? { required: true } : {}) } };
}

/**
 * `dolly clone create`: a writable child of a snapshot and a server on it, on a free port, with
 * its own account. Returns once a real query answered. The name and port are reserved in one
 * short transaction, so many creates run at once; on failure (or a crash, via the reconciler)
 * nothing is left behind.
 */
export async function createClone(options: CloneCreateOptions, deps: EngineDeps): Promise<CloneView> {
  const started = Date.now();
  await reconcile(deps);
  const busy = new Set<number>();
  const reserve = (state: State): Reservation<Clone> => {
    const snapshot = findSnapshot(state, options.snapshot, options.gate?.visible, { unmasked: options.unmasked === true });
    options.gate?.admit(snapshot, { admin: options.admin === true, ...(options.user !== undefined ? { user: options.user } : {}) });
    const name = options.name === undefined ? uniqueName(state) : validateName(options.name);
    if (state.clones.some((c) => c.name === name)) {
      throw new AlreadyExistsError(`a clone named ${JSON.stringify(name)} exists`, { hint: 'choose another --name, or `dolly clone reset` it' });
    }
    const production = options.user === undefined ? undefined : productionAccount(snapshot, options.user, options.admin === true);
    const clone = newClone(state, name, snapshot.id, busy, deps.now(), { ...options, ...(production !== undefined ? { user: production } : {}) });
    state.clones.push(clone);
    // Every undo step is journaled now (each is a no-op for what is not made yet): the job then
    // needs no other transaction until it commits, so many creates at once barely wait on the store.
    const server = cloneServerName(name);
    const undo: JobStep[] = [{ do: 'forget-clone', name }, { do: 'remove-volume', id: clone.volume }, { do: 'remove-run-dir', server }, { do: 'remove-server', name: server }];
    return { target: name, undo, reserved: { ...clone } };
  };
  return withJob(deps, 'clone-create', reserve, async (job, reserved) => {
    const clone = await settlePort(deps, job, reserved, busy);
    const state = deps.store.require();
    const snapshot = findSnapshot(state, clone.snapshot);
    const driver = deps.driver(state);
    await assertAboveReserve(driver, state);
    reportStep(deps, `clone ${clone.name}: port ${clone.port} reserved, snapshot ${snapshot.id}`);
    await keepReserve(driver, state);
    const data = await driver.clone(snapshot.volume, clone.volume);
    await limitClone(driver, state, clone.volume);
    reportStep(deps, `clone ${clone.name}: writable copy of ${snapshot.id} made; starting its server`);
    const spec = await cloneSpec(deps, state, clone, data, snapshot.flavor);
    await startAndWait(deps, spec, cloneConnectOptions(state, clone), options.signal);
    const created = { type: 'clone.created', data: { name: clone.name, snapshot: clone.snapshot, expires_at: clone.expires_at ?? null, ...options.event }, owner: clone.owner ?? 'local' } as const;
    await job.commit((s) => setCloneStatus(s, clone.name, 'ready'), undefined, [created]);
    reportStep(deps, `clone ${clone.name}: ready (${Date.now() - started} ms)`);
    return { ...cloneView(state, clone), ready_ms: Date.now() - started };
  });
}

/** A new clone's entry (status `creating`) on the lowest free port: its own volume name, password and server id. */
export function newClone(state: State, name: string, snapshot: string, busy: ReadonlySet<number>, now: Date, options: Pick<CloneCreateOptions, 'user' | 'admin' | 'owner' | 'expiresAt'>): Clone {
  return {
    name,
    status: 'creating',
    snapshot,
    volume: `clone-${name}-${shortId()}`,
    port: freePort(state, busy),
    user: options.user ?? CLONE_USER,
    ...(options.user !== undefined ? { production_account: true } : {}),
    password: generatePassword(),
    server_id: generateServerId(),
    ...(options.admin ? { admin: true } : {}),
    created_at: now.toISOString(),
    owner: options.owner ?? 'local',
    ...(options.expiresAt !== undefined ? { expires_at: options.expiresAt } : {}),
  };
}

/** The production account a clone logs in as (`--user`): it must be NAME@'%' in the snapshot. */
export function productionAccount(snapshot: Snapshot, user: string, admin: boolean): string {
  if (admin) throw new InvalidArgumentError('--user and --admin do not go together', { hint: '--user keeps the production account\'s own grants; --admin gives the dolly user every privilege' });
  if (user === '' || user.length > 80 || /[\u0000-\u001f]/.test(user)) throw new InvalidArgumentError(`invalid --user ${JSON.stringify(user)}`, { hint: "give the name of a production account, such as app" });
  if (snapshot.accounts === undefined) throw new FailedPreconditionError(`snapshot ${snapshot.id} does not list its accounts (taken by an older dolly)`, { hint: 'take a new snapshot: `dolly snapshot create`' });
  if (!snapshot.accounts.includes(`${user}@%`)) {
    const same = snapshot.accounts.filter((a) => a.startsWith(`${user}@`));
    throw new NotFoundError(`snapshot ${snapshot.id} has no account ${JSON.stringify(`${user}@%`)}${same.length > 0 ? ` (it has ${same.join(', ')})` : ''}`, {
      hint: snapshot.accounts.length > 0 ? `a clone is reached from any address, so it needs user@'%'; accounts: ${snapshot.accounts.slice(0, 8).join(', ')}` : 'the source had no accounts of its own when the snapshot was taken',
    });
  }
  return user;
}

/** The lowest port of the range no clone of this root holds (nor one found busy on the host). */
export function freePort(state: State, busy: ReadonlySet<number>): number {
  return lowestFreePort(state.settings.port_min, state.settings.port_max, new Set([...state.clones.map((c) => c.port), ...busy]));
}

/** Checks the reserved port on the host (outside the lock); a busy one is swapped for the next. */
export async function settlePort(deps: EngineDeps, job: JobRun, reserved: Clone, busy: Set<number>): Promise<Clone> {
  let clone = reserved;
  const isFree = deps.portFree ?? isPortFree;
  const bind = deps.store.require().settings.bind_address;
  while (!(await isFree(clone.port, bind))) {
    busy.add(clone.port);
    clone = job.update((state) => {
      const entry = findClone(state, clone.name, { anyStatus: true });
      entry.port = freePort(state, busy);
      return { ...entry };
    });
  }
  return clone;
}

/** Refuses a new clone while the pool has less free space than it keeps for the replica. */
export async function assertAboveReserve(driver: StorageDriver, state: State): Promise<void> {
  const reserve = state.settings.reserve_bytes ?? 0;
  const { freeBytes } = await driver.space();
  if (freeBytes < reserve) {
    throw new ResourceExhaustedError(`the pool has ${formatBytes(freeBytes)} free, less than the ${formatBytes(reserve)} kept for the replica`, {
      hint: 'destroy clones or snapshots you no longer need (`dolly clone list`, `dolly snapshot list`), or grow the pool',
    });
  }
}

/**
 * Keeps the reserve out of reach of all running clones together (a kernel limit on the clones'
 * group, where the driver has one), from the free space as it is now: set before each clone is
 * made and after each is destroyed, so the cap follows the replica's growth and a changed reserve.
 */
export async function keepReserve(driver: StorageDriver, state: State): Promise<void> {
  await driver.reserveFree(state.settings.reserve_bytes ?? 0);
}

/** Caps what a clone alone may write (its share of the pool), where the driver can. */
export async function limitClone(driver: StorageDriver, state: State, volume: string): Promise<void> {
  const quota = state.settings.clone_quota_bytes ?? 0;
  if (quota > 0) await driver.limit(volume, quota);
}

export function setCloneStatus(state: State, name: string, status: Clone['status']): void {
  const clone = state.clones.find((c) => c.name === name);
  if (clone) clone.status = status;
}

export function uniqueName(state: State): string {
  for (;;) {
    const name = generateName();
    if (!state.clones.some((c) => c.name === name)) return name;
  }
}
