import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDockerClient } from '../../docker/client.js';
import { accountInitSql } from '../../engine/server-config.js';
import { generatePassword } from '../../engine/names.js';
import { ADMIN_USER, REPLICA_VOLUME } from '../../engine/servers.js';
import { FailedPreconditionError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createShell } from '../../shell.js';
import type { State } from '../../state/state.js';
import { StateStore } from '../../state/store.js';
import { createDriver } from '../../storage/create-driver.js';
import type { PoolModel, Topology } from '../model.js';

/** dolly's admin account of the Swarm replica (kept 0600 under the pool's root). */
export interface ReplicaAdmin {
  admin_user: string;
  admin_password: string;
}

const ADMIN_FILE = 'swarm-replica.json';

/** What the state records of a Swarm replica: its stack, pool node and service. */
export function swarmRecord(topology: Topology): NonNullable<State['swarm']> {
  return { stack: topology.stack, pool_node: topology.pool.node, service: topology.services.replica.name };
}

/** The admin account `prepareReplicaPaths` wrote, or null when the pool root has none yet. */
export async function readReplicaAdmin(pool: PoolModel): Promise<ReplicaAdmin | null> {
  const text = await readFile(join(pool.root, ADMIN_FILE), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as ReplicaAdmin);
}

/**
 * Makes the replica's datadir and run directory on the pool node and writes its init file (dolly's
 * admin account), before the replica service starts. Works where the pool's paths are reachable:
 * on the pool node itself, or on the host of the sandbox, which shares them with its pool node.
 * When the root holds a dolly pool (`dolly init`), the datadir is the pool's `replica` volume (a
 * btrfs subvolume, so it can be snapshotted) and the state records the Swarm replica, so that
 * `dolly snapshot create` and `dolly clone create` work on it. Returns null (and says why) when
 * the paths are not on this machine.
 */
export async function prepareReplicaPaths(topology: Topology, logger: Logger): Promise<ReplicaAdmin | null> {
  const pool = topology.pool;
  if (!existsSync(pool.root)) {
    logger.warn('the pool root is not on this machine: make the replica paths on the pool node yourself', { root: pool.root, node: pool.node });
    return null;
  }
  await adoptPoolVolume(topology, logger);
  await mkdir(pool.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(pool.runDir, { recursive: true, mode: 0o700 });
  const admin: ReplicaAdmin = (await readReplicaAdmin(pool)) ?? { admin_user: ADMIN_USER, admin_password: generatePassword() };
  await writeFile(join(pool.root, ADMIN_FILE), `${JSON.stringify(admin)}\n`, { mode: 0o600 });
  await writeFile(join(pool.runDir, 'init.sql'), accountInitSql(admin.admin_user, ['localhost', '127.0.0.1'], admin.admin_password), { mode: 0o600 });
  return admin;
}

/** With a dolly pool at the root: the replica's datadir becomes its `replica` volume, and the state says so. */
async function adoptPoolVolume(topology: Topology, logger: Logger): Promise<void> {
  const store = new StateStore(topology.pool.root);
  if ((await store.read()) === null) return;
  const state = store.require();
  if (state.replica && !state.swarm) {
    throw new FailedPreconditionError(`${topology.pool.root} already has a replica that dolly runs itself`, { hint: 'use another pool root for the Swarm, or `dolly teardown --purge` that one' });
  }
  const driver = createDriver(state.pool, { shell: createShell(), logger, docker: createDockerClient(), root: topology.pool.root });
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
}
