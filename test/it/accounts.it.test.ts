import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { DollyError } from '../../src/errors.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { createTestRoot, mariadbQuery, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-secret!';
const APP_PASSWORD = 'app-prod-pw-1';

type Conn = { host: string; port: number; user: string; password: string };

/**
 * Production accounts and definers (issue 8), on every engine: objects created by the
 * application's own account work in a clone, account changes made after the copy reach the
 * replica, production password hashes never reach a clone, and `clone create --user app` logs in
 * as the application does.
 */
function accountsSuite(label: string, image: string, flavor: 'mariadb' | 'mysql', ports: string, needs: Capability[]): void {
  describe(`accounts and definers: ${label}`, { skip: skipUnless('root', 'docker', 'btrfs', ...needs) }, () => {
    const query = (conn: Conn, sql: string): Promise<string> => (flavor === 'mysql' ? mysqlQuery(conn, sql) : mariadbQuery(conn, sql));
    let root: TestRoot;
    let production: ProductionServer;
    let snapshot: Snapshot;
    const rootConn = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
    const appConn = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'app', password: APP_PASSWORD });

    before(async () => {
      root = await createTestRoot('dolly-it-accounts-');
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: PASSWORD, name: `it-accounts-${flavor}`, flavor });
      await query(rootConn(), [
        'SET GLOBAL log_bin_trust_function_creators = 1',
        'CREATE DATABASE shop',
        'CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2))',
        'CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT)',
        "INSERT INTO shop.orders VALUES (1, 10.00), (2, 32.50)",
        `CREATE USER 'app'@'%' IDENTIFIED BY '${APP_PASSWORD}'`,
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, TRIGGER, EVENT ON shop.* TO 'app'@'%'",
      ].join('; '));
      // The application's own objects: DEFINER = app@%.
      await query(appConn(), [
        'CREATE VIEW shop.big_orders AS SELECT id, total FROM shop.orders WHERE total > 20',
        'CREATE FUNCTION shop.with_tax(x DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN x * 1.2',
        'CREATE PROCEDURE shop.order_count(OUT n INT) SQL SECURITY DEFINER SELECT COUNT(*) INTO n FROM shop.orders',
        'CREATE TRIGGER shop.audit_insert AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (order_id) VALUES (NEW.id)',
        // Disabled from the start: MySQL's event scheduler runs by default, and this one would empty the table.
        'CREATE EVENT shop.nightly ON SCHEDULE EVERY 1 SECOND DISABLE DO DELETE FROM shop.orders',
      ].join('; '));
      await query(rootConn(), 'ALTER EVENT shop.nightly DISABLE');
      await initPool({ driver: 'btrfs', size: '2G', ports, image }, root.deps);
      await initReplica({ source: rootConn() }, root.deps);
      // Account changes after the copy reach the replica by replication.
      await query(rootConn(), "CREATE USER 'late'@'%' IDENTIFIED BY 'late-pw'; GRANT SELECT ON shop.* TO 'late'@'%'; CREATE USER 'gone'@'%' IDENTIFIED BY 'x'; DROP USER 'gone'@'%'");
      const gtid = (await query(rootConn(), flavor === 'mysql' ? 'SELECT @@GLOBAL.gtid_executed' : 'SELECT @@gtid_binlog_pos')).replace(/\s+/g, '');
      for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
      const status = await getReplicaStatus(root.deps);
      assert.equal(status.gtid, gtid, `replication stopped: ${status.last_error ?? 'behind'}`);
      snapshot = await createSnapshot(root.deps);
    });

    after(async () => {
      await root?.dispose();
      await production?.stop();
    });

    it("the snapshot lists the source's accounts, the late one included, and none of dolly's", () => {
      assert.ok(snapshot.accounts?.includes('app@%'), String(snapshot.accounts));
      assert.ok(snapshot.accounts?.includes('late@%'), 'an account made after the copy did not reach the replica');
      assert.ok(!snapshot.accounts?.some((a) => a.startsWith('gone@') || a.startsWith('dolly_admin@')));
    });

    it("every view, function, procedure and trigger of app works in a clone; events are there but never fire", async () => {
      const clone = await createClone({ name: 'definers' }, root.deps);
      assert.equal(await query(clone, 'SELECT COUNT(*) FROM shop.big_orders'), '1');
      assert.equal(await query(clone, 'SELECT shop.with_tax(10)'), '12.00');
      assert.equal(await query(clone, 'CALL shop.order_count(@n); SELECT @n'), '2');
      await query(clone, 'INSERT INTO shop.orders VALUES (3, 99.00)');
      assert.equal(await query(clone, 'SELECT order_id FROM shop.audit'), '3');
      assert.equal(await query(clone, "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_NAME = 'big_orders'"), 'app@%');
      assert.equal(await query(clone, "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_NAME = 'nightly'"), '1');
      assert.equal(await query(clone, 'SELECT @@event_scheduler'), 'OFF');
    });

    it('--user app logs in as the application with a new password; the production password and hash stay out', async () => {
      const clone = await createClone({ name: 'as-app', user: 'app' }, root.deps);
      assert.equal(clone.user, 'app');
      assert.notEqual(clone.password, APP_PASSWORD);
      assert.equal(await query(clone, 'SELECT CURRENT_USER()'), 'app@%');
      assert.equal(await query(clone, 'SELECT COUNT(*) FROM shop.big_orders'), '1');
      await assert.rejects(query({ ...clone, password: APP_PASSWORD }, 'SELECT 1'), /Access denied/);
      // The app account has no rights outside shop, as on the source.
      await assert.rejects(query(clone, 'CREATE DATABASE other'), /denied/);
      const hash = await query(rootConn(), "SELECT HEX(authentication_string) FROM mysql.user WHERE User = 'app'");
      assert.match(hash, /^[0-9A-F]{20,}$/);
      const plain = await createClone({ name: 'peek', admin: true }, root.deps);
      const inClone = await query(plain, `SELECT COUNT(*) FROM mysql.user WHERE HEX(authentication_string) = '${hash}'`);
      assert.equal(inClone, '0', "production's password hash is in a clone");
      const late = await createClone({ name: 'as-late', user: 'late' }, root.deps);
      assert.equal(await query(late, 'SELECT COUNT(*) FROM shop.orders'), '2');
    });

    it('--user of an account the snapshot does not have is refused before anything is made', async () => {
      await assert.rejects(createClone({ name: 'nobody', user: 'nobody' }, root.deps), (e: unknown) => e instanceof DollyError && e.category === 'not_found' && /no account "nobody@%"/.test(e.message) && /app@%/.test(e.hint ?? ''));
      await assert.rejects(createClone({ name: 'both', user: 'app', admin: true }, root.deps), (e: unknown) => e instanceof DollyError && e.category === 'invalid_argument');
      const state = root.deps.store.require();
      assert.ok(!state.clones.some((c) => c.name === 'nobody' || c.name === 'both'));
      assert.deepEqual(state.jobs, []);
    });
  });
}

accountsSuite('MariaDB 10.11', MARIADB_IMAGE, 'mariadb', '6860-6869', ['image', 'mariadb-client']);
accountsSuite('MariaDB 11.8', 'dolly/mariadb:11.8', 'mariadb', '6900-6909', ['image-mariadb-11.8', 'mariadb-client']);
accountsSuite('MySQL 9.7', 'dolly/mysql:9.7', 'mysql', '6910-6919', ['image-mysql-9.7']);
