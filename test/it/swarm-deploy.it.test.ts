import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { silentLogger } from '../../src/log.js';
import { stackObjects } from '../../src/swarm/deploy/swarm-facts.js';
import { swarmDeploy, swarmDestroy, swarmPlan, waitForServices, type SwarmDeps } from '../../src/swarm/deploy/swarm-deploy.js';
import { swarmTarget } from '../../src/swarm/deploy/swarm-target.js';
import { sandboxDown, sandboxUp } from '../../src/swarm/sandbox/sandbox.js';
import { buildTopology } from '../../src/swarm/topology.js';
import type { TopologyConfig } from '../../src/swarm/topology-config.js';
import { createShell } from '../../src/shell.js';
import { skipUnless } from '../support/capabilities.js';

const PASSWORD = `sw'"$\`arm\\pw`;

describe('dolly swarm deploy on a 3-node sandbox', { skip: skipUnless('root', 'docker', 'image') }, () => {
  let root: string;
  let deps: SwarmDeps;
  const docker = createDockerClient();
  const config = (overrides: Partial<TopologyConfig> = {}): TopologyConfig => ({
    nodes: [
      { hostname: 'node-1', role: 'manager' },
      { hostname: 'node-2', role: 'worker' },
      { hostname: 'node-3', role: 'worker' },
    ],
    source: { node: 'node-1' },
    pool: { node: 'node-2', root },
    loadgen: { intervalMs: 1000 },
    ...overrides,
  });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-it-swarm-'));
    await sandboxUp({ root, nodes: 3, poolPath: root }, { docker, shell: createShell(), logger: silentLogger });
    const target = await swarmTarget(root, undefined);
    deps = { docker: target.docker, engines: target.engines, logger: silentLogger, env: { DOLLY_SOURCE_PASSWORD: PASSWORD } };
  });

  after(async () => {
    await sandboxDown({ root }, { docker, logger: silentLogger }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('a bad value fails before anything is changed: unknown node, missing image', async () => {
    const unknown = buildTopology(config({ source: { node: 'node-1' }, nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2', role: 'worker' }, { hostname: 'node-9', role: 'worker' }] }));
    await assert.rejects(swarmDeploy(unknown, deps), /unknown node node-9/);
    const missing = buildTopology(config({ replica: { image: 'dolly/missing:1' } }));
    await assert.rejects(swarmDeploy(missing, deps), /image dolly\/missing:1 of service replica is not on node node-2/);
    assert.deepEqual(await stackObjects(deps.docker, 'dolly'), []);
  });

  it('deploys network, secret and services, the replica on the pool node and never beside the source', async () => {
    const topology = buildTopology(config());
    const changes = await swarmDeploy(topology, deps);
    assert.deepEqual(changes.map((c) => `${c.action} ${c.kind}/${c.name}`), ['create network/vb-net', 'create secret/dolly-source-root-password', 'create service/source', 'create service/replica', 'create service/loadgen']);
    const status = await waitForServices(topology, deps, 300_000);
    const where = Object.fromEntries(status.map((s) => [s.name, s.node]));
    assert.equal(where.source, 'node-1');
    assert.equal(where.replica, 'node-2');
    assert.notEqual(where.loadgen, 'node-2');
  });

  it('a second deploy changes nothing', async () => {
    const topology = buildTopology(config());
    const plan = await swarmPlan(topology, deps);
    assert.ok(plan.every((c) => c.action === 'keep'), JSON.stringify(plan));
    const again = await swarmDeploy(topology, deps);
    assert.ok(again.every((c) => c.action === 'keep'));
  });

  it('destroy leaves no service, secret or network of the stack, and takes the pool label off', async () => {
    const topology = buildTopology(config());
    await swarmDestroy(topology, deps);
    assert.deepEqual(await stackObjects(deps.docker, 'dolly'), []);
    const nodes = (await deps.docker.listNodes()) as { Spec?: { Labels?: Record<string, string> } }[];
    assert.ok(nodes.every((n) => n.Spec?.Labels?.['dolly.pool'] === undefined));
  });
});
