/**
 * The Pulumi program (index.ts, components/) under Pulumi's mocks: no CLI, no docker provider
 * plugin, no engine. The mocks and the stack config (Pulumi.dev.yaml, as committed) are installed
 * BEFORE the program is imported; then every resource it declared is checked against the model
 * that `buildTopology` — the function `dolly swarm deploy` uses — gives for the same config.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { toServiceSpec } from '../../src/swarm/service-spec.js';
import { networkSpecHash, secretSpecHash, serviceSpecHash, topologyHashes } from '../../src/swarm/spec-hash.js';
import { buildTopology } from '../../src/swarm/topology.js';
import type { TopologyConfig } from '../../src/swarm/topology-config.js';
import { assertServiceMatchesSpec, inputsOf, record, type Registered } from './program-helpers.js';

const PASSWORD = `not-a-real-one'"\\$x`;
const registered: Registered[] = [];

const stackFile: unknown = parse(await readFile(new URL('../../Pulumi.dev.yaml', import.meta.url), 'utf8'));
const topologyConfig = record(record(stackFile)['config'])['dolly-swarm:topology'] as TopologyConfig;

await pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push({ type: args.type, name: args.name, custom: args.custom ?? false, inputs: record(args.inputs) });
      return { id: `${args.name}-id`, state: { ...record(args.inputs), name: record(args.inputs)['name'] ?? args.name } };
    },
    call: (args) => record(args.inputs),
  },
  'dolly-swarm',
  'dev',
  false,
);
pulumi.runtime.setAllConfig({ 'dolly-swarm:topology': JSON.stringify(topologyConfig), 'dolly-swarm:rootPassword': PASSWORD }, ['dolly-swarm:rootPassword']);

const program = await import('../../index.js');

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

const ids = await valueOf(pulumi.output(program.ids));
const model = buildTopology(topologyConfig);

function the(type: string, name: string): Registered {
  const found = registered.filter((r) => r.type === type && r.name === name);
  assert.equal(found.length, 1, `${type} ${name} registered once`);
  const [resource] = found;
  assert.ok(resource);
  return resource;
}

/** The URNs the mock monitor registered (a URN names the parent's type before `$`). */
function registeredUrns(): string[] {
  const monitor: unknown = pulumi.runtime.getMonitor();
  assert.ok(typeof monitor === 'object' && monitor !== null && 'getRegisteredResources' in monitor && typeof monitor.getRegisteredResources === 'function');
  const resources: unknown = monitor.getRegisteredResources();
  assert.ok(resources instanceof Map);
  return [...resources.keys()].map(String);
}

