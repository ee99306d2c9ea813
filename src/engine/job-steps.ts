import { rm } from 'node:fs/promises';
import { FailedPreconditionError } from '../errors.js';
import { flavorOps } from '../mysql/flavor.js';
import { connectSql } from '../mysql/sql-client.js';
import type { Clone, JobStep } from '../state/state.js';
import { removeRunDir, type EngineDeps } from './context.js';
import { accountTablesPath } from './prepare.js';
import { forgetBasePoint } from './base-point-store.js';
import { cloneConnectOptions, cloneFlavor, cloneServerName, cloneSpec, replicaConnectOptions, replicaHostOf, restartReplicaServer, serverControl, startAndWait } from './servers.js';

/** How long a step that talks to the replica may take to connect and answer. */
const STEP_SQL_TIMEOUT_MS = 10_000;

/** A step in words, for logs and reports. */
export function describeStep(step: JobStep): string {
  switch (step.do) {
    case 'remove-server':
      return `remove server ${step.name}`;
    case 'remove-volume':
      return `remove volume ${step.id}`;
    case 'remove-run-dir':
      return `remove run dir of ${step.server}`;
    case 'resume-applier':
      return "restart the replica's applier";
    case 'start-replica':
      return "start the replica's server";
    case 'forget-clone':
      return `forget clone ${step.name}`;
    case 'forget-snapshot':
      return `forget snapshot ${step.id}`;
    case 'forget-replica':
      return 'forget the replica';
    case 'forget-base-point':
      return `forget base point ${step.id}`;
    case 'restore-clone':
      return `restore clone ${step.clone.name} on ${step.clone.volume}`;
  }
}

/** Does one step. Each is idempotent: what is already gone (or running) is left as it is. */
export async function runStep(deps: EngineDeps, step: JobStep): Promise<void> {
  switch (step.do) {
    case 'remove-server':
      return serverControl(deps, step.name).remove();
    case 'remove-volume':
      return removeVolume(deps, step.id);
    case 'remove-run-dir':
      return removeRunDir(deps.root, step.server);
    case 'resume-applier':
      return resumeApplier(deps);
    case 'start-replica':
      return startReplica(deps);
    case 'forget-clone':
      return deps.store.update((state) => {
        state.clones = state.clones.filter((c) => c.name !== step.name);
      });
    case 'forget-snapshot':
      return deps.store.update((state) => {
        state.snapshots = state.snapshots.filter((s) => s.id !== step.id);
      });
    case 'forget-replica':
      return deps.store.update((state) => {
        delete state.replica;
      });
    case 'forget-base-point':
      return forgetBasePoint(deps.store, step.id);
    case 'restore-clone':
      return restoreClone(deps, step.clone);
  }
}

/** Never removes a volume that a container (running or not) still uses. */
async function removeVolume(deps: EngineDeps, id: string): Promise<void> {
  const users = (await deps.runtime.list()).filter((s) => s.volume === id);
  if (users.length > 0) throw new FailedPreconditionError(`volume ${id} is still used by ${users.map((s) => s.name).join(', ')}`);
  const driver = deps.driver(deps.store.require());
  if (await driver.exists(id)) await driver.remove(id);
  await rm(accountTablesPath(deps.root, id), { force: true });
}

async function resumeApplier(deps: EngineDeps): Promise<void> {
  const replica = deps.store.read()?.replica;
  if (!replica) return;
  if ((await replicaHostOf(deps).inspect()).state !== 'running') return; // `up` starts it, with replication
  const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: STEP_SQL_TIMEOUT_MS });
  try {
    await client.execute(flavorOps(replica.source.flavor).startApplierSql);
  } finally {
    await client.close();
  }
}

async function startReplica(deps: EngineDeps): Promise<void> {
  const replica = deps.store.read()?.replica;
  const server = await replicaHostOf(deps).inspect();
  if (!replica || server.state !== 'stopped') return;
  await restartReplicaServer(deps, replicaConnectOptions(deps.root, replica));
}

/** A reset's way back: the clone's entry as it was, and its server started on its old volume. */
async function restoreClone(deps: EngineDeps, clone: Clone): Promise<void> {
  const state = deps.store.update((s) => {
    s.clones = s.clones.map((c) => (c.name === clone.name ? { ...clone, status: 'ready' } : c));
    return s;
  });
  const server = cloneServerName(clone.name);
  if ((await deps.runtime.inspect(server).catch(() => null))?.state === 'running') return;
  await deps.runtime.remove(server);
  const driver = deps.driver(state);
  const flavor = cloneFlavor(state, clone);
  await startAndWait(deps, await cloneSpec(deps, state, clone, await driver.mount(clone.volume), flavor), cloneConnectOptions(state, clone));
}
