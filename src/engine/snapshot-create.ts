import { DollyError, FailedPreconditionError } from '../errors.js';
import { currentMaskRules } from './mask-rules.js';
import { maskSnapshot } from './mask-snapshot.js';
import { failpoint } from '../failpoint.js';
import { connectSql } from '../mysql/sql-client.js';
import { pauseReplica } from './quiesce.js';
import { binlogPosition } from './pitr-binlog.js';
import type { Snapshot, State } from '../state/state.js';
import type { StorageDriver } from '../storage/driver.js';
import { reportStep, type EngineDeps } from './context.js';
import { ownerAlive } from '../state/owner.js';
import { withJob, type JobRun } from './jobs.js';
import { newSnapshot } from './snapshot-entry.js';
import { reconcile } from './reconcile.js';
import { prepareServerName, prepareSnapshot } from './prepare.js';
import { REPLICA_VOLUME, replicaConnectOptions, replicaHostOf, restartReplicaServer } from './servers.js';

/**
 * `dolly snapshot create`: pauses the replica's applier, blocks commits of non-transactional
 * tables, records the GTID position and the source time of the last applied event, takes the
 * snapshot, resumes (the pause is measured), then prepares the snapshot once and seals it.
 * Drivers that cannot snapshot a running server (copy) stop the replica cleanly instead.
 * Journaled: a crash at any point (the pause included) is undone by the next command, which
 * also restarts the applier. One snapshot at a time per root.
 *
 * With masking rules set (`dolly mask set`), the prepared snapshot is then masked into a second
 * one (src/engine/mask-snapshot.ts), which is returned: the default snapshot from then on. If
 * masking fails, the masked copy is undone, the unmasked snapshot stays (admins only), and the
 * error names it so that `dolly snapshot mask ID` can mask it once the rules are fixed.
 */
export async function createSnapshot(deps: EngineDeps, options: { signal?: AbortSignal; scheduled?: boolean; owner?: string; event?: Record<string, unknown> } = {}): Promise<Snapshot> {
  const base = await takeSnapshot(deps, options);
  const rules = currentMaskRules(deps.store);
  if (rules === null) return base;
  try {
    return await maskSnapshot(deps, base.id, { ...options, rules });
  } catch (error) {
    if (!(error instanceof DollyError) || error.category === 'interrupted') throw error;
    throw new DollyError(error.category, `snapshot ${base.id} was taken, but masking it failed: ${error.message}`, {
      hint: `${error.hint !== undefined ? `${error.hint}; ` : 'fix the rules (`dolly mask set FILE`); '}then \`dolly snapshot mask ${base.id}\` (until then clones use the previous masked snapshot)`,
      cause: error,
    });
  }
}

/** The replica's snapshot, prepared: what `createSnapshot` masks when rules are set. */
async function takeSnapshot(deps: EngineDeps, options: { signal?: AbortSignal; scheduled?: boolean; owner?: string; event?: Record<string, unknown> }): Promise<Snapshot> {
  await reconcile(deps);
  const now = deps.now();
  return withJob(
    deps,
    'snapshot-create',
    (state) => {
      const replica = state.replica;
      if (!replica || replica.status !== 'ready') throw new FailedPreconditionError('there is no replica to snapshot', { hint: 'run `dolly replica init --source mysql://...` first' });
      const running = state.jobs.find((j) => j.kind === 'snapshot-create' && ownerAlive(j.owner));
      if (running) throw new FailedPreconditionError(`another snapshot (${running.target}) is being taken`, { hint: 'wait for it to finish' });
      // Taken while masking rules are set, it is the base of the masked snapshot: admins only, for good.
      const snapshot = newSnapshot(state, now, { gtid: '', flavor: replica.source.flavor, version: replica.source.version, ...(options.scheduled ? { scheduled: true } : {}), ...(state.settings.mask_version !== undefined ? { admin_only: true } : {}) });
      state.snapshots.push(snapshot);
      return { target: snapshot.id, undo: [{ do: 'forget-snapshot', id: snapshot.id }], reserved: { snapshot, replica } };
    },
    async (job, { snapshot, replica }) => {
      const state = deps.store.require();
      const driver = deps.driver(state);
      await driver.open();
      job.willUndo({ do: 'remove-volume', id: snapshot.volume });
      const taken = driver.atomic ? await atomicSnapshot(deps, job, state, driver, snapshot.volume) : await stoppedSnapshot(deps, job, state, driver, snapshot.volume);
      options.signal?.throwIfAborted();
      reportStep(deps, `snapshot ${snapshot.id}: taken at ${taken.gtid} (applier paused ${taken.pauseMs} ms); preparing it`);
      const data = await driver.mount(snapshot.volume);
      job.willUndo({ do: 'remove-run-dir', server: prepareServerName(snapshot.volume) }, { do: 'remove-server', name: prepareServerName(snapshot.volume) });
      // A snapshot that is masked next ends its prepare with a slow shutdown: the mask server can then renew the undo.
      const { ms: prepareMs, ...found } = await prepareSnapshot(deps, snapshot.volume, data, replica, state.settings.image, options.signal, undefined, { slowShutdown: state.settings.mask_version !== undefined });
      await failpoint('snapshot.prepared');
      await driver.seal(snapshot.volume);
      await deps.runtime.remove(prepareServerName(snapshot.volume));
      // A token's snapshot records who took it (what --max-snapshots-per-user counts).
      const done: Snapshot = { ...snapshot, status: 'ready', gtid: taken.gtid, data_state_at: taken.dataStateAt.toISOString(), lag_seconds: taken.lagSeconds, pause_ms: taken.pauseMs, prepare_ms: prepareMs, ...found, ...(taken.binlog ? { binlog: taken.binlog } : {}), ...(options.owner !== undefined ? { owner: options.owner } : {}) };
      const created = { type: 'snapshot.created', data: { id: done.id, gtid: done.gtid, data_state_at: done.data_state_at, ...options.event } } as const;
      await job.commit(
        (s) => {
          s.snapshots = s.snapshots.map((x) => (x.id === done.id ? done : x));
        },
        undefined,
        [created],
      );
      reportStep(deps, `snapshot ${done.id}: prepared (${prepareMs} ms) and ready`);
      deps.logger.info('snapshot created', { id: done.id, gtid: done.gtid, lag_seconds: done.lag_seconds, pause_ms: done.pause_ms, prepare_ms: prepareMs });
      return done;
    },
  );
}

