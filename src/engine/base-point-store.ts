import { snapshotSchema, type Snapshot } from '../state/state.js';
import type { StateStore } from '../state/store.js';

/**
 * The store's base points (table `base_points`, kept out of the state document: a day's window
 * holds hundreds). Each is a Snapshot-shaped entry with `raw: true`: the replica's volume as the
 * pause left it, with the binlog position, GTID and data time of that instant.
 */
export function listBasePoints(store: StateStore): Snapshot[] {
  return store.query((db) => (db.prepare('SELECT body FROM base_points ORDER BY data_state_at').all() as { body: string }[]).map((r) => snapshotSchema.parse(JSON.parse(r.body))));
}

/** Records a ready base point. */
export function putBasePoint(store: StateStore, point: Snapshot): void {
  store.transact((db) => db.prepare('INSERT OR REPLACE INTO base_points (id, data_state_at, body) VALUES (?, ?, ?)').run(point.id, point.data_state_at, JSON.stringify(point)));
}

/** Forgets one (a job step: idempotent). */
export function forgetBasePoint(store: StateStore, id: string): void {
  store.transact((db) => db.prepare('DELETE FROM base_points WHERE id = ?').run(id));
}
