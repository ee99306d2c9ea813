import { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { createEngineDeps, type EngineDeps } from '../../engine/context.js';
import { initReplica, type ReplicaInitResult } from '../../engine/replica-init.js';
import { replicaConnectOptions } from '../../engine/servers.js';
import { CommandFailedError, FailedPreconditionError } from '../../errors.js';
import { enginePortFree } from '../../docker/endpoints.js';
import { replicaStatus, type ReplicaStatus } from '../../mysql/replication.js';
import { sourceConnectOptions } from '../../mysql/source-tls.js';
import { connectSql, type ConnectOptions } from '../../mysql/sql-client.js';
import { waitForServer } from '../../mysql/wait-ready.js';
import type { Replica } from '../../state/state.js';
import { StateStore } from '../../state/store.js';
import { secondsSince } from '../../elapsed.js';
import type { Topology } from '../model.js';
import { SOURCE_PORT, SOURCE_RUNDIR, SOURCE_USER } from '../source-server.js';
import { prepareReplicaPaths, swarmRecord } from './replica-prep.js';
import { readDeploySecret, type SwarmDeps } from './swarm-deploy.js';
import { swarmReplicaHost, type SwarmEngines, type SwarmReplicaPlace } from './swarm-replica-host.js';
import type { ReplicaHost } from '../../engine/replica-host.js';
import type { SourceSpec } from '../../engine/source-url.js';
import { waitForRunningTask } from './tasks.js';

/** What `dolly swarm bootstrap` did. */
export interface BootstrapResult {
  /** True when the root's replica was already made: nothing was copied. */
  already: boolean;
  method: 'dump' | 'backup';
  source_version: string;
  databases: string[];
  gtid: string;
  seconds: number;
  /** What `replica init` reported (absent when nothing was copied). */
  init?: ReplicaInitResult;
  replica: ReplicaStatus;
}

export interface BootstrapOptions {
  /** How long to wait for the services and the source to answer (default 300 s). */
  timeoutMs?: number;
  /**
   * `dump` (default): dolly's dump (parallel sessions, accounts and definers) through a forward
   * into the replica's task. `backup`: mariadb-backup in the source's task, streamed to dolly and
   * restored into the pool's replica volume.
   */
  method?: 'dump' | 'backup';
  /** Extra mariadb-backup options (e.g. `--parallel=4`), passed as arguments, never through a shell. */
  backupArgs?: readonly string[];
  signal?: AbortSignal;
}

/** Where the state says the Swarm replica runs, as the replica host needs it. */
export function swarmPlace(topology: Topology): SwarmReplicaPlace {
  const replica = topology.services.replica;
  return { service: replica.name, poolNode: topology.pool.node, ...(replica.serverId !== undefined ? { serverId: replica.serverId } : {}), image: replica.image };
}

/**
 * The engine's dependencies for the pool root with the Swarm replica as its replica host: servers
 * (clones, the restore's throwaway containers) on the pool node's engine where dolly knows it
 * (the sandbox), else on this machine's (dolly runs on the pool node).
 */
export async function swarmEngineDeps(topology: Topology, deps: SwarmDeps): Promise<EngineDeps & { replicaHost: ReplicaHost }> {
  const poolEngine = deps.engines(topology.pool.node);
  const engine = await createEngineDeps(topology.pool.root, deps.logger, poolEngine ? { docker: poolEngine, portFree: enginePortFree(poolEngine) } : undefined);
  return { ...engine, replicaHost: swarmReplicaHost(swarmPlace(topology), deps) };
}

/**
 * `dolly swarm bootstrap`: `replica init` with the stack's `replica` service as the replica's
 * host. The one provisioner copies the source (every method's checks, the accounts and definers,
 * parallel dump sessions, the image fit, the job journal: a killed bootstrap is undone by the next
 * dolly command on the root), then starts GTID replication from the copy's position over the
 * stack's network. Runs where the pool root is (the pool node, or the sandbox's host), after
 * `dolly init` and `swarm deploy`. A root whose replica is made is left alone.
 */
export async function swarmBootstrap(topology: Topology, deps: SwarmDeps, options: BootstrapOptions = {}): Promise<BootstrapResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 300_000;
  const method = options.method ?? 'dump';
  if (method === 'backup' && topology.flavor !== 'mariadb') {
    // What replica init says of a MySQL source, before the Swarm is asked anything.
    throw new FailedPreconditionError(`--method backup restores mariadb-backup backups of MariaDB; the stack's source runs ${topology.flavor}`, { hint: 'use --method dump (XtraBackup, for MySQL, is not in Debian)' });
  }
  // The volume and run directory the service binds (deploy made them; an undone bootstrap, or a
  // stack deployed by Pulumi, has none yet), and the state's record of the Swarm replica.
  if (!(await prepareReplicaPaths(topology, deps.logger))) {
    throw new FailedPreconditionError(`the pool root ${topology.pool.root} is not on this machine`, { hint: `run the bootstrap on ${topology.pool.node}, where the pool is` });
  }
  const replica = readSwarmReplica(topology);
  if (replica?.status === 'ready') {
    const status = await readStatus(topology, replica);
    deps.logger.info('the replica is already made', { io_running: status.io_running, sql_running: status.sql_running });
    return { already: true, method, source_version: replica.source.version, databases: replica.databases, gtid: status.gtid, seconds: secondsSince(started), replica: status };
  }
  const secret = topology.secrets.find((x) => x.key === 'rootPassword');
  if (!secret) throw new FailedPreconditionError('the topology has no root password secret', { hint: 'set rootPassword in the topology' });
  const source = { host: topology.services.source.name, port: SOURCE_PORT, user: SOURCE_USER, password: await readDeploySecret(secret, deps) };
  const engine = await swarmEngineDeps(topology, deps);
  try {
    await waitForSource(engine.replicaHost, source, timeoutMs);
    deps.logger.info('copying from the source across nodes', { method, from: `${source.host}:${source.port}`, to: `replica on ${topology.pool.node}` });
    const backup = method === 'backup' ? { backup: { kind: 'stream' as const, stream: sourceBackup(deps, topology.services.source.name, options.backupArgs ?? []) } } : {};
    const init = await initReplica({ source, method, ...backup, ...(options.signal ? { signal: options.signal } : {}) }, engine);
    const made = readSwarmReplica(topology);
    if (!made) throw new FailedPreconditionError('the replica is not in the state after replica init', { hint: 'run `dolly swarm bootstrap` again' });
    return { already: false, method, source_version: init.version, databases: init.databases, gtid: init.gtid, seconds: secondsSince(started), init, replica: await readStatus(topology, made) };
  } finally {
    engine.store.close();
  }
}

