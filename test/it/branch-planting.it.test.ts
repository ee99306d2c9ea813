import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { snapshotClone } from '../../src/engine/clone-snapshot.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { silentLogger } from '../../src/log.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { createTestRoot, mariadbQuery, mysqlLines, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-root-secret!';
const PLANTED = 'planted';
type Conn = { host: string; port: number; user: string; password: string };

/**
 * Issue 17, item 5 ("Where it stands" 2(c)): when a branch is prepared, nothing its clone's user
 * planted survives. An `--admin` clone plants a `dolly_admin@'%'` and an `evil@'%'` with every
 * privilege, a procedure, a view, a trigger and an event whose definer is `evil@'%'`, gives the
 * production account `app` a password it knows and every privilege (directly and by a role of its
 * own), inserts a row and makes a view of its own; then it is saved as a branch. In clones of the branch (plain, `--admin`, `--user app`) no planted
 * account or object exists, no planted password logs in, app has the source's grants, and the
 * data (the row, the clone user's own view, app's view) is there.
 */
function plantingSuite(label: string, image: string, flavor: 'mariadb' | 'mysql', ports: string, needs: Capability[]): void {
  describe(`nothing planted survives a branch: ${label}`, { skip: skipUnless('root', 'docker', 'btrfs', ...needs) }, () => {
    const mysql = flavor === 'mysql';
    const query = (conn: Conn, sql: string): Promise<string> => (mysql ? mysqlQuery(conn, sql) : mariadbQuery(conn, sql));
    const grantsOf = async (conn: Conn, account: string): Promise<string[]> =>
      (mysql ? await mysqlLines(conn, `SHOW GRANTS FOR ${account}`) : await mariadbQuery(conn, `SHOW GRANTS FOR ${account}`))
        .split('\n')
        .map((line) => line.replace(/ IDENTIFIED BY PASSWORD '[^']*'/, '').trim())
        .filter((line) => line !== '')
        .sort();
    let root: TestRoot;
    let production: ProductionServer;
    let parent: Snapshot;
    let branch: Snapshot;
    let planter: CloneView;
    const warnings: string[] = [];
    const source = (): Conn => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });

    before(async () => {
      root = await createTestRoot('dolly-it-branch-planting-');
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: PASSWORD, name: `it-planting-${flavor}`, flavor });
      await query(source(), [
        'CREATE DATABASE shop',
        'CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20))',
        "INSERT INTO shop.items VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE USER 'app'@'%' IDENTIFIED BY 'app-prod-pw-1'",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%'",
        // The application's own object: its definer is an account of the parent, so it stays.
        "CREATE DEFINER = 'app'@'%' SQL SECURITY DEFINER VIEW shop.app_items AS SELECT id FROM shop.items",
      ].join('; '));
      await initPool({ driver: 'btrfs', size: '2G', ports, image }, root.deps);
      await initReplica({ source: source() }, root.deps);
      const gtid = (await query(source(), mysql ? 'SELECT @@GLOBAL.gtid_executed' : 'SELECT @@gtid_binlog_pos')).replace(/\s+/g, '');
      for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
      assert.equal((await getReplicaStatus(root.deps)).gtid, gtid, 'the replica did not catch up');
      parent = await createSnapshot(root.deps);

      planter = await createClone({ name: 'planter', admin: true }, root.deps);
      await query(planter, [
        "INSERT INTO shop.items VALUES (10, 'branch-row')",
        `CREATE USER 'dolly_admin'@'%' IDENTIFIED BY '${PLANTED}'`,
        "GRANT ALL PRIVILEGES ON *.* TO 'dolly_admin'@'%' WITH GRANT OPTION",
        `CREATE USER 'evil'@'%' IDENTIFIED BY '${PLANTED}'`,
        "GRANT ALL PRIVILEGES ON *.* TO 'evil'@'%' WITH GRANT OPTION",
        "CREATE DEFINER = 'evil'@'%' PROCEDURE shop.backdoor() SQL SECURITY DEFINER SELECT COUNT(*) FROM mysql.user",
        "CREATE DEFINER = 'evil'@'%' SQL SECURITY DEFINER VIEW shop.evil_view AS SELECT User FROM mysql.user",
        "CREATE DEFINER = 'evil'@'%' TRIGGER shop.evil_trigger BEFORE INSERT ON shop.items FOR EACH ROW SET NEW.name = NEW.name",
        "CREATE DEFINER = 'evil'@'%' EVENT shop.evil_event ON SCHEDULE EVERY 1 HOUR DISABLE DO DELETE FROM shop.items",
        `ALTER USER 'app'@'%' IDENTIFIED BY '${PLANTED}'`,
        // Grants changed on an account the parent has, and a role of its own granted to it.
        "GRANT ALL PRIVILEGES ON *.* TO 'app'@'%' WITH GRANT OPTION",
        "GRANT SELECT ON mysql.* TO 'app'@'%'",
        'CREATE ROLE boss',
        'GRANT ALL PRIVILEGES ON *.* TO boss',
        "GRANT boss TO 'app'@'%'",
        // The clone user's own view (DEFINER = dolly@'%'): data, it stays.
        'CREATE VIEW shop.mine AS SELECT id, name FROM shop.items',
      ].join('; '));
      root.deps.logger = { ...silentLogger, warn: (msg: string) => warnings.push(msg) };
      try {
        branch = await snapshotClone('planter', root.deps);
      } finally {
        root.deps.logger = silentLogger;
      }
    });

    after(async () => {
      await root?.dispose();
      await production?.stop();
    });

    it('the branch is ready, lists only the parent\'s accounts, and each drop is a warning', () => {
      assert.equal(branch.status, 'ready');
      assert.equal(branch.parent, parent.id);
      const accounts = branch.accounts ?? [];
      assert.ok(accounts.includes('app@%'), accounts.join(', '));
      assert.deepEqual(accounts, parent.accounts, 'the branch lists other accounts than its parent');
      for (const planted of ['evil@%', 'dolly_admin@%', 'dolly@%']) {
        assert.ok(warnings.some((w) => w.includes(`${planted} dropped`)), `no warning for ${planted}: ${warnings.join(' | ')}`);
      }
      for (const object of ['procedure shop.backdoor', 'view shop.evil_view', 'trigger shop.evil_trigger', 'event shop.evil_event']) {
        assert.ok(warnings.some((w) => w.startsWith(`prepare: ${object} (definer evil@%) dropped`)), `no warning for ${object}: ${warnings.join(' | ')}`);
      }
    });

    it('an --admin clone of the branch: no planted account or object, the data and legitimate views are there', async () => {
      const admin = await createClone({ name: 'b-admin', snapshot: branch.id, admin: true }, root.deps);
      assert.equal(await query(admin, "SELECT COUNT(*) FROM mysql.user WHERE User IN ('evil', 'boss')"), '0');
      assert.equal(await query(admin, "SELECT GROUP_CONCAT(Host ORDER BY Host) FROM mysql.user WHERE User = 'dolly_admin'"), '127.0.0.1,localhost', 'a planted dolly_admin survived');
      assert.equal(await query(admin, "SELECT GROUP_CONCAT(CONCAT(User, '@', Host)) FROM mysql.user WHERE User = 'dolly'"), 'dolly@%', "the clone's own user is made at its start");
      assert.equal(await query(admin, "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop'"), '0');
      assert.equal(await query(admin, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'"), '0');
      assert.equal(await query(admin, "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop'"), '0');
      assert.equal(await query(admin, "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop'"), 'app_items,mine');
      assert.equal(await query(admin, 'SELECT GROUP_CONCAT(id ORDER BY id) FROM shop.items'), '1,2,3,10', 'the branch lost the data changed in its clone');
      assert.equal(await query(admin, 'SELECT COUNT(*) FROM shop.mine'), '4');
      assert.equal(await query(admin, 'SELECT COUNT(*) FROM shop.app_items'), '4');
      for (const user of ['evil', 'dolly_admin', 'app']) {
        await assert.rejects(query({ ...admin, user, password: PLANTED }, 'SELECT 1'), /Access denied/, `${user} logs in with the planted password`);
      }
    });

    it('a plain clone of the branch: no planted password logs in; its own user works', async () => {
      const plain = await createClone({ name: 'b-plain', snapshot: branch.id }, root.deps);
      assert.equal(await query(plain, 'SELECT COUNT(*) FROM shop.items'), '4');
      for (const user of ['evil', 'dolly_admin', 'app']) {
        await assert.rejects(query({ ...plain, user, password: PLANTED }, 'SELECT 1'), /Access denied/, `${user} logs in with the planted password`);
      }
    });

    it('--user app on the branch: its clone password only, the grants it has on the source', async () => {
      const app = await createClone({ name: 'b-app', snapshot: branch.id, user: 'app' }, root.deps);
      assert.equal(await query(app, 'SELECT CURRENT_USER()'), 'app@%');
      await assert.rejects(query({ ...app, password: PLANTED }, 'SELECT 1'), /Access denied/);
      assert.deepEqual(await grantsOf(app, 'CURRENT_USER()'), await grantsOf(source(), "'app'@'%'"));
      assert.equal(await query(app, 'SELECT COUNT(*) FROM shop.app_items'), '4');
    });

    it('the clone the branch was made from runs on as it was', async () => {
      assert.equal(await query(planter, "SELECT COUNT(*) FROM mysql.user WHERE User = 'evil'"), '1');
      assert.equal(await query(planter, 'SELECT COUNT(*) FROM shop.items'), '4');
    });
  });
}

plantingSuite('MariaDB 10.11', MARIADB_IMAGE, 'mariadb', '7500-7509', ['image', 'mariadb-client']);
plantingSuite('MySQL 9.7', 'dolly/mysql:9.7', 'mysql', '7510-7519', ['image-mysql-9.7']);
