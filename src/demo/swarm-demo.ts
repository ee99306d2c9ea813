import { createClone, type CloneView } from '../engine/clone-create.js';
import type { EngineDeps } from '../engine/context.js';
import { generatePassword } from '../engine/names.js';
import { initPool } from '../engine/pool-init.js';
import { replicaConnectOptions } from '../engine/servers.js';
import { createSnapshot } from '../engine/snapshot-create.js';
import { InternalError } from '../errors.js';
import { connectSql } from '../mysql/sql-client.js';
import type { Snapshot } from '../state/state.js';
import { swarmBootstrap, swarmEngineDeps } from '../swarm/deploy/bootstrap.js';
import { swarmDeploy, swarmDestroy, waitForServices, type SwarmDeps } from '../swarm/deploy/swarm-deploy.js';
import { swarmTarget } from '../swarm/deploy/swarm-target.js';
import { sourceSql } from '../swarm/deploy/tasks.js';
import type { Topology } from '../swarm/model.js';
import { sandboxToolResult } from './sandbox-tool.js';
import { buildTopology } from '../swarm/topology.js';
import { sandboxTopologyConfig } from '../swarm/topology-config.js';
import { demoSteps, purgeDemoRoot, removeDemoRoot, rowInClone, type DemoStep } from './demo.js';

/** The Swarm demo's clone ports: the sandbox publishes them from the pool node on 127.0.0.1. */
const CLONE_PORTS = { first: 6000, last: 6019 } as const;
const PASSWORD_ENV = 'DOLLY_SOURCE_PASSWORD';

export interface SwarmDemoOptions {
  /** Called once everything is up, before clean-up; resolves when the demo may end. */
  hold: (summary: SwarmDemoSummary) => Promise<void>;
  onStep?: (step: DemoStep) => void;
  signal?: AbortSignal;
}

export interface SwarmDemoSummary {
  steps: DemoStep[];
  placement: Record<string, string | null>;
  snapshot: Snapshot;
  clone: CloneView;
  /** A row written on the source (node-1) just before the snapshot, read back from the clone (node-2). */
  proof: { row_id: number; found_in_clone: boolean };
}

/**
 * `dolly demo --swarm`: the seed's whole story on a 3-node sandbox. A btrfs pool on this host,
 * shared with the pool node; the stack deployed (source on node-1, replica on the pool node
 * node-2, load emulator elsewhere); replication bootstrapped across nodes over vb-net; a snapshot
 * and a clone on the replica's node; the fresh row proven in the clone from this host. Everything
 * is removed at the end, also on failure.
 */
export async function runSwarmDemo(options: SwarmDemoOptions, deps: EngineDeps): Promise<SwarmDemoSummary> {
  const { steps, step } = await demoSteps(options, deps);
  const topology = buildTopology(sandboxTopologyConfig(deps.root, { kind: 'env', name: PASSWORD_ENV }, CLONE_PORTS));
  let swarm: SwarmDeps | undefined;
  try {
    await step('pool', () => initPool({ size: '4G', ports: `${CLONE_PORTS.first}-${CLONE_PORTS.last}`, bindAddress: '0.0.0.0' }, deps), () => `btrfs pool at ${deps.root}, shared with the pool node`);
    const up = ['--root', deps.root, 'up', '--nodes', '3', '--pool-path', deps.root, '--clone-ports', `${CLONE_PORTS.first}-${CLONE_PORTS.last}`];
    await step('sandbox up', () => sandboxToolResult(up, options.signal), (r) => `${(r as { sandbox: { nodes: unknown[] } }).sandbox.nodes.length} Docker-in-Docker nodes, one Swarm; images loaded`);
    const target = await swarmTarget(deps.root, undefined);
    const active: SwarmDeps = { docker: target.docker, engines: target.engines, logger: deps.logger, env: { [PASSWORD_ENV]: generatePassword() } };
    swarm = active;
    await step('deploy', () => swarmDeploy(topology, active), (changes) => `${changes.length} objects: vb-net, the root password secret, source, replica, loadgen`);
    const services = await step('services running', () => waitForServices(topology, active, 300_000), (s) => s.map((x) => `${x.name} on ${x.node}`).join(', '));
    await step('first rows', () => waitForRows(topology, active), (n) => `${n} rows in docker.repl_status on the source`);
    await step('replication', () => swarmBootstrap(topology, active), (r) => `${r.databases.join(', ')} copied by replica init through the replica's task over vb-net; replicating from ${r.gtid}`);
    // From here the root's servers run on the pool node (the sandbox wrote its engine in the root's Docker endpoints file).
    const onPool = await swarmEngineDeps(topology, active);
    const marker = Number(await sourceSql(active.docker, active.engines, topology.services.source.name, 'INSERT INTO docker.repl_status () VALUES (); SELECT LAST_INSERT_ID()'));
    await step('replica caught up', () => waitForRow(onPool, marker), () => `row ${marker}, just written on node-1, applied on node-2`);
    const snapshot = await step('snapshot create', () => createSnapshot(onPool), (s) => `${s.id} on node-2, applier paused ${s.pause_ms} ms`);
    const clone = await step('clone create', () => createClone({ name: 'demo' }, onPool), (c) => `${c.name} on node-2, 127.0.0.1:${c.port} from here, ready in ${c.ready_ms} ms`);
    const found = await rowInClone(clone, marker);
    if (!found) throw new InternalError(`the row ${marker} written before the snapshot is not in the clone`);
    const summary: SwarmDemoSummary = { steps, placement: Object.fromEntries(services.map((s) => [s.name, s.node])), snapshot, clone, proof: { row_id: marker, found_in_clone: found } };
    await options.hold(summary);
    return summary;
  } finally {
    if (swarm) await swarmDestroy(topology, swarm).catch((error: unknown) => deps.logger.warn('demo clean-up: swarm destroy failed', { error: String(error) }));
    await sandboxToolResult(['--root', deps.root, 'down']).catch((error: unknown) => deps.logger.warn('demo clean-up: sandbox down failed', { error: String(error) }));
    await purgeDemoRoot(deps);
    await removeDemoRoot(deps.root);
  }
}

async function waitForRows(topology: Topology, swarm: SwarmDeps): Promise<number> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const rows = await sourceSql(swarm.docker, swarm.engines, topology.services.source.name, 'SELECT COUNT(*) FROM docker.repl_status').then(Number, () => 0);
    if (rows >= 3) return rows;
    if (Date.now() > deadline) throw new InternalError('the load emulator wrote no rows in 180 s');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Waits until the Swarm replica has applied the row (read on its socket). */
async function waitForRow(deps: EngineDeps, id: number): Promise<void> {
  const state = await deps.store.require();
  const replica = state.replica;
  if (!replica) throw new InternalError('the bootstrap recorded no replica');
  const sql = await connectSql(replicaConnectOptions(deps.root, replica));
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const rows = await sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM docker.repl_status WHERE id = ?', [id]);
      if (Number(rows[0]?.n) === 1) return;
      if (Date.now() > deadline) throw new InternalError(`the replica did not apply row ${id} in 120 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await sql.close();
  }
}
