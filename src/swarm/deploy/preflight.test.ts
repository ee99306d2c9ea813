import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError, InvalidArgumentError } from '../../errors.js';
import { buildTopology } from '../topology.js';
import { preflight, type LiveNode, type SwarmFacts } from './preflight.js';

const topology = buildTopology({
  nodes: [
    { hostname: 'node-1', role: 'manager' },
    { hostname: 'node-2', role: 'worker' },
    { hostname: 'node-3', role: 'worker' },
  ],
  source: { node: 'node-1' },
  pool: { node: 'node-2' },
});

const nodes = (...names: string[]): LiveNode[] => names.map((hostname, i) => ({ id: `id-${i}`, hostname, role: i === 0 ? 'manager' : 'worker', labels: {}, ready: true }));
const facts = (overrides: Partial<SwarmFacts> = {}): SwarmFacts => ({ nodes: nodes('node-1', 'node-2', 'node-3'), takenPorts: [], hasImage: () => true, ...overrides });

describe('preflight', () => {
  it('accepts a Swarm with the nodes, free ports and images the topology needs', () => {
    preflight(topology, facts());
    preflight(topology, facts({ hasImage: () => undefined }));
  });
  it('refuses an unknown node and a node that is not ready', () => {
    assert.throws(() => preflight(topology, facts({ nodes: nodes('node-1', 'node-2') })), (e: unknown) => e instanceof InvalidArgumentError && /unknown node node-3/.test(e.message) && /node-1, node-2/.test(e.hint ?? ''));
    const down = nodes('node-1', 'node-2', 'node-3').map((n) => (n.hostname === 'node-2' ? { ...n, ready: false } : n));
    assert.throws(() => preflight(topology, facts({ nodes: down })), FailedPreconditionError);
  });
  it('refuses a service no node can run (the pool label on the source node takes the source nowhere)', () => {
    const labelled = nodes('node-1', 'node-2', 'node-3').map((n) => (n.hostname === 'node-1' ? { ...n, labels: { 'dolly.pool': 'true' } } : n));
    assert.throws(() => preflight(topology, facts({ nodes: labelled })), /no ready node satisfies the constraints of service source/);
  });
  it('refuses a published port another stack takes, and an image no candidate node has', () => {
    assert.throws(() => preflight(topology, facts({ takenPorts: [{ port: 3306, service: 'legacy-db' }] })), /port 3306 of service source is taken by service legacy-db/);
    assert.throws(() => preflight(topology, facts({ hasImage: (node, image) => !(node === 'node-2' && image.startsWith('dolly/mariadb')) })), /image dolly\/mariadb:10.11 of service replica is not on node node-2/);
  });
});
