import { FailedPreconditionError } from '../errors.js';
import { connectSql } from '../mysql/sql-client.js';
import { ownerAlive } from '../state/owner.js';
import type { JobStep, Snapshot, State } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { listBasePoints, putBasePoint } from './base-point-store.js';
import { withJob, runSteps } from './jobs.js';
import { snapshotId } from './names.js';
import { keepFrom, pitrBases, purgeReplicaBinlog } from './pitr-binlog.js';
import { replicaConnectOptions } from './servers.js';
import { atomicSnapshot, stoppedSnapshot } from './snapshot-create.js';

/**
 * The base interval when none is set, by flavor: the longest that keeps a point's p95 ready time
 * within 10 s at 300 transactions a second (bench/pitr.ts, BENCHMARKS.md): MariaDB p95 5.9 s at
 * 30 s; MySQL p95 13.9 s at 60 s and 9.9 s at 30 s, so 30 s on both. MySQL's base points are
 * dear (its redo files are recycled into new blocks: about 5 GiB of pool per hour at that rate);
 * `replica pitr --base-interval 60s` trades a slower point for a third less space. A base point
 * pauses the applier for about 25-100 ms.
 */
export const DEFAULT_BASE_INTERVAL_S = { mariadb: 30, mysql: 30 } as const;

/** Seconds between base points of this replica. */
export function baseIntervalSeconds(state: Pick<State, 'replica'>): number {
  return state.replica?.pitr?.base_interval_s ?? DEFAULT_BASE_INTERVAL_S[state.replica?.source.flavor ?? 'mariadb'];
}

/**
 * A base point: the replica's volume snapshotted in the usual pause (applier stopped, commits
 * blocked), with its binlog position, GTID and data time, and nothing else: no prepare (a point
 * replayed from it is prepared after the replay, as any snapshot). O(1) on btrfs, so the engine
 * takes one every base interval while point-in-time clones are on; a point then replays at most
 * an interval of the source's writes. It holds what the replica's volume holds (the replication
 * settings among them): nothing but a point's job ever mounts it, and that job drops them.
 * Journaled: killed at any point, the next command removes its volume and entry.
 */
export async function takeBasePoint(deps: EngineDeps): Promise<Snapshot> {
  const now = deps.now();
  return withJob(
    deps,
    'base-point',
    (state) => {
      const replica = state.replica;
      if (!replica || replica.status !== 'ready' || !replica.pitr) throw new FailedPreconditionError('point-in-time clones are off', { hint: 'turn them on: `dolly replica pitr --window 24h`' });
      const running = state.jobs.find((j) => (j.kind === 'snapshot-create' || j.kind === 'base-point') && ownerAlive(j.owner));
      if (running) throw new FailedPreconditionError(`a snapshot (${running.target}) is being taken`, { hint: 'the base point waits for the next interval' });
      const id = `bp-${snapshotId(now)}`;
      const point: Snapshot = { id, status: 'creating', volume: id, gtid: '', data_state_at: now.toISOString(), created_at: now.toISOString(), pause_ms: 0, prepare_ms: 0, flavor: replica.source.flavor, version: replica.source.version, raw: true };
      const undo: JobStep[] = [{ do: 'forget-base-point', id }, { do: 'remove-volume', id }];
      return { target: id, undo, reserved: point };
    },
    async (job, point) => {
      const state = deps.store.require();
      const driver = deps.driver(state);
      await driver.open();
      const taken = driver.atomic ? await atomicSnapshot(deps, job, state, driver, point.volume) : await stoppedSnapshot(deps, job, state, driver, point.volume);
      await driver.seal(point.volume);
      const done: Snapshot = { ...point, status: 'ready', gtid: taken.gtid, data_state_at: taken.dataStateAt.toISOString(), lag_seconds: taken.lagSeconds, pause_ms: taken.pauseMs, ...(taken.binlog ? { binlog: taken.binlog } : {}) };
      putBasePoint(deps.store, done);
      await job.commit(() => undefined);
      return done;
    },
  );
}

/** What a window costs and holds: its bases, its oldest point, its binlog files. */
export interface PitrPrune {
  removed: string[];
  keptFrom: string | null;
}

/**
 * Keeps the window: purges the replica's binlog before the window's first base and removes the
 * base points older than that base (a snapshot stays: retention decides for those).
 */
export async function prunePitr(deps: EngineDeps): Promise<PitrPrune> {
  const state = deps.store.require();
  const replica = state.replica;
  if (!replica?.pitr) return { removed: [], keptFrom: null };
  const points = listBasePoints(deps.store);
  const bases = pitrBases(state, points);
  // With no base at all, every file is kept.
  const first = keepFrom(bases, replica.pitr.window_s, deps.now());
  if (first !== null) {
    const client = await connectSql(replicaConnectOptions(deps.root, replica));
    try {
      await purgeReplicaBinlog(client, first);
    } finally {
      await client.close();
    }
  }
  const firstBase = bases.find((b) => b.binlog?.file === first);
  const edge = firstBase === undefined ? -Infinity : Date.parse(firstBase.data_state_at);
  // Older than the window's first base, or of a binlog that is gone (turned off and on again: another base name).
  const otherBinlog = (p: Snapshot): boolean => !p.binlog?.file.startsWith(`${replica.pitr?.base ?? '-'}.`);
  const gone = points.filter((p) => otherBinlog(p) || (p.id !== firstBase?.id && Date.parse(p.data_state_at) < edge));
  for (const point of gone) await runSteps(deps, [{ do: 'remove-volume', id: point.volume }, { do: 'forget-base-point', id: point.id }], 'finish');
  return { removed: gone.map((p) => p.id), keptFrom: first };
}

/** Whether the next base point is due: none yet since the newest base, for an interval. */
export function basePointDue(state: State, points: readonly Snapshot[], now: Date): boolean {
  if (!state.replica?.pitr || state.replica.status !== 'ready') return false;
  const newest = pitrBases(state, points).at(-1);
  return newest === undefined || now.getTime() - Date.parse(newest.created_at) >= baseIntervalSeconds(state) * 1_000;
}
