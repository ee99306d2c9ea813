import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { replicaConnectOptions } from '../../src/engine/servers.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { assertNoReplicaLeft, createTestRoot, dolly, mariadbQuery, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-secret!';
const MARIADB_11 = 'dolly/mariadb:11.8';

type Conn = { host: string; port: number; user: string; password: string };

/** The source's data: a table with a generated column, JSON and 4-byte text, written before and after the copy. */
const SCHEMA = [
  'CREATE DATABASE shop',
  "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40) CHARACTER SET utf8mb4, doc JSON, total DECIMAL(10,2), doubled DECIMAL(10,2) AS (total * 2) STORED)",
  "INSERT INTO shop.items (id, name, doc, total) VALUES (1, 'café 🍰', '{\"a\": 1}', 1.50), (2, 'tea', '{\"b\": [1,2]}', 2.25)",
  // The fidelity tables: partitions, full-text and spatial indexes, a foreign key, a BLOB, a MyISAM table.
  'CREATE TABLE shop.parts (id INT, region INT, PRIMARY KEY (id, region)) PARTITION BY HASH(region) PARTITIONS 4',
  'INSERT INTO shop.parts VALUES (1, 1), (2, 2), (3, 3), (4, 4)',
  'CREATE TABLE shop.docs (id INT PRIMARY KEY, body TEXT, FULLTEXT KEY ft (body)) ENGINE=InnoDB',
  "INSERT INTO shop.docs VALUES (1, 'copy on write snapshots'), (2, 'dump and restore overnight')",
  'CREATE TABLE shop.places (id INT PRIMARY KEY, pos POINT NOT NULL, SPATIAL KEY sp (pos))',
  "INSERT INTO shop.places VALUES (1, ST_GeomFromText('POINT(1 2)', 0)), (2, ST_GeomFromText('POINT(3 4)', 0))",
  'CREATE TABLE shop.lines (id INT PRIMARY KEY, item_id INT, FOREIGN KEY (item_id) REFERENCES shop.items (id))',
  'INSERT INTO shop.lines VALUES (1, 1), (2, 2)',
  'CREATE TABLE shop.blobs (id INT PRIMARY KEY, b LONGBLOB)',
  "INSERT INTO shop.blobs VALUES (1, UNHEX(SHA2('dolly', 512))), (2, REPEAT(UNHEX('00FF'), 5000))",
  'CREATE TABLE shop.legacy (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM',
  "INSERT INTO shop.legacy VALUES (1, 'old')",
].join('; ');

/** A digest of every row's values (CHECKSUM TABLE differs between server versions for the same rows). */
const DIGEST = "SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, name, doc, total, doubled) ORDER BY id SEPARATOR '\\n'), 256) FROM shop.items";

/** The same over every fidelity table, in one row of digests. */
const FIDELITY = [
  "SELECT CONCAT_WS(' '",
  "(SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, region) ORDER BY id), 256) FROM shop.parts)",
  "(SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, body) ORDER BY id), 256) FROM shop.docs)",
  "(SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, ST_AsText(pos)) ORDER BY id), 256) FROM shop.places)",
  "(SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, item_id) ORDER BY id), 256) FROM shop.lines)",
  "(SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, HEX(b)) ORDER BY id), 256) FROM shop.blobs)",
  "(SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, v) ORDER BY id), 256) FROM shop.legacy)",
  "(SELECT COUNT(*) FROM shop.docs WHERE MATCH (body) AGAINST ('snapshots')))",
].join(', ');

/** A foreign key is enforced in the clone: an order line for a missing item is refused. */
const FK_VIOLATION = 'INSERT INTO shop.lines VALUES (9, 999)';

async function checksum(conn: Conn): Promise<string> {
  return mariadbQuery(conn, DIGEST);
}

