import { readFile } from 'node:fs/promises';
import type { DockerClient } from '../../docker/client.js';
import { FailedPreconditionError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { diffTopology, type TopologyChange } from '../diff.js';
import { SERVICE_PARTS, type SecretModel, type SecretSource, type Topology } from '../model.js';
import { readSecretValue } from '../secret-value.js';
import { toNetworkSpec, toSecretSpec, toServiceSpec } from '../service-spec.js';
import { preflight } from './preflight.js';
import { checkReplicaHome, prepareReplicaPaths, removeReplicaPaths } from './replica-prep.js';
import { assertManager, liveNodes, stackObjects, swarmFacts, type NodeEngines, type StackObject } from './swarm-facts.js';

export interface SwarmDeps {
  /** A manager's engine. */
  docker: DockerClient;
  logger: Logger;
  /** Engines of single nodes, when known (the sandbox), to check images before deploying. */
  engines: NodeEngines;
  env?: NodeJS.ProcessEnv;
}

/** `dolly swarm plan`: checks the topology against the Swarm and lists what a deploy would do. */
export async function swarmPlan(topology: Topology, deps: SwarmDeps): Promise<TopologyChange[]> {
  await assertManager(deps.docker);
  preflight(topology, await swarmFacts(deps.docker, topology, deps.engines));
  return diffTopology(topology, await stackObjects(deps.docker, topology.stack));
}

/** Where `dolly swarm` reads a secret: a Pulumi stack secret is read from DOLLY_SOURCE_PASSWORD instead. */
function deploySecretSource(from: SecretSource): SecretSource {
  return from.kind === 'pulumi-config' ? { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' } : from;
}

/** A secret's value as `dolly swarm` reads it (deps.env, else the process's environment, or its file). */
export function readDeploySecret(secret: SecretModel, deps: Pick<SwarmDeps, 'env'>): Promise<string> {
  return readSecretValue(deploySecretSource(secret.from), { env: deps.env ?? process.env, readFile: (path) => readFile(path, 'utf8') });
}

/**
 * `dolly swarm deploy`: preflight first (nothing is changed when it fails), then node labels,
 * network, secrets, the replica's paths and the services, in that order. A second run changes nothing.
 */
export async function swarmDeploy(topology: Topology, deps: SwarmDeps): Promise<TopologyChange[]> {
  const changes = await swarmPlan(topology, deps);
  checkReplicaHome(topology);
  const secretValues = new Map<string, string>();
  for (const secret of topology.secrets) {
    if (changes.some((c) => c.kind === 'secret' && c.name === secret.name && c.action === 'create')) {
      secretValues.set(secret.name, await readDeploySecret(secret, deps));
    }
  }
  if (changes.some((c) => c.kind === 'network' && c.action === 'replace')) {
    throw new FailedPreconditionError(`the network ${topology.network.name} changed and cannot be updated in place`, { hint: 'run `dolly swarm destroy`, then deploy again' });
  }
  await labelNodes(topology, deps.docker);
  const objects = async (): Promise<StackObject[]> => stackObjects(deps.docker, topology.stack);
  if (changes.some((c) => c.kind === 'network' && c.action === 'create')) await deps.docker.createNetwork(toNetworkSpec(topology.network));
  for (const secret of topology.secrets) {
    const value = secretValues.get(secret.name);
    if (value !== undefined) await deps.docker.createSecret(toSecretSpec(secret, value));
  }
  await prepareReplicaPaths(topology, deps.logger);
  const deployed = await objects();
  const ids = {
    networks: Object.fromEntries(deployed.filter((o) => o.kind === 'network').map((o) => [o.name, o.id])),
    secrets: Object.fromEntries(deployed.filter((o) => o.kind === 'secret').map((o) => [o.name, o.id])),
  };
  for (const part of SERVICE_PARTS) {
    const service = topology.services[part];
    const change = changes.find((c) => c.kind === 'service' && c.name === service.name);
    const spec = toServiceSpec(service, ids);
    if (change?.action === 'create') await deps.docker.createService(spec);
    if (change?.action === 'update') {
      const current = deployed.find((o) => o.kind === 'service' && o.name === service.name);
      await deps.docker.getService(current?.id ?? service.name).update({ ...spec, version: current?.version ?? 0 });
    }
  }
  for (const change of changes.filter((c) => c.action === 'remove')) await removeObject(deps.docker, deployed, change);
  return changes;
}

export interface SwarmServiceStatus {
  name: string;
  node: string | null;
  state: string;
  replicas: string;
  /** The newest task's error while none runs (e.g. a bind path missing on its node). */
  error?: string;
}

/** `dolly swarm status`: each service of the stack, where its task runs and in what state. */
export async function swarmStatus(topology: Topology, deps: SwarmDeps): Promise<SwarmServiceStatus[]> {
  await assertManager(deps.docker);
  const nodes = new Map((await liveNodes(deps.docker)).map((n) => [n.id, n.hostname]));
  const deployed = await stackObjects(deps.docker, topology.stack);
  const result: SwarmServiceStatus[] = [];
  for (const part of SERVICE_PARTS) {
    const name = topology.services[part].name;
    const object = deployed.find((o) => o.kind === 'service' && o.name === name);
    if (!object) {
      result.push({ name, node: null, state: 'missing', replicas: `0/${topology.services[part].replicas}` });
      continue;
    }
    const tasks = (await deps.docker.listTasks({ filters: { service: [object.id] } })) as { NodeID?: string; CreatedAt?: string; Status?: { State?: string; Err?: string } }[];
    tasks.sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
    const running = tasks.filter((t) => t.Status?.State === 'running');
    const task = running[0] ?? tasks[0];
    result.push({
      name,
      node: task?.NodeID ? (nodes.get(task.NodeID) ?? task.NodeID) : null,
      state: task?.Status?.State ?? 'pending',
      replicas: `${running.length}/${topology.services[part].replicas}`,
      ...(running.length === 0 && task?.Status?.Err ? { error: task.Status.Err } : {}),
    });
  }
  return result;
}

/** Waits until every service of the stack has its tasks running. */
export async function waitForServices(topology: Topology, deps: SwarmDeps, timeoutMs: number): Promise<SwarmServiceStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await swarmStatus(topology, deps);
    if (status.every((s) => s.state === 'running')) return status;
    if (Date.now() > deadline) {
      const waiting = status.filter((s) => s.state !== 'running').map((s) => `${s.name} (${s.state}${s.error ? `: ${s.error}` : ''})`);
      throw new UnavailableError(`services not running after ${timeoutMs / 1000} s: ${waiting.join(', ')}`, { hint: 'see `docker service ps NAME` on the manager' });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** What `dolly swarm destroy` removed, and what it kept with the reason. */
export interface DestroyResult {
  removed: string[];
  kept: string[];
}

/**
 * `dolly swarm destroy`: removes the stack's services, secrets and network, and its node labels;
 * then, once the replica's containers are gone, what deploy made on this machine for the replica
 * (removeReplicaPaths). The source's volume stays on its node, as `docker stack rm` keeps volumes:
 * it is production's data in the seed, and the result says so.
 */
export async function swarmDestroy(topology: Topology, deps: SwarmDeps): Promise<DestroyResult> {
  const removed = await removeStack(topology, deps);
  await waitForServiceContainersGone(topology, deps, 120_000);
  const paths = await removeReplicaPaths(topology, deps.logger);
  const source = topology.services.source;
  const volumes = source.mounts.filter((m) => m.type === 'volume').map((m) => m.source);
  const node = source.constraints.map((c) => /^node\.hostname==(.+)$/.exec(c)?.[1]).find((n) => n !== undefined) ?? "the source's node";
  const kept = [...paths.kept, ...volumes.map((v) => `volume ${v} on ${node}: the source's data (\`docker volume rm ${v}\` there)`)];
  for (const line of kept) deps.logger.info('kept', { what: line });
  return { removed: [...removed, ...paths.removed], kept };
}

/**
 * Waits until no container of the stack's replica service is left on the pool node (Swarm removes
 * a service's tasks in the background): its datadir must not be removed under a running server.
 */
async function waitForServiceContainersGone(topology: Topology, deps: SwarmDeps, timeoutMs: number): Promise<void> {
  const engine = deps.engines(topology.pool.node) ?? deps.docker;
  const name = topology.services.replica.name;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await engine.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${name}`] } }).catch(() => []);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new UnavailableError(`the ${name} service's container is still on ${topology.pool.node} after ${timeoutMs / 1000} s`, { hint: 'run `dolly swarm destroy` again' });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function removeStack(topology: Topology, deps: SwarmDeps): Promise<string[]> {
  await assertManager(deps.docker);
  const deployed = await stackObjects(deps.docker, topology.stack);
  const order = ['service', 'secret', 'network'] as const;
  const removed: string[] = [];
  for (const kind of order) {
    for (const object of deployed.filter((o) => o.kind === kind)) {
      await removeObject(deps.docker, deployed, { action: 'remove', kind, name: object.name });
      removed.push(`${kind}/${object.name}`);
    }
  }
  // Swarm removes a network only once the tasks on it are gone: wait, asking again, until nothing is left.
  const deadline = Date.now() + 120_000;
  for (let left = await stackObjects(deps.docker, topology.stack); left.length > 0; left = await stackObjects(deps.docker, topology.stack)) {
    if (Date.now() > deadline) throw new UnavailableError(`still present after destroy: ${left.map((o) => `${o.kind}/${o.name}`).join(', ')}`, { hint: 'run `dolly swarm destroy` again' });
    for (const object of left) await removeObject(deps.docker, left, { action: 'remove', kind: object.kind, name: object.name }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
  }
  await labelNodes(topology, deps.docker, true);
  return removed;
}

async function removeObject(docker: DockerClient, deployed: readonly StackObject[], change: TopologyChange): Promise<void> {
  const object = deployed.find((o) => o.kind === change.kind && o.name === change.name);
  if (!object) return;
  if (change.kind === 'service') await docker.getService(object.id).remove();
  if (change.kind === 'secret') await docker.getSecret(object.id).remove();
  if (change.kind === 'network') await removeNetworkWhenFree(docker, object.id);
}

/** A network is in use until the removed services' tasks are gone: retry for a while. */
async function removeNetworkWhenFree(docker: DockerClient, id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await docker.getNetwork(id).remove();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Adds (or, with `remove`, takes off) the topology's node labels, e.g. dolly.pool=true on the pool node. */
async function labelNodes(topology: Topology, docker: DockerClient, remove = false): Promise<void> {
  for (const wanted of topology.nodeLabels) {
    // A node's version moves with its heartbeats: read it right before the update, retry if it moved.
    for (let attempt = 1; ; attempt += 1) {
      const node = (await liveNodes(docker)).find((n) => n.hostname === wanted.node);
      if (!node) break;
      const labels = { ...(node.spec.Labels ?? {}) };
      for (const [key, value] of Object.entries(wanted.labels)) {
        if (remove) delete labels[key];
        else labels[key] = value;
      }
      if (JSON.stringify(labels) === JSON.stringify(node.spec.Labels ?? {})) break;
      try {
        await docker.getNode(node.id).update({ version: node.version, ...node.spec, Labels: labels });
        break;
      } catch (error) {
        if (attempt >= 5 || !String(error).includes('out of sequence')) throw error;
      }
    }
  }
}
