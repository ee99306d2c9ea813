import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { checkPoolSpace, LOOKAHEAD_MS, spaceLevels } from '../../src/engine/pool-space.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { replicaConnectOptions } from '../../src/engine/servers.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { connectSql, type SqlClient } from '../../src/mysql/sql-client.js';
import { storeEventLog } from '../../src/state/event-log.js';
import type { CloneView } from '../../src/model/wire.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { spawnEngine, type EngineProcess } from '../support/engine-server.js';

const run = promisify(execFile);
const PASSWORD = 'Gr0w-secret!';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** What the source writes: 256 transactions of 8 MiB of random (incompressible) bytes. */
const WRITE_BYTES = 2 * GiB;
const CHUNK_ROWS = 1024;
const ROW_BYTES = 8 * 1024;
const SOURCE_PORT = 7820;
const CLONE_PORTS = '7821-7829';
const ENGINE_LISTEN = '127.0.0.1:7830';

/**
 * Production outgrows the pool (issue 18, point 5): a 1 GB pool, a source writing 2 GB. The
 * engine (`dolly serve`, its own watcher every 2 s: what runs in production) pauses the replica
 * before the pool is full, after `pool.low`; the pool never turns read-only and a clone made before
 * keeps reading; `status` and `replica status` say "pool full" within 3 s; bad `pool grow` input is
 * refused and changes nothing; `pool grow --size 6G` resumes replication, `--add-device` grows it
 * again; once caught up, the source's and the replica's checksums are equal.
 */
