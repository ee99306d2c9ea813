import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { skipUnless } from '../support/capabilities.js';
import { assertNoReplicaLeft, createTestRoot, dolly, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-secret!';
const MYSQL = 'dolly/mysql:9.7';
const DIGEST = "SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, name, doc) ORDER BY id SEPARATOR '\\n'), 256) FROM shop.items";

/**
 * Issue 18 item 4, as a new user runs it: `dolly init` without --image, then `replica init`
 * against a MySQL 9.7 source. The root records that it chose no image; the replica, the snapshot's
 * prepare server and the clones run dolly/mysql:9.7, taken from the source. A root made with
 * --image keeps it (and refuses a source it does not fit, as before). Ports 7860-7879.
 */
describe('the image follows the source (MySQL 9.7 source, root made without --image)', { skip: skipUnless('root', 'docker', 'image-mysql-9.7', 'btrfs') }, () => {
  const roots: TestRoot[] = [];
  let production: ProductionServer | undefined;
  after(async () => {
    for (const root of roots) await root.dispose().catch(() => undefined);
    await production?.stop();
  });

  const source = () => ({ host: '127.0.0.1', port: production?.port ?? 0, user: 'root', password: PASSWORD });
  const replicaInit = (root: TestRoot, json = false) =>
    dolly(['--root', root.root, ...(json ? ['--json', '--log-level', 'info'] : []), 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production?.port ?? 0}`], { DOLLY_SOURCE_PASSWORD: PASSWORD });

  it('replica init takes dolly/mysql:9.7, records it, and snapshots and clones run it', async () => {
    const root = await createTestRoot('dolly-it-follows-');
    roots.push(root);
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MYSQL, rootPassword: PASSWORD, name: 'it-follows-source', flavor: 'mysql', port: 7875 });
    await mysqlQuery(source(), "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40) CHARACTER SET utf8mb4, doc JSON); INSERT INTO shop.items VALUES (1, 'café 🍰', '{\"a\": 1}'), (2, 'tea', NULL)");

    const init = await dolly(['--root', root.root, 'init', '--size', '2G', '--ports', '7860-7869']);
    assert.equal(init.code, 0, init.stderr);
    const before = root.deps.store.require().settings;
    assert.equal(before.image_auto, true, 'a root made without --image records that');

    const result = await replicaInit(root, true);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { flavor: string; version: string; image: string };
    assert.equal(out.flavor, 'mysql');
    assert.match(out.version, /^9\.7\./);
    assert.equal(out.image, MYSQL);
    assert.match(result.stderr, /the source runs mysql 9\.7\.\S+: the replica and its clones run dolly\/mysql:9\.7/);
    const settings = root.deps.store.require().settings;
    assert.equal(settings.image, MYSQL, 'the chosen image is recorded for later commands');
    assert.equal(settings.image_auto, true);

    // The replica's own container runs it.
    const replica = (await root.deps.runtime.list()).find((s) => s.kind === 'replica');
    assert.ok(replica, 'no replica container');
    const inspected = await createDockerClient().getContainer(replica.id).inspect();
    assert.equal(inspected.Config.Image, MYSQL);

    // A write after the copy arrives by replication; a snapshot and a clone in later commands.
    await mysqlQuery(source(), "INSERT INTO shop.items VALUES (3, 'ζωή', '{\"c\": null}')");
    const gtid = await mysqlQuery(source(), 'SELECT @@GLOBAL.gtid_executed');
    let status = { gtid: '' };
    for (let i = 0; i < 100; i += 1) {
      const read = await dolly(['--root', root.root, '--json', 'replica', 'status']);
      status = JSON.parse(read.stdout) as { gtid: string };
      if (status.gtid === gtid) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status.gtid, gtid);
    const snapshot = await dolly(['--root', root.root, '--json', 'snapshot', 'create']);
    assert.equal(snapshot.code, 0, snapshot.stderr);
    assert.equal((JSON.parse(snapshot.stdout) as { flavor: string }).flavor, 'mysql');
    const created = await dolly(['--root', root.root, '--json', 'clone', 'create', '--name', 'follows']);
    assert.equal(created.code, 0, created.stderr);
    const clone = JSON.parse(created.stdout) as { host: string; port: number; user: string; password: string };
    assert.ok(clone.port >= 7860 && clone.port <= 7869, `clone port ${clone.port}`);
    assert.match(await mysqlQuery(clone, 'SELECT VERSION()'), /^9\.7\./);
    assert.equal(await mysqlQuery(clone, DIGEST), await mysqlQuery(source(), DIGEST));
    await mysqlQuery(clone, 'DELETE FROM shop.items WHERE id = 1');
    assert.equal(await mysqlQuery(clone, 'SELECT COUNT(*) FROM shop.items'), '2', 'the clone is writable');
    assert.equal(await mysqlQuery(source(), 'SELECT COUNT(*) FROM shop.items'), '3', "the clone's write stays in the clone");
  });

  it('a root made with --image keeps it: a MariaDB image is refused for the MySQL source, nothing half-made', async (t) => {
    if (!production) return t.skip('no source');
    const root = await createTestRoot('dolly-it-follows-fixed-');
    roots.push(root);
    const init = await dolly(['--root', root.root, 'init', '--size', '1G', '--ports', '7870-7874', '--image', 'dolly/mariadb:10.11']);
    assert.equal(init.code, 0, init.stderr);
    assert.equal(root.deps.store.require().settings.image_auto, undefined);
    const result = await replicaInit(root);
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /^dolly: the source is mysql 9\.7\.\d+ but the image dolly\/mariadb:10\.11 runs mariadb 10\.11 \(hint: make a new root with --image dolly\/mysql:9\.7 .*\)\n$/);
    assert.equal(root.deps.store.require().settings.image, 'dolly/mariadb:10.11');
    await assertNoReplicaLeft(root);
  });
});
