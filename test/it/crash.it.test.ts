import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startLoadEmulator, startProductionServer, type LoadEmulator, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { destroyClone } from '../../src/engine/clone-manage.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { replicaConnectOptions } from '../../src/engine/servers.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { assertNoReplicaLeft, createTestRoot, dolly, dollyKilled, mariadbQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Pr0d-secret!';
/** Kill points per operation (issue 7: 20). */
const KILLS = Number(process.env.DOLLY_CRASH_KILLS ?? 20);

/** A small seeded PRNG, so a failing run can be repeated (the seed is printed). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}


/**
 * Any command may be killed at any instant (issue 7, story 3): each operation is started and
 * SIGKILLed at random points, then ONE command (`dolly up`) runs. After it: no job left, every
 * entity ready, no container, volume or run dir that no entity accounts for, a clone that was
 * not touched still holds its data, the replica's applier runs, and every snapshot's
 * data_state_at tells the truth about its data (checked after every kill). A kill inside the
 * snapshot's applier pause is made exact by a failpoint (src/failpoint.ts). Real Docker, MariaDB
 * and btrfs.
 */
describe('kill -9 at random points, then one command', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let load: LoadEmulator;
  let keep: CloneView;
  const seed = Number(process.env.DOLLY_CRASH_SEED ?? Date.now() % 100_000);
  const rand = random(seed);
  const cli = (...args: string[]): string[] => ['--root', root.root, '--json', '--log-level', 'silent', ...args];
  const source = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
  /** Snapshots whose data_state_at was checked against their data, with the value then. */
  const aged = new Map<string, string>();

  before(async () => {
    process.stderr.write(`crash test seed ${seed} (DOLLY_CRASH_SEED=${seed} repeats it)\n`);
    root = await createTestRoot('dolly-it-crash-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-crash-source' });
    load = await startLoadEmulator(source(), { database: 'docker', intervalMs: 100 });
    await initPool({ driver: 'btrfs', size: '6G', ports: '6500-6599' }, root.deps);
    await initReplica({ source: source() }, root.deps);
    await createSnapshot(root.deps);
    keep = await createClone({ name: 'keep' }, root.deps);
    await mariadbQuery(keep, "CREATE TABLE docker.mine (v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO docker.mine VALUES ('written in keep')");
    await createClone({ name: 'resetme' }, root.deps);
  });

  after(async () => {
    await load?.stop();
    await root?.dispose();
    await production?.stop();
  });

  /** `dolly up`, then everything must account for itself. */
  async function recoverAndCheck(what: string): Promise<void> {
    const upped = await dolly(cli('up'));
    assert.equal(upped.code, 0, `${what}: up failed: ${upped.stderr}`);
    const state = root.deps.store.require();
    assert.deepEqual(state.jobs, [], `${what}: jobs left`);
    assert.deepEqual([...state.clones, ...state.snapshots].filter((e) => e.status !== 'ready').map((e) => ('name' in e ? e.name : e.id)), [], `${what}: entities not ready`);
    const servers = (await root.deps.runtime.list()).filter((s) => s.kind !== 'source');
    assert.deepEqual(servers.map((s) => s.name).sort(), ['replica', ...state.clones.map((c) => `clone-${c.name}`)].sort(), `${what}: servers`);
    assert.deepEqual(servers.filter((s) => s.state !== 'running').map((s) => s.name), [], `${what}: servers not running`);
    const volumes = (await root.deps.driver(state).list()).sort();
    assert.deepEqual(volumes, ['replica', ...state.snapshots.map((s) => s.volume), ...state.clones.map((c) => c.volume)].sort(), `${what}: volumes`);
    const runDirs = (await readdir(join(root.root, 'run'))).sort();
    assert.deepEqual(runDirs, ['replica', ...state.clones.map((c) => `clone-${c.name}`)].sort(), `${what}: run dirs`);
    assert.equal(await mariadbQuery(keep, 'SELECT v FROM docker.mine'), 'written in keep', `${what}: live data`);
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.sql_running, true, `${what}: applier`);
    assert.equal(status.io_running, true, `${what}: IO thread (${status.io_state}; ${status.last_error ?? "no error"})`);
    await checkDataAges(what);
  }

  /**
   * Every snapshot tells the truth about its data's age: one not seen before is cloned and its
   * newest row compared with its data_state_at; one seen before still claims what it claimed.
   */
  async function checkDataAges(what: string): Promise<void> {
    for (const snapshot of root.deps.store.require().snapshots) {
      const seen = aged.get(snapshot.id);
      if (seen !== undefined) {
        assert.equal(snapshot.data_state_at, seen, `${what}: snapshot ${snapshot.id}'s data_state_at changed`);
        continue;
      }
      await assertTrueAge(snapshot, what);
      aged.set(snapshot.id, snapshot.data_state_at);
    }
  }

  async function assertTrueAge(snapshot: Snapshot, what: string): Promise<void> {
    const clone = await createClone({ name: `age-${snapshot.id.toLowerCase().replace(/[^a-z0-9]/g, '')}`, snapshot: snapshot.id }, root.deps);
    try {
      const newest = Date.parse(`${await mariadbQuery(clone, "SELECT DATE_FORMAT(MAX(`ts`), '%Y-%m-%dT%H:%i:%s.%fZ') FROM docker.repl_status")}`);
      const claimed = Date.parse(snapshot.data_state_at);
      // Whole seconds of Seconds_Behind_Master, and one 100 ms write interval.
      assert.ok(Math.abs(newest - claimed) <= 2_000, `${what}: snapshot ${snapshot.id}: newest row ${new Date(newest).toISOString()}, data_state_at ${snapshot.data_state_at}`);
    } finally {
      await destroyClone(clone.name, root.deps);
    }
  }

  /**
   * Runs `args` once to time it, then KILLS times more, each SIGKILLed at a random point of that
   * duration, recovering and checking after each.
   */
  async function killRepeatedly(name: string, args: () => string[]): Promise<void> {
    const started = Date.now();
    assert.equal(await dollyKilled(cli(...args()), 600_000), 'finished');
    const spanMs = Date.now() - started;
    await recoverAndCheck(`${name} (not killed)`);
    let killed = 0;
    for (let i = 0; i < KILLS; i += 1) {
      const at = Math.round(rand() * spanMs * 0.95);
      if ((await dollyKilled(cli(...args()), at)) === 'killed') killed += 1;
      await recoverAndCheck(`${name} killed at ${at} ms (seed ${seed})`);
    }
    assert.ok(killed >= KILLS / 2, `${name}: only ${killed} of ${KILLS} runs were killed before they ended`);
  }

  it('16 clone create commands at once all succeed, each with its own name and port, and each answers', async () => {
    const created = await Promise.all(Array.from({ length: 16 }, (_, i) => dolly(cli('clone', 'create', '--name', `many${i}`))));
    assert.deepEqual(created.map((r) => r.code), Array.from({ length: 16 }, () => 0), created.map((r) => r.stderr).join(''));
    const views = created.map((r) => JSON.parse(r.stdout) as CloneView);
    assert.equal(new Set(views.map((v) => v.port)).size, 16);
    for (const view of views) assert.equal(await mariadbQuery(view, 'SELECT 1'), '1');
    const destroyed = await Promise.all(views.map((v) => dolly(cli('clone', 'destroy', v.name))));
    assert.deepEqual(destroyed.map((r) => r.code), Array.from({ length: 16 }, () => 0), destroyed.map((r) => r.stderr).join(''));
    await recoverAndCheck('16 at once');
  });

  it('clone create', async () => {
    let n = 0;
    await killRepeatedly('clone create', () => ['clone', 'create', '--name', `c${(n += 1)}`]);
  });

  it('clone reset', async () => {
    await killRepeatedly('clone reset', () => ['clone', 'reset', 'resetme']);
    const resetme = root.deps.store.require().clones.find((c) => c.name === 'resetme');
    assert.ok(resetme);
    assert.match(await mariadbQuery({ host: '127.0.0.1', port: resetme.port, user: resetme.user, password: resetme.password }, 'SELECT COUNT(*) FROM docker.repl_status'), /^\d+$/);
  });

  it('clone destroy', async () => {
    // Its own targets, one more than there are kills (a destroy that ends takes one).
    const targets: string[] = [];
    for (let i = 0; i <= KILLS; i += 1) targets.push((await createClone({ name: `d${i}` }, root.deps)).name);
    const next = (): string => targets.find((t) => root.deps.store.require().clones.some((c) => c.name === t)) ?? 'none';
    await killRepeatedly('clone destroy', () => ['clone', 'destroy', next()]);
  });

  it('snapshot create', async () => {
    await killRepeatedly('snapshot create', () => ['snapshot', 'create']);
  });

  it('snapshot create killed inside the applier pause (failpoint): the next command starts the applier again; no half-made snapshot', async () => {
    const before = root.deps.store.require().snapshots.map((s) => s.id);
    assert.equal(await dollyKilled(cli('snapshot', 'create'), 600_000, { DOLLY_FAILPOINT: 'snapshot.paused' }), 'killed');
    // Killed exactly there: the job and its snapshot recorded, no volume yet, the applier stopped.
    const left = root.deps.store.require();
    assert.deepEqual(left.jobs.map((j) => j.kind), ['snapshot-create']);
    const half = left.snapshots.filter((s) => !before.includes(s.id));
    assert.deepEqual(half.map((s) => s.status), ['creating']);
    assert.equal(await root.deps.driver(left).exists(half[0]?.volume ?? ''), false);
    assert.equal((await getReplicaStatus(root.deps)).sql_running, false, 'the kill was not inside the pause: the applier runs');
    // The next command that changes something (not `up`) undoes it, restarts the applier, and works.
    const next = await dolly(cli('--json', 'snapshot', 'create'));
    assert.equal(next.code, 0, next.stderr);
    const made = JSON.parse(next.stdout) as { id: string };
    assert.equal((await getReplicaStatus(root.deps)).sql_running, true, 'the applier does not run after the next command');
    const after = root.deps.store.require();
    assert.deepEqual(after.jobs, []);
    assert.deepEqual(after.snapshots.map((s) => s.id), [...before, made.id], 'the half-made snapshot is still listed');
    await recoverAndCheck('killed in the pause (snapshot.paused), then snapshot create');
  });

  it('snapshot create killed with its snapshot taken and the applier still paused (failpoint), then up', async () => {
    const before = root.deps.store.require().snapshots.map((s) => s.id);
    assert.equal(await dollyKilled(cli('snapshot', 'create'), 600_000, { DOLLY_FAILPOINT: 'snapshot.taken' }), 'killed');
    const left = root.deps.store.require();
    const half = left.snapshots.filter((s) => !before.includes(s.id));
    assert.deepEqual(half.map((s) => s.status), ['creating']);
    assert.equal(await root.deps.driver(left).exists(half[0]?.volume ?? ''), true, 'the snapshot was not taken yet');
    assert.equal((await getReplicaStatus(root.deps)).sql_running, false, 'the kill was not inside the pause: the applier runs');
    await recoverAndCheck('killed in the pause (snapshot.taken), then up');
    assert.deepEqual(root.deps.store.require().snapshots.map((s) => s.id), before, 'the half-made snapshot is still listed');
  });

  it('snapshot destroy', async () => {
    // Its own targets, one more than there are kills (a destroy that ends takes one); made
    // without a kill, so their age is the plain snapshot's (checked above), not checked again.
    const targets: string[] = [];
    for (let i = 0; i <= KILLS; i += 1) {
      const made = await createSnapshot(root.deps);
      aged.set(made.id, made.data_state_at);
      targets.push(made.id);
    }
    const next = (): string => targets.find((t) => root.deps.store.require().snapshots.some((s) => s.id === t)) ?? 'none';
    await killRepeatedly('snapshot destroy', () => ['snapshot', 'destroy', next()]);
    const left = root.deps.store.require().snapshots.filter((s) => targets.includes(s.id)).length;
    assert.ok(left < targets.length, 'no destroy ended');
  });

  it('up starts replication that stands still without an error', async () => {
    const replica = root.deps.store.require().replica;
    assert.ok(replica);
    const sql = await connectSql(replicaConnectOptions(root.root, replica));
    try {
      await sql.execute('STOP SLAVE');
    } finally {
      await sql.close();
    }
    assert.equal((await getReplicaStatus(root.deps)).sql_running, false);
    const upped = await dolly(cli('up'));
    assert.equal(upped.code, 0, upped.stderr);
    assert.ok((JSON.parse(upped.stdout) as { recovered: string[] }).recovered.includes('replication started again'));
    await recoverAndCheck('replication stopped by hand');
  });

  it("every snapshot that was made told the truth about its data's age, checked after each kill", async () => {
    const state = root.deps.store.require();
    assert.ok(state.snapshots.length >= 2);
    for (const snapshot of state.snapshots) assert.equal(aged.get(snapshot.id), snapshot.data_state_at, `snapshot ${snapshot.id} was never checked`);
  });
});