describe('the Pulumi program under mocks', () => {
  it('declares exactly one component per part and one docker resource under each', () => {
    assert.deepEqual(registered.map((r) => `${r.type} ${r.name}`).sort(), [
      'docker:index/network:Network vb-net',
      'docker:index/secret:Secret dolly-source-root-password',
      'docker:index/service:Service loadgen',
      'docker:index/service:Service replica',
      'docker:index/service:Service source',
      'dolly:swarm:Loadgen loadgen',
      'dolly:swarm:Network network',
      'dolly:swarm:Replica replica',
      'dolly:swarm:Secret root-password',
      'dolly:swarm:Source source',
    ]);
    assert.deepEqual(ids, { network: 'vb-net-id', rootPassword: 'dolly-source-root-password-id', source: 'source-id', replica: 'replica-id', loadgen: 'loadgen-id' });
  });

  it('each docker resource is a child of its component ({ parent: this })', () => {
    assert.deepEqual(registeredUrns().filter((urn) => urn.includes('docker:index/')).sort(), [
      'urn:pulumi:dev::dolly-swarm::dolly:swarm:Loadgen$docker:index/service:Service::loadgen',
      'urn:pulumi:dev::dolly-swarm::dolly:swarm:Network$docker:index/network:Network::vb-net',
      'urn:pulumi:dev::dolly-swarm::dolly:swarm:Replica$docker:index/service:Service::replica',
      'urn:pulumi:dev::dolly-swarm::dolly:swarm:Secret$docker:index/secret:Secret::dolly-source-root-password',
      'urn:pulumi:dev::dolly-swarm::dolly:swarm:Source$docker:index/service:Service::source',
    ]);
  });

  it('reads the very model buildTopology gives for the same config (spec hashes, labels)', async () => {
    assert.deepEqual(await valueOf(pulumi.output(program.specHashes)), topologyHashes(model));
    for (const part of ['source', 'replica', 'loadgen'] as const) {
      const labels = inputsOf(the('docker:index/service:Service', part), 'labels');
      assert.ok(Array.isArray(labels));
      assert.deepEqual(labels, [
        { label: 'dolly.swarm.stack', value: 'dolly' },
        { label: 'dolly.swarm.part', value: part },
        { label: 'dolly.swarm.spec-hash', value: serviceSpecHash(model.services[part]) },
      ]);
    }
    assert.deepEqual(await valueOf(pulumi.output(program.nodeLabels)), model.nodeLabels);
  });

  it('vb-net: an attachable overlay, labelled', () => {
    assert.deepEqual(the('docker:index/network:Network', 'vb-net').inputs, {
      name: 'vb-net',
      driver: 'overlay',
      attachable: true,
      labels: [
        { label: 'dolly.swarm.stack', value: 'dolly' },
        { label: 'dolly.swarm.part', value: 'network' },
        { label: 'dolly.swarm.spec-hash', value: networkSpecHash(model.network) },
      ],
    });
  });

  it('the root password: a Docker secret from the Pulumi stack secret, base64, kept secret, nowhere else', async () => {
    const secret = the('docker:index/secret:Secret', 'dolly-source-root-password');
    assert.equal(secret.inputs['name'], 'dolly-source-root-password');
    const secretModel = model.secrets[0];
    assert.ok(secretModel);
    assert.deepEqual(secret.inputs['labels'], [
      { label: 'dolly.swarm.stack', value: 'dolly' },
      { label: 'dolly.swarm.part', value: 'secret' },
      { label: 'dolly.swarm.spec-hash', value: secretSpecHash(secretModel) },
    ]);
    // On the wire to the engine the data is a secret (Pulumi's secret signature), base64 of the password.
    const data = record(secret.inputs['data']);
    assert.equal(data[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
    const encoded = String(data['value']);
    assert.equal(Buffer.from(encoded, 'base64').toString('utf8'), PASSWORD);
    for (const other of registered.filter((r) => r !== secret)) {
      assert.ok(!JSON.stringify(other.inputs).includes(PASSWORD), `${other.type} ${other.name} has no password`);
      assert.ok(!JSON.stringify(other.inputs).includes(encoded), `${other.type} ${other.name} has no encoded password`);
    }
    const { secretValue } = await import('../../components/secret-value.js');
    assert.equal(await pulumi.isSecret(secretValue({ kind: 'pulumi-config', key: 'rootPassword' }, new pulumi.Config('dolly-swarm'))), true);
  });

  for (const part of ['source', 'replica', 'loadgen'] as const) {
    it(`${part}: the same image, command, env, secrets, mounts, placement, network and ports as the Engine API spec`, () => {
      const spec = toServiceSpec(model.services[part], { networks: { 'vb-net': 'vb-net-id' }, secrets: { 'dolly-source-root-password': 'dolly-source-root-password-id' } });
      assertServiceMatchesSpec(the('docker:index/service:Service', part).inputs, spec);
    });
  }

  it('placement: the source on its node and never on the pool, the replica on the pool node, loadgen off the pool', () => {
    const constraints = (part: string): unknown => record(record(inputsOf(the('docker:index/service:Service', part), 'taskSpec'))['placement'])['constraints'];
    assert.deepEqual(constraints('source'), ['node.hostname==node-1', 'node.labels.dolly.pool!=true']);
    assert.deepEqual(constraints('replica'), ['node.labels.dolly.pool==true', 'node.hostname==node-2']);
    assert.deepEqual(constraints('loadgen'), ['node.labels.dolly.pool!=true']);
  });

  it('loadgen: env points at source over vb-net, password as a file; stack outputs say where', async () => {
    const env = record(record(record(inputsOf(the('docker:index/service:Service', 'loadgen'), 'taskSpec'))['containerSpec'])['env']);
    assert.equal(env['MYSQL_HOST'], 'source');
    assert.equal(env['MYSQL_PASSWORD_FILE'], '/run/secrets/dolly-source-root-password');
    assert.equal(env['MYSQL_DATABASE'], 'docker');
    assert.equal(await valueOf(pulumi.output(program.loadgenTarget)), 'source:3306/docker');
    assert.equal(await valueOf(pulumi.output(program.sourceHost)), 'source');
    assert.equal(await valueOf(pulumi.output(program.sourcePublishedPort)), 3306);
    assert.equal(await valueOf(pulumi.output(program.replicaNode)), 'node-2');
    assert.equal(await valueOf(pulumi.output(program.networkName)), 'vb-net');
  });

  it('every service refers to the network and the secret by the ids the program made', () => {
    for (const part of ['source', 'replica', 'loadgen'] as const) {
      const task = record(inputsOf(the('docker:index/service:Service', part), 'taskSpec'));
      assert.deepEqual(task['networksAdvanceds'], [{ name: 'vb-net-id', aliases: [] }]);
      const secrets = record(task['containerSpec'])['secrets'];
      assert.deepEqual(secrets, part === 'replica' ? [] : [{ secretId: 'dolly-source-root-password-id', secretName: 'dolly-source-root-password', fileName: '/run/secrets/dolly-source-root-password', fileUid: '0', fileGid: '0', fileMode: 0o400 }]);
    }
  });
});
