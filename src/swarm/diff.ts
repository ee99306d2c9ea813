import { SERVICE_PARTS, type Topology } from './model.js';
import { topologyHashes } from './spec-hash.js';

/** An object of a stack as found on the Swarm (by its labels): kind, name, and its spec-hash label. */
export interface DeployedObject {
  readonly kind: 'network' | 'secret' | 'service';
  readonly name: string;
  /** The `dolly.swarm.spec-hash` label; undefined when the object has none. */
  readonly hash: string | undefined;
}

/** What a deploy does to one object. */
export interface TopologyChange {
  readonly action: 'create' | 'update' | 'replace' | 'remove' | 'keep';
  readonly kind: DeployedObject['kind'];
  readonly name: string;
}

/**
 * The plan from what is deployed to what the topology declares, in deploy order (network,
 * secrets, services) followed by removals of this stack's objects the topology no longer has.
 * A service whose hash differs is updated in place; a network is replaced (it cannot be updated);
 * a secret that exists is kept (its value cannot be read back: rotate it under a new name).
 * Running it again after a successful deploy gives only `keep`.
 */
export function diffTopology(topology: Topology, deployed: readonly DeployedObject[]): TopologyChange[] {
  const hashes = topologyHashes(topology);
  const found = (kind: DeployedObject['kind'], name: string) => deployed.find((object) => object.kind === kind && object.name === name);
  const changes: TopologyChange[] = [];
  const plan = (kind: DeployedObject['kind'], name: string, hash: string, differs: 'update' | 'replace' | 'keep'): void => {
    const current = found(kind, name);
    const action = current === undefined ? 'create' : current.hash === hash ? 'keep' : differs;
    changes.push({ action, kind, name });
  };
  plan('network', hashes.network.name, hashes.network.hash, 'replace');
  for (const secret of hashes.secrets) plan('secret', secret.name, secret.hash, 'keep');
  for (const part of SERVICE_PARTS) plan('service', hashes.services[part].name, hashes.services[part].hash, 'update');
  const wanted = new Set(changes.map((change) => `${change.kind}/${change.name}`));
  const removals = deployed
    .filter((object) => !wanted.has(`${object.kind}/${object.name}`))
    .map((object): TopologyChange => ({ action: 'remove', kind: object.kind, name: object.name }))
    .sort((a, b) => (`${a.kind}/${a.name}` < `${b.kind}/${b.name}` ? -1 : 1));
  return [...changes, ...removals];
}