/**
 * replica init SIGKILLed KILLS times (20) before it ends, the kills spread over the whole run (the
 * k-th in the k-th of KILLS equal slices of it): after each, one command, and nothing is left. A
 * run that ended (or committed) before its kill does not count: its root is replaced by a fresh
 * one and the next kills aim earlier. Then the root can init again. With
 * `backup`, the copy is a mariadb-backup stream (made once, into a file) on stdin, unpacked and
 * prepared by throwaway containers a kill may leave running. With `split`, the source holds
 * enough rows (~40 MB) for the parallel dump to cut its key into ranges, and after each kill the
 * source must be left with no lock and no dump session.
 */
function replicaInitCrashes(method: 'dump' | 'backup', ports: [string, string], split = false): void {
  describe(`kill -9 of replica init --method ${method}${split ? ' (parallel, in key ranges)' : ''}, then one command`, { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
    /** The source's root (and the backup file's directory). */
    let home: TestRoot;
    /** Where replica init runs and is killed: a root with a pool and no replica. */
    let root: TestRoot;
    let production: ProductionServer;
    let backupFile: string | undefined;
    let scratch: string | undefined;
    const seed = Number(process.env.DOLLY_CRASH_SEED ?? Date.now() % 100_000);
    const rand = random(seed + (method === 'dump' ? 1 : 2) + (split ? 10 : 0));
    const freshRoot = async (): Promise<TestRoot> => {
      const made = await createTestRoot('dolly-it-crash-init-');
      await initPool({ driver: 'btrfs', size: '2G', ports: ports[0] }, made.deps);
      return made;
    };

    before(async () => {
      home = await createTestRoot('dolly-it-crash-init-home-');
      production = await startProductionServer({ docker: createDockerClient(), root: home.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: `it-crash-init-${method}${split ? "-split" : ""}-source` });
      const sql = await production.sql();
      await sql.execute('CREATE DATABASE shop');
      await sql.execute('CREATE TABLE shop.t (id INT PRIMARY KEY) ENGINE=InnoDB');
      await sql.execute('INSERT INTO shop.t VALUES (1), (2), (3)');
      if (split) {
        await sql.execute('CREATE TABLE shop.big (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB');
        await sql.execute("INSERT INTO shop.big SELECT seq, REPEAT('p', 150) FROM shop.seq_1_to_200000");
        await sql.execute('ANALYZE TABLE shop.big');
      }
      await sql.close();
      root = await freshRoot();
      if (method === 'backup') {
        scratch = await mkdtemp(join(tmpdir(), 'dolly-it-crash-backup-'));
        backupFile = join(scratch, 'source.xbstream');
        await promisify(execFile)('bash', ['-c', `docker exec -e MYSQL_PWD ${production.containerId} mariadb-backup --backup --user=root --socket=/run/dolly/mysqld.sock --stream=xbstream --target-dir=/tmp 2>/dev/null > "$0"`, backupFile], { env: { ...process.env, MYSQL_PWD: PASSWORD } });
      }
    });

    after(async () => {
      await root?.dispose();
      await home?.dispose();
      await production?.stop();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('leaves no replica, container, volume or run dir, and a later init works', async () => {
      const args = (r: string): string[] => ['--root', r, '--json', '--log-level', 'silent', 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`, ...(method === 'backup' ? ['--method', 'backup', '--backup', '-'] : [])];
      // Timed once on a root of its own.
      const timing = await createTestRoot('dolly-it-crash-timing-');
      let spanMs: number;
      try {
        await initPool({ driver: 'btrfs', size: '1G', ports: ports[1] }, timing.deps);
        const started = Date.now();
        assert.equal(await dollyKilled(args(timing.root), 600_000, { DOLLY_SOURCE_PASSWORD: PASSWORD }, backupFile), 'finished');
        spanMs = Date.now() - started;
      } finally {
        await timing.dispose();
      }
      const timedMs = spanMs;
      let killed = 0;
      const landed: number[] = [];
      for (let attempt = 0; killed < KILLS; attempt += 1) {
        assert.ok(attempt < 2 * KILLS, `only ${killed} of ${attempt} runs were killed before they ended (seed ${seed})`);
        // In the k-th slice of 80% of a timed run: a slower run on a busy machine must still be killed before it commits.
        const at = Math.round(((killed + rand()) / KILLS) * spanMs * 0.8);
        const outcome = await dollyKilled(args(root.root), at, { DOLLY_SOURCE_PASSWORD: PASSWORD }, backupFile);
        const upped = outcome === 'killed' ? await dolly(['--root', root.root, 'up']) : { code: 0, stdout: '', stderr: '' };
        assert.equal(upped.code, 0, upped.stderr);
        const state = root.deps.store.require();
        if (state.replica) {
          // It ended, or the kill landed after the job committed (the process was on its way out): a whole replica.
          assert.equal(state.replica.status, 'ready', `killed at ${at} ms: a half-made replica is recorded`);
          assert.deepEqual(state.jobs, [], `killed at ${at} ms: up said ${upped.stdout} ${upped.stderr}`);
          assert.equal((await root.deps.runtime.inspect('replica'))?.state, 'running', `killed at ${at} ms after its commit: the replica does not run`);
          // Not a kill: on a fresh root again, with the run's length corrected (it was done by `at`).
          spanMs = Math.min(spanMs, at);
          await root.dispose();
          root = await freshRoot();
          continue;
        }
        assert.equal(outcome, 'killed', `finished at ${at} ms without a replica`);
        killed += 1;
        landed.push(at);
        if (split) await assertSourceReleased(production, `killed at ${at} ms`);
        assert.deepEqual(state.jobs, [], `killed at ${at} ms: up said ${upped.stdout} ${upped.stderr}`);
        await assertNoReplicaLeft(root, `killed at ${at} ms`);
        assert.deepEqual(await createDockerClient().listContainers({ all: true, filters: { label: [`dolly.root=${root.root}`, 'dolly.kind=copy'] } }), [], `killed at ${at} ms: a tools container left`);
      }
      process.stderr.write(`replica init --method ${method}${split ? ' (split)' : ''}: ${killed} kills at ${landed.join(', ')} ms of a run timed at ${timedMs} ms${spanMs < timedMs ? ` (then seen to end within ${spanMs} ms)` : ''}\n`);
      const state = root.deps.store.require();
      if (!state.replica) {
        // With its logs: when the replica's server does not start, they say why.
        const done = await dollyKilled(args(root.root).filter((a) => a !== '--log-level' && a !== 'silent'), 600_000, { DOLLY_SOURCE_PASSWORD: PASSWORD }, backupFile);
        assert.equal(done, 'finished');
      }
      assert.equal((await getReplicaStatus(root.deps)).sql_running, true);
    });
  });
}

/** The source after a killed parallel copy: writes commit (no read lock held) and, within 10 s, no dump session is left. */
async function assertSourceReleased(production: ProductionServer, when: string): Promise<void> {
  const conn = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
  await mariadbQuery(conn, 'SET SESSION lock_wait_timeout = 5; UPDATE shop.t SET id = id WHERE id = 1');
  let left = '';
  for (let i = 0; i < 50; i += 1) {
    left = await mariadbQuery(conn, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> CONNECTION_ID() AND COMMAND NOT IN ('Binlog Dump', 'Daemon')");
    if (left === '0') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${when}: ${left} session(s) of the copy still on the source`);
}

replicaInitCrashes('dump', ['6600-6609', '6610-6619']);
replicaInitCrashes('dump', ['6975-6984', '6985-6994'], true);
replicaInitCrashes('backup', ['6640-6649', '6650-6659']);
