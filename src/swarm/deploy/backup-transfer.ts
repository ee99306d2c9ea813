import type Docker from 'dockerode';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execIn } from '../../docker/exec.js';
import { PREPARE_SCRIPT, UNPACK_SCRIPT, noPositionError, readBackupPosition } from '../../engine/restore-backup.js';
import { REPLICA_MARKER } from '../../mysql/server-args.js';
import { CommandFailedError, FailedPreconditionError, UnavailableError, messageOf } from '../../errors.js';
import type { BackupPosition } from '../../mysql/backup-position.js';
import { CONTAINER_DATADIR } from '../../runtime/container-layout.js';
import { swarmLabels } from '../labels.js';
import type { Topology } from '../model.js';
import { SOURCE_RUNDIR } from '../source-server.js';
import { stackObjects } from './swarm-facts.js';
import type { SwarmDeps } from './swarm-deploy.js';
import { waitForRunningTask, type RunningTask } from './tasks.js';

/** The one-shot service on the pool node that receives, unpacks and prepares the backup. */
export const RECEIVER_SERVICE = 'dolly-backup-receiver';
/** Its port on the stack's network (never published). */
export const RECEIVER_PORT = 4444;
/** Where it unpacks inside the datadir before moving the prepared files up. */
const STAGING = '.dolly-restore';

/**
 * The receiver's bash script (`$0` the datadir, `$1` dolly's marker, `$2` the port, `$3` the subnet
 * allowed to connect (the stack network's), `$4`/`$5` the single-host unpack and prepare scripts): empties the
 * datadir (the marker stays), accepts one connection from the source's task, unpacks the
 * xbstream into a staging directory, refuses a backup without a position, prepares it, then moves
 * it into place with `mysql/` last, so the replica's start script (which initialises a datadir
 * without `mysql/`) never starts on half a backup.
 */
export function receiverScript(): string {
  return [
    'set -euo pipefail',
    'd="$0"; r="$0/' + STAGING + '"',
    'find "$d" -mindepth 1 -maxdepth 1 ! -name "$1" -exec rm -rf {} +',
    'mkdir "$r"',
    'socat -u "TCP4-LISTEN:$2,reuseaddr,range=$3" STDOUT | sh -c "$4" "$r"',
    '[ -f "$r/mariadb_backup_binlog_info" ] || [ -f "$r/xtrabackup_binlog_info" ] || { echo "dolly: the backup records no binary log position" >&2; exit 3; }',
    'sh -c "$5" "$r"',
    'find "$r" -mindepth 1 -maxdepth 1 ! -name mysql -exec mv -t "$d" {} +',
    'mv "$r/mysql" "$d/"',
    'rmdir "$r"',
  ].join('\n');
}

/**
 * The sender's bash script, run inside the source's task (`$1` the receiver, `$2` its port, the
 * rest extra mariadb-backup options): a streamed backup of the running source as its root over
 * the socket (socket authentication: no password anywhere), sent over the stack's network.
 */
export function senderScript(): string {
  return [
    'set -o pipefail',
    'host="$1"; port="$2"; shift 2',
    // The receiver's name resolves once its task runs; socat resolves only once.
    'for i in $(seq 120); do getent hosts "$host" > /dev/null && break; sleep 1; done',
    `mariadb-backup --backup --stream=xbstream --user=root --socket=${SOURCE_RUNDIR}/mysqld.sock "$@" | socat -u STDIN "TCP4:$host:$port,retry=120,interval=1"`,
  ].join('\n');
}

/** The sender's argv in the source's container. */
export function senderCommand(extraArgs: readonly string[] = []): string[] {
  return ['bash', '-c', senderScript(), 'dolly-backup-send', RECEIVER_SERVICE, String(RECEIVER_PORT), ...extraArgs];
}

/**
 * The receiver's service: the replica's image on the pool node, the replica's datadir bound, on
 * the stack's network (DNS round robin: no virtual IP), run once (no restart), labelled with the
 * stack so `swarm destroy` and the next deploy remove one a crash left.
 */
