import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { remoteApi } from '../../src/api/remote.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { REPLICA, replicaConnectOptions } from '../../src/engine/servers.js';
import { DollyError, UnavailableError } from '../../src/errors.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { containerName } from '../../src/runtime/docker-runtime.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine, type EngineProcess } from '../support/engine-server.js';

const PASSWORD = 'Pr0d-secret!';
/** The engine's port (this suite's range: 7780-7819; clones take 7780-7789). */
const ENGINE_PORT = 7790;

/**
 * What a command may take beyond a like command that waits on nothing, run just before it (the
 * CLI's start and its loading of the root): 3 s less the half second those take on an idle
 * machine. Other suites share these 2 cores, and a start alone then takes seconds, which no
 * timeout in dolly can change.
 */
const COMMAND_BUDGET_MS = 2_500;

/** Milliseconds `work` took, and what it gave. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: Math.round(performance.now() - started), value };
}

/**
 * A replica whose server hangs: its mysqld SIGSTOPped from the host (the process is there, its
 * socket accepts, nothing answers — what a stuck disk or a frozen VM looks like). `replica status`
 * and `status` answer within 3 s and say so (timed beyond the CLI's own start: see
 * COMMAND_BUDGET_MS), `snapshot create` fails within 30 s with one line
 * and leaves nothing half-made, the engine's `/healthz` answers within 1 s and GET /v1/replica
 * within 3 s, and clones keep answering. Real Docker, MariaDB and btrfs; the server is always
 * sent SIGCONT again, also when a test fails.
 */
