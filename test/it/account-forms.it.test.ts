import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { replicaConnectOptions } from '../../src/engine/servers.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { accountCredentials, accountRowsHex } from '../support/credentials.js';
import { createTestRoot, mariadbQuery, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);
const PASSWORD = 'Pr0d-root-secret!';
type Conn = { host: string; port: number; user: string; password: string; ssl?: { ca: string; rejectUnauthorized: boolean } };

/**
 * Every account form a production server holds (issue 17): accounts by host name (root@<host>
 * as `mariadb-install-db` makes it), by IP netmask and pattern, anonymous, roles with a default
 * role, a plugin account (ed25519), `REQUIRE SSL`, locked, dual passwords (MySQL), a DBA with
 * global rights, dolly_admin planted on another host, and a FederatedX server definition with its
 * password. The snapshot succeeds, a view whose definer is named by host answers, `--user` logs in
 * as each with the rights it had (roles active), and no production credential is in a clone:
 * neither in its account tables read by SQL as an admin, nor in its `mysql` files.
 */
function accountFormsSuite(label: string, image: string, flavor: 'mariadb' | 'mysql', ports: string, needs: Capability[]): void {
  describe(`account forms: ${label}`, { skip: skipUnless('root', 'docker', 'btrfs', ...needs) }, () => {
    const query = (conn: Conn, sql: string): Promise<string> => (flavor === 'mysql' || conn.ssl !== undefined ? mysqlQuery(conn, sql) : mariadbQuery(conn, sql));
    const mysql = flavor === 'mysql';
    let root: TestRoot;
    let production: ProductionServer;
    let snapshot: Snapshot;
    let secrets: string[] = [];
    const source = (): Conn => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });

    /** Every credential of the source's account table: what must never reach a clone. */
    const sourceSecrets = (): Promise<string[]> => accountCredentials((sql) => query(source(), sql), flavor);

    before(async () => {
      root = await createTestRoot('dolly-it-account-forms-');
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: PASSWORD, name: `it-forms-${flavor}-${label.replace(/\W/g, '')}`, flavor });
      const statements = [
        'CREATE DATABASE shop',
        'CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2))',
        'INSERT INTO shop.orders VALUES (1, 10.00), (2, 32.50)',
        // As mariadb-install-db makes them: root by host name, anonymous accounts.
        "CREATE USER 'root'@'db-host-1.example.com' IDENTIFIED BY 'root-by-name-pw'",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'db-host-1.example.com' WITH GRANT OPTION",
        "CREATE USER ''@'localhost'",
        "CREATE USER 'web'@'web1.example.com' IDENTIFIED BY 'web-pw-1'",
        "GRANT SELECT ON shop.* TO 'web'@'web1.example.com'",
        "CREATE DEFINER = 'web'@'web1.example.com' SQL SECURITY DEFINER VIEW shop.web_orders AS SELECT id FROM shop.orders",
        "CREATE USER 'net'@'10.0.0.0/255.255.255.0' IDENTIFIED BY 'net-pw-1'",
        "GRANT SELECT ON shop.* TO 'net'@'10.0.0.0/255.255.255.0'",
        "CREATE USER 'pat'@'10.1.%' IDENTIFIED BY 'pat-pw-1'",
        "GRANT SELECT, INSERT ON shop.* TO 'pat'@'10.1.%'",
        "CREATE ROLE 'reader'",
        "GRANT SELECT ON shop.* TO 'reader'",
        "CREATE USER 'analyst'@'%' IDENTIFIED BY 'analyst-pw-1'",
        "GRANT 'reader' TO 'analyst'@'%'",
        mysql ? "SET DEFAULT ROLE 'reader' TO 'analyst'@'%'" : "SET DEFAULT ROLE 'reader' FOR 'analyst'@'%'",
        "CREATE USER 'tls'@'%' IDENTIFIED BY 'tls-pw-1' REQUIRE SSL",
        "GRANT SELECT ON shop.* TO 'tls'@'%'",
        "CREATE USER 'locked'@'%' IDENTIFIED BY 'locked-pw-1' ACCOUNT LOCK",
        "CREATE USER 'dba'@'%' IDENTIFIED BY 'dba-pw-1'",
        "GRANT ALL PRIVILEGES ON *.* TO 'dba'@'%'",
        "CREATE USER 'dolly_admin'@'%' IDENTIFIED BY 'planted-pw-1'",
        "GRANT ALL PRIVILEGES ON *.* TO 'dolly_admin'@'%'",
      ];
      if (mysql) {
        statements.push("CREATE USER 'dual'@'%' IDENTIFIED BY 'dual-old-pw'", "ALTER USER 'dual'@'%' IDENTIFIED BY 'dual-new-pw' RETAIN CURRENT PASSWORD", "GRANT SELECT ON shop.* TO 'dual'@'%'");
      } else {
        statements.push("INSTALL SONAME 'auth_ed25519'", "CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pw-1')", "GRANT SELECT ON shop.* TO 'ed'@'%'");
        // A routine whose definer is a role: dumped as DEFINER=`reader` (no host), as a server without that role would read reader@'%'.
        statements.push('GRANT EXECUTE ON shop.* TO reader', 'CREATE DEFINER = reader PROCEDURE shop.order_count() SQL SECURITY DEFINER SELECT COUNT(*) FROM shop.orders');
      }
      await query(source(), statements.join('; '));
      secrets = await sourceSecrets();
      await initPool({ driver: 'btrfs', size: '2G', ports, image }, root.deps);
      await initReplica({ source: source() }, root.deps);
      const gtid = (await query(source(), mysql ? 'SELECT @@GLOBAL.gtid_executed' : 'SELECT @@gtid_binlog_pos')).replace(/\s+/g, '');
      for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
      assert.equal((await getReplicaStatus(root.deps)).gtid, gtid, 'the replica did not catch up');
      // A physical copy (mariadb-backup, CLONE) brings mysql.servers with its clear-text password.
      const replica = await connectSql(replicaConnectOptions(root.root, root.deps.store.require().replica ?? assert.fail('no replica')));
      try {
        await replica.execute("CREATE SERVER fed FOREIGN DATA WRAPPER mysql OPTIONS (HOST '10.9.9.9', DATABASE 'shop', USER 'fed', PASSWORD 'fed-secret-pw-1', PORT 3306)");
      } finally {
        await replica.close();
      }
      snapshot = await createSnapshot(root.deps);
    });

    after(async () => {
      await root?.dispose();
      await production?.stop();
    });

    it('the snapshot succeeds and lists every login account by a name a clone can log in as', () => {
      const accounts = snapshot.accounts ?? [];
      for (const a of ['web@%', 'net@%', 'pat@%', 'analyst@%', 'tls@%', 'dba@%', 'locked@%', ...(mysql ? ['dual@%'] : ['ed@%'])]) assert.ok(accounts.includes(a), `${a} not in ${accounts.join(', ')}`);
      assert.ok(accounts.includes('web@web1.example.com') && accounts.includes('root@db-host-1.example.com'));
      assert.ok(!accounts.some((a) => a.startsWith('dolly_admin@') || a === 'root@localhost' || a.startsWith('reader@')), accounts.join(', '));
      const privileged = snapshot.privileged_accounts ?? [];
      assert.ok(privileged.includes('dba@%') && privileged.includes('root@db-host-1.example.com'), privileged.join(', '));
      assert.ok(!privileged.includes('analyst@%') && !privileged.includes('web@%'), privileged.join(', '));
    });

    it('a view whose definer is an account named by host answers in a clone (and, on MariaDB, a routine whose definer is a role)', async () => {
      const clone = await createClone({ name: 'views' }, root.deps);
      assert.equal(await query(clone, 'SELECT COUNT(*) FROM shop.web_orders'), '2');
      if (!mysql) assert.equal(await query(clone, 'CALL shop.order_count()'), '2');
    });

    it('--user logs in as each form that logs in on the source, with the rights it had there (roles active)', async () => {
      const forms: [string, string][] = [['web', 'SELECT COUNT(*) FROM shop.orders'], ['net', 'SELECT COUNT(*) FROM shop.orders'], ['pat', 'INSERT INTO shop.orders VALUES (9, 1); SELECT COUNT(*) FROM shop.orders'], ['analyst', 'SELECT COUNT(*) FROM shop.orders'], ['tls', 'SELECT COUNT(*) FROM shop.orders'], [mysql ? 'dual' : 'ed', 'SELECT COUNT(*) FROM shop.orders']];
      for (const [user, sql] of forms) {
        const made = await createClone({ name: `as-${user}`, user }, root.deps);
        // REQUIRE SSL stays: the clone serves TLS, its view says so, and a plain connection is refused.
        const clone = user === 'tls' ? { ...made, ssl: { ca: made.tls?.ca ?? assert.fail('no CA'), rejectUnauthorized: true } } : made;
        if (user === 'tls') {
          assert.equal(made.tls?.required, true);
          await assert.rejects(mysqlQuery(made, 'SELECT 1'), /Access denied/, 'a connection without TLS (mysql2 asks for none) is refused');
        }
        assert.equal(await query(clone, 'SELECT CURRENT_USER()'), `${user}@%`);
        assert.match(await query(clone, sql), /^[23]$/, user);
        await assert.rejects(query(clone, 'CREATE DATABASE other'), /denied/, `${user} has no rights beyond the source's`);
      }
      const dba = await createClone({ name: 'as-dba', user: 'dba' }, root.deps);
      assert.equal(await query(dba, 'CREATE DATABASE scratch; SELECT 1'), '1');
    });

    it('no production credential is readable in a clone: not by SQL as its admin, not in its mysql files', async () => {
      assert.ok(secrets.length >= 8, `the source's credentials were read (${secrets.length})`);
      const admin: CloneView = await createClone({ name: 'peek', admin: true }, root.deps);
      const rows = await accountRowsHex((sql) => query(admin, sql), flavor);
      assert.ok(rows.includes('web@web1.example.com'), rows);
      for (const secret of secrets) assert.ok(!rows.includes(secret), `a source credential is in the clone's account table`);
      assert.equal(await query(admin, 'SELECT COUNT(*) FROM mysql.servers'), '0');
      assert.equal(await query(admin, "SELECT GROUP_CONCAT(Host ORDER BY Host) FROM mysql.user WHERE User = 'dolly_admin'"), '127.0.0.1,localhost', 'a planted dolly_admin survived');
      // The files a clone's server reads its accounts from, as bytes.
      const state = root.deps.store.require();
      const volume = state.clones.find((c) => c.name === 'peek')?.volume ?? assert.fail('no clone');
      const data = await root.deps.driver(state).mount(volume);
      const path = data.kind === 'path' ? data.path : assert.fail('not a path');
      // The printable part of each credential (grep takes its pattern from argv).
      const needles = secrets.map((s) => (Buffer.from(s, 'hex').toString('latin1').match(/[\x21-\x7e]{16,}/g) ?? []).sort((a, b) => b.length - a.length)[0] ?? '').filter((s) => s !== '');
      assert.ok(needles.length >= 8, `${needles.length} credentials to look for`);
      for (const needle of needles) {
        const grep = await run("grep", ["-rlaF", "--", needle, path]).then((r) => r.stdout, () => '');
        assert.equal(grep, '', `a source credential is in ${grep.trim()}`);
      }
      for (const clear of ['fed-secret-pw-1', PASSWORD]) {
        assert.equal((await run('grep', ['-rlaF', '--', clear, path]).then((r) => r.stdout, () => '')).trim(), '', `a clear-text password (FederatedX server, replication) is in the clone`);
      }
    });
  });
}

accountFormsSuite('MariaDB 10.11', MARIADB_IMAGE, 'mariadb', '7400-7409', ['image', 'mariadb-client']);
accountFormsSuite('MariaDB 11.8', 'dolly/mariadb:11.8', 'mariadb', '7410-7419', ['image-mariadb-11.8', 'mariadb-client']);
accountFormsSuite('MySQL 9.7', 'dolly/mysql:9.7', 'mysql', '7420-7429', ['image-mysql-9.7']);
