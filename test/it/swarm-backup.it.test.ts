import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { initPool } from '../../src/engine/pool-init.js';
import { silentLogger } from '../../src/log.js';
import { RECEIVER_SERVICE } from '../../src/swarm/deploy/backup-transfer.js';
import { swarmBootstrap, swarmReplicaStatus } from '../../src/swarm/deploy/bootstrap.js';
import { readReplicaAdmin } from '../../src/swarm/deploy/replica-prep.js';
import { stackObjects } from '../../src/swarm/deploy/swarm-facts.js';
import { swarmDeploy, swarmDestroy, waitForServices, type SwarmDeps } from '../../src/swarm/deploy/swarm-deploy.js';
import { swarmTarget } from '../../src/swarm/deploy/swarm-target.js';
import { sourceSql } from '../../src/swarm/deploy/tasks.js';
import { sandboxDown, sandboxUp } from '../../dev/sandbox/sandbox.js';
import { buildTopology } from '../../src/swarm/topology.js';
import { sandboxTopologyConfig } from '../../src/swarm/topology-config.js';
import { createShell } from '../../src/shell.js';
import { skipUnless } from '../support/capabilities.js';
import { createTestRoot, leftovers, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);
const PASSWORD = `bk'"$\`up\\pw`;

async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) assert.fail(`${what}: not after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('swarm bootstrap --method backup on a 3-node sandbox: mariadb-backup in the source task, streamed over vb-net to the pool node', { skip: skipUnless('root', 'docker', 'btrfs', 'mariadb-client', 'image') }, () => {
  let testRoot: TestRoot;
  let root: string;
  let deps: SwarmDeps;
  const docker = createDockerClient();
  // Clone ports of their own: another sandbox on this host may hold the default 6000-6019.
  const ports = { first: 6140, last: 6159 };
  const topology = () => {
    const base = sandboxTopologyConfig(root, { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' });
    return buildTopology({ ...base, pool: { ...base.pool, clonePorts: ports }, loadgen: { intervalMs: 200 } });
  };
  const onSource = (sql: string): Promise<string> => sourceSql(deps.docker, deps.engines, 'source', sql);
  const onReplica = async (sql: string): Promise<string> => {
    const admin = await readReplicaAdmin(topology().pool);
    assert.ok(admin);
    const { stdout } = await run('mariadb', ['--socket', join(root, 'run/replica/mysqld.sock'), '--user', admin.admin_user, '--batch', '--skip-column-names', '-e', sql], { env: { ...process.env, MYSQL_PWD: admin.admin_password } });
    return stdout.trim();
  };
  const seqOf = (gtid: string): number => Number(/0-42-(\d+)/.exec(gtid)?.[1] ?? -1);
  /** No receiver service on the Swarm, no container of it on the pool node. */
  const assertNoHelper = async (): Promise<void> => {
    assert.deepEqual((await stackObjects(deps.docker, 'dolly')).filter((o) => o.name === RECEIVER_SERVICE), [], 'no receiver service');
    const pool = deps.engines('node-2');
    assert.ok(pool);
    assert.deepEqual(await pool.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${RECEIVER_SERVICE}`] } }), [], 'no receiver container');
  };
  const deploy = async (): Promise<void> => {
    await swarmDeploy(topology(), deps);
    await waitForServices(topology(), deps, 300_000);
  };

  before(async () => {
    testRoot = await createTestRoot('dolly-it-swarm-backup-');
    root = testRoot.root;
    await initPool({ size: '3G', ports: '6140-6159', bindAddress: '0.0.0.0' }, testRoot.deps);
    await sandboxUp({ root, nodes: 3, poolPath: root, clonePorts: ports }, { docker, shell: createShell(), logger: silentLogger });
    const target = await swarmTarget(root, undefined);
    deps = { docker: target.docker, engines: target.engines, logger: silentLogger, env: { DOLLY_SOURCE_PASSWORD: PASSWORD } };
    await deploy();
    await eventually('the load emulator wrote rows', async () => Number(await onSource('SELECT COUNT(*) FROM docker.repl_status')) >= 5, 120_000);
  });

  after(async () => {
    if (deps) await swarmDestroy(topology(), deps).catch(() => undefined);
    await sandboxDown({ root }, { docker, logger: silentLogger }).catch(() => undefined);
    await testRoot?.dispose();
    assert.deepEqual(await leftovers(root), [], 'no loop device or mount left');
  });

  it('a backup that fails half-way leaves no helper and an empty replica that still bootstraps', async () => {
    await assert.rejects(swarmBootstrap(topology(), deps, { method: 'backup', backupArgs: ['--no-such-option'] }), /mariadb-backup --backup --stream/);
    await assertNoHelper();
    assert.equal(await onReplica('SHOW SLAVE STATUS'), '', 'no replication configured');
    assert.equal(await onReplica("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'docker'"), '0', 'no half-made data');
  });

  it('bootstraps by backup while the load emulator writes: replication from the recorded position, every row once, checksums equal', async () => {
    const started = Date.now();
    const result = await swarmBootstrap(topology(), deps, { method: 'backup' });
    const seconds = (Date.now() - started) / 1000;
    console.log(`# swarm bootstrap --method backup: ${seconds.toFixed(1)} s`);
    assert.equal(result.already, false);
    assert.equal(result.method, 'backup');
    assert.match(result.gtid, /^0-42-\d+$/);
    assert.ok(result.replica.io_running && result.replica.sql_running, JSON.stringify(result.replica));
    await assertNoHelper();
    const upTo = Number(await onSource('SELECT MAX(id) FROM docker.repl_status'));
    const sourceGtid = await onSource('SELECT @@gtid_binlog_pos');
    assert.ok(seqOf(sourceGtid) > seqOf(result.gtid), 'rows were written after the backup');
    await eventually('the replica caught up', async () => seqOf((await swarmReplicaStatus(topology()))?.gtid ?? '') >= seqOf(sourceGtid), 120_000);
    const sql = `SELECT COUNT(*), COUNT(DISTINCT id), COALESCE(SUM(id), 0), COALESCE(BIT_XOR(CRC32(CONCAT_WS(',', id, ts))), 0) FROM docker.repl_status WHERE id <= ${upTo}`;
    assert.equal(await onReplica(sql), await onSource(sql), 'same rows up to a common GTID: none lost, none twice');
    const status = await swarmReplicaStatus(topology());
    assert.ok(status?.io_running && status.sql_running && status.last_error === null, JSON.stringify(status));
    const again = await swarmBootstrap(topology(), deps, { method: 'backup' });
    assert.equal(again.already, true, 'a second bootstrap changes nothing');
  });

  it('for comparison: destroy, deploy again and bootstrap by dump; nothing of the stack left after destroy', async () => {
    await swarmDestroy(topology(), deps);
    assert.deepEqual(await stackObjects(deps.docker, 'dolly'), []);
    await deploy();
    const started = Date.now();
    const result = await swarmBootstrap(topology(), deps, { method: 'dump' });
    console.log(`# swarm bootstrap --method dump: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(result.method, 'dump');
    assert.equal(result.already, false, JSON.stringify(result));
    assert.ok(result.replica.io_running && result.replica.sql_running);
    await swarmDestroy(topology(), deps);
    assert.deepEqual(await stackObjects(deps.docker, 'dolly'), []);
    await assertNoHelper();
  });
});
