import { FailedPreconditionError } from '../errors.js';
import type { SnapshotListItem } from '../api/schemas.js';
import type { PoolSpace } from '../storage/driver.js';
import type { EngineDeps } from './context.js';
import { findSnapshot } from './clone-create.js';
import { withRemoval } from './jobs.js';
import { reconcile } from './reconcile.js';
import { pastRetention } from './retention.js';

export type { SnapshotListItem };

/** `dolly snapshot list`: snapshots, oldest first, with the clones that need them and their own disk. */
export async function listSnapshots(deps: EngineDeps): Promise<{ snapshots: SnapshotListItem[]; pool: PoolSpace }> {
  const state = await deps.store.require();
  const driver = deps.driver(state);
  const past = pastRetention(state, deps.now());
  const snapshots: SnapshotListItem[] = [];
  for (const snapshot of state.snapshots) {
    snapshots.push({
      ...snapshot,
      clones: state.clones.filter((c) => c.snapshot === snapshot.id).map((c) => c.name),
      exclusive_bytes: await driver.exclusiveBytes(snapshot.volume).catch(() => null),
      past_retention: past.has(snapshot.id),
    });
  }
  return { snapshots, pool: await driver.space() };
}

/** `dolly snapshot destroy`: refused while a clone was made from it; a crash half-way is finished by the next command. */
export async function destroySnapshot(id: string, deps: EngineDeps): Promise<void> {
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
    return { target: id, finish: [{ do: 'remove-volume', id: snapshot.volume }, { do: 'forget-snapshot', id }] };
  });
}
