import type { Snapshot, State } from '../state/state.js';
import { snapshotId } from './names.js';

/** A new snapshot entry in status `creating`, with an id no other snapshot has (ids sort by time). */
export function newSnapshot(state: State, now: Date, fields: Pick<Snapshot, 'gtid' | 'flavor' | 'version'> & Partial<Snapshot>): Snapshot {
  let id = snapshotId(now);
  for (let ms = 1; state.snapshots.some((s) => s.id === id); ms += 1) id = snapshotId(new Date(now.getTime() + ms));
  return { id, status: 'creating', volume: `snap-${id}`, data_state_at: now.toISOString(), created_at: now.toISOString(), pause_ms: 0, prepare_ms: 0, ...fields };
}
