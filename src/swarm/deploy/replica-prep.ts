import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
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
import type { StorageDriver } from '../../storage/driver.js';
import type { PoolModel, Topology } from '../model.js';

/** dolly's admin account of the Swarm replica (kept 0600 under the pool's root). */
export interface ReplicaAdmin {
  admin_user: string;
  admin_password: string;
}

/** The account file: the admin account, and the host directories deploy made (destroy removes them). */
interface ReplicaFile extends ReplicaAdmin {
  made?: string[];
}

const ADMIN_FILE = 'swarm-replica.json';

/**
 * Where the Swarm replica keeps its data, as seen from this machine:
 * - `pool`: the root holds a dolly pool and the datadir is its `replica` volume (snapshots work);
 * - `unmanaged`: the topology sets `pool.dataDir` and the root holds no pool: a plain directory
 *   the user asked for (no snapshots);
 * - `remote`: the pool root is not on this machine; its node must have the paths.
 */
export type ReplicaHome = 'pool' | 'unmanaged' | 'remote';

/** What the state records of a Swarm replica: its stack, pool node and service. */
export function swarmRecord(topology: Topology): NonNullable<State['swarm']> {
  return { stack: topology.stack, pool_node: topology.pool.node, service: topology.services.replica.name };
}

async function readReplicaFile(pool: PoolModel): Promise<ReplicaFile | null> {
  const text = await readFile(join(pool.root, ADMIN_FILE), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as ReplicaFile);
}

/** The admin account `prepareReplicaPaths` wrote, or null when the pool root has none yet. */
export async function readReplicaAdmin(pool: PoolModel): Promise<ReplicaAdmin | null> {
  const file = await readReplicaFile(pool);
  return file === null ? null : { admin_user: file.admin_user, admin_password: file.admin_password };
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Decides where the replica's data goes, changing nothing; `swarm deploy` asks before it touches
 * the Swarm. Refused: a root with no dolly pool when the topology does not set `pool.dataDir`
 * (the replica's data, and the source's password in its `master.info`, would sit in a plain
 * directory under the root that no dolly command manages); an explicit `pool.dataDir` inside the
 * pool's own directory, or beside a replica dolly runs itself.
 */
export function checkReplicaHome(topology: Topology): ReplicaHome {
  const pool = topology.pool;
  if (!existsSync(pool.root)) return 'remote';
  const state = new StateStore(pool.root).read();
  if (state === null) {
    if (!pool.dataDirGiven) {
      throw new FailedPreconditionError(`${pool.root} holds no dolly pool: the replica's data would sit in a plain directory no dolly command manages`, {
        hint: `run \`dolly --root ${pool.root} init\` first (or set pool.dataDir in the topology for a datadir dolly does not manage)`,
      });
    }
    if (isInside(join(pool.root, 'pool'), pool.dataDir)) {
      throw new FailedPreconditionError(`pool.dataDir ${pool.dataDir} is inside ${join(pool.root, 'pool')}, where \`dolly init\` puts a pool`, { hint: 'choose a directory outside it, or run `dolly init` and leave pool.dataDir unset' });
    }
    return 'unmanaged';
  }
  if (state.replica && !state.swarm) {
    throw new FailedPreconditionError(`${pool.root} already has a replica that dolly runs itself`, { hint: 'use another pool root for the Swarm, or `dolly teardown --purge` that one' });
  }
  return 'pool';
}

/**
 * Makes the replica's datadir and run directory on the pool node and writes its init file (dolly's
 * admin account), before the replica service starts. Works where the pool's paths are reachable:
 * on the pool node itself, or on the host of the sandbox, which shares them with its pool node.
 * With a dolly pool at the root (`dolly init`), the datadir is the pool's `replica` volume (a
 * btrfs subvolume, so it can be snapshotted) and the state records the Swarm replica, so that
 * `dolly snapshot create` and `dolly clone create` work on it. The account file records the
 * directories this made, for `swarm destroy`. Returns null (and says why) when the paths are not
 * on this machine.
 */
export async function prepareReplicaPaths(topology: Topology, logger: Logger): Promise<ReplicaAdmin | null> {
  const pool = topology.pool;
  const home = checkReplicaHome(topology);
  if (home === 'remote') {
    logger.warn('the pool root is not on this machine: make the replica paths on the pool node yourself', { root: pool.root, node: pool.node });
    return null;
  }
  const previous = await readReplicaFile(pool);
  const made = new Set(previous?.made ?? []);
  if (home === 'pool') await adoptPoolVolume(topology, logger);
  else logger.warn('the replica keeps its data in a directory dolly does not manage: no snapshots or clones of it', { dataDir: pool.dataDir });
  for (const dir of [pool.dataDir, pool.runDir]) {
    // Only the directory itself counts as made: a parent (e.g. <root>/run) is shared with the clones.
    if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) made.add(dir);
  }
  const admin: ReplicaAdmin = previous ? { admin_user: previous.admin_user, admin_password: previous.admin_password } : { admin_user: ADMIN_USER, admin_password: generatePassword() };
  const file: ReplicaFile = { ...admin, made: [...made] };
  await writeFile(join(pool.root, ADMIN_FILE), `${JSON.stringify(file)}\n`, { mode: 0o600 });
  await writeFile(join(pool.runDir, 'init.sql'), accountInitSql(admin.admin_user, ['localhost', '127.0.0.1'], admin.admin_password), { mode: 0o600 });
  return admin;
}

