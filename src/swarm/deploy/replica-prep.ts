import { existsSync } from 'node:fs';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDockerClient } from '../../docker/client.js';
import { SERVER_UID } from '../../docker/server-user.js';
import { REPLICA, REPLICA_VOLUME } from '../../engine/servers.js';
import { FailedPreconditionError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createShell } from '../../shell.js';
import type { State } from '../../state/state.js';
import { StateStore } from '../../state/store.js';
import { createDriver } from '../../storage/create-driver.js';
import type { StorageDriver } from '../../storage/driver.js';
import type { Topology } from '../model.js';

/**
 * Where the Swarm replica keeps its data, as seen from this machine:
 * - `pool`: the root holds a dolly pool and the datadir is its `replica` volume (snapshots work);
 * - `remote`: the pool root is not on this machine; its node must have the paths.
 */
export type ReplicaHome = 'pool' | 'remote';

/** What the state records of a Swarm replica: its stack, pool node and service. */
export function swarmRecord(topology: Topology): NonNullable<State['swarm']> {
  return { stack: topology.stack, pool_node: topology.pool.node, service: topology.services.replica.name };
}

/**
 * Decides where the replica's data goes, changing nothing; `swarm deploy` asks before it touches
 * the Swarm. Refused: a root with no dolly pool (the replica is the engine's: `replica init` makes
 * it in the pool, and its account lives in the pool's state), a datadir or run directory that is
 * not the pool's, and a root whose replica dolly runs itself.
 */
export function checkReplicaHome(topology: Topology): ReplicaHome {
  const pool = topology.pool;
  if (!existsSync(pool.root)) return 'remote';
  const store = new StateStore(pool.root);
  let state: State | null;
  try {
    state = store.read();
  } finally {
    store.close();
  }
  if (state === null) {
    throw new FailedPreconditionError(`${pool.root} holds no dolly pool: the Swarm replica is made in one`, { hint: `run \`dolly --root ${pool.root} init\` first` });
  }
  if (pool.dataDir !== join(pool.root, 'pool', 'volumes', REPLICA_VOLUME)) {
    throw new FailedPreconditionError(`pool.dataDir ${pool.dataDir} is not the pool's replica volume: the Swarm replica keeps its data there`, { hint: 'leave pool.dataDir unset in the topology' });
  }
  if (pool.runDir !== join(pool.root, 'run', REPLICA)) {
    throw new FailedPreconditionError(`pool.runDir ${pool.runDir} is not the root's replica run directory`, { hint: 'leave pool.runDir unset in the topology' });
  }
  if (state.replica && !state.swarm) {
    throw new FailedPreconditionError(`${pool.root} already has a replica that dolly runs itself`, { hint: 'use another pool root for the Swarm, or `dolly teardown --purge` that one' });
  }
  return 'pool';
}

/**
 * Makes the replica's datadir (the pool's `replica` volume, a btrfs subvolume, so it can be
 * snapshotted) and run directory on the pool node, before the replica service starts, and records
 * the Swarm replica in the state. Its init file holds no account yet: `swarm bootstrap` (replica
 * init) writes dolly's admin account into it and restarts the service's task. Works where the
 * pool's paths are reachable: on the pool node itself, or on the host of the sandbox, which
 * shares them with its pool node. Returns false (and says why) when they are not on this machine.
 */
