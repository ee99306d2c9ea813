import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createDockerClient } from '../../src/docker/client.js';
import { LABEL_ROOT } from '../../src/labels.js';
import { initPool } from '../../src/engine/pool-init.js';
import { silentLogger } from '../../src/log.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { swarmReplicaConnect, swarmReplicaStatus } from '../../src/swarm/deploy/bootstrap.js';
import { stackObjects } from '../../src/swarm/deploy/swarm-facts.js';
import { swarmDeploy, swarmDestroy, swarmPlan, waitForServices, type SwarmDeps } from '../../src/swarm/deploy/swarm-deploy.js';
import { swarmTarget } from '../../src/swarm/deploy/swarm-target.js';
import { sourceSql } from '../../src/swarm/deploy/tasks.js';
import { sandboxDown, sandboxUp } from '../../dev/sandbox/sandbox.js';
import { buildTopology } from '../../src/swarm/topology.js';
import { DEFAULT_LOADGEN_IMAGE, sandboxTopologyConfig, type TopologyConfig } from '../../src/swarm/topology-config.js';
import { createShell } from '../../src/shell.js';
import { skipUnless } from '../support/capabilities.js';
import { eventually, filesHolding } from '../support/swarm-harness.js';
import { createTestRoot, dolly, leftovers, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);
const PASSWORD = `my'"$\`sql\\pw`;
const MYSQL = 'dolly/mysql:9.7';
/** This suite's clone ports (the other sandbox suites take 6000-6019 and 6140-6159). */
const CLONE_PORTS = { first: 6960, last: 6979 };



/**
 * A MySQL 9.7 stack on a 3-node Swarm sandbox (`flavor: mysql`): the source and replica services
 * run dolly/mysql:9.7, the load emulator logs in to MySQL's caching_sha2_password root, the
 * bootstrap (replica init through the replica's task) copies it by one mysqldump stream with its
 * accounts and definers, replication runs across nodes, and a clone of a snapshot on the pool node
 * answers for the application's objects. `--method backup` is refused with one line.
 */