/** One pipeline, source image → replica image: copy, replicate, snapshot, clone; every table equal. */
function pipeline(label: string, sourceImage: string, replicaImage: string, ports: string): void {
  describe(`engines: ${label}`, { skip: skipUnless('root', 'docker', 'image', 'image-mariadb-11.8', 'btrfs', 'mariadb-client') }, () => {
    let root: TestRoot | undefined;
    let production: ProductionServer | undefined;
    after(async () => {
      await root?.dispose();
      await production?.stop();
    });
    it('copies, replicates, snapshots and clones; the clone runs the replica engine with the data of the source', async () => {
      root = await createTestRoot(`dolly-it-eng-`);
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: sourceImage, rootPassword: PASSWORD, name: `it-eng-${ports.slice(0, 4)}` });
      const source: Conn = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
      await mariadbQuery(source, SCHEMA);
      await initPool({ driver: 'btrfs', size: '2G', ports, image: replicaImage }, root.deps);
      await initReplica({ source }, root.deps);
      await mariadbQuery(source, "INSERT INTO shop.items (id, name, doc, total) VALUES (3, 'ζωή', '{\"c\": null}', 9.99)");
      const gtid = await mariadbQuery(source, 'SELECT @@gtid_binlog_pos');
      for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
      const status = await getReplicaStatus(root.deps);
      assert.equal(status.gtid, gtid, `replica at ${status.gtid}, error ${status.last_error ?? 'none'}`);
      const snapshot = await createSnapshot(root.deps);
      assert.equal(snapshot.gtid, gtid);
      const clone = await createClone({ name: 'eng' }, root.deps);
      const want = replicaImage === MARIADB_11 ? /^11\.8\./ : /^10\.11\./;
      assert.match(await mariadbQuery(clone, 'SELECT VERSION()'), want);
      assert.equal(await checksum(clone), await checksum(source));
      const fidelity = await mariadbQuery(clone, FIDELITY);
      assert.equal(fidelity, await mariadbQuery(source, FIDELITY));
      assert.match(fidelity, / 1$/, 'the full-text index finds nothing in the clone');
      await assert.rejects(mariadbQuery(clone, FK_VIOLATION), /foreign key constraint fails/);
      assert.equal(await mariadbQuery(clone, "SELECT name FROM shop.items WHERE id = 1"), 'café 🍰');
      assert.equal(await mariadbQuery(clone, 'SELECT doubled FROM shop.items WHERE id = 3'), '19.98');
    });
  });
}

pipeline('MariaDB 10.11 → 11.8', MARIADB_IMAGE, MARIADB_11, '6830-6834');
pipeline('MariaDB 11.8 → 11.8', MARIADB_11, MARIADB_11, '6835-6839');

