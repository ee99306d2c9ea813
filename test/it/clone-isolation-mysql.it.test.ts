import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { skipUnless } from '../support/capabilities.js';
import { createTestRoot, mysqlLines, mysqlQuery, type TestRoot } from '../support/engine-harness.js';
import { assertConfined, assertNoCapture, assertNoReach, type IsolationWorld } from './isolation-checks.js';

const run = promisify(execFile);
const MYSQL = 'dolly/mysql:9.7';
const PASSWORD = 'Pr0d-secret!';

/** Runs SQL over mysql2 (MySQL 9.7's accounts use caching_sha2_password) and returns its error ('' when it succeeded). */
async function sqlError(clone: CloneView, sql: string): Promise<string> {
  try {
    await mysqlQuery(clone, sql);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The isolation suite of clone-isolation.it.test.ts on MySQL 9.7 clones: a clone's user cannot
 * write files, load code (plugins or components) or take over the server, and its container cannot
 * see or reach the replica's, the source's or another clone's traffic. Real Docker, MySQL, btrfs.
 */
describe('clone isolation on MySQL 9.7', { skip: skipUnless('root', 'docker', 'image-mysql-9.7', 'btrfs') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let user: CloneView;
  let admin: CloneView;
  let other: CloneView;
  const docker = createDockerClient();
  const world = (): IsolationWorld => ({ docker, root: root.root });

  before(async () => {
    root = await createTestRoot('dolly-it-isolation-mysql-');
    production = await startProductionServer({ docker, root: root.root, image: MYSQL, rootPassword: PASSWORD, name: 'it-isolation-mysql', flavor: 'mysql' });
    const source = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
    await mysqlQuery(source, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO shop.t VALUES (1, 'one')");
    await initPool({ driver: 'btrfs', size: '2G', ports: '6420-6439', image: MYSQL }, root.deps);
    await initReplica({ source }, root.deps);
    await createSnapshot(root.deps);
    user = await createClone({ name: 'user' }, root.deps);
    admin = await createClone({ name: 'admin', admin: true }, root.deps);
    other = await createClone({ name: 'other' }, root.deps);
  });

  after(async () => {
    await root?.dispose();
    await production?.stop();
  });

  it("a clone's user has the rights an application and a developer need", async () => {
    const script = [
      'CREATE DATABASE dev',
      'CREATE TABLE dev.a (id INT PRIMARY KEY, n INT) ENGINE=InnoDB',
      'CREATE VIEW dev.v AS SELECT id FROM shop.t',
      'CREATE PROCEDURE dev.p() SELECT COUNT(*) FROM dev.v',
      'CREATE TRIGGER dev.tr BEFORE INSERT ON dev.a FOR EACH ROW SET NEW.n = NEW.id * 2',
      'CREATE EVENT dev.e ON SCHEDULE EVERY 1 DAY DO DELETE FROM dev.a',
      'INSERT INTO dev.a (id) VALUES (21)',
      'SELECT n FROM dev.a',
    ].join('; ');
    assert.equal(await mysqlQuery(user, script), '42');
    assert.equal(await mysqlQuery(user, 'CALL dev.p()'), '1');
    assert.match(await mysqlLines(user, 'SHOW PROCESSLIST'), /^\d+/);
    await mysqlQuery(user, 'DROP DATABASE dev');
  });

  it('has no FILE, SUPER, GRANT OPTION, ALL PRIVILEGES nor any dynamic *_ADMIN privilege', async () => {
    const grants = await mysqlLines(user, 'SHOW GRANTS');
    assert.match(grants, /^GRANT PROCESS, SHOW DATABASES ON \*\.\*/);
    for (const right of ['FILE', 'SUPER', 'GRANT OPTION', 'ALL PRIVILEGES ON *.*', 'SHUTDOWN', 'CREATE USER', '_ADMIN']) assert.ok(!grants.includes(right), `${right} in ${grants}`);
    // Every database-level right on every database (MySQL prints the whole list as ALL), but only SELECT on mysql.
    assert.match(grants, /^GRANT ALL PRIVILEGES ON `%`\.\* TO /m);
    assert.match(grants, /^GRANT SELECT ON `mysql`\.\* TO /m);
    assert.match(await sqlError(user, 'SET GLOBAL read_only = ON'), /Access denied; you need .*SUPER or SYSTEM_VARIABLES_ADMIN/);
    assert.match(await sqlError(user, "GRANT SELECT ON *.* TO 'dolly'@'%'"), /Access denied/);
    assert.match(await sqlError(user, 'SHUTDOWN'), /Access denied; you need .*SHUTDOWN/);
    assert.match(await sqlError(user, "CLONE INSTANCE FROM 'root'@'127.0.0.1':3306 IDENTIFIED BY 'x'"), /Access denied; you need .*CLONE_ADMIN/);
  });

  it("cannot write the mysql schema (accounts, routines' definers), yet has every right on the other databases", async () => {
    const attempts = [
      "CREATE USER 'x'@'%' IDENTIFIED BY 'x'",
      "UPDATE mysql.user SET Super_priv = 'Y' WHERE User = 'dolly'",
      "INSERT INTO mysql.global_grants VALUES ('dolly', '%', 'SYSTEM_VARIABLES_ADMIN', 'N')",
      "DELETE FROM mysql.role_edges",
      'CREATE TABLE mysql.planted (id INT)',
      'DROP DATABASE mysql',
      "CREATE DEFINER = 'root'@'localhost' PROCEDURE shop.p() SELECT 1",
    ];
    for (const sql of attempts) assert.match(await sqlError(user, sql), /denied/, sql);
    assert.equal(await mysqlQuery(user, "SELECT COUNT(*) > 0 FROM mysql.user WHERE User = 'dolly'"), '1', 'mysql stays readable');
    assert.equal(await mysqlQuery(user, 'CREATE DATABASE mysql_like; CREATE TABLE mysql_like.t (id INT); INSERT INTO mysql_like.t VALUES (1); SELECT COUNT(*) FROM mysql_like.t'), '1');
    await mysqlQuery(user, 'DROP DATABASE mysql_like');
  });

  it("serves TLS that verifies with the root's CA (host name included) and with no other", async () => {
    const ca = user.tls?.ca ?? assert.fail('no CA in the clone view');
    const c = await createConnection({ host: user.host, port: user.port, user: user.user, password: user.password, ssl: { ca, rejectUnauthorized: true } });
    try {
      const [rows] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
      assert.match(JSON.stringify(rows), /TLSv1\.[23]/);
    } finally {
      await c.end();
    }
    const other = await mkdtemp(join(tmpdir(), 'dolly-it-other-ca-'));
    try {
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(other, 'k'), '-out', join(other, 'ca.pem'), '-subj', '/CN=other', '-days', '1']);
      const wrong = await readFile(join(other, 'ca.pem'), 'utf8');
      await assert.rejects(createConnection({ host: user.host, port: user.port, user: user.user, password: user.password, ssl: { ca: wrong, rejectUnauthorized: true } }), /certificate/i);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('cannot write a shared library with INTO DUMPFILE nor load a plugin or a component', async () => {
    assert.match(await sqlError(user, "SELECT 'x' INTO DUMPFILE '/usr/lib/mysql/plugin/evil.so'"), /Access denied; you need .*FILE/);
    assert.match(await sqlError(user, "SELECT 'x' INTO DUMPFILE '/var/lib/mysql-files/evil.so'"), /Access denied; you need .*FILE/);
    // Even a plugin shipped with the server (CLONE copies a whole server over the network) cannot load.
    assert.match(await sqlError(user, "INSTALL PLUGIN clone SONAME 'mysql_clone.so'"), /Can't open shared library|denied/);
    assert.match(await sqlError(user, "INSTALL COMPONENT 'file://component_validate_password'"), /Can't open shared library|Cannot load component|denied/);
    assert.equal(await mysqlQuery(user, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone'"), '0');
  });

  it('an --admin clone has every right in its server, yet files stay in its private directory and no library loads', async () => {
    const grants = await mysqlLines(admin, 'SHOW GRANTS');
    for (const right of ['FILE', 'SHUTDOWN', 'SYSTEM_VARIABLES_ADMIN', 'WITH GRANT OPTION']) assert.ok(grants.includes(right), `${right} not in ${grants}`);
    assert.match(await sqlError(admin, "SELECT 'x' INTO DUMPFILE '/usr/lib/mysql/plugin/evil.so'"), /secure-file-priv/);
    assert.equal(await mysqlQuery(admin, "SELECT LOAD_FILE('/etc/passwd') IS NULL"), '1');
    await mysqlQuery(admin, "SELECT 'not a library' INTO DUMPFILE '/var/lib/mysql-files/evil.so'");
    assert.match(await sqlError(admin, "INSTALL PLUGIN evil SONAME 'evil.so'"), /Can't open shared library/);
    assert.match(await sqlError(admin, "INSTALL PLUGIN evil SONAME '/var/lib/mysql-files/evil.so'"), /No paths allowed|Can't open/);
    assert.match(await sqlError(admin, "SET GLOBAL plugin_dir = '/var/lib/mysql-files'"), /read only/);
  });

  it('every server runs confined: not root, no capabilities, no privilege gain, read-only root file system', async () => {
    await assertConfined(world(), ['replica', 'clone-user', 'clone-admin'], admin.name);
  });

  it('a packet capture from inside a clone fails, and its network namespace holds only its own traffic', async () => {
    await assertNoCapture(world(), admin.name, production.port);
  });

  it('a clone reaches no other clone, neither through the loopback nor across the clone network', async () => {
    await assertNoReach(world(), admin.name, other);
    assert.equal(await mysqlQuery(other, 'SELECT v FROM shop.t'), 'one');
  });
});
