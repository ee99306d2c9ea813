import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { assertConfined, assertNoCapture, assertNoReach, inClone, type IsolationWorld } from './isolation-checks.js';

const run = promisify(execFile);
const PASSWORD = 'Pr0d-secret!';

/** Runs SQL with the real client and returns its error text (or '' when it succeeded). */
async function sqlError(clone: CloneView, sql: string): Promise<string> {
  try {
    await mariadbQuery(clone, sql);
    return '';
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
}

/**
 * A clone is handed to people who do not administer the host (issue 7, story 1): its user cannot
 * write files, load code, or take over the server, and its container cannot see or reach the
 * replica's, the source's or another clone's traffic. Real Docker, MariaDB and btrfs.
 */
describe('clone isolation', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let user: CloneView;
  let admin: CloneView;
  let other: CloneView;
  const docker = createDockerClient();
  const world = (): IsolationWorld => ({ docker, root: root.root });

  before(async () => {
    root = await createTestRoot('dolly-it-isolation-');
    production = await startProductionServer({ docker, root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-isolation-source' });
    const sql = await production.sql();
    try {
      await sql.execute('CREATE DATABASE shop');
      await sql.execute('CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB');
      await sql.execute("INSERT INTO shop.t VALUES (1, 'one')");
    } finally {
      await sql.close();
    }
    await initPool({ driver: 'btrfs', size: '2G', ports: '6400-6419' }, root.deps);
    await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
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
      'CALL dev.p()',
      'SELECT n FROM dev.a',
    ].join('; ');
    assert.equal(await mariadbQuery(user, script), '1\n42');
    assert.match(await mariadbQuery(user, 'SHOW PROCESSLIST'), /Query/);
    await mariadbQuery(user, 'DROP DATABASE dev');
  });

  it("cannot write the mysql schema (accounts, definers, the account views), yet has every right on the other databases", async () => {
    const attempts = [
      "CREATE USER 'x'@'%' IDENTIFIED BY 'x'",
      "UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.access', 1073741823) WHERE User = 'dolly'",
      "INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('%', 'planted', '{}')",
      'CREATE OR REPLACE VIEW mysql.user AS SELECT 1 AS Host',
      "UPDATE mysql.proc SET definer = 'root@localhost'",
      'DELETE FROM mysql.roles_mapping',
      'CREATE TABLE mysql.planted (id INT)',
      'DROP TABLE mysql.servers',
      'DROP DATABASE mysql',
      "CREATE DEFINER = 'root'@'localhost' PROCEDURE shop.p() SELECT 1",
    ];
    for (const sql of attempts) assert.match(await sqlError(user, sql), /denied/, sql);
    assert.equal(await mariadbQuery(user, "SELECT COUNT(*) > 0 FROM mysql.global_priv WHERE User = 'dolly'"), '1', 'mysql stays readable');
    assert.equal(await mariadbQuery(user, 'CREATE DATABASE mysql_like; CREATE TABLE mysql_like.t (id INT); INSERT INTO mysql_like.t VALUES (1); SELECT COUNT(*) FROM mysql_like.t'), '1');
    await mariadbQuery(user, 'DROP DATABASE mysql_like');
  });

  it("serves TLS that verifies with the root's CA and with no other; the CA's key is in no clone", async () => {
    const ca = join(root.root, 'tls', 'ca.pem');
    assert.match(user.dsn, /\?ssl-mode=VERIFY_CA$/);
    assert.equal(user.tls?.ca, await readFile(ca, 'utf8'));
    const tls = ['--ssl', `--ssl-ca=${ca}`, '--ssl-verify-server-cert', '--host', '127.0.0.1', '--port', String(user.port), '--user', user.user, '--batch', '--skip-column-names', '-e', "SHOW SESSION STATUS LIKE 'Ssl_version'"];
    const { stdout } = await run('mariadb', tls, { env: { ...process.env, MYSQL_PWD: user.password } });
    assert.match(stdout, /Ssl_version\s+TLSv1\.[23]/);
    // Another CA (a man in the middle's) is refused.
    const other = await mkdtemp(join(tmpdir(), 'dolly-it-other-ca-'));
    try {
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(other, 'k'), '-out', join(other, 'ca.pem'), '-subj', '/CN=other', '-days', '1']);
      const wrong = await run('mariadb', tls.map((a) => (a === `--ssl-ca=${ca}` ? `--ssl-ca=${join(other, 'ca.pem')}` : a)), { env: { ...process.env, MYSQL_PWD: user.password } }).then(() => 'connected', (e: { stderr?: string }) => e.stderr ?? 'failed');
      assert.match(wrong, /certificate|SSL|TLS/i);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
    assert.equal((await stat(join(root.root, 'tls', 'ca.key'))).mode & 0o777, 0o600);
    const files = await inClone(world(), user.name, ['ls', '/run/dolly']);
    assert.ok(!files.stdout.includes('ca.key') && files.stdout.includes('server-cert.pem'), files.stdout);
  });

  it('has no FILE, SUPER, GRANT OPTION or ALL PRIVILEGES', async () => {
    const grants = await mariadbQuery(user, 'SHOW GRANTS');
    for (const right of ['FILE', 'SUPER', 'GRANT OPTION', 'ALL PRIVILEGES', 'SHUTDOWN', 'CREATE USER']) assert.ok(!grants.includes(right), `${right} in ${grants}`);
    assert.match(await sqlError(user, 'SET GLOBAL read_only = ON'), /Access denied/);
    assert.match(await sqlError(user, "GRANT SELECT ON *.* TO 'dolly'@'%'"), /Access denied/);
    assert.match(await sqlError(user, 'SHUTDOWN'), /Access denied/);
  });

  it('cannot write a shared library with INTO DUMPFILE nor load one with INSTALL SONAME', async () => {
    assert.match(await sqlError(user, "SELECT 'x' INTO DUMPFILE '/usr/lib/mysql/plugin/evil.so'"), /Access denied/);
    assert.match(await sqlError(user, "SELECT 'x' INTO DUMPFILE '/var/lib/mysql-files/evil.so'"), /Access denied/);
    // Even a plugin shipped with the server (FederatedX opens outbound connections) cannot load.
    // Refused twice over: no INSERT on mysql.plugin, and no plugin directory.
    assert.match(await sqlError(user, "INSTALL SONAME 'ha_federatedx'"), /INSERT command denied|Can't open shared library/);
    assert.equal(await mariadbQuery(user, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'FEDERATED'"), '0');
  });

  it('an --admin clone has every right in its server, yet files stay in its private directory and no library loads', async () => {
    assert.match(await mariadbQuery(admin, 'SHOW GRANTS'), /ALL PRIVILEGES ON \*\.\* .*WITH GRANT OPTION/);
    assert.match(await sqlError(admin, "SELECT 'x' INTO DUMPFILE '/usr/lib/mysql/plugin/evil.so'"), /secure-file-priv/);
    await mariadbQuery(admin, "SELECT 'not a library' INTO DUMPFILE '/var/lib/mysql-files/evil.so'");
    assert.match(await sqlError(admin, "INSTALL SONAME 'evil'"), /Can't open shared library/);
    assert.match(await sqlError(admin, "INSTALL SONAME '/var/lib/mysql-files/evil'"), /No paths allowed|Can't open/);
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
    // ... while the host reaches each clone on its published port.
    assert.equal(await mariadbQuery(other, 'SELECT v FROM shop.t'), 'one');
  });
});