describe('pool grow: the replica pauses before the pool is full and resumes once it grows', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess | undefined;
  let reader: CloneView;
  let scratch: string;
  const loops: string[] = [];
  let mountedElsewhere: string | undefined;
  let writer: Promise<number> | undefined;
  let stopWriting = false;
  let sampler: NodeJS.Timeout | undefined;
  /** The lowest free space seen while the pool was 1 GB (`filling`) and after it grew (`catchingUp`). */
  const seen = { filling: Number.MAX_SAFE_INTEGER, catchingUp: Number.MAX_SAFE_INTEGER, grown: false, readOnly: [] as string[], samples: 0 };
  let pausedAt = 0;
  let writeStarted = 0;
  const source = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: SOURCE_PORT, user: 'root', password: PASSWORD });
  const mountpoint = (): string => join(root.root, 'pool');
  const image = (): string => join(root.root, 'pool.img');

  before(async () => {
    root = await createTestRoot('dolly-it-poolgrow-');
    scratch = await mkdtemp(join(tmpdir(), 'dolly-it-poolgrow-dev-'));
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-poolgrow-source', port: SOURCE_PORT });
    await mariadbQuery(source(), "CREATE DATABASE fill; CREATE TABLE fill.t (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB; CREATE TABLE fill.early (v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO fill.early VALUES ('before'), ('the'), ('flood')");
    await initPool({ driver: 'btrfs', size: '1G', ports: CLONE_PORTS }, root.deps);
    await initReplica({ source: source() }, root.deps);
    await createSnapshot(root.deps);
    reader = await createClone({ name: 'reader' }, root.deps);
    engine = await spawnEngine(root.root, ['--listen', ENGINE_LISTEN]);
    sampler = setInterval(() => {
      void sample();
    }, 250);
  });

  after(async () => {
    stopWriting = true;
    clearInterval(sampler);
    await writer?.catch(() => undefined);
    if (engine) {
      await engine.stop();
      // What the engine's watcher did, for the record.
      console.log(engine.log().split('\n').filter((l) => /pool|replication|space/i.test(l)).slice(-20).join('\n'));
    }
    await root?.dispose();
    if (mountedElsewhere) await run('umount', [mountedElsewhere]).catch(() => undefined);
    for (const loop of loops) {
      await run('btrfs', ['device', 'scan', '--forget', loop]).catch(() => undefined);
      await run('losetup', ['-d', loop]).catch(() => undefined);
    }
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await production?.stop();
  });

  /** The pool's free space and mount options, every 250 ms from the start of the writes. */
  async function sample(): Promise<void> {
    const fs = await statfs(mountpoint()).catch(() => null);
    if (fs === null) return;
    seen.samples += 1;
    const free = fs.bavail * fs.bsize;
    if (seen.grown) seen.catchingUp = Math.min(seen.catchingUp, free);
    else seen.filling = Math.min(seen.filling, free);
    const line = (await readFile('/proc/mounts', 'utf8')).split('\n').find((l) => l.split(' ')[1] === mountpoint());
    const options = line?.split(' ')[3]?.split(',') ?? [];
    if (options.includes('ro')) seen.readOnly.push(`${new Date().toISOString()} ${line ?? ''}`);
  }

  /** The source writes WRITE_BYTES of random rows, one 8 MiB transaction at a time; returns the rows written. */
  async function write(): Promise<number> {
    const client = await connectSql(production.connectOptions);
    const row = `CONCAT(${Array.from({ length: ROW_BYTES / 1024 }, () => 'RANDOM_BYTES(1024)').join(', ')})`;
    let rows = 0;
    try {
      while (rows * ROW_BYTES < WRITE_BYTES && !stopWriting) {
        await client.execute(`INSERT INTO fill.t (b) SELECT ${row} FROM fill.seq_1_to_${CHUNK_ROWS}`);
        rows += CHUNK_ROWS;
      }
    } finally {
      await client.close();
    }
    return rows;
  }

  const replicaState = (): ReturnType<TestRoot['deps']['store']['require']>['replica'] => root.deps.store.require().replica;

  async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('pauses the replica before the pool is full, after pool.low; the pool stays writable', async () => {
    writeStarted = Date.now();
    writer = write();
    await until('the replica paused for space', () => replicaState()?.space_pause !== undefined, 15 * 60_000);
    pausedAt = Date.now();
    const pause = replicaState()?.space_pause;
    assert.ok(pause);
    // Below the pause level, or early by the look-ahead (the free space falling fast), but not before pool.low.
    const reserve = root.deps.store.require().settings.reserve_bytes ?? 0;
    const { pauseBelow } = spaceLevels(reserve, pause.total_bytes);
    assert.ok(pause.free_bytes < 2 * reserve, `paused at ${pause.free_bytes} bytes free, with more than twice the reserve (${reserve}) free`);
    console.log(`paused ${((pausedAt - writeStarted) / 1000).toFixed(1)} s after the writes began, ${(pause.free_bytes / MiB).toFixed(0)} MiB free of ${(pause.total_bytes / MiB).toFixed(0)} MiB (pause level ${pauseBelow / MiB} MiB, look-ahead ${LOOKAHEAD_MS / 1000} s)`);
    const events = storeEventLog(root.deps.store).after(0, 10_000);
    const low = events.find((e) => e.type === 'pool.low');
    assert.ok(low, `no pool.low event among ${events.map((e) => e.type).join(', ')}`);
    assert.ok(Date.parse(low.at) <= Date.parse(pause.at), `pool.low at ${low.at}, after the pause at ${pause.at}`);
    // The threads are stopped; the server runs.
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.server, 'running');
    await until('both replication threads stopped', async () => {
      const s = await getReplicaStatus(root.deps);
      return !s.io_running && !s.sql_running;
    }, 10_000);
    // Writable: a file can still be written into the pool, and it was never mounted read-only.
    const probe = join(mountpoint(), 'write-probe');
    await writeFile(probe, 'still writable');
    await rm(probe);
    assert.deepEqual(seen.readOnly, [], 'the pool was mounted read-only');
    assert.ok(seen.filling > 0, 'the pool was full');
  });

  it('`status` and `replica status` say "pool full" (free/total, the grow hint) within 3 s', async () => {
    for (const args of [['status'], ['replica', 'status']]) {
      const started = Date.now();
      const result = await dolly(['--root', root.root, '--json', ...args], { DOLLY_URL: '', DOLLY_TOKEN: '' });
      const took = Date.now() - started;
      assert.equal(result.code, 0, result.stderr);
      assert.ok(took < 3_000, `${args.join(' ')} took ${took} ms`);
      console.log(`dolly ${args.join(' ')}: ${took} ms`);
      const parsed = JSON.parse(result.stdout) as { replica?: string; last_error?: string };
      const said = args[0] === 'status' ? parsed.replica : parsed.last_error;
      assert.match(said ?? '', /pool full: [\d.]+ MiB free of [\d.]+ (MiB|GiB), replication paused by dolly since .+`dolly pool grow --size N` or `--add-device DEV`/);
    }
    const text = await dolly(['--root', root.root, 'status'], { DOLLY_URL: '', DOLLY_TOKEN: '' });
    assert.match(text.stdout, /^replica +127\.0\.0\.1:7820 — pool full: /m);
  });

  it('the clone made before keeps answering, and the pause holds', async () => {
    assert.equal(await mariadbQuery(reader, 'SELECT GROUP_CONCAT(v ORDER BY v) FROM fill.early'), 'before,flood,the');
    await new Promise((r) => setTimeout(r, 5_000)); // two more checks of the engine's watcher
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.io_running || status.sql_running, false, 'replication runs again while the pool is full');
    assert.ok(replicaState()?.space_pause);
    assert.equal(await mariadbQuery(reader, 'SELECT COUNT(*) FROM fill.early'), '3');
  });

  it('refuses bad `pool grow` input with one line and a hint, changing nothing', async () => {
    const pool = { ...root.deps.store.require().pool };
    const imageBytes = (await stat(image())).size;
    const devices = async (): Promise<string> => (await run('btrfs', ['filesystem', 'show', mountpoint()])).stdout.replace(/used \S+/g, '');
    const devicesBefore = await devices();
    const ownLoop = /path (\/dev\/loop\d+)/.exec(devicesBefore)?.[1] ?? '';
    assert.notEqual(ownLoop, '');
    // A device in use: a small btrfs on a loop device of the test's own, mounted.
    const busyImage = join(scratch, 'busy.img');
    await writeFile(busyImage, '');
    await truncate(busyImage, 256 * MiB);
    await run('mkfs.btrfs', ['-q', busyImage]);
    const busy = (await run('losetup', ['-f', '--show', busyImage])).stdout.trim();
    loops.push(busy);
    mountedElsewhere = join(scratch, 'busy');
    await mkdir(mountedElsewhere);
    await run('mount', [busy, mountedElsewhere]);
    const cases: Array<[string[], RegExp]> = [
      [['--size', '512M'], /^dolly: the pool image is already 1\.0 GiB; --size 512M would not grow it \(hint: give a size larger than 1\.0 GiB\)\n$/],
      [['--size', '1G'], /^dolly: the pool image is already 1\.0 GiB; --size 1G would not grow it \(hint: .+\)\n$/],
      [['--size', 'lots'], /^dolly: invalid size "lots" \(hint: .+\)\n$/],
      [['--size', '4G', '--add-device', busy], /^dolly: --size and --add-device exclude each other \(hint: .+\)\n$/],
      [[], /^dolly: say how to grow the pool \(hint: .+\)\n$/],
      [['--add-device', busy], new RegExp(`^dolly: ${busy} is in use \\(mounted, or held by another device\\) \\(hint: .+\\)\\n$`)],
      [['--add-device', ownLoop], new RegExp(`^dolly: ${ownLoop} is already part of the pool \\(hint: .+\\)\\n$`)],
      [['--add-device', busyImage], /^dolly: .+busy\.img is not a block device \(hint: .+\)\n$/],
      [['--add-device', '/dev/no-such-disk'], /^dolly: device \/dev\/no-such-disk does not exist \(hint: .+\)\n$/],
    ];
    for (const [args, message] of cases) {
      const refused = await dolly(['--root', root.root, 'pool', 'grow', ...args]);
      assert.notEqual(refused.code, 0, `pool grow ${args.join(' ')} was not refused`);
      assert.match(refused.stderr, message, `pool grow ${args.join(' ')}`);
    }
    assert.equal((await stat(image())).size, imageBytes, 'the image file changed');
    assert.equal(await devices(), devicesBefore, "the pool's devices changed");
    assert.deepEqual(root.deps.store.require().pool, pool, 'the pool config changed');
    assert.ok(replicaState()?.space_pause, 'a refused grow resumed replication');
  });

  // 6G: the replica catching up needs room for its data (2 GB) and the relay logs not yet applied (up to 2 GB).
  it('`pool grow --size 6G` grows the pool while everything runs and replication resumes by itself', async () => {
    const started = Date.now();
    seen.grown = true;
    const grown = await dolly(['--root', root.root, '--json', 'pool', 'grow', '--size', '6G']);
    assert.equal(grown.code, 0, grown.stderr);
    const result = JSON.parse(grown.stdout) as { from_bytes: number; to_bytes: number; free_bytes: number; resumed: boolean };
    console.log(`pool grow --size 6G: ${Date.now() - started} ms, ${(result.from_bytes / MiB).toFixed(0)} → ${(result.to_bytes / MiB).toFixed(0)} MiB, resumed by the command: ${result.resumed}`);
    assert.ok(result.to_bytes > 5.5 * GiB, `the pool is ${result.to_bytes} bytes`);
    assert.equal((await stat(image())).size, 6 * GiB);
    // Resumed by the command itself, or (had the engine's watcher looked first) by the engine.
    await until('replication resumed', async () => {
      const s = await getReplicaStatus(root.deps);
      return replicaState()?.space_pause === undefined && s.io_running && s.sql_running;
    }, 10_000);
    assert.equal(await mariadbQuery(reader, 'SELECT COUNT(*) FROM fill.early'), '3');
  });

  it('`pool grow --add-device` adds a blank disk while everything runs', async () => {
    const blankImage = join(scratch, 'blank.img');
    await writeFile(blankImage, '');
    await truncate(blankImage, GiB);
    const blank = (await run('losetup', ['-f', '--show', blankImage])).stdout.trim();
    loops.push(blank);
    const grown = await dolly(['--root', root.root, '--json', 'pool', 'grow', '--add-device', blank]);
    assert.equal(grown.code, 0, grown.stderr);
    const result = JSON.parse(grown.stdout) as { from_bytes: number; to_bytes: number };
    assert.ok(result.to_bytes >= result.from_bytes + 0.9 * GiB, `the pool went from ${result.from_bytes} to ${result.to_bytes} bytes`);
    assert.match((await run('btrfs', ['filesystem', 'show', mountpoint()])).stdout, new RegExp(`path ${blank}\\b`));
    assert.deepEqual(root.deps.store.require().pool.added_devices, [blank]);
  });

  it('nothing is lost: once caught up, the source and the replica have the same checksums', async () => {
    const rows = await (writer ?? Promise.resolve(0));
    assert.equal(rows * ROW_BYTES, WRITE_BYTES);
    console.log(`the source wrote ${WRITE_BYTES / GiB} GiB in ${((Date.now() - writeStarted) / 1000).toFixed(0)} s (or less); lowest free space seen: ${(seen.filling / MiB).toFixed(0)} MiB on the 1 GB pool, ${(seen.catchingUp / MiB).toFixed(0)} MiB once grown (${seen.samples} samples)`);
    const seq = (gtid: string): number => Number(gtid.split('-').at(-1) ?? 0);
    const target = seq(await mariadbQuery(source(), 'SELECT @@gtid_binlog_pos'));
    await until('the replica caught up', async () => seq((await getReplicaStatus(root.deps)).gtid) >= target, 10 * 60_000);
    const state = root.deps.store.require();
    assert.ok(state.replica);
    const replica = await connectSql({ ...replicaConnectOptions(root.root, state.replica), queryTimeoutMs: 600_000 });
    const primary = await connectSql({ ...production.connectOptions, queryTimeoutMs: 600_000 });
    try {
      const checksum = async (client: SqlClient): Promise<string> =>
        (await client.query<{ Table: string; Checksum: unknown }>('CHECKSUM TABLE fill.t, fill.early')).map((r) => `${r.Table}=${String(r.Checksum)}`).join(' ');
      const [onSource, onReplica] = [await checksum(primary), await checksum(replica)];
      assert.equal(onReplica, onSource);
      assert.doesNotMatch(onSource, /=null/i);
      const count = async (client: SqlClient): Promise<string> => String((await client.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM fill.t'))[0]?.n);
      assert.equal(await count(replica), String(rows));
      assert.equal(await count(primary), String(rows));
    } finally {
      await replica.close();
      await primary.close();
    }
    assert.deepEqual(seen.readOnly, [], 'the pool was mounted read-only');
    assert.ok(seen.catchingUp > 0, 'the grown pool was full');
  });

  it("an operator's stop is left alone: the check never starts replication it did not pause", async () => {
    const state = root.deps.store.require();
    assert.ok(state.replica);
    const client = await connectSql(replicaConnectOptions(root.root, state.replica));
    try {
      await client.execute('STOP SLAVE');
      const check = await checkPoolSpace(root.deps);
      assert.equal(check.action, 'none');
      await new Promise((r) => setTimeout(r, 5_000)); // the engine's watcher looks twice meanwhile
      const status = await getReplicaStatus(root.deps);
      assert.equal(status.io_running || status.sql_running, false, 'dolly started replication an operator stopped');
      assert.equal(status.last_error, null);
    } finally {
      await client.execute('START SLAVE').catch(() => undefined);
      await client.close();
    }
  });
});