export function receiverServiceSpec(topology: Topology, networkId: string, allowedAddress: string): Docker.ServiceSpec {
  const labels = { ...swarmLabels(topology.stack, 'backup-receiver') };
  return {
    Name: RECEIVER_SERVICE,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: topology.services.replica.image,
        Labels: labels,
        Command: ['bash', '-c', receiverScript(), CONTAINER_DATADIR, REPLICA_MARKER, String(RECEIVER_PORT), allowedAddress, UNPACK_SCRIPT, PREPARE_SCRIPT],
        Mounts: [{ Type: 'bind', Source: topology.pool.dataDir, Target: CONTAINER_DATADIR, ReadOnly: false }],
      },
      Placement: { Constraints: [`node.hostname==${topology.pool.node}`] },
      Networks: [{ Target: networkId }],
      RestartPolicy: { Condition: 'none' },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/** A task's state as the Engine API reports it. */
interface TaskState {
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
}

export interface TransferOptions {
  source: RunningTask;
  timeoutMs: number;
  extraArgs?: readonly string[];
}

/**
 * Stops the replica's service, streams a backup of the source from its task to a one-shot
 * receiver on the pool node over the stack's network, unpacks and prepares it into the replica's
 * datadir, and starts the replica again. Returns the position the backup recorded. On failure the
 * datadir is emptied (the replica starts on a fresh one) and the receiver is removed.
 */
export async function transferBackup(topology: Topology, deps: SwarmDeps, opts: TransferOptions): Promise<BackupPosition> {
  const network = (await stackObjects(deps.docker, topology.stack)).find((o) => o.kind === 'network' && o.name === topology.network.name);
  if (!network) throw new FailedPreconditionError(`the network ${topology.network.name} does not exist`, { hint: 'run `dolly swarm deploy` first' });
  const address = await networkSubnet(deps, network.id, topology.network.name);
  await scaleReplica(topology, deps, 0);
  let ok = false;
  try {
    await deps.docker.createService(receiverServiceSpec(topology, network.id, address));
    deps.logger.info('streaming a mariadb-backup of the source to the pool node', { from: opts.source.node, to: topology.pool.node, network: topology.network.name });
    await waitForRunningTask(deps.docker, deps.engines, RECEIVER_SERVICE, opts.timeoutMs);
    const stop = new AbortController();
    const receiving = waitForReceiver(deps, topology.pool.node, opts.timeoutMs, stop.signal);
    receiving.catch(() => undefined);
    const sent = await execIn(opts.source.engine, opts.source.containerId, senderCommand(opts.extraArgs), { keepBytes: 16 * 1024 });
    // A sender that failed may never let the receiver finish: stop waiting for it.
    if (sent.code !== 0) stop.abort();
    const received = sent.code === 0 ? await receiving : null;
    if (sent.code !== 0 || !received) {
      const log = await receiverLog(deps, topology.pool.node, await latestTask(deps)).catch(() => '');
      throw new CommandFailedError('mariadb-backup --backup --stream (in the source task)', sent.code, `${sent.stderr}${log ? `\nreceiver: ${log}` : ''}`, { hint: 'see the lines above' });
    }
    if (received.state !== 'complete') {
      if (received.log.includes('records no binary log position')) throw noPositionError();
      throw new CommandFailedError(`mbstream + mariadb-backup --prepare (in ${RECEIVER_SERVICE} on ${topology.pool.node})`, null, received.log || received.err, { hint: 'see the lines above' });
    }
    const position = await readBackupPosition(topology.pool.dataDir);
    if (!position) throw noPositionError();
    ok = true;
    return position;
  } finally {
    await removeReceiver(topology, deps).catch((error: unknown) => deps.logger.error('could not remove the receiver', { reason: messageOf(error) }));
    if (!ok) await emptyDatadir(topology.pool.dataDir).catch((error: unknown) => deps.logger.error('could not empty the datadir', { reason: messageOf(error) }));
    await scaleReplica(topology, deps, topology.services.replica.replicas);
  }
}

/** The stack network's subnet: the receiver accepts a connection from it only (the sender's task is on it). */
async function networkSubnet(deps: SwarmDeps, id: string, name: string): Promise<string> {
  const info = (await deps.docker.getNetwork(id).inspect()) as { IPAM?: { Config?: { Subnet?: string }[] } };
  const subnet = info.IPAM?.Config?.find((c) => c.Subnet?.includes('.'))?.Subnet;
  if (!subnet) throw new FailedPreconditionError(`the network ${name} has no IPv4 subnet`, { hint: 'see `docker network inspect` on the manager' });
  return subnet;
}

/** Waits for the receiver's task to end; its state and the tail of its log. */
async function waitForReceiver(deps: SwarmDeps, node: string, timeoutMs: number, signal: AbortSignal): Promise<{ state: string; err: string; log: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const task = await latestTask(deps);
    const state = task?.Status?.State ?? 'pending';
    if (['complete', 'failed', 'rejected', 'shutdown', 'orphaned'].includes(state)) {
      const log = state === 'complete' ? '' : await receiverLog(deps, node, task).catch(() => '');
      return { state, err: task?.Status?.Err ?? '', log };
    }
    if (Date.now() > deadline) throw new UnavailableError(`the backup was not received after ${timeoutMs / 1000} s (receiver ${state})`, { hint: 'see `dolly swarm status`; a larger source needs a longer --timeout' });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function latestTask(deps: SwarmDeps): Promise<TaskState | undefined> {
  const tasks = (await deps.docker.listTasks({ filters: { service: [RECEIVER_SERVICE] } })) as TaskState[];
  return tasks.sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''))[0];
}

