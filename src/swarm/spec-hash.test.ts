import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffTopology, type DeployedObject } from './diff.js';
import { canonicalJson, secretSpecHash, serviceSpecHash, topologyHashes } from './spec-hash.js';
import { buildTopology } from './topology.js';
import type { TopologyConfig } from './topology-config.js';

const config: TopologyConfig = { nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }], source: { node: 'node-1' }, pool: { node: 'node-2' } };

describe('spec hashes', () => {
  it('canonical JSON sorts keys at every depth, keeps array order, drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } }), '{"a":{"d":[2,1]},"b":1}');
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  });
  it('the same config gives the same hashes; any change of a service changes only its hash', () => {
    const a = topologyHashes(buildTopology(config));
    assert.deepEqual(topologyHashes(buildTopology(config)), a);
    const b = topologyHashes(buildTopology({ ...config, loadgen: { intervalMs: 500 } }));
    assert.notEqual(b.services.loadgen.hash, a.services.loadgen.hash);
    assert.equal(b.services.source.hash, a.services.source.hash);
    assert.equal(b.services.replica.hash, a.services.replica.hash);
    assert.equal(b.network.hash, a.network.hash);
    assert.match(a.services.source.hash, /^[0-9a-f]{64}$/);
  });
  it('a secret hash ignores where the value comes from', () => {
    const env = buildTopology(config).secrets[0];
    const file = buildTopology({ ...config, rootPassword: { from: { kind: 'file', path: '/pw' } } }).secrets[0];
    assert.ok(env && file);
    assert.equal(secretSpecHash(env), secretSpecHash(file));
  });
});

describe('diffTopology', () => {
  const topology = buildTopology(config);
  const hashes = topologyHashes(topology);
  const deployedAll: DeployedObject[] = [
    { kind: 'network', name: 'vb-net', hash: hashes.network.hash },
    { kind: 'secret', name: 'dolly-source-root-password', hash: undefined },
    { kind: 'service', name: 'source', hash: hashes.services.source.hash },
    { kind: 'service', name: 'replica', hash: hashes.services.replica.hash },
    { kind: 'service', name: 'loadgen', hash: hashes.services.loadgen.hash },
  ];
  it('on an empty Swarm: create everything, network and secret first', () => {
    assert.deepEqual(diffTopology(topology, []).map((c) => `${c.action} ${c.kind} ${c.name}`), [
      'create network vb-net',
      'create secret dolly-source-root-password',
      'create service source',
      'create service replica',
      'create service loadgen',
    ]);
  });
  it('after a deploy: nothing but keep (idempotent)', () => {
    assert.ok(diffTopology(topology, deployedAll).every((c) => c.action === 'keep'));
  });
  it('a changed service is updated, a changed network replaced, a stale object removed', () => {
    const deployed = deployedAll.map((o) => (o.name === 'loadgen' || o.kind === 'network' ? { ...o, hash: 'old' } : o));
    const changes = diffTopology(topology, [...deployed, { kind: 'service', name: 'snapshooter', hash: 'x' }]);
    assert.deepEqual(changes.filter((c) => c.action !== 'keep').map((c) => `${c.action} ${c.kind} ${c.name}`), ['replace network vb-net', 'update service loadgen', 'remove service snapshooter']);
    assert.equal(serviceSpecHash(topology.services.loadgen), hashes.services.loadgen.hash);
  });
});

describe('spec hashes across flavors', () => {
  it("a MariaDB topology's hashes are the ones deployed before flavors existed (plan keeps an existing stack)", () => {
    const hashes = topologyHashes(buildTopology(config));
    assert.equal(hashes.services.source.hash, 'e7446d8a0c751e5e9fd5e0bc63062888664ee788c11fcfe560b44f2d72fe2bfa');
    assert.equal(hashes.services.replica.hash, '26e3773c0892b4e3a38e4feda213fe394c8c12c3c84e1adefe6c991841b8ea86');
    assert.deepEqual(topologyHashes(buildTopology({ ...config, flavor: 'mariadb' })), hashes);
  });
  it('flavor mysql changes the source and the replica, nothing else', () => {
    const a = topologyHashes(buildTopology(config));
    const b = topologyHashes(buildTopology({ ...config, flavor: 'mysql' }));
    assert.notEqual(b.services.source.hash, a.services.source.hash);
    assert.notEqual(b.services.replica.hash, a.services.replica.hash);
    assert.equal(b.services.loadgen.hash, a.services.loadgen.hash);
    assert.deepEqual([b.network, b.secrets], [a.network, a.secrets]);
  });
});
