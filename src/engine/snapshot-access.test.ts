import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from '../errors.js';
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

describe('with masking rules set', () => {
  const masking = (snapshots: Snapshot[]): State => ({ ...state(snapshots), settings: { ...state([]).settings, mask_version: 2 } });
  const s = masking([snapshot('base1'), snapshot('m1', { masked: true, masked_from: 'base1' }), snapshot('base2'), branch('mb', 'alice', { masked: true, shared: true }), branch('ub', 'alice', { shared: true })]);
  const see = (viewer: { name: string; admin: boolean }): string[] => s.snapshots.filter((x) => maySeeSnapshot(viewer, x, true)).map((x) => x.id);

  it('non-admins see only masked snapshots (branches of unmasked ones too are hidden); admins see all', () => {
    assert.deepEqual(see(bob), ['m1', 'mb']);
    assert.deepEqual(see(admin), ['base1', 'm1', 'base2', 'mb', 'ub']);
  });
  it('the default is the newest masked snapshot of the replica, even when an unmasked one is newer; --unmasked: the newest unmasked', () => {
    assert.equal(newestReplicaSnapshot(s)?.id, 'm1');
    assert.equal(findSnapshot(s, undefined, () => true, {}).id, 'm1');
    assert.equal(findSnapshot(s, undefined, () => true, { unmasked: true }).id, 'base2');
  });
  it('an unmasked snapshot named for a clone needs --unmasked; without a masked one the default says what to do', () => {
    assert.throws(() => findSnapshot(s, 'base2', () => true, {}), (e: unknown) => e instanceof PermissionDeniedError && /--unmasked/.test(e.hint ?? ''));
    assert.equal(findSnapshot(s, 'base2', () => true, { unmasked: true }).id, 'base2');
    assert.equal(findSnapshot(s, 'base2').id, 'base2', 'destroy and the like are not about masking');
    assert.throws(() => findSnapshot(masking([snapshot('base1')]), undefined, () => true, {}), (e: unknown) => e instanceof NotFoundError && /no masked snapshot/.test(e.message));
  });
});
