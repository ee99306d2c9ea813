import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Replica, Snapshot } from '../state/state.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';
import { DEFAULT_BASE_INTERVAL_S, baseIntervalSeconds, basePointDue } from './base-point.js';

const replica = (pitr: Replica['pitr']): Replica => ({
  status: 'ready',
  volume: 'replica',
  port: 0,
  server_id: 7,
  admin_user: 'dolly_admin',
  admin_password: 'x',
  source: { host: 'db', port: 3306, user: 'repl', flavor: 'mariadb', version: '10.11' },
  databases: ['shop'],
  created_at: '2026-12-01T00:00:00Z',
  ...(pitr ? { pitr } : {}),
});
const PITR = { window_s: 3_600, base: 'r-abc123', since: '2026-12-07T09:00:00Z' };
const base = (id: string, at: string, extra: Partial<Snapshot> = {}): Snapshot => snapshotFixture(id, { data_state_at: at, created_at: at, binlog: { file: 'r-abc123.000001', pos: 4 }, ...extra });

describe('base points: when the next one is due', () => {
  const now = new Date('2026-12-07T10:00:00Z');
  it('the interval is the replica\'s, else the default', () => {
    assert.equal(baseIntervalSeconds(stateFixture([], { replica: replica(PITR) })), DEFAULT_BASE_INTERVAL_S.mariadb);
    assert.equal(baseIntervalSeconds(stateFixture([], { replica: { ...replica(PITR), source: { ...replica(PITR).source, flavor: 'mysql' } } })), 30);
    assert.equal(baseIntervalSeconds(stateFixture([], { replica: replica({ ...PITR, base_interval_s: 15 }) })), 15);
  });
  it('never when point-in-time clones are off, or the replica is not ready', () => {
    assert.equal(basePointDue(stateFixture([], { replica: replica(undefined) }), [], now), false);
    assert.equal(basePointDue(stateFixture([], { replica: { ...replica(PITR), status: 'creating' } }), [], now), false);
  });
  it('at once without a base; then once the newest base is an interval old', () => {
    const state = stateFixture([], { replica: replica(PITR) });
    assert.equal(basePointDue(state, [], now), true);
    assert.equal(basePointDue(state, [base('bp-1', '2026-12-07T09:59:45Z')], now), false, '15 s old');
    assert.equal(basePointDue(state, [base('bp-1', '2026-12-07T09:59:30Z')], now), true, '30 s old');
  });
  it('a snapshot taken meanwhile counts as a base; one of another binlog (turned off and on) does not', () => {
    const state = stateFixture([base('s1', '2026-12-07T09:59:50Z')], { replica: replica(PITR) });
    assert.equal(basePointDue(state, [base('bp-1', '2026-12-07T09:58:00Z')], now), false, 'the snapshot is 10 s old');
    const old = stateFixture([base('s1', '2026-12-07T09:59:50Z', { binlog: { file: 'r-zzzzzz.000001', pos: 4 } })], { replica: replica(PITR) });
    assert.equal(basePointDue(old, [], now), true);
  });
});
