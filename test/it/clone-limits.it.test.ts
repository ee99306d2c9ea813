import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createConnection, type Connection } from 'mysql2/promise';
import { createDockerClient } from '../../src/docker/client.js';
import { startLoadEmulator, startProductionServer, type LoadEmulator, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone, type CloneView } from '../../src/engine/clone-create.js';
import { cloneContainerLimits, cloneLimits, cloneServerArgs, type CloneLimits } from '../../src/engine/clone-limits.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { REPLICA, cloneServerName, replicaConnectOptions } from '../../src/engine/servers.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { CLONE_PRIVILEGES, accountInitSql } from '../../src/engine/server-config.js';
import { SERVER_UID } from '../../src/docker/server-user.js';
import { flavorOps, type Flavor } from '../../src/mysql/flavor.js';
import { INIT_FILE_NAME } from '../../src/mysql/server-args.js';
import { connectSql, type SqlClient } from '../../src/mysql/sql-client.js';
import { DockerRuntime, containerName } from '../../src/runtime/docker-runtime.js';
import { CONTAINER_DATADIR } from '../../src/runtime/container-layout.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { createTestRoot, dolly, type TestRoot } from '../support/engine-harness.js';
import { spawnEngine, type EngineProcess } from '../support/engine-server.js';

const PASSWORD = 'Pr0d-secret!';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Not the defaults, so the test sees the settings flow from `init` to the containers. */
const SETTINGS = { cloneMemory: '480M', cloneCpus: '0.75', cloneConnections: '24' };
const ABUSE_MS = 25_000;

type Conn = { host: string; port: number; user: string; password: string; tls?: { ca: string } | undefined };

async function connect(clone: Conn): Promise<Connection> {
  return createConnection({ host: clone.host, port: clone.port, user: clone.user, password: clone.password, multipleStatements: true, ...(clone.tls ? { ssl: { ca: clone.tls.ca, rejectUnauthorized: true } } : {}) });
}

/** The first column of the last row of the last result set (several statements give one per statement). */
async function value(c: Connection, sql: string): Promise<string> {
  const [result] = await c.query(sql);
  const sets: unknown[] = Array.isArray(result) && result.some((r) => Array.isArray(r)) ? result : [result];
  const rows = sets.filter((set): set is Record<string, unknown>[] => Array.isArray(set)).at(-1) ?? [];
  return String(Object.values(rows.at(-1) ?? {})[0] ?? '');
}

/** Lowering an OOM score needs CAP_SYS_RESOURCE (bit 24), which a sandboxed root may lack; Docker's daemon then lacks it too. */
async function canLowerOomScore(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8');
  const effective = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
  return (effective & (1n << 24n)) !== 0n;
}

function memAvailable(text: string): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1] ?? 0) * 1024;
}