/** The root's replica where it is the Swarm's (null: none, or no dolly pool / no deploy yet, said plainly). */
function readSwarmReplica(topology: Topology): Replica | null {
  const store = new StateStore(topology.pool.root);
  try {
    const state = store.read();
    if (state === null) throw new FailedPreconditionError(`${topology.pool.root} holds no dolly pool`, { hint: `run \`dolly --root ${topology.pool.root} init\` and \`dolly swarm deploy\` first, on the machine that holds the pool root` });
    const expected = swarmRecord(topology);
    if (!state.swarm || state.swarm.service !== expected.service || state.swarm.stack !== expected.stack) {
      throw new FailedPreconditionError(`the pool at ${topology.pool.root} holds no replica service of the stack ${topology.stack}`, { hint: 'run `dolly swarm deploy` first' });
    }
    return state.replica ?? null;
  } finally {
    store.close();
  }
}

/**
 * Waits until the replica's service runs a task (an undone bootstrap left it scaled to none) and
 * the source answers through it: a stack just deployed may still be initialising its source.
 */
async function waitForSource(host: ReplicaHost, source: SourceSpec, timeoutMs: number): Promise<void> {
  await host.startExisting();
  const reach = await host.sourceForDolly(source);
  try {
    await waitForServer(sourceConnectOptions(reach.source, 5000), { timeoutMs });
  } finally {
    await reach.close();
  }
}

/** How dolly's admin account reaches the Swarm replica on its socket, where the pool root is on this machine. */
export function swarmReplicaConnect(topology: Topology): ConnectOptions {
  const replica = readSwarmReplica(topology);
  if (!replica) throw new FailedPreconditionError(`the pool at ${topology.pool.root} has no replica yet`, { hint: 'run `dolly swarm bootstrap`' });
  return replicaConnectOptions(topology.pool.root, replica);
}

/** The replica's replication, read on its socket with the admin account the state holds. */
async function readStatus(topology: Topology, replica: Replica): Promise<ReplicaStatus> {
  const client = await connectSql({ ...replicaConnectOptions(topology.pool.root, replica), connectTimeoutMs: 5000 });
  try {
    return await replicaStatus(client, replica.source.flavor);
  } finally {
    await client.close();
  }
}

/**
 * The Swarm replica's replication state, read on its socket where the pool root is on this
 * machine; null when it cannot be asked (no replica made here, server not answering).
 */
export async function swarmReplicaStatus(topology: Topology): Promise<ReplicaStatus | null> {
  try {
    const replica = readSwarmReplica(topology);
    return replica ? await readStatus(topology, replica) : null;
  } catch {
    return null;
  }
}

/**
 * A backup of the running source, made by mariadb-backup inside the source's task as its root over
 * its socket (socket authentication: no password anywhere) and streamed out through the task's
 * engine. Nothing runs until the restore reads it; a failed backup fails the stream with its
 * last error line.
 */
function sourceBackup(swarm: SwarmEngines, service: string, extraArgs: readonly string[]): Readable {
  return Readable.from(backupChunks(swarm, service, extraArgs), { objectMode: false });
}

async function* backupChunks(swarm: SwarmEngines, service: string, extraArgs: readonly string[]): AsyncGenerator<Buffer> {
  const task = await waitForRunningTask(swarm.docker, swarm.engines, service, 120_000);
  const cmd = ['mariadb-backup', '--backup', '--stream=xbstream', '--user=root', `--socket=${SOURCE_RUNDIR}/mysqld.sock`, ...extraArgs];
  const exec = await task.engine.getContainer(task.containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  let stderr = '';
  err.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-16 * 1024);
  });
  task.engine.modem.demuxStream(stream, out, err);
  stream.on('end', () => out.end());
  stream.on('close', () => out.end());
  stream.on('error', (error: Error) => out.destroy(error));
  try {
    for await (const chunk of out) yield chunk as Buffer;
    const code = await exitCode(exec);
    if (code !== 0) throw new CommandFailedError('mariadb-backup --backup --stream=xbstream (in the source task)', code, stderr);
  } finally {
    stream.destroy();
  }
}

/** An exec's exit code: its stream can end a moment before the engine records that it exited. */
async function exitCode(exec: { inspect: () => Promise<{ Running: boolean; ExitCode: number | null }> }): Promise<number | null> {
  for (let i = 0; i < 50; i += 1) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}
