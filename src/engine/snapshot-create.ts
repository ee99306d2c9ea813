import { FailedPreconditionError } from '../errors.js';
import { connectSql } from '../mysql/sql-client.js';
import { pauseReplica } from './quiesce.js';
import type { Snapshot, State } from '../state/state.js';
import type { StorageDriver } from '../storage/driver.js';
import type { EngineDeps } from './context.js';
import { snapshotId } from './names.js';
import { prepareServerName, prepareSnapshot } from './prepare.js';
import { REPLICA, REPLICA_VOLUME, replicaConnectOptions, waitUntilAnswering } from './servers.js';

/**
 * `dolly snapshot create`: pauses the replica's applier, blocks commits of non-transactional
 * tables, records the GTID position and the source time of the last applied event, takes the
 * snapshot, resumes (the pause is measured), then prepares the snapshot once and seals it.
 * Drivers that cannot snapshot a running server (copy) stop the replica cleanly instead.
 */
export async function createSnapshot(deps: EngineDeps): Promise<Snapshot> {
  return deps.store.transaction(async () => {
    const state = await deps.store.require();
    const replica = state.replica;
    if (!replica) throw new FailedPreconditionError('there is no replica to snapshot', { hint: 'run `dolly replica init --source mysql://...` first' });
    const driver = deps.driver(state);
    await driver.open();
    const now = deps.now();
    const id = snapshotId(now);
    const volume = `snap-${id}`;
    try {
      const taken = driver.atomic ? await atomicSnapshot(deps, state, driver, volume) : await stoppedSnapshot(deps, state, driver, volume);
      const data = await driver.mount(volume);
      const prepareMs = await prepareSnapshot(deps, volume, data, replica, state.settings.image);
      await driver.seal(volume);
      await deps.runtime.remove(prepareServerName(volume));
      const snapshot: Snapshot = {
        id,
        volume,
        gtid: taken.gtid,
        data_state_at: taken.dataStateAt.toISOString(),
        created_at: now.toISOString(),
        pause_ms: taken.pauseMs,
        prepare_ms: prepareMs,
        flavor: replica.source.flavor,
        version: replica.source.version,
      };
      state.snapshots.push(snapshot);
      await deps.store.write(state);
      deps.logger.info('snapshot created', { id, gtid: snapshot.gtid, pause_ms: snapshot.pause_ms, prepare_ms: prepareMs });
      return snapshot;
    } catch (error) {
      await deps.runtime.remove(prepareServerName(volume)).catch(() => undefined);
      await driver.remove(volume).catch(() => undefined);
      throw error;
    }
  });
}

/** What a snapshot records about the moment it was taken. */
interface Taken {
  gtid: string;
  dataStateAt: Date;
  pauseMs: number;
}

/** Snapshot of the running replica with its applier paused and commits blocked. */
async function atomicSnapshot(deps: EngineDeps, state: State, driver: StorageDriver, volume: string): Promise<Taken> {
  const replica = state.replica!;
  // Write dirty pages out before the pause: a btrfs snapshot flushes them itself, and with
  // gigabytes just applied that flush would hold the applier for seconds instead of milliseconds.
  const data = await driver.mount(REPLICA_VOLUME);
  if (data.kind === 'path') await deps.shell.run('sync', ['-f', data.path]);
  const client = await connectSql(replicaConnectOptions(deps.root, replica));
  try {
    const pause = await pauseReplica(client, replica.source.flavor, deps.now);
    try {
      await driver.snapshot(REPLICA_VOLUME, volume);
    } finally {
      pause.pauseMs = await pause.resume();
    }
    return pause;
  } finally {
    await client.close();
  }
}

/** Non-atomic drivers copy files: the replica is shut down cleanly for the copy, then restarted. */
async function stoppedSnapshot(deps: EngineDeps, state: State, driver: StorageDriver, volume: string): Promise<Taken> {
  const replica = state.replica!;
  const connect = replicaConnectOptions(deps.root, replica);
  const client = await connectSql(connect);
  let pause: Taken;
  try {
    pause = await pauseReplica(client, replica.source.flavor, deps.now, { quiesce: false });
  } finally {
    await client.close();
  }
  const started = Date.now();
  await deps.runtime.stop(REPLICA, 600);
  try {
    await driver.snapshot(REPLICA_VOLUME, volume);
  } finally {
    await deps.runtime.startExisting(REPLICA);
    await waitUntilAnswering(deps, REPLICA, connect);
    pause.pauseMs = Date.now() - started;
  }
  return pause;
}