/** The highest memory a container's cgroup ever used (cgroup v1 or v2), or null when not found. */
async function peakMemory(id: string): Promise<number | null> {
  for (const file of [`/sys/fs/cgroup/memory/docker/${id}/memory.max_usage_in_bytes`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.peak`, `/sys/fs/cgroup/docker/${id}/memory.peak`]) {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null) return Number(text.trim());
  }
  return null;
}

/** Runs `tick` every `everyMs` until stopped; `stop` waits for the last one. */
function every(everyMs: number, tick: () => Promise<void>): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      await tick();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * Per-clone limits (issue 18, point 1): while the source writes, one clone's own user abuses
 * memory and CPU on several connections; its container holds it (memory limit, no swap, CPU cap
 * and weight), its server caps what a session raises, the replica keeps up within 2 s, the host
 * keeps memory, the engine answers, and another clone's queries keep working. Real Docker,
 * MariaDB 10.11 and btrfs.
 */
describe('clone limits: one clone abuses memory and CPU, nobody else notices', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let load: LoadEmulator;
  let engine: EngineProcess | undefined;
  let abuser: CloneView;
  let other: CloneView;
  let limits: CloneLimits;
  const docker = createDockerClient();
  const source = (): { host: string; port: number; user: string; password: string } => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });

  before(async () => {
    root = await createTestRoot('dolly-it-limits-');
    production = await startProductionServer({ docker, root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-limits-source' });
    const sql = await production.sql();
    try {
      await sql.execute('CREATE DATABASE shop');
      await sql.execute('CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB');
      await sql.execute("INSERT INTO shop.t VALUES (1, 'one'), (2, 'two')");
      await sql.execute('CREATE TABLE shop.heartbeat (id INT PRIMARY KEY, ms BIGINT NOT NULL) ENGINE=InnoDB');
      await sql.execute('INSERT INTO shop.heartbeat VALUES (1, 0)');
    } finally {
      await sql.close();
    }
    load = await startLoadEmulator(source(), { database: 'docker', intervalMs: 100 });
    await initPool({ driver: 'btrfs', size: '2G', ports: '7700-7719', ...SETTINGS }, root.deps);
    limits = cloneLimits(root.deps.store.require().settings);
    await initReplica({ source: source() }, root.deps);
    await createSnapshot(root.deps);
    abuser = await createClone({ name: 'abuser' }, root.deps);
    other = await createClone({ name: 'other' }, root.deps);
    engine = await spawnEngine(root.root);
  });

  after(async () => {
    await engine?.stop();
    await load?.stop();
    await root?.dispose();
    await production?.stop();
  });

  it('init records the limits; a limit that leaves no room beside the buffer pool is refused in one line, nothing made', async () => {
    const { settings } = root.deps.store.require();
    assert.equal(settings.clone_memory_bytes, 480 * MiB);
    assert.equal(settings.clone_cpus, 0.75);
    assert.equal(settings.clone_connections, 24);
    const elsewhere = await mkdtemp(join(tmpdir(), 'dolly-it-limits-bad-'));
    try {
      const refused = await dolly(['--root', join(elsewhere, 'root'), 'init', '--driver', 'copy', '--clone-memory', '100M']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /--clone-memory 100M leaves too little beside the 64M buffer pool/);
      assert.match(refused.stderr, /256M/, 'the hint says how much');
      const badCpus = await dolly(['--root', join(elsewhere, 'root'), 'init', '--driver', 'copy', '--clone-cpus', 'many']);
      assert.notEqual(badCpus.code, 0);
      assert.match(badCpus.stderr, /invalid --clone-cpus "many"/);
      await assert.rejects(readFile(join(elsewhere, 'root', 'dolly.db')), 'no state was made');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("the containers' limits are what the settings say; the replica and the engine are the OOM killer's last choice", async () => {
    const clone = await docker.getContainer(containerName(root.root, cloneServerName('abuser'))).inspect();
    assert.equal(clone.HostConfig.Memory, 480 * MiB);
    assert.equal(clone.HostConfig.MemorySwap, 480 * MiB, 'no swap beyond the memory limit');
    assert.equal(clone.HostConfig.NanoCpus, 750_000_000);
    assert.equal(clone.HostConfig.OomScoreAdj, 500);
    const tmpfs = clone.HostConfig.Tmpfs?.['/tmp'] ?? '';
    const tmpBytes = Number(/size=(\d+)/.exec(tmpfs)?.[1]);
    assert.ok(tmpBytes > 0 && tmpBytes + limits.bufferPoolBytes < 480 * MiB, `the tmpfs (${tmpfs}) fits under the limit beside the buffer pool`);
    const replica = await docker.getContainer(containerName(root.root, REPLICA)).inspect();
    assert.ok((clone.HostConfig.CpuShares ?? 1024) < (replica.HostConfig.CpuShares ?? 1024), 'a clone weighs less than the replica');
    assert.ok(!replica.HostConfig.Memory, 'the replica has no memory limit');
    const score = async (pid: number): Promise<number> => Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim());
    assert.equal(await score(clone.State.Pid), 500);
    if (await canLowerOomScore()) {
      assert.equal(await score(replica.State.Pid), -500);
      assert.equal(await score(engine?.pid ?? 0), -500, "the engine's own score");
    } else {
      // Without CAP_SYS_RESOURCE nobody may go below 0: the replica and the engine keep the default, still after every clone.
      assert.equal(await score(replica.State.Pid), 0);
      assert.equal(await score(engine?.pid ?? 0), 0);
      assert.match(engine?.log() ?? '', /cannot lower the engine's OOM score/);
    }
  });

  it('the clone user cannot raise what its session may use beyond the caps', async () => {
    const c = await connect(abuser);
    try {
      assert.equal(await value(c, 'SELECT CURRENT_USER()'), 'dolly@%', 'the default clone user, not an admin');
      for (const variable of ['max_heap_table_size', 'tmp_table_size']) {
        assert.equal(Number(await value(c, `SET SESSION ${variable} = 64*1024*1024*1024; SELECT @@SESSION.${variable}`)), limits.tableBytes, variable);
      }
      assert.equal(Number(await value(c, 'SET SESSION sort_buffer_size = 8*1024*1024*1024; SELECT @@SESSION.sort_buffer_size')), limits.bufferBytes);
      assert.equal(Number(await value(c, 'SET SESSION max_session_mem_used = 64*1024*1024*1024; SELECT @@SESSION.max_session_mem_used')), limits.sessionBytes);
      assert.equal(Number(await value(c, 'SELECT @@max_connections')), 24);
    } finally {
      await c.end();
    }
  });

  it('memory and CPU abuse on several connections: the replica keeps up within 2 s, the host keeps memory, the engine and the other clone answer', async () => {
    const conns: Connection[] = [];
    const replica = await connectSql(replicaConnectOptions(root.root, root.deps.store.require().replica ?? assert.fail('no replica')));
    const writer = await connectSql(source());
    const otherSql: SqlClient = await connectSql({ host: other.host, port: other.port, user: other.user, password: other.password, ...(other.tls ? { tls: { verify: 'ca', ca: other.tls.ca } } : {}) });
    const seen = { maxLagMs: 0, minAvailable: Number.POSITIVE_INFINITY, maxHealthzMs: 0, healthzFailures: 0, otherOk: 0, otherFailures: [] as string[], abuseErrors: [] as string[], peak: 0, heartbeats: 0 };
    const abuserId = (await docker.getContainer(containerName(root.root, cloneServerName('abuser'))).inspect()).Id;
    const monitors = [
      every(200, async () => {
        await writer.execute('UPDATE shop.heartbeat SET ms = ? WHERE id = 1', [Date.now()]).catch(() => undefined);
      }),
      every(200, async () => {
        const rows = await replica.query<{ ms: number | string }>('SELECT ms FROM shop.heartbeat WHERE id = 1');
        const ms = Number(rows[0]?.ms ?? 0);
        if (ms > 0) {
          seen.heartbeats += 1;
          seen.maxLagMs = Math.max(seen.maxLagMs, Date.now() - ms);
        }
      }),
      every(250, async () => {
        seen.minAvailable = Math.min(seen.minAvailable, memAvailable(await readFile('/proc/meminfo', 'utf8')));
        seen.peak = Math.max(seen.peak, (await peakMemory(abuserId)) ?? 0);
      }),
      every(500, async () => {
        const started = Date.now();
        const ok = await fetch(`${engine?.url ?? ''}/healthz`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.ok, () => false);
        seen.maxHealthzMs = Math.max(seen.maxHealthzMs, Date.now() - started);
        if (!ok) seen.healthzFailures += 1;
      }),
      every(300, async () => {
        try {
          const rows = await otherSql.query<{ n: number }>('SELECT COUNT(*) AS n FROM shop.t');
          assert.equal(Number(rows[0]?.n), 2);
          seen.otherOk += 1;
        } catch (error) {
          seen.otherFailures.push(String(error));
        }
      }),
    ];
    let ending = false;
    const failed = (error: unknown): void => {
      if (!ending) seen.abuseErrors.push(String(error));
    };
    const abuse = async (sql: string): Promise<void> => {
      const c = await connect(abuser).catch((error: unknown) => (failed(error), null));
      if (c === null) return;
      conns.push(c);
      await c.query(sql).catch(failed);
    };
    const work: Promise<void>[] = [];
    try {
      // Warm up: the monitors see a healthy world first.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const setup = await connect(abuser);
      await setup.query('CREATE DATABASE abuse');
      await setup.end();
      // CPU on four connections, a big GROUP BY and a big sort on two more (they spill to the tmpfs).
      work.push(...[1, 2, 3, 4].map(() => abuse('SELECT BENCHMARK(4000000000, SHA2(RAND(), 512))')));
      work.push(abuse("SET SESSION tmp_table_size = 64*1024*1024*1024, max_heap_table_size = 64*1024*1024*1024; SELECT seq % 20000000 AS k, COUNT(*), MAX(REPEAT('x', 300)) FROM abuse.seq_1_to_40000000 GROUP BY k ORDER BY k DESC LIMIT 1"));
      work.push(abuse('SET SESSION sort_buffer_size = 64*1024*1024*1024; SELECT seq, REPEAT(MD5(seq), 20) AS v FROM abuse.seq_1_to_30000000 ORDER BY v DESC LIMIT 1'));
      await new Promise((resolve) => setTimeout(resolve, ABUSE_MS));
      // Memory: MEMORY tables filled to their cap, as many as it takes, on six connections.
      const fill = async (n: number): Promise<void> => {
        const c = await connect(abuser).catch((error: unknown) => (failed(error), null));
        if (c === null) return;
        conns.push(c);
        const until = Date.now() + ABUSE_MS;
        for (let k = 0; Date.now() < until; k += 1) {
          try {
            await c.query(`SET SESSION max_heap_table_size = 64*1024*1024*1024; CREATE TABLE abuse.m${n}_${k} (id INT, v VARCHAR(1000)) ENGINE=MEMORY`);
            await c.query(`INSERT INTO abuse.m${n}_${k} SELECT seq, REPEAT('x', 1000) FROM abuse.seq_1_to_1000000`);
          } catch (error) {
            failed(error);
            if (!/is full/.test(String(error))) return;
          }
        }
      };
      await Promise.all([1, 2, 3, 4, 5, 6].map(fill));
    } finally {
      // What still runs is ended by the clone user itself (a closed client leaves its query running).
      ending = true;
      const killer = await connect(abuser).catch(() => null);
      if (killer !== null) {
        const [rows] = await killer.query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'dolly' AND ID <> CONNECTION_ID()").catch(() => [[]]);
        for (const row of Array.isArray(rows) ? (rows as { ID: number }[]) : []) await killer.query(`KILL ${Number(row.ID)}`).catch(() => undefined);
        await killer.end().catch(() => undefined);
      }
      await Promise.race([Promise.allSettled(work), new Promise((resolve) => setTimeout(resolve, 30_000))]);
      for (const c of conns) c.destroy();
      for (const monitor of monitors) await monitor.stop();
      await Promise.all([replica.close(), writer.close(), otherSql.close()]);
    }
    const state = await docker.getContainer(containerName(root.root, cloneServerName('abuser'))).inspect();
    const report = { ...seen, abuseErrors: [...new Set(seen.abuseErrors.map((e) => e.slice(0, 90)))].slice(0, 8), oomKilled: state.State.OOMKilled, abuserRunning: state.State.Running };
    console.log(`clone limits: ${JSON.stringify(report)}`);
    assert.ok(seen.heartbeats > 50, `the replica was read ${seen.heartbeats} times`);
    assert.ok(seen.maxLagMs <= 2_000, `the replica fell ${seen.maxLagMs} ms behind`);
    assert.ok(seen.minAvailable > GiB, `the host's MemAvailable fell to ${seen.minAvailable}`);
    assert.ok(seen.maxHealthzMs <= 1_000 && seen.healthzFailures === 0, `/healthz took up to ${seen.maxHealthzMs} ms (${seen.healthzFailures} failures)`);
    assert.deepEqual(seen.otherFailures, [], "the other clone's queries failed");
    assert.ok(seen.otherOk > 50, `the other clone answered ${seen.otherOk} times`);
    // The abuse was bounded: its queries failed (a table full, a session out of memory, its server
    // ended by its own limit), and its container never used more than its limit.
    assert.ok(seen.abuseErrors.some((e) => /is full|memory|Lost connection|Connection lost|server closed|ECONNRESET|PROTOCOL_CONNECTION_LOST/i.test(e)), `no abusive query failed: ${seen.abuseErrors.join('; ')}`);
    assert.ok(seen.peak > 0 && seen.peak <= 480 * MiB, `the abusive clone's container peaked at ${seen.peak} bytes`);
    // The other clone and the replica are still there.
    const after = await connect(other);
    try {
      assert.equal(await value(after, 'SELECT v FROM shop.t WHERE id = 1'), 'one');
    } finally {
      await after.end();
    }
  });
});

