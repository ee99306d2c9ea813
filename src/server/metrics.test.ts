import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StateStore } from '../state/store.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';
import { createMetrics } from './metrics.js';
import { nextSample, type ReplicaSample } from './sweeper.js';

const NOW = new Date('2026-12-06T12:00:00Z');

describe('nextSample: the apply rate from consecutive sweeper readings', () => {
  const status = (applied: number | null) => ({ io_running: true, sql_running: true, lag_seconds: 0, applied_transactions: applied, behind_transactions: 0 });
  it('the first sample has no rate; the next divides by the time between them', () => {
    const first = nextSample(undefined, new Date(0), status(1_000));
    assert.equal(first.apply_rate, null);
    const second = nextSample(first, new Date(30_000), status(61_000));
    assert.equal(second.apply_rate, 2_000);
    assert.equal(second.applied_transactions, 61_000);
    assert.equal(second.at, '1970-01-01T00:00:30.000Z');
  });
  it('no rate across a reading without a count', () => {
    const first = nextSample(undefined, new Date(0), status(null));
    assert.equal(nextSample(first, new Date(30_000), status(5)).apply_rate, null);
  });
});

describe('/metrics: the replica gauges from the newest reading', () => {
  let dir: string;
  let store: StateStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dolly-metrics-'));
    store = new StateStore(dir);
    store.create(
      stateFixture([snapshotFixture('s1', { data_state_at: '2026-12-06T11:59:00Z', lag_seconds: 2 })], {
        replica: {
          status: 'ready',
          volume: 'replica',
          port: 6000,
          server_id: 1,
          admin_user: 'dolly',
          admin_password: 'x',
          source: { host: 'db', port: 3306, user: 'repl', flavor: 'mariadb', version: '10.11' },
          databases: ['shop'],
          created_at: '2026-12-01T00:00:00Z',
        },
      }),
    );
  });
  after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sample = (extra: Partial<ReplicaSample>): ReplicaSample => ({
    at: '2026-12-06T11:59:50Z',
    io_running: true,
    sql_running: true,
    lag_seconds: 3,
    applied_transactions: 1234,
    apply_rate: 2345.5,
    behind_transactions: 1234,
    ...extra,
  });

  it('shows the apply rate and transactions behind, and leaves them (and the lag) out when unknown', async () => {
    let replica = sample({});
    const metrics = createMetrics({ store, now: () => NOW }, () => ({ replica, pool: undefined }));
    await metrics.refresh();
    let text = await metrics.registry.metrics();
    assert.match(text, /^dolly_replica_apply_rate 2345\.5$/m);
    assert.match(text, /^dolly_replica_behind_transactions 1234$/m);
    assert.match(text, /^dolly_replica_lag_seconds 3$/m);
    assert.match(text, /^dolly_replica_reading_age_seconds 10$/m);
    assert.match(text, /^dolly_snapshot_newest_age_seconds 60$/m);
    replica = sample({ lag_seconds: null, apply_rate: null, behind_transactions: null });
    await metrics.refresh();
    text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /^dolly_replica_apply_rate /m);
    assert.doesNotMatch(text, /^dolly_replica_behind_transactions /m);
    // Unknown is absent, not 0 (which would read as caught up).
    assert.doesNotMatch(text, /^dolly_replica_lag_seconds /m);
    assert.match(text, /^# HELP dolly_replica_apply_rate transactions the replica applied per second/m);
  });
});
