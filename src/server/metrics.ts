import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineDeps } from '../engine/context.js';
import { newestReplicaSnapshot } from '../engine/snapshot-access.js';
import type { PoolSample, ReplicaSample } from './sweeper.js';
import type { PitrView } from '../model/wire.js';

/** The newest readings the engine's sweeper took (a scrape reads these, never the replica or the pool). */
export type Readings = () => { replica: ReplicaSample | undefined; pool: PoolSample | undefined; pitr?: PitrView | undefined };

/**
 * The engine's Prometheus metrics (`/metrics`). `refresh` sets the gauges from the root's state
 * and the sweeper's newest readings: a scrape opens no connection to the replica and runs no
 * command, however often it comes (the readings are as old as the sweeper's interval, shown by
 * `dolly_replica_reading_age_seconds`).
 */
export interface Metrics {
  registry: Registry;
  jobSeconds: Histogram<'kind' | 'outcome'>;
  failures: Counter<'category'>;
  refresh(): Promise<void>;
}

/** Leaves a gauge without a value (prom-client's reset() of an unlabelled gauge sets it to 0, which would say "caught up"). */
function clear(gauge: Gauge): void {
  gauge.reset();
  gauge.remove();
}

export function createMetrics(deps: Pick<EngineDeps, 'store' | 'now'>, readings: Readings): Metrics {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []): Gauge => new Gauge({ name, help, labelNames, registers: [registry] });
  const io = gauge('dolly_replica_io_running', '1 while the replica receives the source binlog');
  const sql = gauge('dolly_replica_sql_running', '1 while the replica applies it');
  const lag = gauge('dolly_replica_lag_seconds', 'how far the replica is behind the source (absent when unknown)');
  const applyRate = gauge('dolly_replica_apply_rate', 'transactions the replica applied per second between the last two readings (absent when unknown)');
  const behind = gauge('dolly_replica_behind_transactions', 'transactions the replica has received and not yet applied (absent when unknown)');
  const readingAge = gauge('dolly_replica_reading_age_seconds', "age of the replica reading the other dolly_replica_ gauges show (the engine's sweeper takes one per --expiry-interval)");
  const newest = gauge('dolly_snapshot_newest_age_seconds', 'age of the data in the default snapshot, the newest ready one of the replica (absent without one)');
  const snapshots = gauge('dolly_snapshots', 'snapshots');
  const clones = gauge('dolly_clones', 'clones by status', ['status']);
  const pool = gauge('dolly_pool_bytes', 'pool space', ['kind']);
  const pitrBinlog = gauge('dolly_pitr_binlog_bytes', "point-in-time clones: bytes of the replica's own binlog kept for the window (absent when off)");
  const pitrBasePoints = gauge('dolly_pitr_base_points', 'point-in-time clones: base points kept (absent when off)');
  const pitrOldest = gauge('dolly_pitr_oldest_seconds', 'point-in-time clones: age of the oldest point a clone can be made at (absent when off or none yet)');
  const jobSeconds = new Histogram({ name: 'dolly_job_duration_seconds', help: 'how long operations took', labelNames: ['kind', 'outcome'], buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [registry] });
  const failures = new Counter({ name: 'dolly_failures_total', help: 'failed requests by error category', labelNames: ['category'], registers: [registry] });
  return {
    registry,
    jobSeconds,
    failures,
    async refresh() {
      const state = deps.store.read();
      if (!state) return;
      const ready = newestReplicaSnapshot(state);
      clear(newest);
      if (ready) newest.set((deps.now().getTime() - Date.parse(ready.data_state_at)) / 1000);
      snapshots.set(state.snapshots.length);
      clones.reset();
      for (const status of ['creating', 'ready', 'resetting', 'saving', 'deleting'] as const) clones.set({ status }, state.clones.filter((c) => c.status === status).length);
      const { replica, pool: space } = readings();
      pool.reset();
      if (space) {
        pool.set({ kind: 'total' }, space.total_bytes);
        pool.set({ kind: 'free' }, space.free_bytes);
        pool.set({ kind: 'used' }, space.total_bytes - space.free_bytes);
      }
      pool.set({ kind: 'reserve' }, state.settings.reserve_bytes ?? 0);
      for (const g of [pitrBinlog, pitrBasePoints, pitrOldest]) clear(g);
      const pitr = readings().pitr;
      if (pitr) {
        pitrBinlog.set(pitr.binlog_bytes);
        pitrBasePoints.set(pitr.base_points);
        if (pitr.oldest_point) pitrOldest.set((deps.now().getTime() - Date.parse(pitr.oldest_point.at)) / 1000);
      }
      for (const g of [lag, applyRate, behind, readingAge]) clear(g);
      if (!state.replica || !replica) {
        io.set(0);
        sql.set(0);
        return;
      }
      readingAge.set((deps.now().getTime() - Date.parse(replica.at)) / 1000);
      io.set(replica.io_running ? 1 : 0);
      sql.set(replica.sql_running ? 1 : 0);
      if (replica.lag_seconds !== null) lag.set(replica.lag_seconds);
      if (replica.apply_rate !== null) applyRate.set(replica.apply_rate);
      if (replica.behind_transactions !== null) behind.set(replica.behind_transactions);
    },
  };
}
