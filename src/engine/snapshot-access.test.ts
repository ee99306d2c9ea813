import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError, NotFoundError } from '../errors.js';
import type { Snapshot, State } from '../state/state.js';
import { findSnapshot } from './clone-create.js';
import { maySeeSnapshot, newestReplicaSnapshot } from './snapshot-access.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';

const snapshot = snapshotFixture;
const branch = (id: string, owner: string, extra: Partial<Snapshot> = {}): Snapshot => snapshot(id, { branch_of: 'c1', parent: 'r1', owner, ...extra });

const state = (snapshots: Snapshot[]): State => stateFixture(snapshots);

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
