import { NotFoundError } from '../errors.js';
import type { Snapshot, State } from '../state/state.js';

/**
 * Who may see and clone which snapshot. The replica's snapshots are everyone's. A branch (`dolly
 * clone snapshot`, a clone's saved state) is private to its owner and admins until it is shared
 * (`dolly snapshot share`); to anyone else a private branch is "not found", exactly as if it did
 * not exist. A branch is never the default snapshot.
 */

/** Who asks: a token's name (the host's CLI is `local`) and whether it is an admin. */
export interface SnapshotViewer {
  name: string;
  admin: boolean;
}

/**
 * What create and reset ask about the snapshot they chose, inside the transaction that reserves
 * the clone (so what is checked is what is used, and a refusal leaves nothing made).
 */
export interface SnapshotGate {
  /** False: the snapshot is "not found" for the caller, exactly as if it did not exist. */
  visible(snapshot: Snapshot): boolean;
  /** Throws (PermissionDeniedError) when the caller may not have this clone of this snapshot. */
  admit(snapshot: Snapshot, clone: { admin: boolean; user?: string }): void;
}

/** True for a branch: a clone's saved state rather than the replica's. */
export function isBranch(snapshot: Snapshot): boolean {
  return snapshot.branch_of !== undefined;
}

/** A branch's owner; one made before owners were recorded belongs to the host's CLI (`local`). */
export function branchOwner(snapshot: Snapshot): string {
  return snapshot.owner ?? 'local';
}

/** Masking rules are in force (`dolly mask set`). */
export function maskingOn(state: Pick<State, 'settings'>): boolean {
  return state.settings.mask_version !== undefined;
}

/**
 * The replica's snapshots and shared branches are everyone's; a private branch its owner's and
 * admins'. With masking on, a snapshot that is not masked is admins' only.
 */
export function maySeeSnapshot(viewer: SnapshotViewer, snapshot: Snapshot, masking = false): boolean {
  if (viewer.admin) return true;
  if (snapshot.admin_only === true || (masking && snapshot.masked !== true)) return false;
  return !isBranch(snapshot) || snapshot.shared === true || branchOwner(snapshot) === viewer.name;
}

/**
 * The default snapshot: the ready snapshot of the replica (never a branch) with the newest data,
 * if any; with masking on, the newest masked one (`unmasked`: the newest unmasked one, admins
 * only). An admins-only base is never the default without `unmasked`. Newest by its data, not by
 * when it was made: re-masking an old snapshot does not make its old data the default.
 */
export function newestReplicaSnapshot(state: Pick<State, 'snapshots' | 'settings'>, options: { unmasked?: boolean } = {}): Snapshot | undefined {
  const masking = maskingOn(state);
  const unmasked = options.unmasked === true;
  const candidates = state.snapshots.filter((s) => s.status === 'ready' && !isBranch(s) && s.point === undefined && (masking ? (s.masked === true) !== unmasked : unmasked || s.admin_only !== true));
  let newest: Snapshot | undefined;
  for (const s of candidates) if (newest === undefined || Date.parse(s.data_state_at) >= Date.parse(newest.data_state_at)) newest = s;
  return newest;
}

/** The one error for a snapshot id that is missing or not the caller's to see. */
export function noSnapshot(id: string): NotFoundError {
  return new NotFoundError(`no snapshot ${JSON.stringify(id)}`, { hint: 'list them with `dolly snapshot list`' });
}