export async function prepareReplicaPaths(topology: Topology, logger: Logger): Promise<boolean> {
  const pool = topology.pool;
  if (checkReplicaHome(topology) === 'remote') {
    logger.warn('the pool root is not on this machine: make the replica paths on the pool node yourself', { root: pool.root, node: pool.node });
    return false;
  }
  await adoptPoolVolume(topology, logger);
  await mkdir(pool.runDir, { recursive: true, mode: 0o700 });
  // The servers' user may enter it (its files stay root's, 0600): a MySQL copy runs mysqldump in a
  // container of the replica's image as that user, which reaches the replica's socket here, as for
  // a replica dolly runs itself (the task's server runs as root and can use the directory anyway).
  await chown(pool.runDir, SERVER_UID, SERVER_UID);
  // The server needs its init file to start; one from an earlier bootstrap stays (it re-keys dolly's account).
  await writeFile(join(pool.runDir, 'init.sql'), '', { mode: 0o600, flag: 'wx' }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  return true;
}

function poolDriver(topology: Topology, state: State, logger: Logger): StorageDriver {
  return createDriver(state.pool, { shell: createShell(), logger, docker: createDockerClient(), root: topology.pool.root });
}

/** With a dolly pool at the root: the replica's datadir becomes its `replica` volume, and the state says so. */
async function adoptPoolVolume(topology: Topology, logger: Logger): Promise<void> {
  const store = new StateStore(topology.pool.root);
  try {
    const state = store.require();
    const driver = poolDriver(topology, state, logger);
    if (!driver.atomic) {
      throw new FailedPreconditionError(`the pool at ${topology.pool.root} (${state.pool.driver}) cannot snapshot a replica it does not stop`, { hint: 'make it a btrfs pool: `dolly init --driver btrfs`' });
    }
    await driver.open();
    const data = (await driver.exists(REPLICA_VOLUME)) ? await driver.mount(REPLICA_VOLUME) : await driver.createVolume(REPLICA_VOLUME);
    if (data.kind !== 'path' || data.path !== topology.pool.dataDir) {
      throw new FailedPreconditionError(`the replica's datadir ${topology.pool.dataDir} is not the pool's replica volume`, { hint: 'leave pool.dataDir unset in the topology' });
    }
    store.update((current) => {
      if (current.replica && !current.swarm) throw new FailedPreconditionError(`${topology.pool.root} already has a replica that dolly runs itself`, { hint: 'use another pool root for the Swarm' });
      current.swarm = swarmRecord(topology);
    });
    logger.info('the Swarm replica keeps its data in the pool', { volume: REPLICA_VOLUME, path: data.path });
  } finally {
    store.close();
  }
}

/** What `removeReplicaPaths` took off this machine and what it left, each with its reason. */
export interface ReplicaPathsRemoval {
  removed: string[];
  kept: string[];
}

/** The account file of dolly before the Swarm replica's account moved into the state. */
const OLD_ADMIN_FILE = 'swarm-replica.json';

/**
 * After the replica's service is gone: removes what `prepareReplicaPaths` and `swarm bootstrap`
 * made on this machine, so that no copy of the replica's data, and no file with the source's
 * password (the replica's `master.info`), stays behind: the pool's `replica` volume, the state's
 * record of the Swarm replica (with its account), and the replica's run directory (its init file
 * holds that account). Snapshots and clones stay (they are the pool's, and hold no password:
 * prepare resets replication in them).
 */
export async function removeReplicaPaths(topology: Topology, logger: Logger): Promise<ReplicaPathsRemoval> {
  const pool = topology.pool;
  const result: ReplicaPathsRemoval = { removed: [], kept: [] };
  if (!existsSync(pool.root)) {
    result.kept.push(`${pool.dataDir} and ${pool.runDir} on ${pool.node}: the pool root is not on this machine (run destroy there, or remove them on that node)`);
    return result;
  }
  const store = new StateStore(pool.root);
  try {
    const state = store.read();
    if (!state?.swarm) return result;
    const driver = poolDriver(topology, state, logger);
    await driver.open();
    if (await driver.exists(REPLICA_VOLUME)) {
      await driver.remove(REPLICA_VOLUME);
      // Its master.info held the source's password: its blocks go from the pool's device too.
      await driver.discardFree();
      result.removed.push(`pool volume ${REPLICA_VOLUME} (the replica's data)`);
    }
    store.update((current) => {
      delete current.swarm;
      delete current.replica;
    });
    for (const path of [pool.runDir, join(pool.root, OLD_ADMIN_FILE)]) {
      if (!existsSync(path)) continue;
      await rm(path, { recursive: true, force: true });
      result.removed.push(path);
    }
    const snapshots = state.snapshots.length;
    const clones = state.clones.length;
    if (snapshots + clones > 0) result.kept.push(`${snapshots} snapshot(s) and ${clones} clone(s) in the pool: \`dolly snapshot destroy\`, \`dolly clone destroy\` or \`dolly teardown\` remove them`);
    return result;
  } finally {
    store.close();
  }
}
