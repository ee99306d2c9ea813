import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineDeps } from '../engine/context.js';
import { newestReplicaSnapshot } from '../engine/snapshot-access.js';
import { messageOf } from '../errors.js';

/** The engine's Prometheus metrics (`/metrics`). Gauges are read fresh at each scrape (`refresh`). */
export interface Metrics {
  registry: Registry;
  jobSeconds: Histogram<'kind' | 'outcome'>;
  failures: Counter<'category'>;
  refresh(): Promise<void>;
}

export function createMetrics(deps: EngineDeps): Metrics {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []): Gauge => new Gauge({ name, help, labelNames, registers: [registry] });
  const io = gauge('dolly_replica_io_running', '1 while the replica receives the source binlog');
  const sql = gauge('dolly_replica_sql_running', '1 while the replica applies it');
  const lag = gauge('dolly_replica_lag_seconds', 'how far the replica is behind the source (absent when unknown)');
  const newest = gauge('dolly_snapshot_newest_age_seconds', 'age of the data in the default snapshot, the newest ready one of the replica (absent without one)');
  const snapshots = gauge('dolly_snapshots', 'snapshots');
  const clones = gauge('dolly_clones', 'clones by status', ['status']);
  const pool = gauge('dolly_pool_bytes', 'pool space', ['kind']);
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
      newest.reset();
      if (ready) newest.set((deps.now().getTime() - Date.parse(ready.data_state_at)) / 1000);
      snapshots.set(state.snapshots.length);
      clones.reset();
      for (const status of ['creating', 'ready', 'resetting', 'saving', 'deleting'] as const) clones.set({ status }, state.clones.filter((c) => c.status === status).length);
      try {
        const space = await deps.driver(state).space();
        pool.set({ kind: 'total' }, space.totalBytes);
        pool.set({ kind: 'free' }, space.freeBytes);
        pool.set({ kind: 'used' }, space.totalBytes - space.freeBytes);
        pool.set({ kind: 'reserve' }, state.settings.reserve_bytes ?? 0);
      } catch (error) {
        deps.logger.warn('metrics: pool space unknown', { error: messageOf(error) });
      }
      lag.reset();
      if (!state.replica) {
        io.set(0);
        sql.set(0);
        return;
      }
      const status = await (await import('../engine/replica-status.js')).getReplicaStatus(deps);
      io.set(status.io_running ? 1 : 0);
      sql.set(status.sql_running ? 1 : 0);
      if (status.lag_seconds !== null) lag.set(status.lag_seconds);
    },
  };
}
