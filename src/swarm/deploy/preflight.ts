import { FailedPreconditionError, InvalidArgumentError } from '../../errors.js';
import type { NodeModel, Topology } from '../model.js';
import { candidateNodes } from '../placement.js';

/** A node of the live Swarm, as the manager lists it. */
export interface LiveNode extends NodeModel {
  readonly id: string;
  readonly ready: boolean;
}

/** A port another stack's service publishes. */
export interface TakenPort {
  readonly port: number;
  readonly service: string;
}

/** What the Swarm looks like before a deploy: everything preflight needs, read without changing anything. */
export interface SwarmFacts {
  readonly nodes: readonly LiveNode[];
  readonly takenPorts: readonly TakenPort[];
  /** Whether `image` is present on node `hostname`; undefined when that node's engine cannot be asked. */
  readonly hasImage: (hostname: string, image: string) => boolean | undefined;
}

/**
 * Checks a topology against the live Swarm before anything is changed: every node it names exists
 * and is ready, every service has a ready node that satisfies its constraints (with the node labels
 * the deploy will add), no port it publishes is taken by another stack, and its image is on the
 * nodes that could run it (where their engines can be asked). Throws the first problem as one line
 * with a hint.
 */
export function preflight(topology: Topology, facts: SwarmFacts): void {
  const live = new Map(facts.nodes.map((node) => [node.hostname, node]));
  for (const node of topology.nodes) {
    const found = live.get(node.hostname);
    if (!found) {
      throw new InvalidArgumentError(`unknown node ${node.hostname}`, { hint: `the Swarm has ${[...live.keys()].join(', ') || 'no nodes'}` });
    }
    if (!found.ready) throw new FailedPreconditionError(`node ${node.hostname} is not ready`, { hint: 'start it or fix it (docker node ls), then deploy again' });
  }
  const planned: NodeModel[] = facts.nodes
    .filter((node) => node.ready)
    .map((node) => {
      const added = topology.nodeLabels.filter((l) => l.node === node.hostname).reduce<Record<string, string>>((all, l) => ({ ...all, ...l.labels }), {});
      return { hostname: node.hostname, role: node.role, labels: { ...node.labels, ...added } };
    });
  for (const service of Object.values(topology.services)) {
    const candidates = candidateNodes(planned, service.constraints);
    if (candidates.length === 0) {
      throw new InvalidArgumentError(`no ready node satisfies the constraints of service ${service.name} (${service.constraints.join(', ')})`, {
        hint: 'check the node names and labels in the topology against `docker node ls`',
      });
    }
    for (const port of service.ports) {
      const taken = facts.takenPorts.find((t) => t.port === port.published);
      if (taken) throw new InvalidArgumentError(`port ${port.published} of service ${service.name} is taken by service ${taken.service}`, { hint: 'choose another published port in the topology' });
    }
    const missing = candidates.filter((hostname) => facts.hasImage(hostname, service.image) === false);
    if (missing.length === candidates.length) {
      throw new InvalidArgumentError(`image ${service.image} of service ${service.name} is not on node ${missing.join(', ')}`, {
        hint: 'build or load it on that node first (dolly swarm sandbox up loads the images it knows)',
      });
    }
  }
}
