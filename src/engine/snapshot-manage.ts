import { FailedPreconditionError, PermissionDeniedError, messageOf } from '../errors.js';
import type { SnapshotListItem } from '../model/wire.js';
import type { PoolSpace } from '../storage/driver.js';
import type { EventDraft } from '../state/event-log.js';
import type { Snapshot } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { findSnapshot } from './clone-create.js';
import { updateRecording, withRemoval } from './jobs.js';
import { reconcile } from './reconcile.js';
import { pastRetention } from './retention.js';
import { branchOwner, isBranch, maskingOn, maySeeSnapshot, noSnapshot, type SnapshotViewer } from './snapshot-access.js';

export type { SnapshotListItem };

/**
 * `dolly snapshot list`: snapshots, oldest first, with the clones that need them and their own
 * disk; for a `viewer` only those it may see (a private branch of another's is left out).
 */
export async function listSnapshots(deps: EngineDeps, viewer?: SnapshotViewer): Promise<{ snapshots: SnapshotListItem[]; pool: PoolSpace }> {
  const state = deps.store.require();
  const driver = deps.driver(state);
  const past = pastRetention(state, deps.now());
  const snapshots: SnapshotListItem[] = [];
  for (const snapshot of state.snapshots.filter((s) => viewer === undefined || maySeeSnapshot(viewer, s, maskingOn(state)))) {
    snapshots.push({
      ...snapshot,
      // A branch always says whose it is and whether it is shared.
      ...(isBranch(snapshot) ? { owner: branchOwner(snapshot), shared: snapshot.shared === true } : {}),
      clones: state.clones.filter((c) => c.snapshot === snapshot.id).map((c) => c.name),
      exclusive_bytes: await driver.exclusiveBytes(snapshot.volume).catch(() => null),
      past_retention: past.has(snapshot.id),
    });
  }
  return { snapshots, pool: await driver.space() };
}

/** `dolly snapshot destroy`: refused while a clone was made from it; a crash half-way is finished by the next command. */
export async function destroySnapshot(id: string, deps: EngineDeps, options: { event?: Record<string, unknown> } = {}): Promise<void> {
  await reconcile(deps);
  await withRemoval(deps, 'snapshot-destroy', `snapshot ${id}`, (state) => {
    const snapshot = findSnapshot(state, id);
    const users = state.clones.filter((c) => c.snapshot === snapshot.id).map((c) => c.name);
    if (users.length > 0) {
      throw new FailedPreconditionError(`snapshot ${id} is in use by clone(s) ${users.join(', ')}`, {
        hint: 'destroy those clones, or `dolly clone reset NAME --snapshot OTHER` them first',
      });
    }
    snapshot.status = 'deleting';
    // A private branch's end is told to its owner only, as its making was.
    const owner = isBranch(snapshot) && !snapshot.shared ? branchOwner(snapshot) : undefined;
    const destroyed = { type: 'snapshot.destroyed', data: { id, ...options.event }, ...(owner !== undefined ? { owner } : {}) } as const;
    return { target: id, finish: [{ do: 'remove-volume', id: snapshot.volume }, { do: 'forget-snapshot', id }], events: [destroyed] };
  });
}

/**
 * `dolly snapshot share ID`: a branch becomes visible to and clonable by every user, for good. Only
 * its owner or an admin may share it; to anyone who cannot see it, it is not found. The replica's
 * snapshots are everyone's already: sharing one is refused. Sharing a shared branch changes nothing.
 */
export function shareSnapshot(id: string, viewer: SnapshotViewer, deps: EngineDeps, options: { event?: Record<string, unknown> } = {}): Snapshot {
  const shared = (snapshot: Snapshot): EventDraft[] => [{ type: 'snapshot.shared', data: { id, branch_of: snapshot.branch_of, owner: snapshot.owner, ...options.event } }];
  return updateRecording(deps, (state) => {
    const snapshot = state.snapshots.find((s) => s.id === id);
    if (!snapshot || !maySeeSnapshot(viewer, snapshot, maskingOn(state))) throw noSnapshot(id);
    if (!isBranch(snapshot)) throw new FailedPreconditionError(`snapshot ${id} is not a branch: every user sees it already`, { hint: 'only a branch (`dolly clone snapshot NAME`) is private until shared' });
    const owner = branchOwner(snapshot);
    if (!viewer.admin && owner !== viewer.name) throw new PermissionDeniedError(`only its owner (${owner}) or an admin can share branch ${id}`, { hint: `ask ${owner} to run \`dolly snapshot share ${id}\`` });
    if (snapshot.status !== 'ready') throw new FailedPreconditionError(`snapshot ${id} is ${snapshot.status}`, { hint: 'wait until it is ready, then share it' });
    snapshot.shared = true;
    return { ...snapshot };
  }, shared);
}

/** Destroys the snapshots past retention that no clone uses; the others wait for their last clone. */
export async function pruneSnapshots(deps: EngineDeps): Promise<string[]> {
  const state = deps.store.read();
  if (!state?.schedule) return [];
  const used = new Set(state.clones.map((c) => c.snapshot));
  const pruned: string[] = [];
  for (const id of pastRetention(state, deps.now())) {
    if (used.has(id)) continue;
    try {
      await destroySnapshot(id, deps, { event: { reason: 'retention' } });
      pruned.push(id);
    } catch (error) {
      deps.logger.warn(`could not prune snapshot ${id}`, { error: messageOf(error) });
    }
  }
  return pruned;
}