async function receiverLog(deps: SwarmDeps, node: string, task: TaskState | undefined): Promise<string> {
  const id = task?.Status?.ContainerStatus?.ContainerID;
  if (!id) return '';
  const engine = deps.engines(node) ?? deps.docker;
  const buffer = (await engine.getContainer(id).logs({ stdout: true, stderr: true, tail: 20 })) as unknown as Buffer;
  return buffer.toString('utf8').replace(/[\x00-\x08]/g, '').trim();
}

/** Removes the receiver's service (one a crash left too) and waits until its container is gone. */
export async function removeReceiver(topology: Topology, deps: SwarmDeps): Promise<void> {
  const found = (await stackObjects(deps.docker, topology.stack)).find((o) => o.kind === 'service' && o.name === RECEIVER_SERVICE);
  if (found) await deps.docker.getService(found.id).remove();
  await waitContainersGone(topology, deps, RECEIVER_SERVICE, 120_000);
}

/** Sets the replica service's task count, and waits until it runs (n > 0) or its container is gone (0). */
export async function scaleReplica(topology: Topology, deps: SwarmDeps, replicas: number): Promise<void> {
  const service = deps.docker.getService(topology.services.replica.name);
  const info = (await service.inspect()) as { Version: { Index: number }; Spec: Docker.ServiceSpec };
  if (info.Spec.Mode?.Replicated?.Replicas !== replicas) {
    await service.update({ ...info.Spec, version: info.Version.Index, Mode: { Replicated: { Replicas: replicas } } });
  }
  if (replicas === 0) await waitContainersGone(topology, deps, topology.services.replica.name, 120_000);
  else await waitForRunningTask(deps.docker, deps.engines, topology.services.replica.name, 300_000);
}

/** Waits until no container of `service` is left on the pool node (Swarm removes them in the background). */
async function waitContainersGone(topology: Topology, deps: SwarmDeps, service: string, timeoutMs: number): Promise<void> {
  const engine = deps.engines(topology.pool.node) ?? deps.docker;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await engine.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${service}`] } });
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new UnavailableError(`the ${service} service's container is still on ${topology.pool.node} after ${timeoutMs / 1000} s`, { hint: 'run the command again' });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Empties the replica's datadir (dolly's marker stays): the replica then starts on a fresh one. */
export async function emptyDatadir(dataDir: string): Promise<void> {
  for (const entry of await readdir(dataDir)) {
    if (entry !== REPLICA_MARKER) await rm(join(dataDir, entry), { recursive: true, force: true });
  }
}
