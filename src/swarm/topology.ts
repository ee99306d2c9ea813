import { join } from 'node:path';
import { flavorOps } from '../mysql/flavor.js';
import { replicationFilterArgs } from '../mysql/replication.js';
import { serverCommandLine } from '../mysql/server-args.js';
import { CONTAINER_DATADIR, CONTAINER_PATHS, CONTAINER_RUNDIR } from '../runtime/container-layout.js';
import { LABEL_POOL_NODE, swarmLabels } from './labels.js';
import { loadgenEnv } from './loadgen-env.js';
import type { NetworkModel, NodeModel, PoolModel, SecretModel, ServiceModel, ServicePart, Topology } from './model.js';
import { SOURCE_DATADIR, SOURCE_PORT, SOURCE_USER, sourceHealthcheckCommand, sourceServerCommand } from './source-server.js';
import { checkTopology } from './topology-checks.js';
import { defaultServerImage, parseTopologyConfig, type ResolvedTopologyConfig, type TopologyConfig } from './topology-config.js';

/**
 * The seed's Swarm as one model, the only place that decides names, placement, networks,
 * environment and secrets. Pure and deterministic: the same config always gives an equal model
 * (and equal hashes, spec-hash.ts). Throws InvalidArgumentError, one line and a hint, for a bad
 * config (a field out of range, an unknown node, a port taken twice, source and replica able to
 * share a node, a service no node can run).
 *
 * Placement (the seed's `affinity:container!=production-mysql`, as Swarm constraints):
 * - source: `node.hostname==<source node>` (its data is a node-local volume, it must not move)
 *   and `node.labels.dolly.pool!=true` (never beside the pool, even if someone labels its node);
 * - replica: `node.labels.dolly.pool==true` and `node.hostname==<pool node>` (its datadir is a
 *   volume of that node's pool; the label alone could match a second labelled node);
 * - loadgen: `node.labels.dolly.pool!=true`, free to move among the other nodes when one fails.
 * The pool node gets `dolly.pool=true` (topology.nodeLabels); the source node must not carry it.
 * Services find each other by name with DNS round robin (`network.endpointMode`, default `dnsrr`:
 * a virtual IP needs IPVS, which these machines' kernel lacks), so ports are published in host mode.
 */
export function buildTopology(config: TopologyConfig): Topology {
  const resolved = parseTopologyConfig(config);
  const pool = poolOf(resolved);
  const nodes = nodesOf(resolved, pool);
  const network: NetworkModel = { part: 'network', name: resolved.network.name, driver: 'overlay', attachable: true, labels: swarmLabels(resolved.stack, 'network') };
  const secret: SecretModel = {
    part: 'secret',
    key: 'rootPassword',
    name: resolved.rootPassword.secretName,
    from: resolved.rootPassword.from,
    labels: swarmLabels(resolved.stack, 'secret'),
  };
  const source = sourceService(resolved, network, secret, pool);
  const topology: Topology = {
    stack: resolved.stack,
    flavor: resolved.flavor,
    nodes,
    nodeLabels: [{ node: pool.node, labels: { [pool.label.key]: pool.label.value } }],
    network,
    secrets: [secret],
    services: {
      source,
      replica: replicaService(resolved, network, pool),
      loadgen: loadgenService(resolved, network, secret, pool, source),
    },
    pool,
  };
  checkTopology(topology);
  return topology;
}

function poolOf(config: ResolvedTopologyConfig): PoolModel {
  return {
    node: config.pool.node,
    label: { key: LABEL_POOL_NODE, value: 'true' },
    root: config.pool.root,
    // The core's layout: the btrfs pool mounted at <root>/pool, the replica's volume `replica`.
    dataDir: config.pool.dataDir ?? join(config.pool.root, 'pool', 'volumes', 'replica'),
    dataDirGiven: config.pool.dataDir !== undefined,
    runDir: config.pool.runDir ?? join(config.pool.root, 'run', 'replica'),
    clonePorts: config.pool.clonePorts,
  };
}

function nodesOf(config: ResolvedTopologyConfig, pool: PoolModel): NodeModel[] {
  return config.nodes.map((node) => ({
    hostname: node.hostname,
    role: node.role,
    labels: sortedRecord(node.hostname === pool.node ? { ...node.labels, [pool.label.key]: pool.label.value } : node.labels),
  }));
}

/** The pool label as a constraint: `node.labels.dolly.pool==true` (or `!=`). */
function poolConstraint(pool: PoolModel, operator: '==' | '!='): string {
  return `node.labels.${pool.label.key}${operator}${pool.label.value}`;
}

function secretFile(secret: SecretModel): string {
  return `/run/secrets/${secret.name}`;
}

