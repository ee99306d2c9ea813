import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermissionDeniedError } from '../errors.js';
import type { Snapshot } from '../state/state.js';
import { checkClonePolicy, parseCloneUsers } from './clone-policy.js';
import { snapshotFixture } from '../../test/support/state-fixtures.js';

const snapshot = (extra: Partial<Snapshot> = {}): Snapshot =>
  snapshotFixture('s1', { accounts: ['app@%', 'dba@%', 'dba@localhost', 'odd@name@%'], privileged_accounts: ['dba@localhost', 'odd@name@%'], ...extra });
const bob = { name: 'bob', admin: false };
const admin = { name: 'admin', admin: true };
const denied = (hint: RegExp) => (e: unknown): boolean => e instanceof PermissionDeniedError && !e.message.includes('\n') && hint.test(e.hint ?? '');

describe('clone policy for tokens', () => {
  it('admins (and the host CLI) are never refused', () => {
    checkClonePolicy(admin, {}, snapshot(), { admin: true });
    checkClonePolicy(admin, { cloneUsers: [] }, snapshot(), { admin: false, user: 'dba' });
  });
  it('an admin clone needs an admin token unless the engine allows it', () => {
    assert.throws(() => checkClonePolicy(bob, {}, snapshot(), { admin: true }), denied(/--allow-admin-clones/));
    checkClonePolicy(bob, { allowAdminClones: true }, snapshot(), { admin: true });
  });
  it('without --clone-users: an account of the user on any host with global privileges needs an admin', () => {
    assert.throws(() => checkClonePolicy(bob, {}, snapshot(), { admin: false, user: 'dba' }), denied(/--clone-users/));
    assert.throws(() => checkClonePolicy(bob, {}, snapshot(), { admin: false, user: 'odd@name' }), PermissionDeniedError);
    checkClonePolicy(bob, {}, snapshot(), { admin: false, user: 'app' });
    checkClonePolicy(bob, {}, snapshot(), { admin: false, user: 'odd' });
  });
  it('a snapshot that does not say which accounts are privileged is judged by its accounts alone', () => {
    const { privileged_accounts: _, ...old } = snapshot();
    checkClonePolicy(bob, {}, old, { admin: false, user: 'dba' });
  });
  it('with --clone-users: exactly the names listed, privileged or not', () => {
    const policy = { cloneUsers: parseCloneUsers(' dba, report ,,') };
    assert.deepEqual(policy.cloneUsers, ['dba', 'report']);
    checkClonePolicy(bob, policy, snapshot(), { admin: false, user: 'dba' });
    assert.throws(() => checkClonePolicy(bob, policy, snapshot(), { admin: false, user: 'app' }), (e: unknown) => e instanceof PermissionDeniedError && /allows dba, report/.test(e.message));
  });
});
