import { FailedPreconditionError } from '../errors.js';
import type { Snapshot } from '../state/state.js';
import type { PoolSpace } from '../storage/driver.js';
import type { EngineDeps } from './context.js';
import { findSnapshot } from './clone-create.js';

export interface SnapshotListItem extends Snapshot {
  clones: string[];
  exclusive_bytes: number | null;
}

/** `dolly snapshot list`: snapshots, oldest first, with the clones that need them and their own disk. */
export async function listSnapshots(deps: EngineDeps): Promise<{ snapshots: SnapshotListItem[]; pool: PoolSpace }> {
  const state = await deps.store.require();
  const driver = deps.driver(state);
  const snapshots: SnapshotListItem[] = [];
  for (const snapshot of state.snapshots) {
    snapshots.push({
      ...snapshot,
      clones: state.clones.filter((c) => c.snapshot === snapshot.id).map((c) => c.name),
      exclusive_bytes: await driver.exclusiveBytes(snapshot.volume).catch(() => null),
    });
  }
  return { snapshots, pool: await driver.space() };
}

/** `dolly snapshot destroy`: refused while a clone was made from it. */
export async function destroySnapshot(id: string, deps: EngineDeps): Promise<void> {
  await deps.store.transaction(async () => {
    const state = await deps.store.require();
    const snapshot = findSnapshot(state, id);
    const users = state.clones.filter((c) => c.snapshot === snapshot.id).map((c) => c.name);
    if (users.length > 0) {
      throw new FailedPreconditionError(`snapshot ${id} is in use by clone(s) ${users.join(', ')}`, {
        hint: 'destroy those clones, or `dolly clone reset NAME --snapshot OTHER` them first',
      });
    }
    const driver = deps.driver(state);
    if (await driver.exists(snapshot.volume)) await driver.remove(snapshot.volume);
    state.snapshots = state.snapshots.filter((s) => s.id !== snapshot.id);
    await deps.store.write(state);
  });
}
