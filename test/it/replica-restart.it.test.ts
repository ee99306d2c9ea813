import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { initPool } from '../../src/engine/pool-init.js';
import { REPLICA_MARKER } from '../../src/mysql/server-args.js';
import { REPLICA, REPLICA_VOLUME, replicaConnectOptions, replicaSpec, startAndWait } from '../../src/engine/servers.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { containerName } from '../../src/runtime/docker-runtime.js';
import type { Replica } from '../../src/state/state.js';
import { skipUnless } from '../support/capabilities.js';
import { createTestRoot, type TestRoot } from '../support/engine-harness.js';

const replica: Replica = {
  status: 'ready',
  volume: REPLICA_VOLUME,
  port: 0,
  server_id: 77,
  admin_user: 'dolly_admin',
  admin_password: 'Adm1n-pw',
  source: { host: '127.0.0.1', port: 3306, user: 'repl', flavor: 'mariadb', version: '10.11' },
  databases: [],
  created_at: '2026-12-01T00:00:00.000Z',
};

async function answers(root: string): Promise<boolean> {
  try {
    const sql = await connectSql({ ...replicaConnectOptions(root, replica), connectTimeoutMs: 1000 });
    await sql.close();
    return true;
  } catch {
    return false;
  }
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The replica's server on its own: a first initialisation that died half-way is made again, a
 * crash of its server is restarted by Docker, and without dolly's marker (the pool not mounted) it
 * refuses to start rather than initialise an empty replica. Real Docker, MariaDB and btrfs.
 */
describe("the replica's server restarts by itself, and only on its own volume", { skip: skipUnless('root', 'docker', 'image', 'btrfs') }, () => {
  let root: TestRoot;
  let datadir = '';
  const docker = createDockerClient();
  const container = (): ReturnType<typeof docker.getContainer> => docker.getContainer(containerName(root.root, REPLICA));
  /** SIGKILL of the server's process from the host: a crash, not a `docker stop`. */
  const crash = async (): Promise<void> => {
    const pid = (await container().inspect()).State.Pid;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
  };

  before(async () => {
    root = await createTestRoot('dolly-it-replica-restart-');
    await initPool({ driver: 'btrfs', size: '1G', ports: '6620-6629' }, root.deps);
    const state = root.deps.store.require();
    const data = await root.deps.driver(state).createVolume(REPLICA_VOLUME);
    assert.equal(data.kind, 'path');
    datadir = data.kind === 'path' ? data.path : '';
  });

  after(async () => {
    await root?.dispose();
  });

  it('a first initialisation that died half-way is wiped and made again', async () => {
    // What a killed first start leaves: InnoDB's first file, empty, and no mysql/ directory.
    await writeFile(join(datadir, 'ibdata1'), '');
    const spec = await replicaSpec(root.deps, root.deps.store.require(), replica, { kind: 'path', path: datadir }, 'mariadb');
    await startAndWait(root.deps, spec, replicaConnectOptions(root.root, replica));
    assert.equal(await answers(root.root), true);
  });

  it('a crash of its server is restarted by Docker', async () => {
    await crash();
    await eventually('the replica to answer again', () => answers(root.root));
    assert.ok((await container().inspect()).RestartCount >= 1);
  });

  it("without dolly's marker it refuses to start, and starts by itself once the marker is back", async () => {
    await rm(join(datadir, REPLICA_MARKER));
    await crash();
    await eventually('the refusal', async () => (await container().inspect()).State.ExitCode === 75, 30_000);
    assert.equal(await answers(root.root), false);
    await writeFile(join(datadir, REPLICA_MARKER), 'dolly replica volume\n');
    await eventually('the replica to start again', () => answers(root.root), 120_000);
  });
});
