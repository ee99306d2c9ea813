import { readdir, rm, rmdir } from 'node:fs/promises';
import { maskKeyPath } from './mask-rules.js';
import { NotFoundError } from '../errors.js';
import { reconcile } from './reconcile.js';
import { join } from 'node:path';
import { flavorOps } from '../mysql/flavor.js';
import { replicaStatus } from '../mysql/replication.js';
import { connectSql } from '../mysql/sql-client.js';
import { ownerAlive } from '../state/owner.js';
import type { Replica, State } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { REPLICA, REPLICA_VOLUME, cloneConnectOptions, cloneFlavor, cloneServerName, cloneSpec, replicaConnectOptions, replicaSpec, startAndWait, waitUntilAnswering } from './servers.js';
import type { ServerSpec } from '../runtime/runtime.js';
import type { ConnectOptions } from '../mysql/sql-client.js';
import { restoreReplicaCa, sourceCaPath } from './source-tls.js';
import { tlsDir } from './tls.js';

export interface UpResult {
  started: string[];
  already_running: string[];
  removed_leftovers: string[];
  /** What the reconciler undid or finished for commands that died half-way. */
  recovered: string[];
  /** Steps of that work that failed: they are tried again by the next command. */
  failed: string[];
}

/**
 * `dolly up`, the general reconciler: after a reboot or crash, mounts the pool, finishes or undoes
 * the jobs of commands that died, removes what nothing accounts for (servers first; a volume only
 * when no container uses it), and starts the replica and every clone again: a stopped container
 * is started, a missing one is made anew on its volume. Waits until each answers.
 */
export async function up(deps: EngineDeps): Promise<UpResult> {
  const state = deps.store.require();
  const driver = deps.driver(state);
  await driver.open();
  const report = await reconcile(deps, { sweep: true });
  await deps.runtime.ensureShared();
  const result: UpResult = { started: [], already_running: [], removed_leftovers: report.removed, recovered: [...report.undone, ...report.finished], failed: report.failed };
  const now = deps.store.require();
  const known = new Map((await deps.runtime.list()).map((s) => [s.name, s]));
  const wanted: { name: string; spec: () => Promise<ServerSpec>; connect: ConnectOptions }[] = [];
  // A Swarm replica is the stack's `replica` service: Swarm starts it, not dolly.
  if (now.replica?.status === 'ready' && !now.swarm) {
    const replica = now.replica;
    wanted.push({
      name: REPLICA,
      spec: async () => {
        const spec = await replicaSpec(deps, now, replica, await driver.mount(REPLICA_VOLUME), replica.source.flavor);
        await restoreReplicaCa(deps.root, replica); // the IO thread reads the source's CA there
        return spec;
      },
      connect: replicaConnectOptions(deps.root, replica),
    });
  }
  for (const clone of now.clones.filter((c) => c.status === 'ready')) {
    const flavor = cloneFlavor(now, clone);
    wanted.push({
      name: cloneServerName(clone.name),
      spec: async () => cloneSpec(deps, now, clone, await driver.mount(clone.volume), flavor),
      connect: cloneConnectOptions(now, clone),
    });
  }
  for (const server of wanted) {
    const existing = known.get(server.name);
    if (existing?.state === 'running') {
      result.already_running.push(server.name);
      continue;
    }
    if (existing) {
      await server.spec(); // rewrites the run dir (init file) in case it was lost
      await deps.runtime.startExisting(server.name);
      await waitUntilAnswering(deps, server.name, server.connect);
    } else {
      await startAndWait(deps, await server.spec(), server.connect);
    }
    result.started.push(server.name);
  }
  if (now.replica?.status === 'ready' && !now.swarm && (await ensureReplicating(deps, now.replica))) result.recovered.push('replication started again');
  return result;
}

/**
 * A replica whose replication threads stand still without an error (stopped by a command that
 * died, with no job left to say so) is started again; one stopped by an error is left for a
 * person (`replica status` shows it), one paused for space for the pool watcher. True when it started them.
 */
async function ensureReplicating(deps: EngineDeps, replica: Replica): Promise<boolean> {
  if (deps.store.require().jobs.some((j) => j.kind === 'snapshot-create' && ownerAlive(j.owner))) return false; // a live snapshot holds it on purpose
  if (deps.store.require().replica?.space_pause !== undefined) return false; // paused for space: the engine resumes it once the pool has room (pool-space.ts)
  const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: 10_000, queryTimeoutMs: 10_000 });
  try {
    const status = await replicaStatus(client, replica.source.flavor);
    if ((status.io_running && status.sql_running) || status.last_error) return false;
    await client.execute(flavorOps(replica.source.flavor).startReplicationSql);
    return true;
  } finally {
    await client.close();
  }
}

export interface TeardownResult {
  removed: string[];
  purged: boolean;
}

/**
 * `dolly teardown`: removes every container of this root and unmounts the pool; `up` brings them
 * back. With the commit driver the data lives in the containers, so they are stopped, not removed.
 * `--purge` also deletes every volume, snapshot, the pool and the state.
 */
export async function teardown(options: { purge?: boolean }, deps: EngineDeps): Promise<TeardownResult> {
  const state: State | null = deps.store.read();
  if (options.purge && state === null) {
    throw new NotFoundError(`no dolly state at ${deps.root}`, { hint: 'purge deletes only what dolly made in a root it manages; check --root' });
  }
  if (state) await reconcile(deps);
  const keepContainers = state?.pool.driver === 'commit' && !options.purge;
  const removed: string[] = [];
  for (const server of await deps.runtime.list()) {
    if (keepContainers && server.kind !== 'prepare') await deps.runtime.stop(server.name);
    else await deps.runtime.remove(server.name);
    removed.push(server.name);
  }
  if (!keepContainers) await deps.runtime.removeShared();
  if (state) {
    const driver = deps.driver(state);
    if (options.purge) await driver.destroy();
    else await driver.close();
  }
  if (options.purge) {
    await removeDollyFiles(deps.root);
    deps.store.delete();
    // The root itself goes only when nothing else is in it.
    await rmdir(deps.root).catch(() => undefined);
  }
  return { removed, purged: options.purge === true };
}

/** The run dirs of dolly's servers (then `run/` if empty), an older dolly's Swarm account file, the clones' CA (its key too), the snapshots' account tables and the masking key. */
async function removeDollyFiles(root: string): Promise<void> {
  const run = join(root, 'run');
  for (const dir of await readdir(run).catch(() => [] as string[])) {
    if (/^(replica|clone-|prepare-)/.test(dir)) await rm(join(run, dir), { recursive: true, force: true });
  }
  await rmdir(run).catch(() => undefined);
  await rm(join(root, 'swarm-replica.json'), { force: true });
  await rm(sourceCaPath(root), { force: true });
  await rm(tlsDir(root), { recursive: true, force: true });
  await rm(join(root, 'accounts'), { recursive: true, force: true });
  await rm(maskKeyPath(root), { force: true });
  await rm(join(root, 'lock'), { recursive: true, force: true }); // dolly 0.1's lock directory
}
