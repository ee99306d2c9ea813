import type { Snapshot, State } from '../../src/state/state.js';

/** A ready snapshot of the replica for unit tests (MariaDB 10.11), with `extra` on top. */
export function snapshotFixture(id: string, extra: Partial<Snapshot> = {}): Snapshot {
  return {
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
  };
}

/** A root's state holding `snapshots` and no clone or job, with `extra` on top. */
export function stateFixture(snapshots: Snapshot[], extra: Partial<State> = {}): State {
  return {
    version: 2,
    root: '/r',
    pool: { driver: 'copy' },
    settings: { image: 'x', port_min: 6000, port_max: 6001, bind_address: '127.0.0.1', buffer_pool: '64M' },
    snapshots,
    clones: [],
    jobs: [],
    ...extra,
  };
}