/**
 * A server that refused one of the flags would break every clone of its flavor: a clone server of
 * MySQL 9.7 and of MariaDB 11.8, started with the default limits' flags, answers, and caps what its
 * (non-admin) user raises.
 */
/**
 * Initialises an empty datadir with the image's own tool, as the servers' user: a clone's server
 * starts on a made datadir (its command line has no initialisation step).
 */
async function initEmptyDatadir(image: string, flavor: Flavor, path: string): Promise<void> {
  await chown(path, SERVER_UID, SERVER_UID);
  const docker = createDockerClient();
  const container = await docker.createContainer({
    Image: image,
    User: `${SERVER_UID}:${SERVER_UID}`,
    Entrypoint: [],
    Cmd: flavorOps(flavor).initDatadir(CONTAINER_DATADIR),
    HostConfig: { NetworkMode: 'none', Binds: [`${path}:${CONTAINER_DATADIR}`] },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    assert.equal(StatusCode, 0, 'initialising the datadir failed');
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

describe('clone limits on other servers: MySQL 9.7 and MariaDB 11.8 start with the flags and cap a session', { skip: skipUnless('root', 'docker') }, () => {
  const docker = createDockerClient();
  const cases: { image: string; flavor: 'mysql' | 'mariadb'; port: number; needs: Capability }[] = [
    { image: 'dolly/mysql:9.7', flavor: 'mysql', port: 7730, needs: 'image-mysql-9.7' },
    { image: 'dolly/mariadb:11.8', flavor: 'mariadb', port: 7731, needs: 'image-mariadb-11.8' },
  ];
  for (const { image, flavor, port, needs } of cases) {
    it(image, { skip: skipUnless(needs) }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dolly-it-limits-server-'));
      const runtime = new DockerRuntime(docker, dir);
      const password = 'Cl0ne-pw!';
      const limits = cloneLimits({ buffer_pool: '64M' });
      try {
        await mkdir(join(dir, 'data'));
        await mkdir(join(dir, 'run'));
        await writeFile(join(dir, 'run', INIT_FILE_NAME), accountInitSql('dolly', ['%'], password, CLONE_PRIVILEGES));
        await initEmptyDatadir(image, flavor, join(dir, 'data'));
        await runtime.start({
          name: 'clone-limits',
          kind: 'clone',
          image,
          volume: 'limits',
          data: { kind: 'path', path: join(dir, 'data') },
          runDir: join(dir, 'run'),
          server: { flavor, serverId: 4242, role: 'clone', bufferPool: '64M', limits: cloneServerArgs(flavor, limits) },
          network: 'host',
          port,
          bindAddress: '127.0.0.1',
          limits: cloneContainerLimits(limits),
        });
        const clone = { host: '127.0.0.1', port, user: 'dolly', password };
        let c: Connection | null = null;
        for (const deadline = Date.now() + 180_000; c === null; ) {
          c = await createConnection({ ...clone, multipleStatements: true, ...(flavor === 'mysql' ? { ssl: { rejectUnauthorized: false } } : {}) }).catch(() => null);
          if (c !== null) break;
          const info = await runtime.inspect('clone-limits');
          assert.equal(info.state, 'running', `the server exited: ${await runtime.logs('clone-limits', 20)}${await readFile(join(dir, 'run', 'error.log'), 'utf8').catch(() => '')}`);
          assert.ok(Date.now() < deadline, 'the server never answered');
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
        try {
          assert.equal(Number(await value(c, 'SELECT @@max_connections')), 50);
          assert.equal(Number(await value(c, 'SET SESSION max_heap_table_size = 64*1024*1024*1024; SELECT @@SESSION.max_heap_table_size')), limits.tableBytes);
          assert.equal(Number(await value(c, 'SET SESSION tmp_table_size = 64*1024*1024*1024; SELECT @@SESSION.tmp_table_size')), limits.tableBytes);
          assert.equal(Number(await value(c, 'SET SESSION join_buffer_size = 64*1024*1024*1024; SELECT @@SESSION.join_buffer_size')), limits.bufferBytes);
          if (flavor === 'mysql') {
            assert.equal(Number(await value(c, 'SELECT @@SESSION.connection_memory_limit')), limits.sessionBytes);
            assert.equal(Number(await value(c, 'SELECT @@global_connection_memory_limit')), limits.allSessionsBytes);
            assert.equal(Number(await value(c, 'SELECT @@global_connection_memory_tracking')), 1);
            assert.equal(Number(await value(c, 'SELECT @@temptable_max_ram')), limits.sessionBytes);
            assert.equal(Number(await value(c, 'SELECT @@temptable_max_mmap')), 0);
            await assert.rejects(c.query('SET SESSION connection_memory_limit = 64*1024*1024*1024'), /SESSION_VARIABLES_ADMIN|denied/);
          } else {
            assert.equal(Number(await value(c, 'SET SESSION max_session_mem_used = 64*1024*1024*1024; SELECT @@SESSION.max_session_mem_used')), limits.sessionBytes);
            assert.equal(Number(await value(c, 'SELECT @@max_tmp_total_space_usage')), limits.tmpdirBytes);
          }
        } finally {
          await c.end();
        }
        const inspected = await docker.getContainer(containerName(dir, 'clone-limits')).inspect();
        assert.equal(inspected.HostConfig.Memory, limits.memoryBytes);
        assert.equal(inspected.HostConfig.OomScoreAdj, 500);
      } finally {
        await runtime.remove('clone-limits');
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
