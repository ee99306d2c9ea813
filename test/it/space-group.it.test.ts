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
const ROOM = 240 * MiB;

/**
 * Many clones cannot together eat the replica's reserve (issue 7): two clones each write less
 * than their own share (200 MiB) but together more than the room above the reserve; the one that
 * crosses the clones' common cap gets a quota error, the pool keeps its reserve, the replica keeps
 * replicating with the source writing, a third clone that only reads still answers, and a destroy
 * gives the room back. (Once the cap is reached every writing clone is refused, and InnoDB may stop
 * a clone whose own flushes are refused: the cap is shared.)
 */
describe('space: clones together stay out of the reserve', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let load: LoadEmulator;
  const clones: CloneView[] = [];
  let reserve = 0;
  const source = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
  const free = async (): Promise<number> => (await root.deps.driver(root.deps.store.require()).space()).freeBytes;

  before(async () => {
    root = await createTestRoot('dolly-it-space-group-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-space-group-source' });
    load = await startLoadEmulator(source(), { database: 'docker', intervalMs: 100 });
    await initPool({ driver: 'btrfs', size: '1G', ports: '6710-6719', cloneQuota: '200M', reserve: '128M' }, root.deps);
    await initReplica({ source: source() }, root.deps);
    await createSnapshot(root.deps);
    // The reserve leaves the clones ROOM together: less than three times what each writes.
    reserve = (await free()) - ROOM;
    assert.ok(reserve > 64 * MiB, `the pool has only ${reserve + ROOM} bytes free`);
    root.deps.store.update((s) => {
      s.settings.reserve_bytes = reserve;
    });
    for (const name of ['a', 'b', 'c']) clones.push(await createClone({ name }, root.deps));
  });

  after(async () => {
    await load?.stop();
    await root?.dispose();
    await production?.stop();
  });

  it('the clone that crosses the common cap fails; the pool keeps its reserve', async (t) => {
    const failed = new Map<string, string>();
    const writers = clones.slice(0, 2);
    for (const clone of writers) await mariadbQuery(clone, 'CREATE TABLE docker.fill (b LONGBLOB) ENGINE=InnoDB');
    // Round-robin, 8 MiB a round, up to 160 MiB each (under each one's share): 320 MiB > ROOM.
    for (let round = 0; round < 20 && failed.size === 0; round += 1) {
      for (const clone of writers) {
        try {
          await mariadbQuery(clone, 'INSERT INTO docker.fill SELECT RANDOM_BYTES(1024) FROM docker.seq_1_to_8192');
        } catch (error) {
          failed.set(clone.name, String((error as { stderr?: string }).stderr ?? error));
        }
      }
    }
    const group = await root.deps.driver(root.deps.store.require()).reserveFree(reserve);
    t.diagnostic(`failed: ${JSON.stringify([...failed])}; clones' group: ${JSON.stringify(group)}; free ${await free()}, reserve ${reserve}`);
    assert.ok(failed.size > 0, 'no clone hit the common cap');
    assert.ok(group !== null && group.heldBytes >= group.limitBytes - 16 * MiB, 'the clones stopped before their common cap');
    // A server that went away mid-query reads as 'Lost connection', or over TLS (clones serve it) as 'unexpected eof'.
    for (const [name, message] of failed) assert.match(message, /is full|quota|errno: 122|Disk full|Lost connection|gone away|unexpected eof|Can't connect/i, `${name}: ${message}`);
    const left = await free();
    assert.ok(left >= reserve - 16 * MiB, `the pool kept ${left} bytes free, the reserve is ${reserve}`);
  });

  it('replica status answers within 5 s and the replica keeps replicating', async () => {
    const started = Date.now();
    const status = await dolly(['--root', root.root, '--json', 'replica', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.ok(Date.now() - started < 5_000, `replica status took ${Date.now() - started} ms`);
    const seq = (gtid: string): number => Number(gtid.split('-').at(-1) ?? 0);
    const target = seq(await mariadbQuery(source(), 'SELECT @@gtid_binlog_pos'));
    const deadline = Date.now() + 30_000;
    while (seq((await getReplicaStatus(root.deps)).gtid) < target) {
      assert.ok(Date.now() < deadline, 'the replica did not catch up with the source');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('a clone that only reads still answers', async () => {
    const reader = clones[2];
    assert.ok(reader);
    assert.equal(await mariadbQuery(reader, 'SELECT COUNT(*) > 0 FROM docker.seq_1_to_10'), '1');
  });

  it('destroying a clone gives its room back to the others', async () => {
    const before = await free();
    for (const name of ['a', 'b']) {
      const destroyed = await dolly(['--root', root.root, 'clone', 'destroy', name]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
    }
    const deadline = Date.now() + 60_000;
    while ((await free()) < before + 32 * MiB && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    assert.ok((await free()) >= before + 32 * MiB, 'the space did not come back');
    // The next command moves the cap: the survivors may write again.
    const state = root.deps.store.require();
    const group = await root.deps.driver(state).reserveFree(reserve);
    assert.ok(group !== null && group.limitBytes - group.heldBytes >= 32 * MiB, JSON.stringify(group));
    const survivor = clones[2];
    assert.ok(survivor);
    await mariadbQuery(survivor, 'CREATE TABLE docker.fill (b LONGBLOB) ENGINE=InnoDB; INSERT INTO docker.fill SELECT RANDOM_BYTES(1024) FROM docker.seq_1_to_4096');
  });
});