/** What every service shares; each service overrides what is its own. */
function base(config: ResolvedTopologyConfig, part: ServicePart, network: NetworkModel): Omit<ServiceModel, 'image' | 'serverId' | 'command' | 'args' | 'env' | 'secrets' | 'constraints' | 'ports' | 'mounts' | 'healthcheck'> {
  return {
    part,
    name: part,
    networks: [{ network: network.name, aliases: [] }],
    endpointMode: config.network.endpointMode,
    replicas: 1,
    labels: swarmLabels(config.stack, part),
    containerLabels: swarmLabels(config.stack, part),
    restart: { condition: 'any', delaySeconds: 5 },
    update: { parallelism: 1, order: 'stop-first', failureAction: 'pause' },
    stopGraceSeconds: 120,
  };
}

function sourceService(config: ResolvedTopologyConfig, network: NetworkModel, secret: SecretModel, pool: PoolModel): ServiceModel {
  return {
    ...base(config, 'source', network),
    image: config.source.image ?? defaultServerImage(config.flavor),
    serverId: config.source.serverId,
    command: sourceServerCommand({ flavor: config.flavor, serverId: config.source.serverId, passwordFile: secretFile(secret) }),
    args: [],
    env: {},
    secrets: [{ secret: secret.name, file: secretFile(secret), mode: 0o400, uid: '0', gid: '0' }],
    constraints: [`node.hostname==${config.source.node}`, poolConstraint(pool, '!=')],
    ports: config.source.publishedPort === null ? [] : [{ target: SOURCE_PORT, published: config.source.publishedPort, protocol: 'tcp', mode: config.source.publishMode }],
    mounts: [{ type: 'volume', source: config.source.volume, target: SOURCE_DATADIR, readOnly: false }],
    healthcheck: { test: sourceHealthcheckCommand(config.flavor), intervalSeconds: 5, timeoutSeconds: 5, retries: 6, startPeriodSeconds: 120 },
  };
}

function replicaService(config: ResolvedTopologyConfig, network: NetworkModel, pool: PoolModel): ServiceModel {
  const flavor = flavorOps(config.flavor);
  return {
    ...base(config, 'replica', network),
    image: config.replica.image ?? defaultServerImage(config.flavor),
    serverId: config.replica.serverId,
    // The core's replica: socket only, read-only, durable, source accounts never replicated; dolly
    // writes its init file. Across nodes a dead link is noticed after 20 s instead of 60. The task
    // runs as the image's root (a service has no user of dolly's), which also initialises its
    // datadir; clones of it are chowned. Its two directories are bind mounts at the same container
    // paths as the Docker runtime's.
    command: serverCommandLine(
      {
        flavor: config.flavor,
        serverId: config.replica.serverId,
        role: 'replica',
        bufferPool: config.replica.bufferPool,
        args: [...replicationFilterArgs(), `${flavor.netTimeoutFlag}=20`, '--user=root'],
        asRoot: true,
      },
      CONTAINER_PATHS,
      'socket-only',
    ),
    args: [],
    env: {},
    secrets: [],
    constraints: [poolConstraint(pool, '=='), `node.hostname==${pool.node}`],
    ports: [],
    mounts: [
      { type: 'bind', source: pool.dataDir, target: CONTAINER_DATADIR, readOnly: false },
      { type: 'bind', source: pool.runDir, target: CONTAINER_RUNDIR, readOnly: false },
    ],
    healthcheck: { test: ['CMD', flavor.adminBinary, `--socket=${CONTAINER_RUNDIR}/mysqld.sock`, 'ping'], intervalSeconds: 5, timeoutSeconds: 5, retries: 6, startPeriodSeconds: 300 },
  };
}

/** The load emulator writes to the source by its service name, over the network they share. */
function loadgenService(config: ResolvedTopologyConfig, network: NetworkModel, secret: SecretModel, pool: PoolModel, source: ServiceModel): ServiceModel {
  return {
    ...base(config, 'loadgen', network),
    image: config.loadgen.image,
    serverId: undefined,
    command: undefined,
    args: [],
    env: loadgenEnv({
      host: source.name,
      port: SOURCE_PORT,
      user: SOURCE_USER,
      passwordFile: secretFile(secret),
      database: config.loadgen.database,
      intervalMs: config.loadgen.intervalMs,
    }),
    secrets: [{ secret: secret.name, file: secretFile(secret), mode: 0o400, uid: '0', gid: '0' }],
    constraints: [poolConstraint(pool, '!=')],
    ports: [],
    mounts: [],
    restart: { condition: 'any', delaySeconds: 2 },
    stopGraceSeconds: 10,
    healthcheck: undefined,
  };
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
