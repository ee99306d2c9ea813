import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DollyApi } from '../../src/api/api.js';
import { remoteApi } from '../../src/api/remote.js';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { SPACE_CHECK_MS } from '../../src/engine/pool-space.js';
import { replicaConnectOptions } from '../../src/engine/servers.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine, type EngineProcess } from '../support/engine-server.js';

const run = promisify(execFile);
const PASSWORD = 'Pr0d-secret!';
/** This suite's ports (7740-7779): the source, two engines, a refused listen, clones. */
const SOURCE_PORT = 7740;
const ENGINE_DEFAULT = 7741;
const ENGINE_OPEN = 7742;
const REFUSED = 7743;
const INSECURE = 7744;
const CLONE_PORTS = '7750-7769';

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { category: string; message: string; hint: string | null } } & Record<string, unknown>;
}

/**
 * The engine's limits and hygiene (issue 18, points 2, 3 and 7b), against a real `dolly serve`:
 * per-token counts refused with 403 and nothing made, snapshots by non-admins by policy and one per
 * interval (429), /metrics from the sweeper's readings, 413 bodies, the request rate, a
 * non-loopback listen without TLS refused, and POST routes whose body is optional taking none.
 */
describe('dolly serve: per-token limits and the engine hygiene', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  let engine: EngineProcess | undefined;
  const tokens: Record<string, string> = {};

  const call = async (method: string, path: string, token: string | undefined, init: { body?: string; type?: string } = {}): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (init.type !== undefined) headers['content-type'] = init.type;
    const response = await fetch(`${engine?.url}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text.startsWith('{') ? JSON.parse(text) : {}) as Answer['body'] };
  };
  const api = (who: string): DollyApi => remoteApi({ url: engine?.url ?? '', token: tokens[who] ?? '' });
  /** A refusal: its status and one line naming the limit, with a hint. */
  const refused = (answer: Answer, status: number, message: RegExp): void => {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    const error = answer.body.error;
    assert.ok(error, JSON.stringify(answer.body));
    assert.match(error.message, message);
    assert.ok(!error.message.includes('\n'), error.message);
    assert.ok((error.hint ?? '') !== '', 'no hint');
  };
  /** The replica's count of connections ever made (one more for this reading). */
  const replicaConnections = async (): Promise<number> => {
    const replica = root.deps.store.require().replica;
    assert.ok(replica);
    const client = await connectSql(replicaConnectOptions(root.root, replica));
    try {
      const [row] = await client.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Connections'");
      return Number(row?.Value);
    } finally {
      await client.close();
    }
  };
  const start = async (port: number, args: string[]): Promise<void> => {
    await engine?.stop();
    engine = await spawnEngine(root.root, [...args, '--listen', `127.0.0.1:${port}`]);
  };

  before(async () => {
    root = await createTestRoot('dolly-it-engine-limits-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-engine-limits-source', port: SOURCE_PORT });
    await mariadbQuery({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD }, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY); INSERT INTO shop.items VALUES (1),(2),(3)");
    await initPool({ driver: 'btrfs', size: '2G', ports: CLONE_PORTS }, root.deps);
    await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
    await createSnapshot(root.deps);
    // The defaults but for one clone per token; the sweeper reads the replica at the start only.
    await start(ENGINE_DEFAULT, ['--expiry-interval', '1h', '--max-clones-per-user', '1']);
    tokens.admin = await adminToken(root.root);
    for (const user of ['alice', 'bob']) tokens[user] = (await api('admin').tokenCreate({ name: user })).token;
  });

  after(async () => {
    await engine?.kill();
    await root?.dispose();
    await production?.stop();
  });

  it('a token over its clone limit is refused 403 naming the limit, and nothing is made; admins are exempt', async () => {
    await api('alice').cloneCreate({ name: 'alice-1' });
    const before = root.deps.store.require();
    const containers = (await root.deps.runtime.list()).length;
    const answer = await call('POST', '/v1/clones', tokens.alice, { body: JSON.stringify({ name: 'alice-2' }), type: 'application/json' });
    refused(answer, 403, /^token alice has 1 clone, the most this engine allows per token \(--max-clones-per-user 1\)$/);
    assert.match(answer.body.error?.hint ?? '', /clone destroy/);
    // Nothing made: the state's clones and the root's containers are as they were.
    assert.deepEqual(root.deps.store.require().clones.map((c) => c.name), before.clones.map((c) => c.name));
    assert.equal((await root.deps.runtime.list()).length, containers);
    // The CLI through the engine: exit 7 (permission denied), one line.
    const cli = await dolly(['clone', 'create', '--name', 'alice-3'], { DOLLY_URL: engine?.url ?? '', DOLLY_TOKEN: tokens.alice ?? '', DOLLY_ROOT: '' });
    assert.equal(cli.code, 7, cli.stderr);
    assert.match(cli.stderr, /^dolly: token alice has 1 clone, .*--max-clones-per-user 1\) \(hint: .*\)\n$/);
    // Another token has its own count (its create streamed as NDJSON, a long operation under the request timeout); an admin has none.
    const steps: string[] = [];
    await remoteApi({ url: engine?.url ?? '', token: tokens.bob ?? '' }, fetch, { onProgress: (step) => steps.push(step) }).cloneCreate({ name: 'bob-1' });
    assert.ok(steps.some((step) => /^clone bob-1: ready/.test(step)), steps.join(' | '));
    await api('admin').cloneCreate({ name: 'admin-1' });
    await api('admin').cloneCreate({ name: 'admin-2' });
    await api('admin').cloneDestroy('admin-2');
    await api('bob').cloneDestroy('bob-1');
  });

  it('a snapshot by a non-admin is refused under the default policy (--snapshots-by admin), and nothing is taken', async () => {
    const count = root.deps.store.require().snapshots.length;
    refused(await call('POST', '/v1/snapshots', tokens.bob), 403, /needs an admin token \(dolly serve --snapshots-by admin\)/);
    refused(await call('POST', '/v1/clones', tokens.bob, { body: '{"fresh":true}', type: 'application/json' }), 403, /--snapshots-by admin/);
    assert.equal(root.deps.store.require().snapshots.length, count);
  });

  it('POST with no body on the routes whose body is optional answers 2xx, with and without a JSON content type (curl)', async () => {
    const curl = async (path: string, extra: string[]): Promise<{ code: number; body: string }> => {
      const { stdout } = await run('curl', ['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${tokens.admin}`, ...extra, '-w', '\n%{http_code}', `${engine?.url}${path}`]);
      const lines = stdout.trimEnd().split('\n');
      return { code: Number(lines.at(-1)), body: lines.slice(0, -1).join('\n') };
    };
    const bare = await curl('/v1/snapshots', []);
    assert.equal(bare.code, 201, bare.body);
    const typed = await curl('/v1/snapshots', ['-H', 'Content-Type: application/json']);
    assert.equal(typed.code, 201, typed.body);
    const branch = await curl('/v1/clones/alice-1/snapshot', []);
    assert.equal(branch.code, 201, branch.body);
    const typedBranch = await curl('/v1/clones/alice-1/snapshot', ['-H', 'Content-Type: application/json']);
    assert.equal(typedBranch.code, 201, typedBranch.body);
    // A route whose body is required still says so, in one line.
    const missing = await curl('/v1/clones/alice-1/protect', ['-H', 'Content-Type: application/json']);
    assert.equal(missing.code, 400, missing.body);
    assert.match(missing.body, /"category":"invalid_argument"/);
  });

  it("a branch's volume is in the clones' qgroup (it counts with the clones against the reserve); a replica snapshot's is not", async (t) => {
    const state = root.deps.store.require();
    const mountpoint = String((state.pool as { mountpoint?: string }).mountpoint);
    const mode = (await run('sh', ['-c', `cat /sys/fs/btrfs/$(btrfs filesystem show ${mountpoint} | sed -n 's/.*uuid: //p')/qgroups/mode`])).stdout.trim();
    if (mode !== 'squota') return t.skip(`the pool has ${mode} quotas: the clones' group needs simple quotas (kernel 6.7+)`);
    const { stdout } = await run('btrfs', ['qgroup', 'show', '-p', '--raw', mountpoint]);
    const parentOf = async (volume: string): Promise<string> => {
      const id = /Subvolume ID:\s+(\d+)/.exec((await run('btrfs', ['subvolume', 'show', `${mountpoint}/volumes/${volume}`])).stdout)?.[1];
      const line = stdout.split('\n').find((l) => l.trim().split(/\s+/)[0] === `0/${id}`) ?? '';
      return line.trim().split(/\s+/)[3] ?? '';
    };
    const branches = state.snapshots.filter((s) => s.branch_of !== undefined);
    assert.equal(branches.length, 2);
    for (const branch of branches) assert.equal(await parentOf(branch.volume), '1/100', `branch ${branch.id}`);
    for (const replicaSnapshot of state.snapshots.filter((s) => s.branch_of === undefined)) assert.equal(await parentOf(replicaSnapshot.volume), '-', `snapshot ${replicaSnapshot.id}`);
    const clone = state.clones.find((c) => c.name === 'alice-1');
    assert.equal(await parentOf(clone?.volume ?? ''), '1/100');
  });

  it('/metrics scraped 40 times opens no connection to the replica (it shows the sweeper\'s readings)', async () => {
    const first = await (await fetch(`${engine?.url}/metrics`)).text();
    assert.match(first, /^dolly_replica_io_running 1$/m);
    assert.match(first, /^dolly_replica_sql_running 1$/m);
    assert.match(first, /^dolly_replica_reading_age_seconds \d/m);
    assert.match(first, /^dolly_pool_bytes\{kind="free"\} [1-9]\d*$/m);
    const before = await replicaConnections();
    const started = performance.now();
    for (let i = 0; i < 40; i++) assert.equal((await fetch(`${engine?.url}/metrics`)).status, 200);
    const ms = performance.now() - started;
    const after = await replicaConnections();
    // The old /metrics connected once per scrape (40). What may connect meanwhile is the engine's
    // pool-space watch, once per SPACE_CHECK_MS, and this test's second reading.
    const extra = after - before - 1;
    const watch = Math.ceil(ms / SPACE_CHECK_MS) + 1;
    assert.ok(extra <= watch, `the replica had ${extra} connections during 40 scrapes in ${Math.round(ms)} ms (the pool-space watch: at most ${watch})`);
    console.log(`# 40 scrapes of /metrics: ${Math.round(ms)} ms, replica connections +${extra} (pool-space watch allowance ${watch})`);
    // The control: a route that does read the replica (`/v1/replica`) shows up in the count, once per request.
    const control = await replicaConnections();
    for (let i = 0; i < 10; i++) assert.equal((await call('GET', '/v1/replica', tokens.admin)).status, 200);
    assert.ok((await replicaConnections()) - control - 1 >= 10, 'the count does not see the engine\'s connections');
  });

  it('a body over 16 KiB is 413, one line, and nothing is made', async () => {
    const count = root.deps.store.require().clones.length;
    const answer = await call('POST', '/v1/clones', tokens.admin, { body: JSON.stringify({ name: 'big', user: 'x'.repeat(20_000) }), type: 'application/json' });
    refused(answer, 413, /^the request body is larger than this engine takes \(16 KiB\)$/);
    assert.equal(root.deps.store.require().clones.length, count);
  });

  it('a client that sends its request too slowly is cut off (request timeout 30 s, checked every 30 s); the engine keeps answering', async () => {
    const socket = connect({ host: '127.0.0.1', port: ENGINE_DEFAULT });
    const started = performance.now();
    const answered = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    // Headers and the first byte of a 100-byte body, then nothing.
    socket.write(`POST /v1/clones HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.bob}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    const text = await Promise.race([answered, new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 90_000))]);
    socket.destroy();
    const seconds = (performance.now() - started) / 1000;
    assert.match(text, /^HTTP\/1\.1 408 /, text);
    assert.ok(seconds >= 29, `cut off after ${seconds} s`);
    assert.equal((await call('GET', '/healthz', undefined)).status, 200);
    console.log(`# a stalled request was answered 408 after ${seconds.toFixed(1)} s`);
  });

  it('a token past its request rate is answered 429 with Retry-After; others are not slowed', async () => {
    const answers = await Promise.all(Array.from({ length: 80 }, () => call('GET', '/v1/whoami', tokens.bob)));
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length > 0, 'no request was limited');
    assert.ok(answers.filter((a) => a.status === 200).length >= 40, 'the burst (twice the rate) was not let through');
    refused(limited[0] as Answer, 429, /^too many requests from token bob: this engine allows 20 per second \(dolly serve --rate-limit\)$/);
    assert.match(limited[0]?.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal((await call('GET', '/v1/whoami', tokens.alice)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal((await call('GET', '/v1/whoami', tokens.bob)).status, 200);
  });

  it('with --snapshots-by all a non-admin takes one snapshot per --snapshot-interval (429), counted by --max-snapshots-per-user (403)', async () => {
    await start(ENGINE_OPEN, ['--expiry-interval', '1h', '--snapshots-by', 'all', '--snapshot-interval', '1h', '--max-snapshots-per-user', '1', '--max-branches-per-user', '1']);
    const count = root.deps.store.require().snapshots.length;
    const taken = await call('POST', '/v1/snapshots', tokens.bob);
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
    assert.equal(taken.body.owner, 'bob');
    const again = await call('POST', '/v1/snapshots', tokens.bob);
    refused(again, 429, /^token bob took a snapshot \d+ s ago: this engine allows one per 1h per token \(--snapshot-interval\)$/);
    assert.equal(root.deps.store.require().snapshots.length, count + 1);
    // A restarted engine forgets the interval but not what bob has: the count refuses him.
    await start(ENGINE_OPEN, ['--expiry-interval', '1h', '--snapshots-by', 'all', '--snapshot-interval', '0s', '--max-snapshots-per-user', '1', '--max-branches-per-user', '1']);
    refused(await call('POST', '/v1/snapshots', tokens.bob), 403, /^token bob has 1 snapshot, the most this engine allows per token \(--max-snapshots-per-user 1\)$/);
    // alice made two branches above as the admin did them for her clone: she is at her branch limit.
    refused(await call('POST', '/v1/clones/alice-1/snapshot', tokens.alice), 403, /^token alice has 2 branches, .*--max-branches-per-user 1\)$/);
    assert.equal(root.deps.store.require().snapshots.length, count + 1);
  });

  it('a non-loopback --listen without TLS is refused through the CLI, one line with a hint; --insecure allows it', async () => {
    await engine?.stop();
    engine = undefined;
    const plain = await dolly(['--root', root.root, 'serve', '--listen', `0.0.0.0:${REFUSED}`], { DOLLY_URL: '', DOLLY_TOKEN: '' });
    assert.equal(plain.code, 2, plain.stderr);
    assert.match(plain.stderr, /^dolly: --listen 0\.0\.0\.0:7743 without TLS would send tokens and clone passwords in clear \(hint: .*--tls-cert.*--insecure.*\)\n$/);
    const insecure = await spawnEngine(root.root, ['--listen', `0.0.0.0:${INSECURE}`, '--insecure', '--expiry-interval', '1h']);
    try {
      assert.equal((await fetch(`http://127.0.0.1:${INSECURE}/healthz`)).status, 200);
      assert.match(insecure.log(), /without TLS/);
    } finally {
      assert.equal(await insecure.stop(), 0);
    }
  });
});
