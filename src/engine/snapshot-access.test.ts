import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError, NotFoundError } from '../errors.js';
import type { Snapshot, State } from '../state/state.js';
import { findSnapshot } from './clone-create.js';
import { maySeeSnapshot, newestReplicaSnapshot } from './snapshot-access.js';

const snapshot = (id: string, extra: Partial<Snapshot> = {}): Snapshot => ({
  id,
  status: 'ready',
  volume: `snap-${id}`,
  gtid: '0-1-1',
  data_state_at: '2026-12-01T00:00:00Z',
  created_at: '2026-12-01T00:00:00Z',
  pause_ms: 1,
  prepare_ms: 1,
  flavor: 'mariadb',
  version: '10.11',
  ...extra,
});
const branch = (id: string, owner: string, extra: Partial<Snapshot> = {}): Snapshot => snapshot(id, { branch_of: 'c1', parent: 'r1', owner, ...extra });

const state = (snapshots: Snapshot[]): State => ({
  version: 2,
  root: '/r',
  pool: { driver: 'copy' },
  settings: { image: 'x', port_min: 6000, port_max: 6001, bind_address: '127.0.0.1', buffer_pool: '64M' },
  snapshots,
  clones: [],
  jobs: [],
});

const alice = { name: 'alice', admin: false };
const bob = { name: 'bob', admin: false };
const admin = { name: 'admin', admin: true };

describe('the default snapshot', () => {
  it('is the newest ready snapshot of the replica, never a newer branch (shared or not)', () => {
    const s = state([snapshot('r1'), snapshot('r2'), branch('b1', 'alice'), branch('b2', 'bob', { shared: true }), snapshot('r3', { status: 'creating' })]);
    assert.equal(findSnapshot(s, undefined).id, 'r2');
    assert.equal(newestReplicaSnapshot(s)?.id, 'r2');
  });
  it('with only branches: "no snapshot of the replica yet", with a hint to name a branch', () => {
    assert.throws(() => findSnapshot(state([branch('b1', 'alice')]), undefined), (e: unknown) => e instanceof NotFoundError && e.message === 'there is no snapshot of the replica yet' && /--snapshot ID/.test(e.hint ?? ''));
    assert.throws(() => findSnapshot(state([]), undefined), (e: unknown) => e instanceof NotFoundError && e.hint === 'run `dolly snapshot create`');
  });
});

describe('branch visibility', () => {
  const s = state([snapshot('r1'), branch('mine', 'alice'), branch('open', 'alice', { shared: true }), branch('old', 'local', {})]);
  const find = (id: string, viewer: { name: string; admin: boolean }): Snapshot => findSnapshot(s, id, (x) => maySeeSnapshot(viewer, x));

  it("a private branch is its owner's and admins'; shared ones and the replica's are everyone's", () => {
    assert.equal(find('mine', alice).id, 'mine');
    assert.equal(find('mine', admin).id, 'mine');
    assert.equal(find('open', bob).id, 'open');
    assert.equal(find('r1', bob).id, 'r1');
  });
  it("another's private branch is not found with the very message of a missing id", () => {
    const missing = (() => {
      try {
        find('nope', bob);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(missing instanceof NotFoundError);
    assert.throws(() => find('mine', bob), (e: unknown) => e instanceof NotFoundError && e.message === 'no snapshot "mine"' && e.hint === missing.hint);
    assert.throws(() => find('old', bob), NotFoundError, 'a branch without a recorded owner is the host\'s');
  });
  it('a snapshot not ready is refused as before', () => {
    assert.throws(() => findSnapshot(state([snapshot('r1', { status: 'creating' })]), 'r1'), FailedPreconditionError);
  });
});
