import type { DockerClient } from '../../src/docker/client.js';
import { InternalError } from '../../src/errors.js';
import { LABEL_POOL_NODE } from '../../src/swarm/labels.js';
import { waitFor, type WaitOptions } from './node-engine.js';

/** A node as the manager lists it (`docker node ls`), narrowed to what dolly reads. */
export interface SwarmNodeInfo {
  readonly id: string;
  readonly hostname: string;
  readonly role: 'manager' | 'worker';
  /** `ready`, `down`, `unknown`, `disconnected`. */
  readonly state: string;
  readonly availability: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A started node engine, before it is part of the Swarm. */
export interface NodeToJoin {
  readonly hostname: string;
  readonly engine: DockerClient;
  /** The node's IP address on the sandbox network (the Swarm's advertise address). */
  readonly address: string;
}

/**
 * Forms a Swarm: the first node inits it (advertising its sandbox address), the others join as
 * workers with the worker token, the manager waits until every node is `ready`, then puts
 * `dolly.pool=true` on the pool node. Returns the nodes as the manager lists them.
 */
export async function formSwarm(nodes: readonly NodeToJoin[], poolHostname: string, wait: WaitOptions): Promise<SwarmNodeInfo[]> {
  const [manager, ...workers] = nodes;
  if (!manager) throw new InternalError('formSwarm needs at least one node');
  await manager.engine.swarmInit({ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: `${manager.address}:2377` });
  const token = workerToken(await manager.engine.swarmInspect());
  await Promise.all(
    workers.map((worker) =>
      worker.engine.swarmJoin({ ListenAddr: '0.0.0.0:2377', AdvertiseAddr: `${worker.address}:2377`, RemoteAddrs: [`${manager.address}:2377`], JoinToken: token }),
    ),
  );
  const listed = await waitFor(
    `${nodes.length} ready Swarm nodes`,
    async () => {
      const all = await listSwarmNodes(manager.engine);
      return all.length === nodes.length && all.every((n) => n.state === 'ready') ? all : undefined;
    },
    wait,
  );
  const pool = listed.find((n) => n.hostname === poolHostname);
  if (!pool) throw new InternalError(`the pool node ${poolHostname} is not in the Swarm`);
  await addNodeLabels(manager.engine, pool.id, { [LABEL_POOL_NODE]: 'true' });
  return listSwarmNodes(manager.engine);
}

/** The manager's node list, narrowed and sorted by hostname. */
export async function listSwarmNodes(manager: DockerClient): Promise<SwarmNodeInfo[]> {
  const raw: unknown = await manager.listNodes();
  if (!Array.isArray(raw)) throw new InternalError('unexpected answer to GET /nodes');
  return raw.map(toNodeInfo).sort((a, b) => a.hostname.localeCompare(b.hostname, 'en', { numeric: true }));
}

/** Adds labels to a Swarm node (keeps its other labels, role and availability). */
export async function addNodeLabels(manager: DockerClient, nodeId: string, labels: Record<string, string>): Promise<void> {
  const node = manager.getNode(nodeId);
  const inspected = record(await node.inspect());
  const version = record(inspected.Version).Index;
  const spec = record(inspected.Spec);
  const current = stringRecord(spec.Labels);
  await node.update({ _query: { version }, _body: { ...spec, Labels: { ...current, ...labels } } });
}

function toNodeInfo(value: unknown): SwarmNodeInfo {
  const node = record(value);
  const spec = record(node.Spec);
  return {
    id: String(node.ID),
    hostname: String(record(node.Description).Hostname ?? ''),
    role: spec.Role === 'manager' ? 'manager' : 'worker',
    state: String(record(node.Status).State ?? 'unknown'),
    availability: String(spec.Availability ?? 'unknown'),
    labels: stringRecord(spec.Labels),
  };
}

function workerToken(inspected: unknown): string {
  const token = record(record(inspected).JoinTokens).Worker;
  if (typeof token !== 'string' || token === '') throw new InternalError('the manager gave no worker join token');
  return token;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(record(value))) if (typeof v === 'string') out[key] = v;
  return out;
}
