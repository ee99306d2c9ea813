import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { FailedPreconditionError } from '../errors.js';
import { toNetworkSpec, toSecretSpec, toServiceSpec, type DeployedIds } from './service-spec.js';
import { networkSpecHash, secretSpecHash, serviceSpecHash } from './spec-hash.js';
import { buildTopology } from './topology.js';

const topology = buildTopology({
  nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }, { hostname: 'node-3' }],
  source: { node: 'node-1' },
  pool: { node: 'node-2' },
});
const ids: DeployedIds = { networks: { 'vb-net': 'net-id' }, secrets: { 'dolly-source-root-password': 'secret-id' } };

function containerOf(spec: Docker.ServiceSpec): Docker.ContainerSpec {
  const template = spec.TaskTemplate;
  assert.ok(template !== undefined && 'ContainerSpec' in template && template.ContainerSpec !== undefined);
  return template.ContainerSpec;
}

describe('toServiceSpec: the model as a Docker Engine API ServiceSpec', () => {
  it('source: name, labels with the spec hash, image, command, secret by id, volume, placement, network, port', () => {
    const service = topology.services.source;
    const spec = toServiceSpec(service, ids);
    assert.equal(spec.Name, 'source');
    assert.deepEqual(spec.Labels, { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': 'source', 'dolly.swarm.spec-hash': serviceSpecHash(service) });
    const container = containerOf(spec);
    assert.equal(container.Image, 'dolly/mariadb:10.11');
    assert.deepEqual(container.Command, service.command);
    assert.equal(container.Args, undefined);
    assert.deepEqual(container.Env, []);
    assert.deepEqual(container.Secrets, [
      { SecretID: 'secret-id', SecretName: 'dolly-source-root-password', File: { Name: '/run/secrets/dolly-source-root-password', UID: '0', GID: '0', Mode: 0o400 } },
    ]);
    assert.deepEqual(container.Mounts, [{ Type: 'volume', Source: 'dolly-source-data', Target: '/var/lib/mysql', ReadOnly: false }]);
    assert.equal(container.StopGracePeriod, 120e9);
    assert.deepEqual(container.HealthCheck, { Test: ['CMD', 'mariadb-admin', '--socket=/run/dolly/mysqld.sock', 'ping'], Interval: 5e9, Timeout: 5e9, Retries: 6, StartPeriod: 120e9 });
    assert.deepEqual(spec.TaskTemplate?.Placement, { Constraints: ['node.hostname==node-1', 'node.labels.dolly.pool!=true'] });
    assert.deepEqual(spec.TaskTemplate?.Networks, [{ Target: 'net-id', Aliases: [] }]);
    assert.deepEqual(spec.TaskTemplate?.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
    assert.deepEqual(spec.Mode, { Replicated: { Replicas: 1 } });
    assert.deepEqual(spec.UpdateConfig, { Parallelism: 1, Order: 'stop-first', FailureAction: 'pause' });
    assert.deepEqual(spec.EndpointSpec, { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 3306, PublishedPort: 3306, PublishMode: 'host' }] });
  });

  it('replica: pool placement, bind mounts, no secret, no port', () => {
    const spec = toServiceSpec(topology.services.replica, ids);
    const container = containerOf(spec);
    assert.deepEqual(spec.TaskTemplate?.Placement?.Constraints, ['node.labels.dolly.pool==true', 'node.hostname==node-2']);
    assert.deepEqual(container.Mounts?.map((m) => [m.Type, m.Source, m.Target]), [
      ['bind', '/var/lib/dolly/pool/volumes/replica', '/var/lib/mysql'],
      ['bind', '/var/lib/dolly/run/replica', '/run/dolly'],
    ]);
    assert.deepEqual(container.Secrets, []);
    assert.deepEqual(spec.EndpointSpec?.Ports, []);
    assert.deepEqual(container.Labels, { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': 'replica' });
  });

  it('loadgen: the image entry point, env as KEY=value sorted, the secret file, off the pool', () => {
    const spec = toServiceSpec(topology.services.loadgen, ids);
    const container = containerOf(spec);
    assert.equal(container.Command, undefined);
    assert.deepEqual(container.Env, [
      'LOADGEN_INTERVAL_MS=1000',
      'MYSQL_DATABASE=docker',
      'MYSQL_HOST=source',
      'MYSQL_PASSWORD_FILE=/run/secrets/dolly-source-root-password',
      'MYSQL_PORT=3306',
      'MYSQL_USER=root',
    ]);
    assert.equal(container.Secrets?.[0]?.SecretID, 'secret-id');
    assert.equal(container.HealthCheck, undefined);
    assert.deepEqual(spec.TaskTemplate?.Placement?.Constraints, ['node.labels.dolly.pool!=true']);
  });

  it('refuses a service whose network or secret has no id yet', () => {
    assert.throws(() => toServiceSpec(topology.services.source, { networks: ids.networks, secrets: {} }), (e: unknown) => e instanceof FailedPreconditionError && /secret dolly-source-root-password of service source does not exist/.test(e.message));
    assert.throws(() => toServiceSpec(topology.services.replica, { networks: {}, secrets: {} }), /network vb-net of service replica does not exist/);
  });
});

describe('toNetworkSpec and toSecretSpec', () => {
  it('vb-net: an attachable overlay with the stack labels and its hash', () => {
    assert.deepEqual(toNetworkSpec(topology.network), {
      Name: 'vb-net',
      Driver: 'overlay',
      Attachable: true,
      CheckDuplicate: true,
      Labels: { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': 'network', 'dolly.swarm.spec-hash': networkSpecHash(topology.network) },
    });
  });
  it('the secret carries the value it is given, base64, and its labels', () => {
    const secret = topology.secrets[0];
    assert.ok(secret);
    const spec = toSecretSpec(secret, "pa'ss");
    assert.equal(spec.Name, 'dolly-source-root-password');
    assert.equal(Buffer.from(spec.Data ?? '', 'base64').toString('utf8'), "pa'ss");
    assert.deepEqual(spec.Labels, { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': 'secret', 'dolly.swarm.spec-hash': secretSpecHash(secret) });
  });
});
