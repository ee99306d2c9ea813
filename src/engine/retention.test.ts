import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import type { Snapshot, State } from '../state/state.js';
import { checkCron, pastRetention } from './retention.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';

const snapshot = (id: string, createdAt: string, extra: Partial<Snapshot> = {}): Snapshot => snapshotFixture(id, { data_state_at: createdAt, created_at: createdAt, scheduled: true, ...extra });

const state = (snapshots: Snapshot[], schedule: State['schedule']): State => stateFixture(snapshots, schedule ? { schedule } : {});

describe('retention', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const list = [snapshot('a', '2026-11-28T00:00:00Z'), snapshot('manual', '2026-11-29T00:00:00Z', { scheduled: false }), snapshot('b', '2026-11-30T00:00:00Z'), snapshot('c', '2026-12-01T00:00:00Z'), snapshot('d', '2026-12-01T11:00:00Z')];

  it('keeps the newest N scheduled snapshots, never a manual one', () => {
    assert.deepEqual([...pastRetention(state(list, { snapshot: '* * * * *', keep: 2 }), now)].sort(), ['a', 'b']);
  });
  it('also lets scheduled snapshots older than max_age go', () => {
    assert.deepEqual([...pastRetention(state(list, { snapshot: '* * * * *', keep: 10, max_age_ms: 30 * 3_600_000 }), now)].sort(), ['a', 'b']);
  });
  it('never the newest ready snapshot, and nothing without a schedule', () => {
    const old = [snapshot('only', '2026-01-01T00:00:00Z')];
    assert.deepEqual([...pastRetention(state(old, { snapshot: '* * * * *', keep: 1, max_age_ms: 1000 }), now)], []);
    assert.deepEqual([...pastRetention(state(list, undefined), now)], []);
  });
  it('keeps the default snapshot (the newest of the replica) even when a branch is newer', () => {
    const old = [snapshot('only', '2026-01-01T00:00:00Z'), snapshot('branch', '2026-12-01T00:00:00Z', { scheduled: false, branch_of: 'c1', parent: 'only', owner: 'alice' })];
    assert.deepEqual([...pastRetention(state(old, { snapshot: '* * * * *', keep: 1, max_age_ms: 1000 }), now)], []);
  });
  it('accepts five- and six-field cron and refuses the rest with a hint', () => {
    checkCron('*/15 * * * *');
    checkCron('*/5 * * * * *');
    for (const bad of ['every minute', '* * *', '61 * * * *', '* * * * * * * *']) assert.throws(() => checkCron(bad), InvalidArgumentError, bad);
  });
});

describe('retention with masking rules set', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const pair = (n: string, at: string): Snapshot[] => [snapshot(`b${n}`, at), snapshot(`m${n}`, at, { masked: true, masked_from: `b${n}` })];
  const list = [...pair('1', '2026-11-28T00:00:00Z'), ...pair('2', '2026-11-29T00:00:00Z'), ...pair('3', '2026-11-30T00:00:00Z')];
  const masked = (snapshots: Snapshot[], keep: number): State => ({ ...state(snapshots, { snapshot: '* * * * *', keep }), settings: { ...state([], undefined).settings, mask_version: 1 } });

  it('counts the masked snapshots, and lets a base go with the masked snapshots made from it', () => {
    assert.deepEqual([...pastRetention(masked(list, 2), now)].sort(), ['b1', 'm1']);
  });
  it('lets a base whose masking failed go once it is older than every masked snapshot kept', () => {
    const failed = [snapshot('b0', '2026-11-27T00:00:00Z'), ...list];
    assert.deepEqual([...pastRetention(masked(failed, 2), now)].sort(), ['b0', 'b1', 'm1']);
  });
  it('keeps the default (masked) snapshot and its base', () => {
    assert.deepEqual([...pastRetention(masked(list, 1), now)].sort(), ['b1', 'b2', 'm1', 'm2']);
  });
});