describe('a MySQL 9.7 stack on a 3-node Swarm sandbox: deploy, bootstrap by dump, replication, a clone, destroy', { skip: skipUnless('root', 'docker', 'btrfs', 'image-mysql-9.7') }, () => {
  let testRoot: TestRoot;
  let root: string;
  let deps: SwarmDeps;
  let configFile: string;
  const docker = createDockerClient();
  const config = (): TopologyConfig => ({ ...sandboxTopologyConfig(root, { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' }, CLONE_PORTS), flavor: 'mysql', loadgen: { intervalMs: 500 } });
  const topology = () => buildTopology(config());
  /** SQL on the source, as root over its socket, inside its task on node-1 (MySQL's `mysql` client). */
  const onSource = (sql: string): Promise<string> => sourceSql(deps.docker, deps.engines, 'source', sql, 'mysql');
  /** One value from the replica, as dolly's admin over its socket, from the host (mysql2). */
  const onReplica = async (sql: string): Promise<string> => {
    const client = await connectSql(swarmReplicaConnect(topology()));
    try {
      const [row] = await client.query(sql);
      return String(Object.values(row ?? {})[0] ?? '');
    } finally {
      await client.close();
    }
  };
  const replicaRows = (): Promise<number> => onReplica('SELECT COUNT(*) FROM docker.repl_status').then(Number, () => 0);

  before(async () => {
    testRoot = await createTestRoot('dolly-it-swarm-mysql-');
    root = testRoot.root;
    // No --image: the root takes the replica service's image (dolly/mysql:9.7) at the bootstrap.
    await initPool({ size: '3G', ports: `${CLONE_PORTS.first}-${CLONE_PORTS.last}`, bindAddress: '0.0.0.0' }, testRoot.deps);
    await sandboxUp({ root, nodes: 3, poolPath: root, clonePorts: CLONE_PORTS, images: [MYSQL, DEFAULT_LOADGEN_IMAGE] }, { docker, shell: createShell(), logger: silentLogger });
    const target = await swarmTarget(root, undefined);
    deps = { docker: target.docker, engines: target.engines, logger: silentLogger, env: { DOLLY_SOURCE_PASSWORD: PASSWORD } };
    configFile = join(root, 'topology.yaml');
    await writeFile(configFile, stringify(config()));
  });

  after(async () => {
    if (deps) await swarmDestroy(topology(), deps).catch(() => undefined);
    await sandboxDown({ root }, { docker, logger: silentLogger }).catch(() => undefined);
    await testRoot?.dispose();
    assert.deepEqual(await leftovers(root), [], 'no loop device or mount left');
    assert.deepEqual(await docker.listContainers({ all: true, filters: { label: [`${LABEL_ROOT}=${root}`] } }), [], 'no container of the root left');
  });

  it('deploys the MySQL stack: dolly/mysql:9.7 for source and replica, the replica on the pool node; the load emulator logs in and writes', async () => {
    const model = topology();
    assert.deepEqual([model.services.source.image, model.services.replica.image], [MYSQL, MYSQL]);
    const changes = await swarmDeploy(model, deps);
    assert.deepEqual(changes.map((c) => `${c.action} ${c.kind}/${c.name}`), ['create network/vb-net', 'create secret/dolly-source-root-password', 'create service/source', 'create service/replica', 'create service/loadgen']);
    const status = await waitForServices(model, deps, 300_000);
    const where = Object.fromEntries(status.map((s) => [s.name, s.node]));
    assert.equal(where.source, 'node-1');
    assert.equal(where.replica, 'node-2');
    assert.match(await onSource('SELECT VERSION()'), /^9\.7\./);
    // The load emulator (mysql2, no TLS) logs in to root@'%' (caching_sha2_password) with the secret's password.
    await eventually('the load emulator wrote rows', async () => Number(await onSource('SELECT COUNT(*) FROM docker.repl_status')) >= 3, 180_000);
    assert.equal(await onSource("SELECT plugin FROM mysql.user WHERE user = 'root' AND host = '%'"), 'caching_sha2_password');
    assert.ok((await swarmPlan(model, deps)).every((c) => c.action === 'keep'), 'a second deploy changes nothing');
  });

  it('--method backup is refused for a MySQL stack: one line and a hint, nothing made', async () => {
    const out = await dolly(['--root', root, 'swarm', 'bootstrap', '--config', configFile, '--method', 'backup'], { DOLLY_SOURCE_PASSWORD: PASSWORD });
    assert.notEqual(out.code, 0);
    const lines = out.stderr.trim().split('\n');
    assert.equal(lines.filter((l) => !l.startsWith('hint')).length, 1, out.stderr);
    assert.match(out.stderr, /--method backup restores mariadb-backup backups of MariaDB; the stack's source runs mysql/);
    assert.match(out.stderr, /hint.*--method dump/);
    assert.equal(testRoot.deps.store.read()?.replica, undefined, 'no replica in the state');
  });

  it('the zx bootstrap copies the source through one mysqldump stream, with its accounts and definers, and starts GTID replication across nodes', async () => {
    // The application: an account by host name, and a view, a routine and a trigger it defines.
    await onSource(
      [
        'CREATE DATABASE shop',
        'CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2))',
        'CREATE TABLE shop.audit (order_id INT PRIMARY KEY)',
        'INSERT INTO shop.orders VALUES (1, 10.00), (2, 32.50)',
        "CREATE USER 'web'@'web1.example.com' IDENTIFIED BY 'web-pw-1'",
        "GRANT SELECT, INSERT, EXECUTE, TRIGGER ON shop.* TO 'web'@'web1.example.com'",
        "CREATE DEFINER = 'web'@'web1.example.com' SQL SECURITY DEFINER VIEW shop.web_orders AS SELECT id FROM shop.orders",
        "CREATE DEFINER = 'web'@'web1.example.com' PROCEDURE shop.order_total() SQL SECURITY DEFINER SELECT SUM(total) FROM shop.orders",
        "CREATE DEFINER = 'web'@'web1.example.com' TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit VALUES (NEW.id)",
      ].join('; '),
    );
    const { stdout } = await run('npx', ['zx', 'scripts/bootstrap.mjs', '--config', configFile, '--json'], { env: { ...process.env, DOLLY_SOURCE_PASSWORD: PASSWORD }, timeout: 600_000 });
    const result = JSON.parse(stdout) as { already: boolean; databases: string[]; gtid: string; init: { method: string; flavor: string; image: string; parallel?: unknown }; replica: { io_running: boolean; sql_running: boolean } };
    assert.equal(result.already, false);
    assert.deepEqual(result.databases, ['docker', 'shop']);
    assert.match(result.gtid, /^[0-9a-f-]{36}:1-\d+$/);
    assert.deepEqual([result.init.method, result.init.flavor, result.init.image, result.init.parallel], ['dump', 'mysql', MYSQL, undefined], 'one mysqldump stream');
    assert.ok(result.replica.io_running && result.replica.sql_running, JSON.stringify(result.replica));
    assert.equal(testRoot.deps.store.read()?.settings.image, MYSQL, "the root's clones run the replica's image");
    assert.equal(await onReplica("SELECT CONCAT(user, '@', host) FROM mysql.user WHERE user = 'web'"), 'web@web1.example.com', 'the account came with the copy');
    const status = await swarmReplicaStatus(topology());
    assert.ok(status?.io_running && status.sql_running && status.last_error === null, JSON.stringify(status));
    const first = await replicaRows();
    await eventually('rows of docker.repl_status arrive on the replica across nodes', async () => (await replicaRows()) > first + 2, 120_000);
  });

  it('a snapshot and a clone on the pool node: the application account and its view, routine and trigger answer', async () => {
    const { stdout } = await run('npx', ['zx', 'scripts/snapshot.mjs', '--clone', '--json', '--config', configFile], { timeout: 600_000 });
    const { snapshot, clone } = JSON.parse(stdout) as { snapshot: { id: string; gtid: string }; clone: { name: string; host: string; port: number; user: string; password: string; snapshot: string; tls?: { ca: string } } };
    assert.equal(clone.snapshot, snapshot.id);
    assert.ok(clone.port >= CLONE_PORTS.first && clone.port <= CLONE_PORTS.last, String(clone.port));
    assert.ok(clone.tls?.ca, 'the clone serves TLS');
    const conn = { ...clone, ssl: { ca: clone.tls.ca, rejectUnauthorized: true } };
    assert.equal(await mysqlQuery(conn, "SELECT COUNT(*) FROM mysql.user WHERE user = 'web' AND host = 'web1.example.com'"), '1', 'the application account is in the clone');
    assert.equal(await mysqlQuery(conn, 'SELECT COUNT(*) FROM shop.web_orders'), '2', "a view owned by the application's account answers");
    assert.equal(await mysqlQuery(conn, 'CALL shop.order_total()'), '42.50', 'its routine runs');
    await mysqlQuery(conn, 'INSERT INTO shop.orders VALUES (3, 1.00)');
    assert.equal(await mysqlQuery(conn, 'SELECT COUNT(*) FROM shop.audit WHERE order_id = 3'), '1', 'its trigger fires');
    assert.ok(Number(await mysqlQuery(conn, 'SELECT COUNT(*) FROM docker.repl_status')) > 0, "the clone holds the load emulator's rows");
    assert.equal(await onReplica('SELECT COUNT(*) FROM shop.orders WHERE id = 3'), '0', 'the replica is untouched');
    const destroyed = await dolly(['--root', root, 'clone', 'destroy', clone.name]);
    assert.equal(destroyed.code, 0, destroyed.stderr);
  });

  it('destroy leaves no service, secret or network of the stack, no replica data, and no file with the source password under the root', async () => {
    const replicaData = join(root, 'pool', 'volumes', 'replica');
    assert.ok((await filesHolding(replicaData, PASSWORD)).length > 0, "the running replica keeps the password in its datadir (MySQL's replication metadata): the check can fail");
    await swarmDestroy(topology(), deps);
    assert.deepEqual(await stackObjects(deps.docker, 'dolly'), []);
    const nodes = (await deps.docker.listNodes()) as { Spec?: { Labels?: Record<string, string> } }[];
    assert.ok(nodes.every((n) => n.Spec?.Labels?.['dolly.pool'] === undefined));
    const state = testRoot.deps.store.read();
    assert.equal(state?.replica, undefined);
    assert.equal(state?.swarm, undefined);
    assert.ok((state?.snapshots.length ?? 0) > 0, 'the snapshot stays in the pool');
    assert.deepEqual(await filesHolding(root, PASSWORD), [], 'no file under the root holds the password (the snapshot included)');
  });
});
