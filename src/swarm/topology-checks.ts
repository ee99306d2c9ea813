import { findEngine } from '../docker/image-build.js';
import { InvalidArgumentError } from '../errors.js';
import { SERVICE_PARTS, type ServiceModel, type Topology } from './model.js';
import { candidateNodes, parseConstraint } from './placement.js';

const NODES_HINT = 'check the node names and labels (`docker node ls`, `docker node inspect NODE`)';

/**
 * The rules a topology must keep before anything is deployed, each failure one line with a hint:
 * nodes listed once and a manager among them; every pinned node known; source and replica never
 * able to share a node; every service placeable; distinct server ids; no published port taken
 * twice (an ingress port takes every node, a host port only the nodes its service may run on;
 * the clones' port range is a host claim on the pool node); sane pool paths and port range; no
 * image dolly builds of the other flavor for source or replica.
 */
export function checkTopology(topology: Topology): void {
  checkNodes(topology);
  checkFlavor(topology);
  checkPinnedNodes(topology);
  checkPlacement(topology);
  checkServerIds(topology);
  checkPool(topology);
  checkEndpoints(topology);
  checkPorts(topology);
}

function fail(message: string, hint: string): never {
  throw new InvalidArgumentError(message, { hint });
}

function checkNodes(topology: Topology): void {
  const seen = new Set<string>();
  for (const node of topology.nodes) {
    const key = node.hostname.toLowerCase();
    if (seen.has(key)) fail(`node ${node.hostname} is listed twice`, 'list each node of the Swarm once');
    seen.add(key);
  }
  if (!topology.nodes.some((node) => node.role === 'manager')) {
    fail('no node is a manager', 'a Swarm needs a manager: give one node role manager (`docker node ls` shows the leader)');
  }
}

/** The hostname a service is pinned to by `node.hostname==X`, if any. */
export function pinnedHostname(service: ServiceModel): string | undefined {
  for (const text of service.constraints) {
    const constraint = parseConstraint(text);
    if (constraint?.attribute === 'node.hostname' && constraint.operator === '==') return constraint.value;
  }
  return undefined;
}

function checkPinnedNodes(topology: Topology): void {
  const known = topology.nodes.map((node) => node.hostname);
  const has = (name: string): boolean => known.some((hostname) => hostname.toLowerCase() === name.toLowerCase());
  if (!has(topology.pool.node)) fail(`unknown node ${topology.pool.node} (the pool node)`, `choose one of ${known.join(', ')}; ${NODES_HINT}`);
  for (const part of SERVICE_PARTS) {
    const pinned = pinnedHostname(topology.services[part]);
    if (pinned !== undefined && !has(pinned)) fail(`unknown node ${pinned} (the ${part}'s node)`, `choose one of ${known.join(', ')}; ${NODES_HINT}`);
  }
  const sourceNode = pinnedHostname(topology.services.source);
  if (sourceNode !== undefined && sourceNode.toLowerCase() === topology.pool.node.toLowerCase()) {
    fail(`source and replica would run on the same node ${sourceNode}`, 'the replica runs on the pool node and never beside the source: choose another pool node or source node');
  }
}

function checkPlacement(topology: Topology): void {
  const candidates = new Map<string, string[]>();
  for (const part of SERVICE_PARTS) {
    const service = topology.services[part];
    const nodes = candidateNodes(topology.nodes, service.constraints);
    if (nodes.length === 0) fail(`no node satisfies the constraints of ${service.name} (${service.constraints.join(', ')})`, NODES_HINT);
    candidates.set(part, nodes);
  }
  const replicaNodes = new Set(candidates.get('replica'));
  const shared = (candidates.get('source') ?? []).filter((node) => replicaNodes.has(node));
  if (shared.length > 0) {
    fail(`source and replica constraints could both place them on node ${shared.join(', ')}`, 'the replica must run on another node than the source: pin each to its own node');
  }
}

/** A server image dolly builds runs one flavor (images it does not know are not checked). */
function checkFlavor(topology: Topology): void {
  for (const service of [topology.services.source, topology.services.replica]) {
    const engine = findEngine(service.image);
    if (engine !== undefined && engine.flavor !== topology.flavor) {
      fail(
        `the ${service.part}'s image ${service.image} runs ${engine.flavor}, but the topology's flavor is ${topology.flavor}`,
        `set flavor: ${engine.flavor}, or leave source.image and replica.image unset for the ${topology.flavor} default`,
      );
    }
  }
}

function checkServerIds(topology: Topology): void {
  const { source, replica } = topology.services;
  if (source.serverId !== undefined && source.serverId === replica.serverId) {
    fail(`source and replica have the same server id ${source.serverId}`, 'replication needs distinct server ids (the seed used 42 and 58)');
  }
}

function checkPool(topology: Topology): void {
  const { clonePorts, dataDir, runDir } = topology.pool;
  if (clonePorts.first > clonePorts.last) fail(`the clone port range ${clonePorts.first}-${clonePorts.last} is empty`, 'give the first port, then the last (e.g. 6000-6099)');
  if (dataDir === runDir) fail(`the replica's data and run directories are both ${dataDir}`, 'give them distinct paths on the pool node');
}

/** The routing mesh (ingress ports) balances through a service's virtual IP: no VIP, no ingress. */
function checkEndpoints(topology: Topology): void {
  for (const part of SERVICE_PARTS) {
    const service = topology.services[part];
    const ingress = service.ports.find((port) => port.mode === 'ingress');
    if (ingress !== undefined && service.endpointMode !== 'vip') {
      fail(
        `${service.name} publishes port ${ingress.published} in ingress mode, which needs endpoint mode vip`,
        "publish it in host mode (the port opens on the service's node), or use network.endpointMode vip where the kernel has IPVS",
      );
    }
  }
}

/** A published port (or range) that a service or the clones take, and where. */
interface PortClaim {
  owner: string;
  first: number;
  last: number;
  mode: 'ingress' | 'host';
  /** The nodes where a host-mode claim may take the port. */
  nodes: readonly string[];
}

function describe(claim: PortClaim): string {
  return claim.first === claim.last ? `${claim.owner} (port ${claim.first})` : `${claim.owner} (ports ${claim.first}-${claim.last})`;
}

function checkPorts(topology: Topology): void {
  const claims: PortClaim[] = [
    { owner: 'the clones', ...topology.pool.clonePorts, mode: 'host', nodes: [topology.pool.node] },
  ];
  for (const part of SERVICE_PARTS) {
    const service = topology.services[part];
    const nodes = candidateNodes(topology.nodes, service.constraints);
    for (const port of service.ports) claims.push({ owner: service.name, first: port.published, last: port.published, mode: port.mode, nodes });
  }
  claims.forEach((a, i) => {
    for (const b of claims.slice(i + 1)) {
      if (a.last < b.first || b.last < a.first) continue;
      const sameNode = a.nodes.some((node) => b.nodes.includes(node));
      if (a.mode === 'ingress' || b.mode === 'ingress' || sameNode) {
        fail(`${describe(b)} and ${describe(a)} publish the same port`, 'give each a port of its own (an ingress port is taken on every node of the Swarm)');
      }
    }
  });
}
