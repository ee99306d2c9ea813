import type { CloneListItem } from '../model/wire.js';
import { FailedPreconditionError } from '../errors.js';
import type { Clone, JobStep, State } from '../state/state.js';
import { reportStep, type EngineDeps } from './context.js';
import { cloneView, findClone, findSnapshot, keepReserve, limitClone, setCloneStatus, type CloneView } from './clone-create.js';
import { withJob, withRemoval } from './jobs.js';
import { shortId, validateName } from './names.js';
import { reconcile } from './reconcile.js';
import type { SnapshotGate } from './snapshot-access.js';
import { cloneConnectOptions, cloneServerName, cloneSpec, startAndWait } from './servers.js';

export type { CloneListItem };

/** `dolly clone list`: every clone (or those `only` accepts) with its status, server state and the disk it alone uses. */
export async function listClones(deps: EngineDeps, only: (clone: Clone) => boolean = () => true): Promise<CloneListItem[]> {
  const state = deps.store.require();
  const driver = deps.driver(state);
  const servers = new Map((await deps.runtime.list()).map((s) => [s.name, s.state]));
  const items: CloneListItem[] = [];
  for (const clone of state.clones.filter(only)) {
    const exclusive = await driver.exclusiveBytes(clone.volume).catch(() => null);
    items.push({ ...cloneView(state, clone), status: clone.status, state: servers.get(cloneServerName(clone.name)) ?? 'missing', exclusive_bytes: exclusive });
  }
  return items;
}

/**
 * `dolly clone reset`: back to its snapshot (or another), same name, port and credentials. The new
 * volume is made first; the old one is removed only after the new server answered and the store
 * points at the new one. If anything fails (or the command dies), the clone comes back on its old
 * volume.
 */
export async function resetClone(name: string, options: { snapshot?: string; unmasked?: boolean; signal?: AbortSignal; gate?: SnapshotGate; event?: Record<string, unknown> }, deps: EngineDeps): Promise<CloneView> {
  validateName(name);
  const started = Date.now();
  await reconcile(deps);
  return withJob(
    deps,
    'clone-reset',
    (state) => {
      const clone = findClone(state, name);
      // A snapshot named by the caller must be one it may see; the clone's own it could see when made.
      const snapshot = findSnapshot(state, options.snapshot ?? clone.snapshot, options.snapshot === undefined ? undefined : options.gate?.visible, options.snapshot === undefined ? undefined : { unmasked: options.unmasked === true });
      options.gate?.admit(snapshot, { admin: clone.admin === true, ...(clone.production_account ? { user: clone.user } : {}) });
      const before = { ...clone };
      const next = { ...clone, snapshot: snapshot.id, volume: `clone-${name}-${shortId()}` };
      clone.status = 'resetting';
      // Undone last first: whatever server runs goes, the new volume goes, the old clone comes back.
      const undo: JobStep[] = [{ do: 'restore-clone', clone: before }, { do: 'remove-volume', id: next.volume }, { do: 'remove-server', name: cloneServerName(name) }];
      return { target: name, undo, reserved: { before, next, snapshot } };
    },
    async (job, { before, next, snapshot }) => {
      const state = deps.store.require();
      const driver = deps.driver(state);
      await keepReserve(driver, state);
      const data = await driver.clone(snapshot.volume, next.volume);
      await limitClone(driver, state, next.volume);
      reportStep(deps, `clone ${name}: fresh copy of ${snapshot.id} made; restarting its server on it`);
      await deps.runtime.remove(cloneServerName(name));
      await startAndWait(deps, await cloneSpec(deps, state, next, data, snapshot.flavor), cloneConnectOptions(state, next), options.signal);
      // A point snapshot (`clone create --at`) left by its last clone goes with the old volume.
      // (Decided in the commit's transaction: `finish` is read after `fn` ran.)
      const finish: JobStep[] = [{ do: 'remove-volume', id: before.volume }];
      await job.commit(
        (s) => {
          s.clones = s.clones.map((c) => (c.name === name ? { ...next, status: 'ready' } : c));
          if (before.snapshot !== next.snapshot) finish.push(...orphanPointSteps(s, before.snapshot, name));
        },
        finish,
        [{ type: 'clone.reset', data: { name, snapshot: next.snapshot, ...options.event }, owner: before.owner ?? 'local' }],
      );
      reportStep(deps, `clone ${name}: ready (${Date.now() - started} ms)`);
      return { ...cloneView(state, next), ready_ms: Date.now() - started };
    },
  );
}

/** `dolly clone destroy`: server, volume, run dir and entry; a crash half-way is finished by the next command. */
export async function destroyClone(name: string, deps: EngineDeps, options: { onlyIf?: (clone: Clone) => boolean; event?: Record<string, unknown> } = {}): Promise<void> {
  validateName(name);
  await reconcile(deps);
  await withRemoval(deps, 'clone-destroy', `clone ${name}`, (state) => {
    const clone = findClone(state, name);
    // Checked in the same transaction that marks it deleting (the expiry sweep: not protected meanwhile).
    if (options.onlyIf && !options.onlyIf(clone)) throw new FailedPreconditionError(`clone ${name} changed`, { hint: 'look at it again' });
    setCloneStatus(state, name, 'deleting');
    const server = cloneServerName(name);
    // Told to its owner (a clone made without a token is the host's, `local`, as its creation was).
    const destroyed = { type: 'clone.destroyed', data: { name, ...options.event }, owner: clone.owner ?? 'local' } as const;
    // A point snapshot (`clone create --at`) goes with its last clone.
    const pointSteps = orphanPointSteps(state, clone.snapshot, name);
    return { target: name, finish: [{ do: 'remove-server', name: server }, { do: 'remove-volume', id: clone.volume }, { do: 'remove-run-dir', server }, { do: 'forget-clone', name }, ...pointSteps], events: [destroyed] };
  });
  // What the clone held is free again: the clones' cap grows by it (not all of it before btrfs's cleaner ran).
  const state = deps.store.require();
  await keepReserve(deps.driver(state), state).catch((error: unknown) => deps.logger.warn('could not move the clones\' cap', { error: String(error) }));
}

/** `dolly clone protect`: not destroyed by its expiry until `until` (undefined: protection lifted). */
export function protectClone(name: string, until: string | undefined, deps: EngineDeps): CloneView {
  validateName(name);
  return deps.store.update((state) => {
    const clone = findClone(state, name);
    if (until === undefined) delete clone.protected_until;
    else clone.protected_until = until;
    return cloneView(state, clone);
  });
}

/**
 * A point snapshot (`clone create --at`) goes with its last clone: when clone `leaving` was the
 * last of `snapshotId`'s, it (and the unmasked point it was masked from, when that is a point no
 * other snapshot or clone uses) is marked deleting, and the steps that remove them are returned.
 */
export function orphanPointSteps(state: State, snapshotId: string, leaving: string): JobStep[] {
  const unused = (id: string): boolean => !state.clones.some((c) => c.name !== leaving && c.snapshot === id);
  const point = state.snapshots.find((s) => s.id === snapshotId && s.point !== undefined && s.status === 'ready');
  if (!point || !unused(point.id)) return [];
  const from = state.snapshots.find((s) => s.id === point.masked_from && s.point !== undefined && s.status === 'ready');
  const gone = [point, ...(from && unused(from.id) && !state.snapshots.some((s) => s.id !== point.id && s.masked_from === from.id) ? [from] : [])];
  for (const s of gone) s.status = 'deleting';
  return gone.flatMap((s): JobStep[] => [{ do: 'remove-volume', id: s.volume }, { do: 'forget-snapshot', id: s.id }]);
}
