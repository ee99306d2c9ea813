/**
 * The Pulumi program of the seed's Swarm (`pulumi up`, stack config in Pulumi.<stack>.yaml): it
 * reads the topology config, builds the ONE model with `buildTopology` — the same function
 * `dolly swarm deploy` uses — and declares one component per part from it. It decides nothing of
 * its own: names, placement, env and secrets all come from the model. See docs/swarm.md.
 */
import * as pulumi from '@pulumi/pulumi';
import { LoadGenerator } from './components/loadgen.js';
import { SwarmNetwork } from './components/network.js';
import { ReplicaServer } from './components/replica.js';
import { SwarmSecret } from './components/secret.js';
import { secretValue } from './components/secret-value.js';
import { SourceServer } from './components/source.js';
import { topologyHashes } from './src/swarm/spec-hash.js';
import { buildTopology } from './src/swarm/topology.js';
import type { TopologyConfig } from './src/swarm/topology-config.js';

const config = new pulumi.Config();
// Validated by buildTopology (zod): a bad value fails here, before any resource is declared.
const topology = buildTopology(config.requireObject<TopologyConfig>('topology'));

const network = new SwarmNetwork('network', { network: topology.network });
const [rootPasswordModel] = topology.secrets;
if (rootPasswordModel === undefined) throw new pulumi.RunError('the topology declares no root password secret');
const rootPassword = new SwarmSecret('root-password', { secret: rootPasswordModel, value: secretValue(rootPasswordModel.from, config) });
const source = new SourceServer('source', { service: topology.services.source, network, rootPassword });
const replica = new ReplicaServer('replica', { service: topology.services.replica, network, pool: topology.pool });
const loadgen = new LoadGenerator('loadgen', { service: topology.services.loadgen, network, rootPassword });

/** The network's name; services reach each other by service name on it. */
export const networkName = network.networkName;
export const sourceHost = source.host;
export const sourcePublishedPort = source.publishedPort;
export const replicaNode = replica.node;
export const loadgenTarget = loadgen.target;
/** Docker's ids of what the program made. */
export const ids = {
  network: network.networkId,
  rootPassword: rootPassword.secretId,
  source: source.serviceId,
  replica: replica.serviceId,
  loadgen: loadgen.serviceId,
};
/** The spec hashes of the model this program deployed: `dolly swarm plan` compares the same. */
export const specHashes = topologyHashes(topology);
/** Labels to put on nodes by hand first (the docker provider cannot label nodes). */
export const nodeLabels = topology.nodeLabels;
