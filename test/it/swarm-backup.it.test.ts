import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { initPool } from '../../src/engine/pool-init.js';
import { silentLogger } from '../../src/log.js';
import { swarmBootstrap, swarmReplicaConnect, swarmReplicaStatus } from '../../src/swarm/deploy/bootstrap.js';
import { stackObjects } from '../../src/swarm/deploy/swarm-facts.js';
import { StateStore } from '../../src/state/store.js';
import { swarmDeploy, swarmDestroy, waitForServices, type SwarmDeps } from '../../src/swarm/deploy/swarm-deploy.js';
import { swarmTarget } from '../../src/swarm/deploy/swarm-target.js';
import { sourceSql } from '../../src/swarm/deploy/tasks.js';
import { sandboxDown, sandboxUp } from '../../dev/sandbox/sandbox.js';
import { buildTopology } from '../../src/swarm/topology.js';
import { sandboxTopologyConfig } from '../../src/swarm/topology-config.js';
import { createShell } from '../../src/shell.js';
import { skipUnless } from '../support/capabilities.js';
import { eventually } from '../support/swarm-harness.js';
import { createTestRoot, dolly, leftovers, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);
const PASSWORD = `bk'"$\`up\\pw`;


/** Runs bin/dolly and SIGKILLs it after `afterMs` (or lets a failpoint kill it); says whether it was killed. */
async function dollyKilledAfter(args: string[], env: Record<string, string>, afterMs?: number): Promise<{ outcome: 'killed' | 'finished'; stderr: string }> {
  const child = spawn(join(process.cwd(), 'bin/dolly'), args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const timer = afterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), afterMs);
  await closed;
  clearTimeout(timer);
  return { outcome: child.signalCode === 'SIGKILL' ? 'killed' : 'finished', stderr };
}