describe('engines: a replica older than its source is refused', { skip: skipUnless('root', 'docker', 'image', 'image-mariadb-11.8', 'btrfs') }, () => {
  let root: TestRoot | undefined;
  let production: ProductionServer | undefined;
  after(async () => {
    await root?.dispose();
    await production?.stop();
  });
  it('MariaDB 11.8 → 10.11: one line with a hint, no replica and nothing half-made', async () => {
    root = await createTestRoot('dolly-it-eng-old-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_11, rootPassword: PASSWORD, name: 'it-eng-old' });
    await mariadbQuery({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD }, 'CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)');
    await initPool({ driver: 'btrfs', size: '1G', ports: '6840-6844', image: MARIADB_IMAGE }, root.deps);
    const result = await dolly(['--root', root.root, 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`], { DOLLY_SOURCE_PASSWORD: PASSWORD });
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /^dolly: the image dolly\/mariadb:10\.11 runs mariadb 10\.11, older than the source's 11\.8\.\d+: a replica must not be older than its source \(hint: make a new root with --image dolly\/mariadb:11\.8 \(`dolly images build --engine mariadb-11\.8`\)\)\n$/);
    await assertNoReplicaLeft(root);
  });
});

const MYSQL = 'dolly/mysql:9.7';

describe('engines: MySQL 9.7 → 9.7', { skip: skipUnless('root', 'docker', 'image-mysql-9.7', 'btrfs') }, () => {
  let root: TestRoot | undefined;
  let production: ProductionServer | undefined;
  after(async () => {
    await root?.dispose();
    await production?.stop();
  });
  it("copies with MySQL's own mysqldump, replicates with auto-position, snapshots, and gives each clone its own server_uuid", async () => {
    root = await createTestRoot('dolly-it-eng-mysql-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MYSQL, rootPassword: PASSWORD, name: 'it-eng-mysql', flavor: 'mysql' });
    const source: Conn = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
    await mysqlQuery(source, SCHEMA);
    await initPool({ driver: 'btrfs', size: '2G', ports: '6845-6849', image: MYSQL }, root.deps);
    await initReplica({ source }, root.deps);
    await mysqlQuery(source, "INSERT INTO shop.items (id, name, doc, total) VALUES (3, 'ζωή', '{\"c\": null}', 9.99)");
    const gtid = await mysqlQuery(source, 'SELECT @@GLOBAL.gtid_executed');
    for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.gtid, gtid, `replica at ${status.gtid}, error ${status.last_error ?? 'none'}`);
    assert.equal(status.io_running && status.sql_running, true);
    const snapshot = await createSnapshot(root.deps);
    assert.equal(snapshot.gtid, gtid);
    assert.equal(snapshot.flavor, 'mysql');
    assert.ok(snapshot.pause_ms < 1000, `pause ${snapshot.pause_ms} ms`);
    const one = await createClone({ name: 'one' }, root.deps);
    const two = await createClone({ name: 'two' }, root.deps);
    assert.match(await mysqlQuery(one, 'SELECT VERSION()'), /^9\.7\./);
    assert.equal(await mysqlQuery(one, DIGEST), await mysqlQuery(source, DIGEST));
    const fidelity = await mysqlQuery(one, FIDELITY);
    assert.equal(fidelity, await mysqlQuery(source, FIDELITY));
    assert.match(fidelity, / 1$/, 'the full-text index finds nothing in the clone');
    await assert.rejects(mysqlQuery(one, FK_VIOLATION), /foreign key constraint fails/);
    assert.equal(await mysqlQuery(one, 'SELECT doubled FROM shop.items WHERE id = 3'), '19.98');
    const replica = root.deps.store.require().replica;
    assert.ok(replica);
    const admin = await connectSql(replicaConnectOptions(root.root, replica));
    const replicaUuid = String((await admin.query<{ u: unknown }>('SELECT @@server_uuid AS u'))[0]?.u);
    await admin.close();
    const uuids = [await mysqlQuery(source, 'SELECT @@server_uuid'), replicaUuid, await mysqlQuery(one, 'SELECT @@server_uuid'), await mysqlQuery(two, 'SELECT @@server_uuid')];
    assert.equal(new Set(uuids).size, 4, `server_uuids repeat: ${uuids.join(', ')}`);
    // A write in one clone stays there.
    await mysqlQuery(one, 'DELETE FROM shop.blobs');
    assert.equal(await mysqlQuery(two, 'SELECT COUNT(*) FROM shop.blobs'), '2');
  });
  it('refuses a MariaDB source for a MySQL replica, nothing half-made', async () => {
    const other = await createTestRoot('dolly-it-eng-mix-');
    const maria = await startProductionServer({ docker: createDockerClient(), root: other.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-eng-mix' });
    try {
      await mariadbQuery({ host: '127.0.0.1', port: maria.port, user: 'root', password: PASSWORD }, 'CREATE DATABASE shop');
      await initPool({ driver: 'btrfs', size: '1G', ports: '6855-6859', image: MYSQL }, other.deps);
      const result = await dolly(['--root', other.root, 'replica', 'init', '--source', `mysql://root@127.0.0.1:${maria.port}`], { DOLLY_SOURCE_PASSWORD: PASSWORD });
      assert.equal(result.code, 5, result.stderr);
      assert.match(result.stderr, /^dolly: the source is mariadb 10\.11\.\d+ but the image dolly\/mysql:9\.7 runs mysql 9\.7 \(hint: make a new root with --image dolly\/mariadb:10\.11 or dolly\/mariadb:11\.8 .*\)\n$/);
      assert.equal(other.deps.store.require().replica, undefined);
    } finally {
      await other.dispose();
      await maria.stop();
    }
  });
});
