import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DollyError, InvalidArgumentError } from '../errors.js';
import { buildTopology } from './topology.js';
import { checkTopology } from './topology-checks.js';
import type { TopologyConfig } from './topology-config.js';

function seedConfig(): TopologyConfig {
  return {
    nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }, { hostname: 'node-3' }],
    source: { node: 'node-1' },
    pool: { node: 'node-2' },
  };
}

/** Asserts buildTopology refuses the config with one InvalidArgumentError line matching `message`, and a hint. */
function refuses(config: unknown, message: RegExp): void {
  assert.throws(
    () => buildTopology(config as TopologyConfig),
    (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.equal((error as DollyError).category, 'invalid_argument');
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n/);
      assert.ok((error.hint ?? '').length > 0, 'has a hint');
      return true;
    },
  );
}

describe('buildTopology refuses a bad config before anything is deployed', () => {
  it('an unknown source node', () => refuses({ ...seedConfig(), source: { node: 'node-9' } }, /^unknown node node-9 \(the source's node\)$/));
  it('an unknown pool node', () => refuses({ ...seedConfig(), pool: { node: 'node-9' } }, /^unknown node node-9 \(the pool node\)$/));
  it('a node listed twice', () => refuses({ ...seedConfig(), nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }, { hostname: 'NODE-2' }] }, /node NODE-2 is listed twice/));
  it('no manager', () => refuses({ ...seedConfig(), nodes: [{ hostname: 'node-1' }, { hostname: 'node-2' }] }, /no node is a manager/));
  it('source and replica on the same node', () => refuses({ ...seedConfig(), pool: { node: 'node-1' } }, /^source and replica would run on the same node node-1$/));
  it('a source node that already carries the pool label: no node can run the source', () =>
    refuses(
      { ...seedConfig(), nodes: [{ hostname: 'node-1', role: 'manager', labels: { 'dolly.pool': 'true' } }, { hostname: 'node-2' }] },
      /^no node satisfies the constraints of source \(node\.hostname==node-1, node\.labels\.dolly\.pool!=true\)$/,
    ));
  it('constraints that could place source and replica on one node (a hand-edited model)', () => {
    const topology = buildTopology(seedConfig());
    const edited = { ...topology, services: { ...topology.services, replica: { ...topology.services.replica, constraints: ['node.role==manager'] } } };
    assert.throws(() => checkTopology(edited), /^InvalidArgumentError: source and replica constraints could both place them on node node-1$/);
  });
  it('two services publishing one ingress port (a hand-edited model)', () => {
    const topology = buildTopology(seedConfig());
    const port = { target: 8080, published: 3306, protocol: 'tcp', mode: 'host' } as const;
    const edited = { ...topology, services: { ...topology.services, loadgen: { ...topology.services.loadgen, ports: [port] } } };
    assert.throws(() => checkTopology(edited), /loadgen \(port 3306\) and source \(port 3306\) publish the same port/);
  });
  it('two host-mode services on one port are fine when they cannot share a node', () => {
    const topology = buildTopology({ ...seedConfig(), source: { node: 'node-1', publishMode: 'host' } });
    const port = { target: 3306, published: 3306, protocol: 'tcp', mode: 'host' } as const;
    checkTopology({ ...topology, services: { ...topology.services, replica: { ...topology.services.replica, ports: [port] } } });
    assert.throws(
      () => checkTopology({ ...topology, services: { ...topology.services, loadgen: { ...topology.services.loadgen, ports: [port] } } }),
      /loadgen \(port 3306\) and source \(port 3306\) publish the same port/,
    );
  });
  it('the same server id for source and replica', () => refuses({ ...seedConfig(), source: { node: 'node-1', serverId: 58 } }, /^source and replica have the same server id 58$/));
  it('a port out of range', () => refuses({ ...seedConfig(), source: { node: 'node-1', publishedPort: 70000 } }, /^invalid topology: source\.publishedPort must be between 1 and 65535 \(got 70000\)$/));
  it('port 0', () => refuses({ ...seedConfig(), pool: { node: 'node-2', clonePorts: { first: 0, last: 10 } } }, /^invalid topology: pool\.clonePorts\.first must be between 1 and 65535 \(got 0\)$/));
  it('an ingress port inside the clone port range (two users of one published port)', () =>
    refuses({ ...seedConfig(), network: { endpointMode: 'vip' }, source: { node: 'node-1', publishedPort: 6050, publishMode: 'ingress' } }, /^source \(port 6050\) and the clones \(ports 6000-6099\) publish the same port$/));
  it('a host-mode port in the clone range is fine off the pool node', () => {
    const topology = buildTopology({ ...seedConfig(), source: { node: 'node-1', publishedPort: 6050 } });
    assert.deepEqual(topology.services.source.ports, [{ target: 3306, published: 6050, protocol: 'tcp', mode: 'host' }]);
  });
  it('an ingress port without a virtual IP (endpoint mode dnsrr: no routing mesh)', () =>
    refuses({ ...seedConfig(), source: { node: 'node-1', publishMode: 'ingress' } }, /^source publishes port 3306 in ingress mode, which needs endpoint mode vip$/));
  it('an ingress port with endpoint mode vip is accepted', () => {
    const topology = buildTopology({ ...seedConfig(), network: { endpointMode: 'vip' }, source: { node: 'node-1', publishMode: 'ingress' } });
    assert.equal(topology.services.source.endpointMode, 'vip');
    assert.equal(topology.services.source.ports[0]?.mode, 'ingress');
  });
  it('an empty clone port range', () => refuses({ ...seedConfig(), pool: { node: 'node-2', clonePorts: { first: 6100, last: 6000 } } }, /clone port range 6100-6000 is empty/));
  it('the replica data and run directories on one path', () => refuses({ ...seedConfig(), pool: { node: 'node-2', dataDir: '/srv/x', runDir: '/srv/x' } }, /both \/srv\/x/));
  it('a relative path', () => refuses({ ...seedConfig(), pool: { node: 'node-2', root: 'var/lib/dolly' } }, /^invalid topology: pool\.root must be an absolute path$/));
  it('a server id of 0', () => refuses({ ...seedConfig(), replica: { serverId: 0 } }, /^invalid topology: replica\.serverId must be between 1 and 4294967295 \(got 0\)$/));
  it('a bad image reference', () => refuses({ ...seedConfig(), loadgen: { image: 'Dolly Loadgen' } }, /^invalid topology: loadgen\.image must be an image reference/));
  it('a bad secret name', () => refuses({ ...seedConfig(), rootPassword: { secretName: '-pw' } }, /^invalid topology: rootPassword\.secretName must be letters/));
  it('an unknown secret origin', () => refuses({ ...seedConfig(), rootPassword: { from: { kind: 'vault', path: 'x' } } }, /^invalid topology: rootPassword\.from\.kind must be one of/));
  it('a password written where its origin belongs is never echoed', () => {
    assert.throws(
      () => buildTopology({ ...seedConfig(), rootPassword: { from: 'hunter2' } } as unknown as TopologyConfig),
      (error: unknown) => error instanceof InvalidArgumentError && !error.message.includes('hunter2') && /rootPassword\.from/.test(error.message),
    );
  });
  it('an unknown key (a typo in the stack config)', () => refuses({ ...seedConfig(), sorce: {} }, /^invalid topology: config has unknown key sorce$/));
  it('a missing required field', () => refuses({ nodes: seedConfig().nodes, pool: { node: 'node-2' } }, /^invalid topology: source is required$/));
  it('no nodes', () => refuses({ ...seedConfig(), nodes: [] }, /^invalid topology: nodes must list at least one node$/));
  it('not an object at all', () => refuses('node-1', /^invalid topology: config must be of type object$/));
});
