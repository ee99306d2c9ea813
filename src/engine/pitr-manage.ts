import { randomBytes } from 'node:crypto';
import { FailedPreconditionError } from '../errors.js';
import { connectSql } from '../mysql/sql-client.js';
import type { Replica } from '../state/state.js';
import { reportStep, type EngineDeps } from './context.js';
import { PITR_VOLUME, binlogExpirySeconds, type Pitr } from './pitr-binlog.js';
import { REPLICA_VOLUME, replicaConnectOptions, replicaHostOf, replicaSpec, startAndWait } from './servers.js';

/** What `dolly replica pitr` changed. */
export interface PitrChange {
  pitr: Pitr | null;
  /** The replica's server was started again (its binlog turned on or off). */
  restarted: boolean;
}

/**
 * `dolly replica pitr --window W` / `--off` (and `replica init --pitr-window`). Turning it on
 * records the window and a new binlog base name first, then starts the replica's server again
 * with its binlog on the `replica-binlog` volume (made on first use), so a crash at any step is
 * finished by `dolly up`. A changed window only changes the server's expiry backstop (no
 * restart). Turning it off starts the server without a binlog and removes the volume; snapshots
 * stay, but can no longer be replayed from (a later `--window` draws a new base name).
 */
export async function setPitr(deps: EngineDeps, windowS: number | 'off', options: { baseIntervalS?: number } = {}): Promise<PitrChange> {
  const state = deps.store.require();
  const replica = state.replica;
  if (!replica || replica.status !== 'ready') throw new FailedPreconditionError('there is no replica', { hint: 'run `dolly replica init --source mysql://... --pitr-window 24h`' });
  if (state.swarm) throw new FailedPreconditionError('point-in-time clones need the replica in a container of dolly (this replica is a Swarm service)', { hint: 'use a single-host root for point-in-time clones' });
  if (state.pool.driver === 'commit') throw new FailedPreconditionError('point-in-time clones need the btrfs or copy driver (the commit driver keeps no volume as a directory)', { hint: 'make the root with `dolly init --driver btrfs`' });
  if (windowS === 'off') {
    if (!replica.pitr) return { pitr: null, restarted: false };
    const next = deps.store.update((s) => {
      if (s.replica) delete s.replica.pitr;
      return s.replica!;
    });
    await restartReplica(deps, next);
    const driver = deps.driver(deps.store.require());
    if (await driver.exists(PITR_VOLUME)) await driver.remove(PITR_VOLUME);
    reportStep(deps, "point-in-time clones off: the replica's binlog is removed");
    return { pitr: null, restarted: true };
  }
  if (replica.pitr) {
    const pitr = { ...replica.pitr, window_s: windowS, ...(options.baseIntervalS !== undefined ? { base_interval_s: options.baseIntervalS } : {}) };
    deps.store.update((s) => {
      if (s.replica) s.replica.pitr = pitr;
    });
    const client = await connectSql(replicaConnectOptions(deps.root, replica));
    try {
      await client.execute(`SET GLOBAL binlog_expire_logs_seconds = ${binlogExpirySeconds(pitr)}`);
    } finally {
      await client.close();
    }
    return { pitr, restarted: false };
  }
  const pitr: Pitr = { window_s: windowS, base: `r-${randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6)}`, since: deps.now().toISOString(), ...(options.baseIntervalS !== undefined ? { base_interval_s: options.baseIntervalS } : {}) };
  const next = deps.store.update((s) => {
    if (s.replica) s.replica.pitr = pitr;
    return s.replica!;
  });
  reportStep(deps, `point-in-time clones on (window ${windowS} s): starting the replica again with its own binlog`);
  await restartReplica(deps, next);
  return { pitr, restarted: true };
}

/** The replica's server made again from its spec (a clean shutdown first): replication goes on where it was. */
async function restartReplica(deps: EngineDeps, replica: Replica): Promise<void> {
  const state = deps.store.require();
  const host = replicaHostOf(deps);
  await host.stop(600);
  await host.remove();
  const spec = await replicaSpec(deps, state, replica, await deps.driver(state).mount(REPLICA_VOLUME), replica.source.flavor);
  await startAndWait(deps, spec, replicaConnectOptions(deps.root, replica));
}
