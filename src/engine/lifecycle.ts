import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { State } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { REPLICA, REPLICA_VOLUME, cloneConnectOptions, cloneServerName, cloneSpec, replicaConnectOptions, replicaSpec, startAndWait, waitUntilAnswering } from './servers.js';
import type { ServerSpec } from '../runtime/runtime.js';
import type { ConnectOptions } from '../mysql/sql-client.js';

export interface UpResult {
  started: string[];
  already_running: string[];
  removed_leftovers: string[];
}

/**
 * `dolly up`: after a reboot or crash, mounts the pool, removes half-made leftovers (prepare
 * servers, volumes no snapshot or clone refers to) and starts the replica and every clone again: a stopped container is started, a
 * missing one is made anew on its volume. Waits until each answers.
 */
export async function up(deps: EngineDeps): Promise<UpResult> {
  return deps.store.transaction(async () => {
    const state = await deps.store.require();
    const driver = deps.driver(state);
    await driver.open();
    const result: UpResult = { started: [], already_running: [], removed_leftovers: [] };
    const known = new Map((await deps.runtime.list()).map((s) => [s.name, s]));
    for (const server of known.values()) {
      if (server.kind === 'prepare') {
        await deps.runtime.remove(server.name);
        result.removed_leftovers.push(server.name);
      }
    }
    // Volumes no state entry refers to were left by a command that crashed half-way.
    const referenced = new Set([...(state.replica || state.swarm ? [REPLICA_VOLUME] : []), ...state.snapshots.map((s) => s.volume), ...state.clones.map((c) => c.volume)]);
    for (const volume of await driver.list()) {
      if (referenced.has(volume)) continue;
      await driver.remove(volume);
      result.removed_leftovers.push(volume);
    }
    const wanted: { name: string; spec: () => Promise<ServerSpec>; connect: ConnectOptions }[] = [];
    // A Swarm replica is the stack's `replica` service: Swarm starts it, not dolly.
    if (state.replica && !state.swarm) {
      const replica = state.replica;
      wanted.push({
        name: REPLICA,
        spec: async () => replicaSpec(deps, state, replica, await driver.mount(REPLICA_VOLUME), replica.source.flavor),
        connect: replicaConnectOptions(deps.root, replica),
      });
    }
    for (const clone of state.clones) {
      const flavor = state.snapshots.find((s) => s.id === clone.snapshot)?.flavor ?? 'mariadb';
      wanted.push({
        name: cloneServerName(clone.name),
        spec: async () => cloneSpec(deps, state, clone, await driver.mount(clone.volume), flavor),
        connect: cloneConnectOptions(state, clone),
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
    return result;
  });
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
  return deps.store.transaction(async () => {
    const state: State | null = await deps.store.read();
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
      await rm(join(deps.root, 'run'), { recursive: true, force: true });
      // The Swarm replica's admin account (`dolly swarm deploy`), if this root held one.
      await rm(join(deps.root, 'swarm-replica.json'), { force: true });
      await deps.store.delete();
    }
    return { removed, purged: options.purge === true };
  });
}

