import type Docker from 'dockerode';
import { forwardThrough } from '../../docker/exec-forward.js';
import { demuxLogs } from '../../docker/log-frames.js';
import { isDockerNotFound, type DockerClient } from '../../docker/client.js';
import type { ReplicaHost, ReplicaServerInfo } from '../../engine/replica-host.js';
import { FailedPreconditionError, UnavailableError } from '../../errors.js';
import type { NodeEngines } from './swarm-facts.js';
import { findRunningTask, waitForRunningTask } from './tasks.js';

/** How long a task of the replica's service may take to run after a scale-up. */
const TASK_TIMEOUT_MS = 300_000;
/** How long Swarm may take to remove the replica's container after a scale-down. */
const GONE_TIMEOUT_MS = 120_000;

/** Where the Swarm replica runs: its service, and the node that holds the pool (the state's `swarm`). */
export interface SwarmReplicaPlace {
  service: string;
  poolNode: string;
  /** The service's own server id and image (its spec is `swarm deploy`'s): the engine uses them. */
  serverId?: number;
  image?: string;
}

/** A Swarm manager's engine, and the nodes' engines where dolly knows them (the sandbox). */
export interface SwarmEngines {
  docker: DockerClient;
  engines: NodeEngines;
}

/**
 * The replica as the `replica` service of a Swarm stack (the seed's topology): Swarm runs its
 * server from the stack's service spec on the pool node, with the pool's `replica` volume and the
 * root's run directory bound, so dolly reads its socket and snapshots its volume as on one host.
 * Starting is scaling the service to one task (after none, so the task reads the run directory's
 * new init file), stopping and removing is scaling it to none; the service itself is
 * `swarm deploy`'s and `swarm destroy`'s. dolly's clients reach the source, which only the stack's
 * network reaches, through a forward into the replica's running task (looked up per connection);
 * the replica reaches it by its service name.
 */
export function swarmReplicaHost(place: SwarmReplicaPlace, swarm: SwarmEngines): ReplicaHost {
  const running = () => findRunningTask(swarm.docker, swarm.engines, place.service);
  const scale = (replicas: number) => scaleService(place, swarm, replicas);
  return {
    kind: 'swarm-service',
    ...(place.serverId !== undefined ? { serverId: place.serverId } : {}),
    ...(place.image !== undefined ? { image: place.image } : {}),
    start: async () => {
      await scale(0);
      await scale(1);
    },
    inspect: async (): Promise<ReplicaServerInfo> => {
      try {
        const info = (await swarm.docker.getService(place.service).inspect()) as { Spec?: Docker.ServiceSpec };
        if ((info.Spec?.Mode?.Replicated?.Replicas ?? 0) === 0) return { state: 'stopped', restarts: 0 };
      } catch (error) {
        if (isDockerNotFound(error)) return { state: 'missing', restarts: 0 };
        throw error;
      }
      return { state: (await running()) ? 'running' : 'stopped', restarts: 0 };
    },
    startExisting: () => scale(1),
    stop: () => scale(0),
    remove: () =>
      scale(0).catch((error: unknown) => {
        if (!isDockerNotFound(error)) throw error;
      }),
    logs: async (tailLines) => {
      const task = await running();
      if (!task) return '';
      const raw = await task.engine.getContainer(task.containerId).logs({ stdout: true, stderr: true, tail: tailLines, follow: false });
      return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
    },
    sourceForDolly: async (source) => {
      if (source.tls?.mode === 'verify-identity') {
        // dolly's clients (mysql2, mariadb-dump) would see 127.0.0.1, not the name the certificate holds.
        throw new FailedPreconditionError('--source-tls verify-identity cannot be checked through the forward into the Swarm replica\'s task', { hint: 'use verify-ca (the chain is checked; the host name is not)' });
      }
      const forward = await forwardThrough(() => waitForRunningTask(swarm.docker, swarm.engines, place.service, TASK_TIMEOUT_MS), { host: source.host, port: source.port });
      return { source: { ...source, host: '127.0.0.1', port: forward.port }, close: () => forward.close() };
    },
    sourceForReplica: (source) => source,
  };
}

/** Sets the replica service's task count, and waits until its task runs (n > 0) or its container is gone (0). */
async function scaleService(place: Pick<SwarmReplicaPlace, 'service' | 'poolNode'>, swarm: SwarmEngines, replicas: number): Promise<void> {
  const service = swarm.docker.getService(place.service);
  const info = (await service.inspect()) as { Version: { Index: number }; Spec: Docker.ServiceSpec };
  if (info.Spec.Mode?.Replicated?.Replicas !== replicas) {
    await service.update({ ...info.Spec, version: info.Version.Index, Mode: { Replicated: { Replicas: replicas } } });
  }
  if (replicas === 0) await waitContainersGone(place, swarm);
  else await waitForRunningTask(swarm.docker, swarm.engines, place.service, TASK_TIMEOUT_MS);
}

/** Waits until no container of the service is left on the pool node (Swarm removes them in the background). */
async function waitContainersGone(place: Pick<SwarmReplicaPlace, 'service' | 'poolNode'>, swarm: SwarmEngines): Promise<void> {
  const engine = swarm.engines(place.poolNode) ?? swarm.docker;
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  for (;;) {
    const left = await engine.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${place.service}`] } });
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new UnavailableError(`the ${place.service} service's container is still on ${place.poolNode} after ${GONE_TIMEOUT_MS / 1000} s`, { hint: 'run the command again' });
    await new Promise((r) => setTimeout(r, 1000));
  }
}