/** Every statement of a snapshot's pause fails after this long instead of hanging (a full pool). */
const SQL_TIMEOUT_MS = 30_000;
/** A replica's server that does not greet on its local socket within this long does not answer (SIGSTOPped, hung). */
const CONNECT_TIMEOUT_MS = 10_000;

/** What a snapshot records about the moment it was taken. */
export interface Taken {
  gtid: string;
  dataStateAt: Date;
  /** How far behind the source the data was when the applier stopped. */
  lagSeconds: number;
  pauseMs: number;
  /** Where the replica's own binlog stood (point-in-time clones on). */
  binlog?: { file: string; pos: number };
}

/** Seconds from the data's source time to `at` (when the applier stopped), to one decimal, never negative. */
export function lagAt(dataStateAt: Date, at: Date): number {
  return Math.max(0, Math.round((at.getTime() - dataStateAt.getTime()) / 100) / 10);
}

/** Snapshot of the running replica with its applier paused and commits blocked. */
export async function atomicSnapshot(deps: EngineDeps, job: JobRun, state: State, driver: StorageDriver, volume: string): Promise<Taken> {
  const replica = state.replica!;
  // Write dirty pages out before the pause: a btrfs snapshot flushes them itself, and with
  // gigabytes just applied that flush would hold the applier for seconds instead of milliseconds.
  const data = await driver.mount(REPLICA_VOLUME);
  if (data.kind === 'path') await deps.shell.run('sync', ['-f', data.path]);
  const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: SQL_TIMEOUT_MS });
  try {
    // Journaled before the applier stops: if this process dies in the pause, the next command
    // starts the applier again (the backup lock dies with this connection).
    job.willUndo({ do: 'resume-applier' });
    const pause = await pauseReplica(client, replica.source.flavor, deps.now);
    const lagSeconds = lagAt(pause.dataStateAt, deps.now());
    let binlog: Taken['binlog'];
    try {
      if (replica.pitr) binlog = await binlogPosition(client, replica.source.flavor);
      await failpoint('snapshot.paused');
      await driver.snapshot(REPLICA_VOLUME, volume);
      await failpoint('snapshot.taken');
    } finally {
      pause.pauseMs = await pause.resume();
    }
    job.dropUndo((step) => step.do === 'resume-applier');
    return { gtid: pause.gtid, dataStateAt: pause.dataStateAt, lagSeconds, pauseMs: pause.pauseMs, ...(binlog ? { binlog } : {}) };
  } finally {
    await client.close();
  }
}

/** Non-atomic drivers copy files: the replica is shut down cleanly for the copy, then restarted. */
export async function stoppedSnapshot(deps: EngineDeps, job: JobRun, state: State, driver: StorageDriver, volume: string): Promise<Taken> {
  const replica = state.replica!;
  const connect = replicaConnectOptions(deps.root, replica);
  const client = await connectSql({ ...connect, connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: SQL_TIMEOUT_MS });
  let pause: Taken;
  job.willUndo({ do: 'resume-applier' }, { do: 'start-replica' });
  try {
    const paused = await pauseReplica(client, replica.source.flavor, deps.now, { quiesce: false });
    pause = { gtid: paused.gtid, dataStateAt: paused.dataStateAt, lagSeconds: lagAt(paused.dataStateAt, deps.now()), pauseMs: paused.pauseMs, ...(replica.pitr ? { binlog: await binlogPosition(client, replica.source.flavor) } : {}) };
  } finally {
    await client.close();
  }
  const started = Date.now();
  const host = replicaHostOf(deps);
  await host.stop(600);
  try {
    await driver.snapshot(REPLICA_VOLUME, volume);
  } finally {
    await restartReplicaServer(deps, connect);
    pause.pauseMs = Date.now() - started;
  }
  // The replica starts with replication (skip-slave-start is a clone's flag, not the replica's).
  job.dropUndo((step) => step.do === 'resume-applier' || step.do === 'start-replica');
  return pause;
}