describe('swarm bootstrap (replica init on the Swarm) on a 3-node sandbox: by backup (mariadb-backup in the source task) and by dump, failed and killed', { skip: skipUnless('root', 'docker', 'btrfs', 'mariadb-client', 'image') }, () => {
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
    const admin = swarmReplicaConnect(topology());
    const { stdout } = await run('mariadb', ['--socket', join(root, 'run/replica/mysqld.sock'), '--user', admin.user ?? '', '--batch', '--skip-column-names', '-e', sql], { env: { ...process.env, MYSQL_PWD: admin.password ?? '' } });
    return stdout.trim();
  };
  const seqOf = (gtid: string): number => Number(/0-42-(\d+)/.exec(gtid)?.[1] ?? -1);
  /** No restore container on this host's engine or the pool node's. */
  const assertNoHelper = async (): Promise<void> => {
    for (const engine of [docker, deps.engines('node-2')]) {
      assert.ok(engine);
      assert.deepEqual(await engine.listContainers({ all: true, filters: { name: ['replica-restore'] } }), [], 'no restore container');
    }
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

  it('a backup that fails half-way is undone (the job journal): no restore container, no replica in the state, no volume; bootstrap runs again after it', async () => {
    await assert.rejects(swarmBootstrap(topology(), deps, { method: 'backup', backupArgs: ['--no-such-option'] }), /mariadb-backup --backup --stream/);
    await assertNoHelper();
    const store = new StateStore(root);
    try {
      assert.equal(store.read()?.replica, undefined, 'no replica recorded');
    } finally {
      store.close();
    }
    assert.equal(existsSync(join(root, 'pool', 'volumes', 'replica', 'mysql')), false, 'no half-made datadir');
  });

  /**
   * `swarm bootstrap` SIGKILLed at 20 points: at each of the 5 steps of replica init's job
   * (failpoints, src/failpoint.ts) by dump and by backup, and 10 times at a set delay after its
   * start (every second from 0.5 s, by dump and by backup in turn: before the job, inside the
   * scaling, the copy, the restore). After each, ONE command (`dolly up`) undoes it: no job, no
   * replica in the state, no copied data, no restore container left on either engine, and once
   * the job had made them, no replica volume and the service scaled to none. The next bootstrap
   * then works (the test after this one).
   */
  it('swarm bootstrap killed at 20 points (each step of its job, and at set delays), then one command: nothing half-made is left', async () => {
    const configFile = join(root, 'topology.yaml');
    const base = sandboxTopologyConfig(root, { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' });
    await writeFile(configFile, stringify({ ...base, pool: { ...base.pool, clonePorts: ports }, loadgen: { intervalMs: 200 } }));
    const steps = ['replica-init.reserved', 'replica-init.volume', 'replica-init.started', 'replica-init.copied', 'replica-init.replicating'];
    const methods = ['dump', 'backup'] as const;
    const kills: { label: string; method: 'dump' | 'backup'; failpoint?: string; afterMs?: number }[] = [
      ...methods.flatMap((method) => steps.map((failpoint) => ({ label: `${failpoint} (${method})`, method, failpoint }))),
      ...Array.from({ length: 10 }, (_, i) => ({ label: `${500 + i * 1000} ms (${methods[i % 2]})`, method: methods[i % 2] ?? 'dump', afterMs: 500 + i * 1000 })),
    ];
    assert.equal(kills.length, 20);
    const state = (): ReturnType<StateStore['read']> => {
      const store = new StateStore(root);
      try {
        return store.read();
      } finally {
        store.close();
      }
    };
    for (const kill of kills) {
      const args = ['--root', root, 'swarm', 'bootstrap', '--config', configFile, '--method', kill.method];
      const env = { DOLLY_SOURCE_PASSWORD: PASSWORD, ...(kill.failpoint ? { DOLLY_FAILPOINT: kill.failpoint } : {}) };
      const { outcome, stderr } = await dollyKilledAfter(args, env, kill.afterMs);
      assert.equal(outcome, 'killed', `${kill.label}: the bootstrap ended before it was killed: ${stderr}`);
      if (kill.failpoint) assert.equal(state()?.jobs.length, 1, `${kill.label}: the job is left`);
      const up = await dolly(['--root', root, 'up']);
      assert.equal(up.code, 0, `${kill.label}: ${up.stderr}`);
      const after = state();
      assert.deepEqual(after?.jobs, [], `${kill.label}: a job is left after up`);
      assert.equal(after?.replica, undefined, `${kill.label}: a replica is left in the state`);
      assert.ok(after?.swarm, `${kill.label}: the stack's record stays`);
      const volume = join(root, 'pool', 'volumes', 'replica');
      assert.equal(existsSync(join(volume, 'docker')), false, `${kill.label}: copied data is left`);
      if (kill.failpoint !== undefined && kill.failpoint !== 'replica-init.reserved') {
        // The job had made them: its volume, and the service's task started on it.
        assert.equal(existsSync(volume), false, `${kill.label}: the replica volume is left`);
        const service = (await deps.docker.getService('replica').inspect()) as { Spec: { Mode?: { Replicated?: { Replicas?: number } } } };
        assert.equal(service.Spec.Mode?.Replicated?.Replicas, 0, `${kill.label}: the replica service still runs`);
      }
      await eventually(`${kill.label}: no restore container`, async () => {
        await assertNoHelper();
        return true;
      }, 120_000);
    }
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

  it('destroy after a backup bootstrap: nothing of the stack, no replica volume, run directory or account left', async () => {
    await swarmDestroy(topology(), deps);
    assert.deepEqual(await stackObjects(deps.docker, 'dolly'), []);
    assert.equal(existsSync(join(root, 'pool', 'volumes', 'replica')), false);
    assert.equal(existsSync(join(root, 'run', 'replica')), false);
    const store = new StateStore(root);
    try {
      assert.equal(store.read()?.replica, undefined);
      assert.equal(store.read()?.swarm, undefined);
    } finally {
      store.close();
    }
    await assertNoHelper();
  });
});
