import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createConnection } from 'mysql2/promise';
import type { DollyApi } from '../../src/api/api.js';
import { localApi } from '../../src/api/local.js';
import { remoteApi } from '../../src/api/remote.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { prepareServerName } from '../../src/engine/prepare.js';
import { runDir } from '../../src/engine/context.js';
import { replicaConnectOptions } from '../../src/engine/servers.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { DollyError } from '../../src/errors.js';
import { signature } from '../../src/server/webhooks.js';
import { freePort } from '../../src/free-port.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine, type EngineProcess } from '../support/engine-server.js';

const PASSWORD = 'Pr0d-secret!';
const SECRET = 'hook-secret-123';
/** The engine's port in the kill tests (this suite's range: 7780-7819). */
const KILL_PORT = 7800;

interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

/** A webhook receiver on loopback that fails the first `failFirst` attempts of every delivery. */
async function receiver(failFirst: number, listenPort = 0): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const attempts = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const id = String(request.headers['x-dolly-delivery']);
      const seen = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, seen);
      const status = seen <= failFirst ? 500 : 204;
      deliveries.push({ headers: request.headers, body, status });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/hook`, deliveries, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Reads a server-sent events stream into `events` until aborted. */
function follow(url: string, token: string, events: { type: string; owner?: string; data: Record<string, unknown> }[]): AbortController {
  const abort = new AbortController();
  void (async () => {
    const response = await fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const reader = response.body?.getReader();
    let buffer = '';
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) return;
      buffer += new TextDecoder().decode(chunk.value);
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (data) events.push(JSON.parse(data.slice(6)) as { type: string; data: Record<string, unknown> });
      }
    }
  })().catch(() => undefined);
  return abort;
}

describe('dolly serve: webhooks, events, branches, schedules, idle clones', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let scratch: string;
  let admin: DollyApi;
  let alice: DollyApi;
  let bob: DollyApi;
  const tokens: Record<string, string> = {};
  const source = { host: '127.0.0.1', port: 0, user: 'root', password: PASSWORD };

  before(async () => {
    root = await createTestRoot('dolly-it-life-');
    scratch = await mkdtemp(join(tmpdir(), 'dolly-it-life-files-'));
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-life-source' });
    source.port = production.port;
    await mariadbQuery(source, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.items VALUES (1,'a'),(2,'b'),(3,'c')");
    await initPool({ driver: 'btrfs', size: '3G', ports: '6760-6799' }, root.deps);
    await initReplica({ source }, root.deps);
    await createSnapshot(root.deps);
    hooks = await receiver(2);
    await writeFile(join(scratch, 'secret'), `${SECRET}\n`);
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--webhook', hooks.url, '--webhook-secret-file', join(scratch, 'secret')]);
    tokens.admin = await adminToken(root.root);
    admin = remoteApi({ url: engine.url, token: tokens.admin });
    for (const user of ['alice', 'bob']) tokens[user] = (await admin.tokenCreate({ name: user })).token;
    alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    bob = remoteApi({ url: engine.url, token: tokens.bob ?? '' });
  });

  after(async () => {
    await engine?.kill();
    await hooks?.close();
    await root?.dispose();
    await production?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('signs webhooks, retries failed deliveries, and streams each user only their own clone events', async () => {
    const seenByAlice: { type: string; owner?: string; data: Record<string, unknown> }[] = [];
    const stream = follow(engine.url, tokens.alice ?? '', seenByAlice);
    try {
      await new Promise((r) => setTimeout(r, 300));
      await alice.cloneCreate({ name: 'hooked' });
      await bob.cloneCreate({ name: 'bobs' });
      await until('both webhooks', async () => {
        const ok = hooks.deliveries.filter((d) => d.status === 204).map((d) => JSON.parse(d.body) as { type: string; data: { name?: string } });
        return ok.some((e) => e.type === 'clone.created' && e.data.name === 'hooked') && ok.some((e) => e.type === 'clone.created' && e.data.name === 'bobs');
      }, 30_000);
      for (const delivery of hooks.deliveries) {
        assert.equal(delivery.headers['x-dolly-signature'], signature(SECRET, delivery.body), 'a delivery with a wrong signature');
        assert.ok(!delivery.body.includes('password'), 'a webhook carries a password');
      }
      const created = hooks.deliveries.find((d) => d.status === 204 && d.body.includes('"hooked"'));
      const attempts = hooks.deliveries.filter((d) => d.headers['x-dolly-delivery'] === created?.headers['x-dolly-delivery']);
      assert.deepEqual(attempts.map((d) => d.status), [500, 500, 204], 'the failed delivery was not retried');
      await until('alice sees her event', async () => seenByAlice.some((e) => e.type === 'clone.created' && e.data.name === 'hooked'), 10_000);
      assert.ok(!seenByAlice.some((e) => e.data.name === 'bobs'), "alice's stream shows bob's clone");
    } finally {
      stream.abort();
    }
    await bob.cloneDestroy('bobs');
  });

  it('tells webhooks when replication stops and runs again, and when the pool runs low', async () => {
    const types = (): string[] => hooks.deliveries.filter((d) => d.status === 204).map((d) => (JSON.parse(d.body) as { type: string }).type);
    const state = root.deps.store.require();
    const replica = state.replica;
    assert.ok(replica);
    const client = await connectSql(replicaConnectOptions(root.root, replica));
    try {
      await client.execute('STOP SLAVE SQL_THREAD');
      await until('replication.stopped', async () => types().includes('replication.stopped'), 30_000);
      await client.execute('START SLAVE SQL_THREAD');
      await until('replication.running', async () => types().includes('replication.running'), 30_000);
    } finally {
      await client.close();
    }
    const reserve = state.settings.reserve_bytes;
    root.deps.store.update((st) => {
      st.settings.reserve_bytes = 1024 ** 4;
    });
    try {
      await until('pool.low', async () => types().includes('pool.low'), 30_000);
    } finally {
      root.deps.store.update((st) => {
        if (reserve === undefined) delete st.settings.reserve_bytes;
        else st.settings.reserve_bytes = reserve;
      });
    }
    const low = hooks.deliveries.find((d) => d.body.includes('"pool.low"'));
    assert.match(low?.body ?? '', /"free_bytes":\d+/);
  });

  it("saves a clone's state as a shared branch snapshot others can clone, with fresh credentials", async () => {
    const original = await alice.cloneGet('hooked');
    await mariadbQuery(original, "INSERT INTO shop.items VALUES (10, 'branch')");
    const branch = await alice.cloneSnapshot('hooked', { share: true });
    assert.equal(branch.branch_of, 'hooked');
    assert.equal(branch.owner, 'alice');
    assert.equal(branch.shared, true);
    assert.equal(branch.parent, original.snapshot);
    assert.ok(branch.pause_ms > 0);
    const after = await alice.cloneGet('hooked');
    assert.equal(after.state, 'running');
    assert.equal(after.status, 'ready');
    assert.equal(await mariadbQuery(after, 'SELECT COUNT(*) FROM shop.items'), '4', 'the branched clone lost its data');
    const child = await bob.cloneCreate({ name: 'from-branch', snapshot: branch.id });
    assert.equal(await mariadbQuery(child, "SELECT name FROM shop.items WHERE id = 10"), 'branch');
    await assert.rejects(mariadbQuery({ ...child, password: original.password }, 'SELECT 1'), /Access denied/, "the branch's clone accepts the original clone's password");
    await bob.cloneReset('from-branch', { snapshot: original.snapshot });
    assert.equal(await mariadbQuery(child, 'SELECT COUNT(*) FROM shop.items'), '3');
    await bob.cloneReset('from-branch', { snapshot: branch.id });
    assert.equal(await mariadbQuery(child, 'SELECT COUNT(*) FROM shop.items'), '4');
    await bob.cloneDestroy('from-branch');
    const listed = (await admin.snapshotList()).snapshots.find((s) => s.id === branch.id);
    assert.equal(listed?.branch_of, 'hooked');
    await admin.snapshotDestroy(branch.id);
  });

  it('snapshots on a schedule, keeps the newest N, and keeps an older one while a clone uses it', async () => {
    await assert.rejects(admin.scheduleSet({ snapshot: 'every minute', keep: 2 }), (e: unknown) => e instanceof DollyError && e.category === 'invalid_argument' && /invalid schedule/.test(e.message));
    await assert.rejects(alice.scheduleSet({ snapshot: '* * * * *', keep: 2 }), (e: unknown) => e instanceof DollyError && e.category === 'permission_denied');
    await admin.scheduleSet({ snapshot: '*/4 * * * * *', keep: 2 });
    const taken = new Set<string>();
    const scheduled = async (): Promise<string[]> => (await admin.snapshotList()).snapshots.filter((s) => s.scheduled && s.status === 'ready').map((s) => s.id);
    const firstId = await until('a scheduled snapshot', async () => (await scheduled())[0]);
    const kept = await alice.cloneCreate({ name: 'on-old', snapshot: firstId });
    await until('four scheduled snapshots', async () => {
      for (const id of await scheduled()) taken.add(id);
      return taken.size >= 4;
    }, 90_000);
    // The newest two are kept: between a new snapshot and the next sweep there may be three.
    const others = await until('retention applied', async () => {
      const now = (await scheduled()).filter((id) => id !== firstId);
      return now.length <= 2 ? now : undefined;
    }, 30_000);
    const old = (await admin.snapshotList()).snapshots.find((s) => s.id === firstId);
    assert.ok(old, 'the snapshot a clone uses was pruned');
    assert.equal(old.past_retention, true);
    const pruned = [...taken].filter((id) => id !== firstId && !others.includes(id));
    assert.ok(pruned.length >= 1, 'nothing was pruned');
    assert.equal(await mariadbQuery(kept, 'SELECT COUNT(*) FROM shop.items'), '3');
    await alice.cloneDestroy('on-old');
    await until('the old snapshot pruned once its clone went', async () => !(await admin.snapshotList()).snapshots.some((s) => s.id === firstId), 20_000);
    await admin.scheduleClear();
    assert.equal(await admin.scheduleGet(), null);
    assert.ok(hooks.deliveries.some((d) => (JSON.parse(d.body) as { type: string; data: { reason?: string } }).type === 'snapshot.destroyed'));
  });

  it('with --idle-after, destroys a clone nobody is connected to, but not one in use or protected', async () => {
    await engine.stop();
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--idle-after', '4s']);
    const api = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    const busy = await api.cloneCreate({ name: 'busy' });
    await api.cloneCreate({ name: 'unused' });
    await api.cloneCreate({ name: 'guarded' });
    await api.cloneProtect('guarded', { for: '1h' });
    const session = await createConnection({ host: busy.host, port: busy.port, user: busy.user, password: busy.password });
    try {
      await until('the unused clone destroyed', async () => !(await api.cloneList()).some((c) => c.name === 'unused'), 30_000);
      const names = (await api.cloneList()).map((c) => c.name);
      assert.ok(names.includes('busy'), 'a clone with a session was destroyed');
      assert.ok(names.includes('guarded'), 'a protected clone was destroyed');
    } finally {
      await session.end();
    }
    await until('the busy clone destroyed once its session ended', async () => !(await api.cloneList()).some((c) => c.name === 'busy'), 30_000);
    assert.ok((await api.cloneList()).some((c) => c.name === 'guarded'));
  });

  it('idle time survives an engine restart; a client that came and went while no engine ran counts as use', async () => {
    await engine.stop();
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--idle-after', '8s']);
    const api = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    const visited = await api.cloneCreate({ name: 'visited' });
    await api.cloneCreate({ name: 'forgotten' });
    await new Promise((r) => setTimeout(r, 3_000)); // a few readings of both
    await engine.stop();
    // While no engine runs, a client connects to one clone and leaves again.
    const session = await createConnection({ host: visited.host, port: visited.port, user: visited.user, password: visited.password });
    await session.query('SELECT 1');
    await session.end();
    await new Promise((r) => setTimeout(r, 3_000));
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--idle-after', '8s']);
    // Counted from when the engine answers (its start-up time on a busy machine is not the point):
    // one that forgot the idle time could destroy the clone no sooner than 8 s from here.
    const restarted = Date.now();
    const again = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    await until('the forgotten clone destroyed', async () => !(await again.cloneList()).some((c) => c.name === 'forgotten'), 30_000);
    assert.ok(Date.now() - restarted < 7_000, 'the idle time before the restart counted (an engine that forgot it would wait 8 s more)');
    assert.ok((await again.cloneList()).some((c) => c.name === 'visited'), 'the clone used while no engine ran was destroyed as idle');
    await again.cloneDestroy('visited');
  });

  it('changes made by the host CLI reach webhooks and the events stream, also those made while no engine ran', async () => {
    await engine.stop();
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--webhook', hooks.url, '--webhook-secret-file', join(scratch, 'secret')]);
    const seen: { type: string; owner?: string; data: Record<string, unknown> }[] = [];
    const stream = follow(engine.url, tokens.admin ?? '', seen);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const host = localApi(root.deps);
      await host.cloneCreate({ name: 'by-host' });
      await until('the host clone in the events stream', async () => seen.some((e) => e.type === 'clone.created' && e.data.name === 'by-host' && e.owner === 'local'), 10_000);
      await until('the host clone webhook', async () => hooks.deliveries.some((d) => d.status === 204 && d.body.includes('"by-host"')), 30_000);
      await engine.stop();
      await host.cloneDestroy('by-host');
      engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--webhook', hooks.url, '--webhook-secret-file', join(scratch, 'secret')]);
      const destroyed = await until('the destroy made while no engine ran, delivered', async () =>
        hooks.deliveries.find((d) => d.status === 204 && d.body.includes('"by-host"') && d.body.includes('clone.destroyed')),
      );
      assert.equal(destroyed.headers['x-dolly-signature'], signature(SECRET, destroyed.body));
    } finally {
      stream.abort();
    }
  });

  it('a webhook delivery the engine still owed when it was killed -9 is made after it starts again', async () => {
    await engine.kill();
    const port = await freePort();
    const late = `http://127.0.0.1:${port}/hook`;
    const args = ['--expiry-interval', '1s', '--webhook', late, '--webhook-secret-file', join(scratch, 'secret')];
    const crashed = await spawnEngine(root.root, args);
    try {
      // Nothing listens yet: the delivery fails and waits in the root's store.
      await remoteApi({ url: crashed.url, token: tokens.admin ?? '' }).cloneCreate({ name: 'owed' });
    } finally {
      await crashed.kill();
    }
    const hook = await receiver(0, port);
    try {
      engine = await spawnEngine(root.root, args);
      const delivered = await until('the owed delivery', async () => hook.deliveries.find((d) => d.status === 204 && d.body.includes('"owed"')), 30_000);
      assert.equal(delivered.headers['x-dolly-signature'], signature(SECRET, delivered.body));
      assert.equal((JSON.parse(delivered.body) as { type: string }).type, 'clone.created');
      assert.equal(hook.deliveries.filter((d) => d.headers['x-dolly-delivery'] === delivered.headers['x-dolly-delivery'] && d.status === 204).length, 1, 'delivered once');
    } finally {
      await hook.close();
    }
  });

  /** Every kind of thing a job makes: entries, jobs, containers (any state), volumes, btrfs subvolumes, run dirs, account files. */
  async function holdings(): Promise<Record<'snapshots' | 'clones' | 'jobs' | 'containers' | 'volumes' | 'subvolumes' | 'runDirs' | 'accounts', string[]>> {
    const state = root.deps.store.require();
    const mountpoint = String((state.pool as { mountpoint?: unknown }).mountpoint);
    const { stdout } = await promisify(execFile)('btrfs', ['subvolume', 'list', mountpoint]);
    return {
      snapshots: state.snapshots.map((s) => `${s.id} ${s.status}`),
      clones: state.clones.map((c) => `${c.name} ${c.status}`),
      jobs: state.jobs.map((j) => `${j.kind} ${j.target}`),
      containers: (await root.deps.runtime.list()).map((s) => `${s.name} ${s.kind}`).sort(),
      volumes: await root.deps.driver(state).list(),
      subvolumes: stdout.split('\n').map((line) => line.split(' path ')[1] ?? '').filter((p) => p !== '').sort(),
      runDirs: (await readdir(join(root.root, 'run'))).sort(),
      accounts: (await readdir(join(root.root, 'accounts')).catch(() => [])).sort(),
    };
  }

  /**
   * Starts an engine on this root, has it take a snapshot, and SIGKILLs it once `running` says
   * the job is there (its pid the engine's); `env` reaches only the engine (a failpoint). Then a
   * new engine starts: the dead job was adopted and undone, nothing of it is left.
   */
  async function killDuringSnapshot(env: Record<string, string>, running: (volume: string) => Promise<boolean>, runDirLeft: boolean): Promise<void> {
    await engine.stop();
    const before = await holdings();
    // The engine takes this process's environment at its start: `env` is set only meanwhile.
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, env);
    let doomed: EngineProcess;
    try {
      doomed = await spawnEngine(root.root, ['--listen', `127.0.0.1:${KILL_PORT}`]);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    let volume = '';
    try {
      const api = remoteApi({ url: doomed.url, token: tokens.admin ?? '' });
      const pending = api.snapshotCreate().then(() => 'made', (error: unknown) => (error instanceof DollyError ? error.category : String(error)));
      const job = await until('the snapshot job running in the engine', async () => {
        const found = root.deps.store.require().jobs.find((j) => j.kind === 'snapshot-create');
        if (!found) return undefined;
        volume = root.deps.store.require().snapshots.find((s) => s.id === found.target)?.volume ?? '';
        return volume !== '' && (await running(volume)) ? found : undefined;
      }, 120_000);
      assert.equal(job.owner.pid, doomed.pid, 'the job is not the engine\'s');
      // The API shows it too.
      assert.deepEqual((await api.status()).jobs.map((j) => `${j.kind} ${j.target} ${j.pid}`), [`snapshot-create ${job.target} ${doomed.pid}`]);
      await doomed.kill();
      assert.notEqual(await pending, 'made');
    } finally {
      await doomed.kill();
    }
    // What the dead engine left: its job, the half-made snapshot, its volume, its prepare server's container (and run dir).
    const left = await holdings();
    const prepare = prepareServerName(volume);
    assert.equal(left.jobs.length, 1, 'the killed job is not in the store');
    assert.ok(left.snapshots.some((s) => s.endsWith(' creating')), 'no half-made snapshot recorded');
    assert.ok(left.volumes.includes(volume), `no volume ${volume} left to clean up`);
    assert.ok(left.containers.includes(`${prepare} prepare`), `no prepare container left: ${left.containers.join(', ')}`);
    assert.equal(left.runDirs.includes(prepare), runDirLeft, `run dirs: ${left.runDirs.join(', ')}`);
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--listen', `127.0.0.1:${KILL_PORT}`]);
    assert.deepEqual(await holdings(), before, 'left after the next start');
    const made = await remoteApi({ url: engine.url, token: tokens.admin ?? '' }).snapshotCreate();
    assert.equal(made.status, 'ready', 'the next snapshot does not work');
    await remoteApi({ url: engine.url, token: tokens.admin ?? '' }).snapshotDestroy(made.id);
  }

  it('killed -9 while a snapshot job is held at a failpoint (prepared, not sealed), the next start leaves nothing of it', async () => {
    const server = (volume: string): string => prepareServerName(volume);
    await killDuringSnapshot({ DOLLY_FAILPOINT: 'snapshot.prepared:hang' }, async (volume) => {
      const prepare = (await root.deps.runtime.list()).find((s) => s.name === server(volume));
      // Held there: the prepare server ended, its container still there, the volume prepared.
      return prepare !== undefined && prepare.state !== 'running' && !(await readdir(runDir(root.root, server(volume))).then(() => true, () => false));
    }, false);
  });

  it('killed -9 while its snapshot job runs a prepare server (container running, run dir there), the next start leaves nothing of it', async () => {
    await killDuringSnapshot({}, async (volume) => {
      const prepare = (await root.deps.runtime.list()).find((s) => s.name === prepareServerName(volume));
      return prepare?.state === 'running' && (await readdir(runDir(root.root, prepareServerName(volume))).then(() => true, () => false));
    }, true);
  });
});
