import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startLoadEmulator, startProductionServer, type LoadEmulator, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-secret!';
const MiB = 1024 * 1024;

/**
 * The replica can never be starved by clones (issue 7, story 2): on a small pool, with the source
 * writing, a clone writes until its share is full; it fails alone, the replica keeps
 * replicating and `replica status` answers at once; below the pool's reserve no clone is made.
 */
describe('space: a clone fills its share, the replica keeps replicating', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let load: LoadEmulator;
  let hog: CloneView;
  let other: CloneView;
  const source = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });

  before(async () => {
    root = await createTestRoot('dolly-it-space-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-space-source' });
    load = await startLoadEmulator(source(), { database: 'docker', intervalMs: 100 });
    await initPool({ driver: 'btrfs', size: '1G', ports: '6700-6709', cloneQuota: '160M', reserve: '128M' }, root.deps);
    await initReplica({ source: source() }, root.deps);
    await createSnapshot(root.deps);
    hog = await createClone({ name: 'hog' }, root.deps);
    other = await createClone({ name: 'other' }, root.deps);
  });

  after(async () => {
    await load?.stop();
    await root?.dispose();
    await production?.stop();
  });

  it('a clone that writes past its share fails alone', async () => {
    await mariadbQuery(hog, 'CREATE TABLE docker.fill (b LONGBLOB) ENGINE=InnoDB');
    let failure = '';
    for (let i = 0; i < 400 && failure === ''; i += 1) {
      try {
        await mariadbQuery(hog, `INSERT INTO docker.fill SELECT RANDOM_BYTES(1024) FROM docker.seq_1_to_4096`);
      } catch (error) {
        failure = String((error as { stderr?: string }).stderr ?? error);
      }
    }
    assert.notEqual(failure, '', 'the clone never hit its share');
    // InnoDB reports the quota as a full table or a failed write; it may also abort its server.
    assert.match(failure, /is full|quota|errno: 122|Disk full|Lost connection|gone away|unexpected eof|Can't connect/i, failure);
    const state = root.deps.store.require();
    const exclusive = await root.deps.driver(state).exclusiveBytes(state.clones.find((c) => c.name === 'hog')?.volume ?? '');
    assert.ok(exclusive <= 170 * MiB, `the clone holds ${exclusive} bytes, more than its share`);
    const { freeBytes } = await root.deps.driver(state).space();
    assert.ok(freeBytes >= 128 * MiB, `the pool kept only ${freeBytes} bytes free`);
  });

  it('replica status answers within 5 s and the replica keeps replicating', async () => {
    const started = Date.now();
    const status = await dolly(['--root', root.root, '--json', 'replica', 'status']);
    const took = Date.now() - started;
    assert.equal(status.code, 0, status.stderr);
    assert.ok(took < 5_000, `replica status took ${took} ms`);
    const parsed = JSON.parse(status.stdout) as { io_running: boolean; sql_running: boolean };
    assert.equal(parsed.io_running, true);
    assert.equal(parsed.sql_running, true);
    // The source keeps writing: the replica must get past where the source was now.
    const seq = (gtid: string): number => Number(gtid.split('-').at(-1) ?? 0);
    const target = seq(await mariadbQuery(source(), 'SELECT @@gtid_binlog_pos'));
    const deadline = Date.now() + 30_000;
    while (seq((await getReplicaStatus(root.deps)).gtid) < target) {
      assert.ok(Date.now() < deadline, 'the replica did not catch up with the source');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('another clone still serves and writes', async () => {
    await mariadbQuery(other, "CREATE TABLE docker.mine (v VARCHAR(10)) ENGINE=InnoDB; INSERT INTO docker.mine VALUES ('ok')");
    assert.equal(await mariadbQuery(other, 'SELECT v FROM docker.mine'), 'ok');
  });

  it('below the reserve no clone is made: one line with the free space, exit 6, nothing half-made', async () => {
    const before = { volumes: await root.deps.driver(root.deps.store.require()).list(), servers: (await root.deps.runtime.list()).map((s) => s.name) };
    const original = root.deps.store.require().settings.reserve_bytes;
    root.deps.store.update((s) => {
      s.settings.reserve_bytes = 64 * 1024 * MiB;
    });
    try {
      const refused = await dolly(['--root', root.root, 'clone', 'create', '--name', 'toomuch']);
      assert.equal(refused.code, 6);
      assert.match(refused.stderr, /^dolly: the pool has [\d.]+ MiB free, less than the 64\.0 GiB kept for the replica \(hint: .+\)\n$/);
    } finally {
      root.deps.store.update((s) => {
        s.settings.reserve_bytes = original;
      });
    }
    const state = root.deps.store.require();
    assert.deepEqual(await root.deps.driver(state).list(), before.volumes);
    assert.deepEqual((await root.deps.runtime.list()).map((s) => s.name), before.servers);
    assert.equal(state.clones.some((c) => c.name === 'toomuch'), false);
    assert.deepEqual(state.jobs, []);
  });

  it('the full clone is destroyed like any other, and its space comes back', async () => {
    const state = root.deps.store.require();
    const freeBefore = (await root.deps.driver(state).space()).freeBytes;
    const destroyed = await dolly(['--root', root.root, 'clone', 'destroy', 'hog']);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    // btrfs frees a deleted subvolume's extents in the background.
    const deadline = Date.now() + 60_000;
    let freeAfter = freeBefore;
    while (freeAfter < freeBefore + 100 * MiB && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      freeAfter = (await root.deps.driver(root.deps.store.require()).space()).freeBytes;
    }
    assert.ok(freeAfter >= freeBefore + 100 * MiB, `free space went from ${freeBefore} to ${freeAfter}`);
  });
});
