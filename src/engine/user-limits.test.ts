import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermissionDeniedError, RateLimitedError } from '../errors.js';
import type { Clone, State } from '../state/state.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';
import { DEFAULT_USER_LIMITS, UserLimiter, type UserLimitsConfig } from './user-limits.js';

const alice = { name: 'alice', admin: false };
const admin = { name: 'admin', admin: true };
const clone = (name: string, owner: string, status: Clone['status'] = 'ready'): Clone => ({ name, status, snapshot: 's1', volume: `v-${name}`, port: 6000, user: 'dolly', password: 'x', server_id: 1, created_at: '2026-12-01T00:00:00Z', owner });
const state = (clones: Clone[], extra: Partial<State> = {}): State => stateFixture([snapshotFixture('s1')], { clones, ...extra });
const config = (extra: Partial<UserLimitsConfig>): UserLimitsConfig => ({ ...DEFAULT_USER_LIMITS, ...extra });
const oneLine = (pattern: RegExp, type: typeof PermissionDeniedError | typeof RateLimitedError) => (e: unknown): boolean =>
  e instanceof type && !e.message.includes('\n') && pattern.test(e.message) && (e.hint ?? '') !== '';

describe('per-token limits', () => {
  it('the defaults: 20 clones, 10 branches, 10 snapshots, snapshots by admins only, one a minute', () => {
    assert.deepEqual(DEFAULT_USER_LIMITS, { maxClones: 20, maxBranches: 10, maxSnapshots: 10, snapshotsBy: 'admin', snapshotIntervalMs: 60_000 });
  });
  it("counts a token's clones in the state (not another's, not those being made) plus those it is making now", () => {
    const limiter = new UserLimiter(config({ maxClones: 2 }));
    const s = state([clone('a1', 'alice'), clone('b1', 'bob'), clone('b2', 'bob'), clone('a2', 'alice', 'creating')]);
    const first = limiter.admit(alice, 'clone', s);
    assert.throws(() => limiter.admit(alice, 'clone', s), oneLine(/^token alice has 2 clones, the most this engine allows per token \(--max-clones-per-user 2\)$/, PermissionDeniedError));
    first();
    first(); // a second release changes nothing
    const again = limiter.admit(alice, 'clone', s);
    assert.throws(() => limiter.admit(alice, 'clone', s), PermissionDeniedError);
    again();
    limiter.admit(alice, 'clone', s);
  });
  it('admins are exempt; 0 is no limit', () => {
    const limiter = new UserLimiter(config({ maxClones: 1 }));
    const s = state([clone('x', 'admin'), clone('y', 'admin')]);
    for (let i = 0; i < 5; i++) limiter.admit(admin, 'clone', s);
    const open = new UserLimiter(config({ maxClones: 0 }));
    for (let i = 0; i < 50; i++) open.admit(alice, 'clone', state([]));
  });
  it('branches count ready branches owned by the token; snapshots the replica snapshots it took', () => {
    const s = state([], {
      snapshots: [
        snapshotFixture('s1'),
        snapshotFixture('b1', { branch_of: 'c', parent: 's1', owner: 'alice' }),
        snapshotFixture('b2', { branch_of: 'c', parent: 's1', owner: 'bob' }),
        snapshotFixture('s2', { owner: 'alice' }),
      ],
    });
    const limiter = new UserLimiter(config({ maxBranches: 1, maxSnapshots: 1, snapshotsBy: 'all', snapshotIntervalMs: 0 }));
    assert.throws(() => limiter.admit(alice, 'branch', s), oneLine(/token alice has 1 branch, .*--max-branches-per-user 1/, PermissionDeniedError));
    assert.throws(() => limiter.admit(alice, 'snapshot', s), oneLine(/token alice has 1 snapshot, .*--max-snapshots-per-user 1/, PermissionDeniedError));
    limiter.admit({ name: 'bob', admin: false }, 'snapshot', s);
  });
  it('snapshots by non-admins: refused under --snapshots-by admin, one per interval under all', () => {
    assert.throws(() => new UserLimiter(config({})).admit(alice, 'snapshot', state([])), oneLine(/needs an admin token \(dolly serve --snapshots-by admin\)/, PermissionDeniedError));
    let now = 1_000_000;
    const limiter = new UserLimiter(config({ snapshotsBy: 'all', snapshotIntervalMs: 60_000 }), () => now);
    limiter.admit(alice, 'snapshot', state([]))();
    now += 20_000;
    assert.throws(() => limiter.admit(alice, 'snapshot', state([])), oneLine(/took a snapshot 20 s ago: this engine allows one per 1m per token/, RateLimitedError));
    limiter.admit({ name: 'bob', admin: false }, 'snapshot', state([]));
    now += 40_000;
    limiter.admit(alice, 'snapshot', state([]));
  });
});
