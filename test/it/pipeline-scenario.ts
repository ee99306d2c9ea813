import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { fillSampleData, startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { destroyClone, listClones, resetClone } from '../../src/engine/clone-manage.js';
import { teardown, up } from '../../src/engine/lifecycle.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { destroySnapshot, listSnapshots } from '../../src/engine/snapshot-manage.js';
import { containerName } from '../../src/runtime/docker-runtime.js';
import type { Snapshot } from '../../src/state/state.js';
import type { DriverName } from '../../src/storage/driver.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { createTestRoot, leftovers, mariadbQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-secret!';

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The whole pipeline on one driver, against real Docker, MariaDB and (btrfs) a loop-image pool:
 * replica init, replication catching up, snapshot, isolated clones read by the real `mariadb`
 * client, reset, destroy, `up` after the containers were killed, teardown and purge. `ports`: the
 * clones' range, one of its own per driver (the files run two at a time, and `up` gives a clone its
 * recorded port back).
 */
export function pipelineScenario(driver: DriverName, capabilities: Capability[], ports: string): void {
  describe(`pipeline on ${driver}`, { skip: skipUnless('docker', 'image', 'mariadb-client', ...capabilities) }, () => {
    let root: TestRoot;
    let production: ProductionServer;
    let snapshot: Snapshot;
    let a: CloneView;
    let b: CloneView;
    const source = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
    const onSource = async (sql: string): Promise<string> => mariadbQuery(source(), sql);

    before(async () => {
      root = await createTestRoot(`dolly-it-${driver}-`);
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-production' });
      const sql = await production.sql();
      try {
        await fillSampleData(sql, { database: 'shop', bytes: 4 * 1024 * 1024 });
        await sql.execute('CREATE DATABASE app');
        await sql.execute('CREATE TABLE app.notes (id INT PRIMARY KEY, body VARCHAR(100)) ENGINE=InnoDB');
        await sql.execute("INSERT INTO app.notes VALUES (1, 'from production')");
      } finally {
        await sql.close();
      }
    });

    after(async () => {
      await root?.dispose();
      await production?.stop();
    });

    it('init makes a pool and replica init copies the source and replicates', async () => {
      await initPool({ driver, size: '2G', ports }, root.deps);
      const result = await initReplica({ source: source() }, root.deps);
      assert.deepEqual([...result.databases].sort(), ['app', 'shop']);
      assert.match(result.gtid, /^0-1-\d+$/);
      const status = await getReplicaStatus(root.deps);
      assert.equal(status.io_running, true);
      assert.equal(status.sql_running, true);
    });

    it('replication catches up after new writes on the source', async () => {
      await onSource("INSERT INTO app.notes VALUES (2, 'written after the copy')");
      const target = await onSource('SELECT @@gtid_binlog_pos');
      await eventually('the replica to apply the new write', async () => (await getReplicaStatus(root.deps)).gtid === target);
    });

    it('snapshot create records the position and pauses the applier briefly', async () => {
      await onSource("INSERT INTO app.notes VALUES (3, 'just before the snapshot')");
      const target = await onSource('SELECT @@gtid_binlog_pos');
      await eventually('the replica to catch up', async () => (await getReplicaStatus(root.deps)).gtid === target);
      snapshot = await createSnapshot(root.deps);
      assert.equal(snapshot.gtid, target);
      assert.ok(snapshot.pause_ms >= 0 && snapshot.pause_ms < 60_000);
      assert.ok(!Number.isNaN(Date.parse(snapshot.data_state_at)));
      const listed = await listSnapshots(root.deps);
      assert.deepEqual(listed.snapshots.map((s) => s.id), [snapshot.id]);
      assert.ok(listed.pool.freeBytes > 0);
      // the replica goes on replicating after the snapshot
      await onSource("INSERT INTO app.notes VALUES (4, 'after the snapshot')");
      const later = await onSource('SELECT @@gtid_binlog_pos');
      await eventually('the replica to resume', async () => (await getReplicaStatus(root.deps)).gtid === later);
    });

    it('clones serve the snapshot to a real client and are isolated from each other, the replica and the source', async () => {
      a = await createClone({ name: 'alice' }, root.deps);
      b = await createClone({}, root.deps);
      assert.notEqual(a.port, b.port);
      assert.notEqual(a.password, b.password);
      assert.equal(await mariadbQuery(a, 'SELECT GROUP_CONCAT(id ORDER BY id) FROM app.notes'), '1,2,3');
      await mariadbQuery(a, "INSERT INTO app.notes VALUES (100, 'only in alice')");
      assert.equal(await mariadbQuery(a, 'SELECT COUNT(*) FROM app.notes WHERE id = 100'), '1');
      assert.equal(await mariadbQuery(b, 'SELECT COUNT(*) FROM app.notes WHERE id = 100'), '0');
      assert.equal(await onSource('SELECT COUNT(*) FROM app.notes WHERE id = 100'), '0');
      // clones do not replicate and their production-side accounts are locked
      assert.equal(await mariadbQuery(a, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'"), '0');
      assert.equal(await mariadbQuery(a, 'SELECT @@event_scheduler'), 'OFF');
      const clones = await listClones(root.deps);
      assert.deepEqual(clones.map((c) => c.state), ['running', 'running']);
      if (driver === 'btrfs') assert.ok((clones[0]?.exclusive_bytes ?? Infinity) < 20 * 1024 * 1024, 'a fresh clone costs little disk');
    });

    it('snapshot destroy is refused while clones need it', async () => {
      await assert.rejects(destroySnapshot(snapshot.id, root.deps), /in use by clone/);
    });

    it('reset takes a clone back to its snapshot with the same port and credentials', async () => {
      const reset = await resetClone('alice', {}, root.deps);
      assert.equal(reset.port, a.port);
      assert.equal(reset.password, a.password);
      assert.equal(await mariadbQuery(a, 'SELECT COUNT(*) FROM app.notes WHERE id = 100'), '0');
    });

    it('up starts every server again after their containers were killed', async () => {
      const docker = createDockerClient();
      for (const server of ['replica', 'clone-alice', `clone-${b.name}`]) {
        await docker.getContainer(containerName(root.root, server)).kill().catch(() => undefined);
      }
      // a volume left by a command that crashed half-way
      const driver = root.deps.driver(await root.deps.store.require());
      await driver.createVolume('snap-orphan');
      const result = await up(root.deps);
      assert.equal(result.started.length, 3);
      assert.ok(result.removed_leftovers.includes('volume snap-orphan'), result.removed_leftovers.join(', '));
      assert.equal(await driver.exists('snap-orphan'), false);
      assert.equal(await mariadbQuery(a, 'SELECT COUNT(*) FROM app.notes'), '3');
      await onSource("INSERT INTO app.notes VALUES (5, 'after up')");
      const target = await onSource('SELECT @@gtid_binlog_pos');
      await eventually('the replica to replicate after up', async () => (await getReplicaStatus(root.deps)).gtid === target);
    });

    it('teardown removes the containers; up brings everything back', async () => {
      const down = await teardown({}, root.deps);
      assert.ok(down.removed.includes('replica'));
      if (driver === 'btrfs') assert.deepEqual(await leftovers(root.root), []);
      await up(root.deps);
      assert.equal(await mariadbQuery(b, 'SELECT COUNT(*) FROM app.notes'), '3');
    });

    it('destroying clones and the snapshot, then purge, leaves nothing behind', async () => {
      await destroyClone('alice', root.deps);
      await destroyClone(b.name, root.deps);
      await destroySnapshot(snapshot.id, root.deps);
      await teardown({ purge: true }, root.deps);
      assert.deepEqual(await leftovers(root.root), []);
      const containers = await createDockerClient().listContainers({ all: true, filters: { label: [`dolly.root=${root.root}`, 'dolly.kind=replica'] } });
      assert.equal(containers.length, 0);
      assert.equal(await root.deps.store.read(), null);
    });
  });
}