function poolDriver(topology: Topology, state: State, logger: Logger): StorageDriver {
  return createDriver(state.pool, { shell: createShell(), logger, docker: createDockerClient(), root: topology.pool.root });
}

/** With a dolly pool at the root: the replica's datadir becomes its `replica` volume, and the state says so. */
async function adoptPoolVolume(topology: Topology, logger: Logger): Promise<void> {
  const store = new StateStore(topology.pool.root);
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
}

/** What `removeReplicaPaths` took off this machine and what it left, each with its reason. */
export interface ReplicaPathsRemoval {
  removed: string[];
  kept: string[];
}

/**
 * After the replica's service is gone: removes what `prepareReplicaPaths` made on this machine,
 * so that no copy of the replica's data, and no file with the source's password (the replica's
 * `master.info`), stays behind. With a pool: its `replica` volume and the state's record of the
 * Swarm replica; snapshots and clones stay (they are the pool's, and hold no password: prepare
 * resets replication in them). Without: the directories deploy made. Always: the run directory
 * and the account file. A directory deploy found already there is kept, and said so.
 */
export async function removeReplicaPaths(topology: Topology, logger: Logger): Promise<ReplicaPathsRemoval> {
  const pool = topology.pool;
  const result: ReplicaPathsRemoval = { removed: [], kept: [] };
  if (!existsSync(pool.root)) {
    result.kept.push(`${pool.dataDir} and ${pool.runDir} on ${pool.node}: the pool root is not on this machine (run destroy there, or remove them on that node)`);
    return result;
  }
  const file = await readReplicaFile(pool);
  const store = new StateStore(pool.root);
  const state = store.read();
  if (state?.swarm) {
    const driver = poolDriver(topology, state, logger);
    await driver.open();
    if (await driver.exists(REPLICA_VOLUME)) {
      await driver.remove(REPLICA_VOLUME);
      // Its master.info held the source's password: its blocks go from the pool's device too.
      await driver.discardFree();
      result.removed.push(`pool volume ${REPLICA_VOLUME} (the replica's data)`);
    }
    store.update((current) => {
      if (current.swarm) {
        delete current.swarm;
        delete current.replica;
      }
    });
    const snapshots = state.snapshots.length;
    const clones = state.clones.length;
    if (snapshots + clones > 0) result.kept.push(`${snapshots} snapshot(s) and ${clones} clone(s) in the pool: \`dolly snapshot destroy\`, \`dolly clone destroy\` or \`dolly teardown\` remove them`);
  }
  for (const dir of file?.made ?? []) {
    if (!existsSync(dir)) continue;
    await rm(dir, { recursive: true, force: true });
    result.removed.push(dir);
  }
  if (existsSync(pool.runDir)) {
    await rm(join(pool.runDir, 'init.sql'), { force: true });
    result.kept.push(`${pool.runDir}: it was there before deploy`);
  }
  if (state === null && existsSync(pool.dataDir) && (await readdir(pool.dataDir)).length > 0) {
    result.kept.push(`${pool.dataDir}: it was there before deploy; it holds the replica's data and, in master.info, the source's password`);
  }
  if (file) {
    await rm(join(pool.root, ADMIN_FILE), { force: true });
    result.removed.push(join(pool.root, ADMIN_FILE));
  }
  return result;
}
