import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DollyApi } from '../../src/api/api.js';
import { localApi } from '../../src/api/local.js';
import { remoteApi } from '../../src/api/remote.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { DollyError } from '../../src/errors.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import type { ReplicaHistory } from '../../src/model/wire.js';
import type { Snapshot } from '../../src/state/state.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine, type EngineProcess } from '../support/engine-server.js';

const PASSWORD = 'Pr0d-secret!';

async function rejectsWith(promise: Promise<unknown>, category: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DollyError, `not a DollyError: ${String(error)}`);
    assert.equal(error.category, category, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/**
 * The conformance suite of DollyApi: the same calls give the same results and errors whether the
 * engine runs in this process (localApi, the host's CLI) or behind `dolly serve` (remoteApi).
 */
function conformance(label: string, get: () => DollyApi, snapshot: () => Snapshot): void {
  describe(`DollyApi conformance: ${label}`, () => {
    const name = `conf-${label.split(' ')[0]}`;
    it('creates a clone that answers, owned by the caller', async () => {
      const api = get();
      const me = await api.whoami();
      const clone = await api.cloneCreate({ name });
      assert.equal(clone.name, name);
      assert.equal(clone.owner, me.name);
      assert.equal(clone.snapshot, snapshot().id);
      assert.equal(await mariadbQuery(clone, 'SELECT COUNT(*) FROM shop.items'), '3');
    });
    it('lists and shows it, running', async () => {
      const api = get();
      const listed = (await api.cloneList()).find((c) => c.name === name);
      assert.equal(listed?.state, 'running');
      const one = await api.cloneGet(name);
      assert.equal(one.status, 'ready');
      assert.equal(one.port, listed?.port);
    });
    it('protects it and lifts the protection', async () => {
      const api = get();
      const on = await api.cloneProtect(name, { for: '1h' });
      assert.ok(on.protected_until !== null && Date.parse(on.protected_until) > Date.now() + 3_500_000);
      const off = await api.cloneProtect(name, { for: '0s' });
      assert.equal(off.protected_until, null);
    });
    it('resets it to its snapshot with the same port and password', async () => {
      const api = get();
      const before = await api.cloneGet(name);
      await mariadbQuery(before, 'DELETE FROM shop.items');
      const reset = await api.cloneReset(name, {});
      assert.equal(reset.port, before.port);
      assert.equal(reset.password, before.password);
      assert.equal(await mariadbQuery(reset, 'SELECT COUNT(*) FROM shop.items'), '3');
    });
    it('lists the snapshot and the replica', async () => {
      const api = get();
      const { snapshots, pool } = await api.snapshotList();
      assert.ok(snapshots.some((s) => s.id === snapshot().id && s.clones.includes(name)));
      assert.ok(pool.freeBytes > 0);
      const replica = await api.replicaStatus();
      assert.equal(replica.io_running, true);
      assert.equal((await api.status()).snapshots >= 1, true);
    });
    it('gives the same errors', async () => {
      const api = get();
      await rejectsWith(api.cloneCreate({ name }), 'already_exists');
      await rejectsWith(api.cloneCreate({ snapshot: 'nope' }), 'not_found');
      await rejectsWith(api.cloneGet('nobody'), 'not_found');
      await rejectsWith(api.cloneProtect(name, { for: 'soon' }), 'invalid_argument');
    });
    it('refuses what the route schemas refuse, before anything else, and changes nothing', async () => {
      const api = get();
      const schedule = await api.scheduleGet();
      const clones = (await api.cloneList()).length;
      // Before the route table, the local side took both (a schedule keeping 5000; a lookup of snapshot "").
      await rejectsWith(api.scheduleSet({ snapshot: '*/15 * * * *', keep: 5000 }), 'invalid_argument', /keep/);
      await rejectsWith(api.cloneCreate({ snapshot: '' }), 'invalid_argument', /snapshot/);
      assert.deepEqual(await api.scheduleGet(), schedule);
      assert.equal((await api.cloneList()).length, clones);
    });
    it('destroys it', async () => {
      const api = get();
      await api.cloneDestroy(name);
      await rejectsWith(api.cloneGet(name), 'not_found');
      await rejectsWith(api.cloneDestroy(name), 'not_found');
    });
  });
}

describe('dolly serve: the HTTP API, tokens, ownership, lifecycle', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess;
  let admin: DollyApi;
  let snapshot: Snapshot;
  const tokens: Record<string, string> = {};

  before(async () => {
    root = await createTestRoot('dolly-it-api-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-api-source' });
    await mariadbQuery({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD }, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.items VALUES (1,'a'),(2,'b'),(3,'c')");
    await initPool({ driver: 'btrfs', size: '2G', ports: '6720-6759' }, root.deps);
    await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
    snapshot = await createSnapshot(root.deps);
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s', '--max-ttl', '1d', '--max-protect', '2d', '--snapshots-by', 'all', '--snapshot-interval', '1s']);
    tokens.admin = await adminToken(root.root);
    admin = remoteApi({ url: engine.url, token: tokens.admin });
    for (const user of ['alice', 'bob']) tokens[user] = (await admin.tokenCreate({ name: user })).token;
  });

  after(async () => {
    await engine?.kill();
    await root?.dispose();
    await production?.stop();
  });

  conformance('local (this process)', () => localApi(root.deps), () => snapshot);
  conformance('remote (HTTP, token alice)', () => remoteApi({ url: engine.url, token: tokens.alice ?? '' }), () => snapshot);
  conformance('streamed (HTTP with progress, token alice)', () => remoteApi({ url: engine.url, token: tokens.alice ?? '' }, fetch, { onProgress: () => undefined }), () => snapshot);

  it('the admin token is written once, 0600, and is an admin', async () => {
    assert.equal((await stat(join(root.root, 'admin.token'))).mode & 0o777, 0o600);
    assert.deepEqual(await admin.whoami(), { name: 'admin', admin: true });
  });

  it('refuses requests without a token, with a wrong one and with a revoked one (401), and never logs a token', async () => {
    const plain = await fetch(`${engine.url}/v1/clones`);
    assert.equal(plain.status, 401);
    assert.equal(((await plain.json()) as { error: { category: string } }).error.category, 'unauthenticated');
    await rejectsWith(remoteApi({ url: engine.url, token: 'dolly_wrong' }).cloneList(), 'unauthenticated');
    const carol = (await admin.tokenCreate({ name: 'carol' })).token;
    assert.equal((await remoteApi({ url: engine.url, token: carol }).whoami()).name, 'carol');
    await admin.tokenRevoke('carol');
    await rejectsWith(remoteApi({ url: engine.url, token: carol }).whoami(), 'unauthenticated');
    const listed = await admin.tokenList();
    assert.ok(listed.some((t) => t.name === 'carol' && t.revoked_at !== null));
    assert.ok(!JSON.stringify(listed).includes('dolly_'), 'a token list holds no secret');
    for (const secret of [...Object.values(tokens), carol]) assert.ok(!engine.log().includes(secret), 'a token is in the engine log');
    assert.match(engine.log(), /"status":401/);
  });

  it("a user sees and manages only their own clones: another's is 404; admins see all", async () => {
    const alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    const bob = remoteApi({ url: engine.url, token: tokens.bob ?? '' });
    const mine = await alice.cloneCreate({ name: 'alice-1' });
    assert.ok(!(await bob.cloneList()).some((c) => c.name === 'alice-1'));
    await rejectsWith(bob.cloneGet('alice-1'), 'not_found');
    await rejectsWith(bob.cloneReset('alice-1', {}), 'not_found');
    await rejectsWith(bob.cloneDestroy('alice-1'), 'not_found');
    const response = await fetch(`${engine.url}/v1/clones/alice-1`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    assert.equal(response.status, 404);
    assert.ok(!(await bob.snapshotList()).snapshots.some((s) => s.clones.includes('alice-1')));
    assert.equal((await admin.cloneList()).find((c) => c.name === 'alice-1')?.owner, 'alice');
    await rejectsWith(bob.snapshotDestroy(snapshot.id), 'permission_denied');
    await rejectsWith(bob.tokenCreate({ name: 'mallory', admin: true }), 'permission_denied');
    assert.equal(await mariadbQuery(mine, 'SELECT COUNT(*) FROM shop.items'), '3');
    await alice.cloneDestroy('alice-1');
  });

  it('malformed bodies are 400 with the schema message; unknown routes 404', async () => {
    const post = (body: string): Promise<Response> => fetch(`${engine.url}/v1/clones`, { method: 'POST', headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' }, body });
    for (const [body, pattern] of [
      ['{"name": 5}', /name/],
      ['{"name": "Bad Name"}', /name/],
      ['{"nmae": "x"}', /nmae|unrecognized/i],
      ['{"ttl": "forever"}', /duration|ttl/],
      ['{not json', /JSON|body/i],
    ] as const) {
      const response = await post(body);
      assert.equal(response.status, 400, body);
      const error = ((await response.json()) as { error: { category: string; message: string } }).error;
      assert.equal(error.category, 'invalid_argument');
      assert.match(error.message, pattern, body);
    }
    assert.equal((await fetch(`${engine.url}/v2/nothing`, { headers: { authorization: `Bearer ${tokens.alice}` } })).status, 404);
    assert.equal((await admin.cloneList()).filter((c) => c.owner === 'alice').length, 0, 'a refused request made nothing');
  });

  it('caps --ttl and --for by the engine policy', async () => {
    const alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    await rejectsWith(alice.cloneCreate({ name: 'too-long', ttl: '2d' }), 'invalid_argument', /longer than this engine allows \(1d\)/);
    assert.ok(!(await admin.cloneList()).some((c) => c.name === 'too-long'));
  });

  it('refuses a clone when the pool is below its reserve: 507 with the free space, nothing made', async () => {
    const reserve = root.deps.store.require().settings.reserve_bytes;
    root.deps.store.update((st) => {
      st.settings.reserve_bytes = 1024 ** 4;
    });
    try {
      const response = await fetch(`${engine.url}/v1/clones`, { method: 'POST', headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' }, body: '{"name": "no-room"}' });
      assert.equal(response.status, 507);
      const error = ((await response.json()) as { error: { category: string; message: string } }).error;
      assert.equal(error.category, 'resource_exhausted');
      assert.match(error.message, /^the pool has [\d.]+ \w+ free, less than the 1\.0 TiB kept for the replica$/);
    } finally {
      root.deps.store.update((st) => {
        if (reserve === undefined) delete st.settings.reserve_bytes;
        else st.settings.reserve_bytes = reserve;
      });
    }
    assert.ok(!(await admin.cloneList()).some((c) => c.name === 'no-room'));
    assert.deepEqual(root.deps.store.require().jobs, []);
  });

  it('destroys a clone when its TTL is up, unless it is protected', async () => {
    const alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    const short = await alice.cloneCreate({ name: 'short', ttl: '2s' });
    assert.ok(short.expires_at !== null);
    await alice.cloneCreate({ name: 'kept', ttl: '2s' });
    await alice.cloneProtect('kept', { for: '1h' });
    await rejectsWith(alice.cloneProtect('kept', { for: '3d' }), 'invalid_argument', /2d/);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await alice.cloneList()).some((c) => c.name === 'short')) await new Promise((r) => setTimeout(r, 500));
    const left = await alice.cloneList();
    assert.ok(!left.some((c) => c.name === 'short'), 'the expired clone is still there');
    assert.equal(left.find((c) => c.name === 'kept')?.state, 'running');
    const servers = (await root.deps.runtime.list()).map((s) => s.name);
    assert.ok(!servers.some((s) => s.endsWith('short')), `its server is left: ${servers.join(', ')}`);
    await alice.cloneDestroy('kept');
  });

  it('--fresh takes a snapshot, then clones it', async () => {
    const alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    await mariadbQuery({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD }, "INSERT INTO shop.items VALUES (4,'d')");
    await new Promise((r) => setTimeout(r, 1500));
    const steps: string[] = [];
    const following = remoteApi({ url: engine.url, token: tokens.alice ?? '' }, fetch, { onProgress: (step) => steps.push(step) });
    const fresh = await following.cloneCreate({ name: 'fresh', fresh: true });
    assert.notEqual(fresh.snapshot, snapshot.id);
    // It says how long it waited for its snapshot, and how far behind the source that snapshot's data was.
    assert.equal(fresh.fresh?.snapshot, fresh.snapshot);
    assert.ok((fresh.fresh?.waited_ms ?? 0) > 0, JSON.stringify(fresh.fresh));
    assert.ok(typeof fresh.fresh?.lag_seconds === 'number' && fresh.fresh.lag_seconds >= 0 && fresh.fresh.lag_seconds < 60, JSON.stringify(fresh.fresh));
    const taken = (await alice.snapshotList()).snapshots.find((s) => s.id === fresh.snapshot);
    assert.equal(taken?.lag_seconds, fresh.fresh?.lag_seconds);
    assert.equal(await mariadbQuery(fresh, 'SELECT COUNT(*) FROM shop.items'), '4');
    // The steps arrived while the engine worked, in order: the snapshot's, then the clone's.
    const at = (pattern: RegExp): number => steps.findIndex((step) => pattern.test(step));
    assert.ok(at(/^snapshot .*: taken at .* \(applier paused \d+ ms\)/) >= 0, steps.join(' | '));
    assert.ok(at(/^snapshot .*: prepared/) > at(/: taken at/), steps.join(' | '));
    assert.ok(at(/^clone fresh: port \d+ reserved/) > at(/^snapshot .*: prepared/), steps.join(' | '));
    assert.ok(at(/^clone fresh: ready/) === steps.length - 1, steps.join(' | '));
    assert.ok(!steps.some((step) => step.includes(fresh.password)), 'a step showed the password');
    // A streamed failure is the same error as an unstreamed one, and nothing is made.
    await rejectsWith(following.cloneCreate({ name: 'fresh' }), 'already_exists', /fresh/);
    await alice.cloneDestroy('fresh');
  });

  it('replica status, /v1/replica/history and /metrics show the lag in transactions and the apply rate', async () => {
    // A snapshot records how far behind its data was (caught up here: the source is idle).
    assert.ok(snapshot.lag_seconds !== undefined && snapshot.lag_seconds >= 0 && snapshot.lag_seconds < 60, `lag_seconds ${snapshot.lag_seconds}`);
    const source = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
    await mariadbQuery(source, 'CREATE TABLE shop.ticks (id INT AUTO_INCREMENT PRIMARY KEY, n INT)');
    const caughtUp = async (atLeast: number): Promise<Awaited<ReturnType<DollyApi['replicaStatus']>>> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const status = await admin.replicaStatus();
        if (status.behind_transactions === 0 && (status.applied_transactions ?? 0) >= atLeast) return status;
        assert.ok(Date.now() < deadline, `not caught up within 30 s: ${JSON.stringify(status)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const before = await caughtUp(1);
    assert.equal(before.received_gtid, before.gtid, 'caught up: received is what is applied');
    assert.ok(typeof before.apply_rate === 'number' && before.apply_rate >= 0, `apply_rate ${before.apply_rate}`);
    // 25 transactions on the source: the applied count grows by at least 25 (one per GTID).
    await mariadbQuery(source, Array.from({ length: 25 }, (_, i) => `INSERT INTO shop.ticks (n) VALUES (${i})`).join(';'));
    const after = await caughtUp((before.applied_transactions ?? 0) + 25);
    assert.ok((after.applied_transactions ?? 0) - (before.applied_transactions ?? 0) < 1000, 'counts transactions, not something else');
    // Under a steady write load, a status taken while it applies shows a rate above 0.
    const writer = await connectSql(source);
    let writing = true;
    let written = 0;
    const load = (async () => {
      while (writing) {
        await writer.execute('INSERT INTO shop.ticks (n) VALUES (1)');
        written += 1;
      }
    })();
    const rates: Array<number | null> = [];
    try {
      for (let i = 0; i < 20 && !rates.some((r) => r !== null && r > 0); i += 1) rates.push((await admin.replicaStatus()).apply_rate ?? null);
    } finally {
      writing = false;
      await load;
      await writer.close();
    }
    assert.ok(rates.some((r) => r !== null && r > 0), `no positive apply rate in ${rates.join(', ')} (${written} written)`);
    const idle = await caughtUp((after.applied_transactions ?? 0) + written);
    assert.equal(idle.received_gtid, idle.gtid);
    // Everything written is applied: the next half second applies nothing.
    assert.equal((await admin.replicaStatus()).apply_rate, 0);
    // The CLI's text says it in words.
    const text = await dolly(['--root', root.root, 'replica', 'status'], { DOLLY_URL: '', DOLLY_TOKEN: '' });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^lag {6}\d+ s \(\d+ transactions? received, not yet applied; applying [\d,.]+\/s\)$/m);
    assert.match(text.stdout, /^received \S+$/m);
    // The engine's sweeper (every second here) samples the count and the rate between samples.
    const deadline = Date.now() + 15_000;
    let history: ReplicaHistory = [];
    for (;;) {
      history = (await (await fetch(`${engine.url}/v1/replica/history`, { headers: { authorization: `Bearer ${tokens.admin}` } })).json()) as ReplicaHistory;
      const last = history.at(-1);
      if (last && (last.applied_transactions ?? 0) >= (after.applied_transactions ?? 0) + written && last.behind_transactions === 0 && typeof last.apply_rate === 'number') break;
      assert.ok(Date.now() < deadline, `history did not catch up: ${JSON.stringify(history.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(history.some((h) => (h.apply_rate ?? 0) > 0), `no sample with a positive apply rate: ${JSON.stringify(history.slice(-10))}`);
    const counts = history.map((h) => h.applied_transactions).filter((c): c is number => typeof c === 'number');
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'the applied count never goes down');
  });

  it('serves /healthz, /metrics and /openapi.json without a token', async () => {
    assert.equal((await fetch(`${engine.url}/healthz`)).status, 200);
    const metrics = await (await fetch(`${engine.url}/metrics`)).text();
    assert.match(metrics, /^dolly_replica_io_running 1$/m);
    assert.match(metrics, /^dolly_replica_apply_rate \d+(\.\d+)?$/m);
    assert.match(metrics, /^dolly_replica_behind_transactions 0$/m);
    assert.match(metrics, /^dolly_snapshots \d+$/m);
    assert.match(metrics, /^dolly_pool_bytes\{kind="free"\} \d+/m);
    assert.match(metrics, /^dolly_job_duration_seconds_count\{kind="clone-create",outcome="ok"\} [1-9]/m);
    assert.match(metrics, /^dolly_failures_total\{category="unauthenticated"\} [1-9]/m);
    const doc = (await (await fetch(`${engine.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    for (const path of ['/v1/clones', '/v1/clones/{name}', '/v1/clones/{name}/reset', '/v1/snapshots', '/v1/tokens']) assert.ok(path in doc.paths, path);
  });

  it('the CLI works remotely with DOLLY_URL/DOLLY_TOKEN and after `dolly login`, with the same shapes and exit codes', async () => {
    const env = { DOLLY_URL: engine.url, DOLLY_TOKEN: tokens.bob ?? '', DOLLY_ROOT: '' };
    const created = await dolly(['--json', 'clone', 'create', '--name', 'bob-cli', '--ttl', '8h'], env);
    assert.equal(created.code, 0, created.stderr);
    const view = JSON.parse(created.stdout) as { name: string; owner: string; port: number; password: string; expires_at: string };
    assert.equal(view.owner, 'bob');
    assert.ok(view.expires_at);
    assert.equal(await mariadbQuery({ host: '127.0.0.1', ...view, user: 'dolly' }, 'SELECT 1'), '1');
    const missing = await dolly(['clone', 'destroy', 'alice-nope'], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /^dolly: no clone named "alice-nope" \(hint: .*\)\n$/);
    const wrong = await dolly(['clone', 'list'], { ...env, DOLLY_TOKEN: 'dolly_nope' });
    assert.equal(wrong.code, 11);
    const config = await mkdtemp(join(tmpdir(), 'dolly-it-login-'));
    try {
      const tokenFile = join(config, 'token');
      await (await import('node:fs/promises')).writeFile(tokenFile, `${tokens.bob}\n`);
      const login = await dolly(['login', engine.url, '--token-file', tokenFile], { XDG_CONFIG_HOME: config, DOLLY_URL: '', DOLLY_TOKEN: '', DOLLY_ROOT: '' });
      assert.equal(login.code, 0, login.stderr);
      assert.equal((await stat(join(config, 'dolly', 'config.json'))).mode & 0o777, 0o600);
      const listed = await dolly(['--json', 'clone', 'list'], { XDG_CONFIG_HOME: config, DOLLY_URL: '', DOLLY_TOKEN: '', DOLLY_ROOT: '' });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((c) => c.name), ['bob-cli']);
      const destroyed = await dolly(['clone', 'destroy', 'bob-cli'], { XDG_CONFIG_HOME: config, DOLLY_URL: '', DOLLY_TOKEN: '', DOLLY_ROOT: '' });
      assert.equal(destroyed.code, 0, destroyed.stderr);
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });

  it('masking over HTTP: anyone reads the rules, only admins set, check, clear or mask; a snapshot is masked through the streamed route', async () => {
    const alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    const rules = 'tables:\n  shop.items:\n    name: text\n';
    assert.equal(await alice.maskGet(), null);
    await rejectsWith(alice.maskSet({ rules }), 'permission_denied');
    await rejectsWith(alice.maskCheck(), 'permission_denied');
    await rejectsWith(alice.snapshotMask(snapshot.id), 'permission_denied');
    await rejectsWith(admin.maskSet({ rules: 'tables: [' }), 'invalid_argument', /YAML/);
    await rejectsWith(admin.maskSet({ rules: 'tables:\n  shop.items:\n    nope: text\n' }), 'failed_precondition', /shop\.items\.nope/);
    assert.equal((await admin.maskSet({ rules }))?.version, 1);
    assert.equal((await alice.maskGet())?.rules, rules);
    const streamed = remoteApi({ url: engine.url, token: tokens.admin ?? '' }, fetch, { onProgress: () => undefined });
    const masked = await streamed.snapshotMask(snapshot.id);
    assert.equal(masked.masked, true);
    assert.equal(masked.masked_from, snapshot.id);
    assert.deepEqual((await alice.snapshotList()).snapshots.map((s) => s.id), [masked.id], 'with rules set alice sees the masked snapshot only');
    await admin.maskClear();
    assert.equal(await alice.maskGet(), null);
    await admin.snapshotDestroy(masked.id);
  });

  it('refuses a second engine on the same root', async () => {
    const second = await dolly(['--root', root.root, 'serve', '--listen', '127.0.0.1:0'], { DOLLY_URL: '', DOLLY_TOKEN: '' });
    assert.equal(second.code, 4);
    assert.match(second.stderr, new RegExp(`already serves this root \\(pid ${engine.pid}`));
  });

  it('killed with -9 mid-create, the next start undoes the half-made clone; SIGTERM stops it cleanly', async () => {
    const alice = remoteApi({ url: engine.url, token: tokens.alice ?? '' });
    const pending = alice.cloneCreate({ name: 'crashed' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 250));
    await engine.kill();
    await pending;
    engine = await spawnEngine(root.root, ['--expiry-interval', '1s']);
    const after = remoteApi({ url: engine.url, token: tokens.admin ?? '' });
    assert.ok(!(await after.cloneList()).some((c) => c.name === 'crashed'), 'the half-made clone is listed');
    const state = root.deps.store.require();
    assert.deepEqual(state.jobs, []);
    const servers = (await root.deps.runtime.list()).map((s) => s.name);
    assert.ok(!servers.some((s) => s.endsWith('crashed')), `left: ${servers.join(', ')}`);
    // SIGTERM in the middle of a create: the job is undone, the engine exits 0.
    const stopping = remoteApi({ url: engine.url, token: tokens.alice ?? '' }).cloneCreate({ name: 'stopped' }).then(
      () => 'made',
      (error: unknown) => (error instanceof DollyError ? error.category : String(error)),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await engine.stop(), 0);
    const outcome = await stopping;
    const left = root.deps.store.require();
    assert.deepEqual(left.jobs, []);
    if (outcome !== 'made') assert.ok(!left.clones.some((c) => c.name === 'stopped'), `a half-made clone after SIGTERM (${outcome})`);
    const leftServers = (await root.deps.runtime.list()).map((s) => s.name);
    if (outcome !== 'made') assert.ok(!leftServers.some((s) => s.endsWith('stopped')), `left: ${leftServers.join(', ')}`);
    const status = await dolly(['--root', root.root, '--json', 'status'], { DOLLY_URL: '', DOLLY_TOKEN: '' });
    assert.equal((JSON.parse(status.stdout) as { engine: unknown }).engine, null);
  });
});