describe('a hung replica (its server SIGSTOPped): every answer within its limit', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess | undefined;
  let reader: CloneView;
  let stoppedPid = 0;
  const cli = (...args: string[]): string[] => ['--root', root.root, '--log-level', 'silent', ...args];
  const env = { DOLLY_URL: '', DOLLY_TOKEN: '' };

  /** The replica's mysqld, as the host sees it (PID 1 of its container: the entry script execs it). */
  async function replicaPid(): Promise<number> {
    const pid = (await createDockerClient().getContainer(containerName(root.root, REPLICA)).inspect()).State.Pid;
    assert.ok(pid > 0, 'the replica container runs no process');
    assert.match((await readFile(`/proc/${pid}/comm`, 'utf8')).trim(), /^(mariadbd|mysqld)$/);
    return pid;
  }

  /**
   * Runs `work` with the replica's server stopped; SIGCONT in any case. `kill` returns once the
   * signal is pending: one thread of the server must run to stop the others, which on a busy
   * machine takes milliseconds in which a connection thread may still answer. So this waits
   * until every thread of the server shows the stopped state.
   */
  async function whileHung<T>(work: () => Promise<T>): Promise<T> {
    stoppedPid = await replicaPid();
    process.kill(stoppedPid, 'SIGSTOP');
    try {
      await allThreadsStopped(stoppedPid);
      return await work();
    } finally {
      process.kill(stoppedPid, 'SIGCONT');
      stoppedPid = 0;
    }
  }

  /** Waits (up to 5 s) until every thread of `pid` is in the stopped state (`T` in /proc). */
  async function allThreadsStopped(pid: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const states = await Promise.all((await readdir(`/proc/${pid}/task`)).map(async (tid) => {
        const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => ') X');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      }));
      if (states.every((state) => state === 'T' || state === 't' || state === 'X')) return;
      assert.ok(Date.now() < deadline, `the replica's threads did not stop within 5 s: ${states.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** What the root holds: entities, jobs, volumes, containers, run directories. */
  async function holdings(): Promise<Record<string, string[]>> {
    const state = root.deps.store.require();
    return {
      snapshots: state.snapshots.map((s) => `${s.id} ${s.status}`),
      clones: state.clones.map((c) => `${c.name} ${c.status}`),
      jobs: state.jobs.map((j) => `${j.kind} ${j.target}`),
      volumes: (await root.deps.driver(state).list()).sort(),
      containers: (await root.deps.runtime.list()).filter((s) => s.kind !== 'source').map((s) => s.name).sort(),
      runDirs: (await readdir(join(root.root, 'run'))).sort(),
    };
  }

  /** Runs the CLI and times it, and `baseline` (a command that asks no server) just before. */
  async function timedCli(args: string[], baseline: string[]): Promise<{ ms: number; startMs: number; value: Awaited<ReturnType<typeof dolly>> }> {
    const start = await timed(() => dolly(baseline, env));
    const run = await timed(() => dolly(args, env));
    assert.ok(run.ms - start.ms < COMMAND_BUDGET_MS, `dolly ${args.slice(4).join(' ')} took ${run.ms} ms (dolly ${baseline.slice(4).join(' ')}: ${start.ms} ms)`);
    return { ...run, startMs: start.ms };
  }

  before(async () => {
    root = await createTestRoot('dolly-it-hung-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-hung-source' });
    const source = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
    await mariadbQuery(source, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY); INSERT INTO shop.items VALUES (1),(2),(3)");
    await initPool({ driver: 'btrfs', size: '2G', ports: '7780-7789' }, root.deps);
    await initReplica({ source }, root.deps);
    await createSnapshot(root.deps);
    reader = await createClone({ name: 'reader' }, root.deps);
  });

  after(async () => {
    if (stoppedPid > 0) process.kill(stoppedPid, 'SIGCONT');
    await engine?.kill();
    await root?.dispose();
    await production?.stop();
  });

  it('replica status answers within 3 s that the server does not answer; status within 3 s; clones keep answering', async () => {
    await whileHung(async () => {
      // In this process (no start to wait for): the status read's own limit.
      const inProcess = await timed(() => getReplicaStatus(root.deps));
      assert.ok(inProcess.ms < 2_000, `getReplicaStatus took ${inProcess.ms} ms`);
      assert.match(inProcess.value.last_error ?? '', /^the replica's server does not answer/);
      // `status` reads the same root and asks no server: beyond it, replica status has 2.5 s.
      const json = await timedCli(cli('--json', 'replica', 'status'), cli('--json', 'status'));
      assert.equal(json.value.code, 0, json.value.stderr);
      const view = JSON.parse(json.value.stdout) as { server: string; io_running: boolean; sql_running: boolean; last_error: string | null };
      assert.equal(view.server, 'running');
      assert.equal(view.io_running, false);
      assert.equal(view.sql_running, false);
      assert.match(view.last_error ?? '', /^the replica's server does not answer: .*no answer within 1.5 s/);
      const text = await timedCli(cli('replica', 'status'), cli('status'));
      assert.match(text.value.stdout, /^error +the replica's server does not answer/m);
      const status = await timedCli(cli('--json', 'status'), ['--version']);
      assert.equal(status.value.code, 0, status.value.stderr);
      assert.equal((JSON.parse(status.value.stdout) as { snapshots: number }).snapshots, 1);
      assert.equal(await mariadbQuery(reader, 'SELECT COUNT(*) FROM shop.items'), '3', 'a clone stopped answering with the replica');
      process.stderr.write(`hung replica: replica status ${inProcess.ms} ms in process, ${json.ms} ms (--json; status just before: ${json.startMs} ms), ${text.ms} ms (text; ${text.startMs} ms); status ${status.ms} ms (--version: ${status.startMs} ms)\n`);
    });
    const again = await dolly(cli('--json', 'replica', 'status'), env);
    assert.equal((JSON.parse(again.stdout) as { sql_running: boolean }).sql_running, true, 'the replica does not run again after SIGCONT');
  });

  it('a statement the server stops answering fails at its limit, and its connection closes at once', async () => {
    const replica = root.deps.store.require().replica;
    assert.ok(replica);
    const client = await connectSql({ ...replicaConnectOptions(root.root, replica), queryTimeoutMs: 1_000 });
    try {
      assert.deepEqual(await client.query('SELECT 1 AS one'), [{ one: 1 }]);
      await whileHung(async () => {
        const failed = await timed(() => client.query('SELECT 1').then(() => 'answered', (error: unknown) => error));
        assert.ok(failed.value instanceof UnavailableError, `the statement ${String(failed.value)}`);
        assert.match(failed.value.message, /^the server at \S+mysqld\.sock did not answer within 1 s$/);
        assert.ok(failed.ms < 3_000, `the statement failed after ${failed.ms} ms`);
        const closed = await timed(() => client.close());
        assert.ok(closed.ms < 1_000, `close took ${closed.ms} ms`);
      });
    } finally {
      await client.close();
    }
  });

  it('snapshot create fails within 30 s with one line, and leaves nothing half-made', async () => {
    const before = await holdings();
    const failed = await whileHung(async () => {
      const result = await timed(() => dolly(cli('snapshot', 'create'), env));
      // Still hung: what the failed command left is what a user would find.
      return { ...result, left: await holdings() };
    });
    assert.notEqual(failed.value.code, 0, failed.value.stdout);
    assert.ok(failed.ms < 30_000, `snapshot create took ${failed.ms} ms`);
    const lines = failed.value.stderr.trim().split('\n');
    assert.equal(lines.length, 1, failed.value.stderr);
    assert.match(lines[0] ?? '', /^dolly: cannot connect to the server at \S+mysqld\.sock: no answer within 10 s \(hint: /);
    assert.deepEqual(failed.left, before, 'the failed snapshot left something');
    process.stderr.write(`hung replica: snapshot create failed after ${failed.ms} ms\n`);
    // Once the server runs again, so do snapshots.
    const made = await dolly(cli('--json', 'snapshot', 'create'), env);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(root.deps.store.require().snapshots.length, 2);
  });

  it("the engine: /healthz within 1 s and GET /v1/replica within 3 s while it hangs; a snapshot refused within 30 s", async () => {
    engine = await spawnEngine(root.root, ['--listen', `127.0.0.1:${ENGINE_PORT}`]);
    assert.equal(engine.url, `http://127.0.0.1:${ENGINE_PORT}`);
    const url = engine.url;
    const api = remoteApi({ url, token: await adminToken(root.root) });
    const before = await holdings();
    // /healthz polled all along, while the replica's reads and the snapshot wait on the hung server.
    const health: number[] = [];
    let polling = true;
    let replicaMs = 0;
    let snapshotMs = 0;
    const poller = (async () => {
      while (polling) {
        const { ms, value } = await timed(() => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status));
        assert.equal(value, 200);
        health.push(ms);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await whileHung(async () => {
        const replica = await timed(() => api.replicaStatus());
        replicaMs = replica.ms;
        assert.ok(replica.ms < 3_000, `GET /v1/replica took ${replica.ms} ms`);
        assert.match(replica.value.last_error ?? '', /^the replica's server does not answer/);
        const snapshot = await timed(() => api.snapshotCreate().then(() => 'made', (error: unknown) => error));
        snapshotMs = snapshot.ms;
        assert.ok(snapshot.ms < 30_000, `POST /v1/snapshots took ${snapshot.ms} ms`);
        assert.ok(snapshot.value instanceof DollyError, `the snapshot was ${String(snapshot.value)}`);
        assert.equal(snapshot.value.category, 'unavailable');
        assert.match(snapshot.value.message, /no answer within 10 s/);
      });
    } finally {
      polling = false;
      await poller;
    }
    assert.ok(health.length >= 10, `only ${health.length} /healthz readings`);
    assert.ok(Math.max(...health) < 1_000, `/healthz took up to ${Math.max(...health)} ms`);
    assert.deepEqual(await holdings(), before, 'the failed snapshot left something');
    assert.equal((await api.replicaStatus()).sql_running, true);
    process.stderr.write(`hung replica: /healthz ${health.length} readings, slowest ${Math.max(...health)} ms; GET /v1/replica ${replicaMs} ms; POST /v1/snapshots failed after ${snapshotMs} ms\n`);
  });
});
