import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_IMAGE } from '../docker/image-build.js';
import { InvalidArgumentError } from '../errors.js';
import { CONTAINER_DATADIR, CONTAINER_RUNDIR } from '../runtime/container-layout.js';
import { SERVICE_PARTS } from './model.js';
import { candidateNodes } from './placement.js';
import { buildTopology } from './topology.js';
import { DEFAULT_LOADGEN_IMAGE, type TopologyConfig } from './topology-config.js';

/** The seed's three machines: production on node-1, the pool (replica, clones) on node-2. */
function seedConfig(): TopologyConfig {
  return {
    nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }, { hostname: 'node-3' }],
    source: { node: 'node-1' },
    pool: { node: 'node-2' },
  };
}

describe('buildTopology: the seed on three nodes', () => {
  const topology = buildTopology(seedConfig());
  const { source, replica, loadgen } = topology.services;

  it('has one network, one secret and three services, with the seed defaults', () => {
    assert.equal(topology.stack, 'dolly');
    assert.deepEqual(Object.keys(topology.services), [...SERVICE_PARTS]);
    assert.deepEqual(SERVICE_PARTS, ['source', 'replica', 'loadgen']);
    assert.deepEqual([source.name, replica.name, loadgen.name], ['source', 'replica', 'loadgen']);
    assert.deepEqual([source.image, replica.image, loadgen.image], [DEFAULT_IMAGE, DEFAULT_IMAGE, DEFAULT_LOADGEN_IMAGE]);
    assert.deepEqual([source.serverId, replica.serverId, loadgen.serverId], [42, 58, undefined]);
    for (const service of [source, replica, loadgen]) assert.equal(service.replicas, 1);
  });

  it('vb-net is an attachable overlay, labelled with the stack', () => {
    assert.deepEqual(topology.network, {
      part: 'network',
      name: 'vb-net',
      driver: 'overlay',
      attachable: true,
      labels: { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': 'network' },
    });
  });

  it('every service is on vb-net, reached by DNS round robin, labelled with its stack and part (service and containers)', () => {
    for (const service of [source, replica, loadgen]) {
      assert.deepEqual(service.networks, [{ network: 'vb-net', aliases: [] }]);
      assert.equal(service.endpointMode, 'dnsrr');
      assert.deepEqual(service.labels, { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': service.part });
      assert.deepEqual(service.containerLabels, service.labels);
    }
  });

  it('the root password is a named secret whose value comes from the environment, never in the model', () => {
    assert.deepEqual(topology.secrets, [
      {
        part: 'secret',
        key: 'rootPassword',
        name: 'dolly-source-root-password',
        from: { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' },
        labels: { 'dolly.swarm.stack': 'dolly', 'dolly.swarm.part': 'secret' },
      },
    ]);
    const ref = { secret: 'dolly-source-root-password', file: '/run/secrets/dolly-source-root-password', mode: 0o400, uid: '0', gid: '0' };
    assert.deepEqual(source.secrets, [ref]);
    assert.deepEqual(loadgen.secrets, [ref]);
    assert.deepEqual(replica.secrets, []);
  });

  it('places the source on its node, never on the pool; the replica on the pool node; loadgen off the pool', () => {
    assert.deepEqual(source.constraints, ['node.hostname==node-1', 'node.labels.dolly.pool!=true']);
    assert.deepEqual(replica.constraints, ['node.labels.dolly.pool==true', 'node.hostname==node-2']);
    assert.deepEqual(loadgen.constraints, ['node.labels.dolly.pool!=true']);
    assert.deepEqual(candidateNodes(topology.nodes, source.constraints), ['node-1']);
    assert.deepEqual(candidateNodes(topology.nodes, replica.constraints), ['node-2']);
    assert.deepEqual(candidateNodes(topology.nodes, loadgen.constraints), ['node-1', 'node-3']);
  });

  it('labels the pool node dolly.pool=true, and says so for the deployer', () => {
    assert.deepEqual(topology.nodeLabels, [{ node: 'node-2', labels: { 'dolly.pool': 'true' } }]);
    assert.deepEqual(topology.nodes.map((n) => [n.hostname, n.role, n.labels]), [
      ['node-1', 'manager', {}],
      ['node-2', 'worker', { 'dolly.pool': 'true' }],
      ['node-3', 'worker', {}],
    ]);
  });

  it('the source: binlog, GTID, its server id, its data on a node-local volume, port 3306 published on its node', () => {
    const [sh, flag, script] = source.command ?? [];
    assert.deepEqual([sh, flag], ['sh', '-c']);
    assert.match(script ?? '', /cat '\/run\/secrets\/dolly-source-root-password'/);
    for (const arg of ['mariadbd', '--server-id=42', '--log-bin=source-bin', '--binlog-format=ROW', '--gtid-strict-mode=ON', '--port=3306', '--bind-address=0.0.0.0', '--sync-binlog=1']) {
      assert.ok(source.command?.includes(arg), arg);
    }
    assert.deepEqual(source.env, {});
    assert.deepEqual(source.mounts, [{ type: 'volume', source: 'dolly-source-data', target: '/var/lib/mysql', readOnly: false }]);
    assert.deepEqual(source.ports, [{ target: 3306, published: 3306, protocol: 'tcp', mode: 'host' }]);
    assert.deepEqual(source.healthcheck?.test, ['CMD', 'mariadb-admin', '--socket=/run/dolly/mysqld.sock', 'ping']);
  });

  it('the replica: the core replica command, socket only, its datadir and run dir bind-mounted from the pool', () => {
    for (const arg of ['--server-id=58', '--skip-networking', '--read-only=ON', '--relay-log-recovery=ON']) assert.ok(replica.command?.includes(arg), arg);
    assert.deepEqual(replica.ports, []);
    assert.deepEqual(replica.env, {});
    assert.deepEqual(replica.mounts, [
      { type: 'bind', source: '/var/lib/dolly/pool/volumes/replica', target: CONTAINER_DATADIR, readOnly: false },
      { type: 'bind', source: '/var/lib/dolly/run/replica', target: CONTAINER_RUNDIR, readOnly: false },
    ]);
    assert.deepEqual(topology.pool, {
      node: 'node-2',
      label: { key: 'dolly.pool', value: 'true' },
      root: '/var/lib/dolly',
      dataDir: '/var/lib/dolly/pool/volumes/replica',
      dataDirGiven: false,
      runDir: '/var/lib/dolly/run/replica',
      clonePorts: { first: 6000, last: 6099 },
    });
  });

  it('loadgen: the image entry point, env pointing at source over vb-net, a row a second into docker', () => {
    assert.equal(loadgen.command, undefined);
    assert.deepEqual(loadgen.args, []);
    assert.deepEqual(loadgen.env, {
      LOADGEN_INTERVAL_MS: '1000',
      MYSQL_DATABASE: 'docker',
      MYSQL_HOST: 'source',
      MYSQL_PASSWORD_FILE: '/run/secrets/dolly-source-root-password',
      MYSQL_PORT: '3306',
      MYSQL_USER: 'root',
    });
    assert.deepEqual(loadgen.ports, []);
    assert.deepEqual(loadgen.mounts, []);
  });

  it('servers stop first and get time for a clean shutdown; every service restarts by itself', () => {
    for (const service of [source, replica]) {
      assert.deepEqual(service.update, { parallelism: 1, order: 'stop-first', failureAction: 'pause' });
      assert.equal(service.stopGraceSeconds, 120);
    }
    for (const service of [source, replica, loadgen]) assert.equal(service.restart.condition, 'any');
  });

  it('a secret from a file: the model holds the path, the services the same file reference', () => {
    const withFile = buildTopology({ ...seedConfig(), rootPassword: { from: { kind: 'file', path: '/etc/dolly/root-password' } } });
    assert.deepEqual(withFile.secrets[0]?.from, { kind: 'file', path: '/etc/dolly/root-password' });
    assert.deepEqual(withFile.services.source.secrets, topology.services.source.secrets);
  });
});

describe('buildTopology: configured values', () => {
  it('takes names, images, ports, ids, paths and the secret origin from the config', () => {
    const topology = buildTopology({
      stack: 'demo',
      nodes: [{ hostname: 'a', role: 'manager', labels: { zone: 'x' } }, { hostname: 'b' }],
      network: { name: 'demo-net' },
      source: { node: 'a', image: 'registry.local/mariadb:11.4', serverId: 7, publishedPort: 13306, publishMode: 'host', volume: 'src-data' },
      replica: { image: 'registry.local/mariadb:11.4', serverId: 8, bufferPool: '1G' },
      loadgen: { image: 'dolly/loadgen:dev', database: 'shop', intervalMs: 250 },
      pool: { node: 'b', root: '/srv/dolly', dataDir: '/srv/pool/replica', runDir: '/srv/run/replica', clonePorts: { first: 7000, last: 7009 } },
      rootPassword: { secretName: 'root-pw-v2', from: { kind: 'pulumi-config', key: 'rootPassword' } },
    });
    const { source, replica, loadgen } = topology.services;
    assert.equal(topology.network.name, 'demo-net');
    assert.equal(source.labels['dolly.swarm.stack'], 'demo');
    assert.deepEqual(source.ports, [{ target: 3306, published: 13306, protocol: 'tcp', mode: 'host' }]);
    assert.equal(source.mounts[0]?.source, 'src-data');
    assert.ok(source.command?.includes('--server-id=7'));
    assert.ok(replica.command?.includes('--server-id=8'));
    assert.ok(replica.command?.includes('--innodb-buffer-pool-size=1G'));
    assert.equal(loadgen.env['MYSQL_DATABASE'], 'shop');
    assert.equal(loadgen.env['LOADGEN_INTERVAL_MS'], '250');
    assert.equal(loadgen.env['MYSQL_PASSWORD_FILE'], '/run/secrets/root-pw-v2');
    assert.deepEqual(replica.mounts.map((m) => m.source), ['/srv/pool/replica', '/srv/run/replica']);
    assert.equal(topology.pool.dataDirGiven, true, 'a named datadir is one dolly does not manage unless the root holds a pool');
    assert.deepEqual(topology.nodes[0]?.labels, { zone: 'x' });
    assert.deepEqual(topology.secrets[0]?.from, { kind: 'pulumi-config', key: 'rootPassword' });
  });

  it('an unpublished source has no ports', () => {
    const topology = buildTopology({ ...seedConfig(), source: { node: 'node-1', publishedPort: null } });
    assert.deepEqual(topology.services.source.ports, []);
  });

  it('is deterministic: the same config gives an equal model', () => {
    assert.deepEqual(buildTopology(seedConfig()), buildTopology(seedConfig()));
    assert.equal(JSON.stringify(buildTopology(seedConfig())), JSON.stringify(buildTopology(seedConfig())));
  });
});

describe('buildTopology: a MySQL stack (flavor: mysql)', () => {
  const topology = buildTopology({ ...seedConfig(), flavor: 'mysql' });
  const { source, replica, loadgen } = topology.services;

  it('runs dolly/mysql:9.7 for source and replica unless an image is named; the load emulator is the same', () => {
    assert.equal(topology.flavor, 'mysql');
    assert.equal(buildTopology(seedConfig()).flavor, 'mariadb', 'the default stays MariaDB');
    assert.deepEqual([source.image, replica.image, loadgen.image], ['dolly/mysql:9.7', 'dolly/mysql:9.7', DEFAULT_LOADGEN_IMAGE]);
    assert.deepEqual(loadgen.env, buildTopology(seedConfig()).services.loadgen.env);
    const named = buildTopology({ ...seedConfig(), flavor: 'mysql', source: { node: 'node-1', image: 'registry.local/mysql:9.7' } });
    assert.equal(named.services.source.image, 'registry.local/mysql:9.7');
  });

  it('the source: mysqld initialised by root, GTIDs on, the same init file from the secret; mysqladmin ping', () => {
    const script = source.command?.[2] ?? '';
    assert.match(script, /mysqld --no-defaults --initialize-insecure --datadir=\/var\/lib\/mysql --user=root/);
    assert.match(script, /CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '\$esc';/);
    assert.deepEqual(source.command?.slice(3, 5), ['sh', 'mysqld']);
    for (const flag of ['--gtid-mode=ON', '--enforce-gtid-consistency=ON', '--log-bin=source-bin', '--sync-binlog=1', '--server-id=42', '--port=3306']) assert.ok(source.command?.includes(flag), flag);
    assert.ok(!source.command?.some((arg) => /mariadb|gtid-strict/.test(arg)));
    assert.deepEqual(source.healthcheck?.test, ['CMD', 'mysqladmin', '--socket=/run/dolly/mysqld.sock', 'ping']);
  });

  it("the replica: MySQL's names (replica-net-timeout), initialised by root, socket only; mysqladmin ping", () => {
    assert.match(replica.command?.[2] ?? '', /mysqld --no-defaults --initialize-insecure --datadir=\/var\/lib\/mysql --user=root/);
    for (const flag of ['--replica-net-timeout=20', '--user=root', '--skip-networking', '--read-only=ON', '--server-id=58', '--gtid-mode=ON']) assert.ok(replica.command?.includes(flag), flag);
    assert.ok(!replica.command?.some((arg) => /slave|mariadb/.test(arg)));
    assert.deepEqual(replica.healthcheck?.test, ['CMD', 'mysqladmin', '--socket=/run/dolly/mysqld.sock', 'ping']);
  });

  it('refuses a server image dolly builds of the other flavor, one line and a hint', () => {
    assert.throws(() => buildTopology({ ...seedConfig(), flavor: 'mysql', replica: { image: DEFAULT_IMAGE } }), /the replica's image dolly\/mariadb:10\.11 runs mariadb, but the topology's flavor is mysql/);
    assert.throws(
      () => buildTopology({ ...seedConfig(), source: { node: 'node-1', image: 'dolly/mysql:9.7' } }),
      (error: unknown) => error instanceof InvalidArgumentError && /flavor is mariadb/.test(error.message) && /set flavor: mysql/.test(error.hint ?? ''),
    );
    assert.throws(() => buildTopology({ ...seedConfig(), flavor: 'postgres' as 'mysql' }), /invalid topology: flavor/);
  });
});
