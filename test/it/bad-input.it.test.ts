import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { fillSampleData, startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, leftovers, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Very-Secret-Pw1';

const exec = promisify(execFile);

/** Runs the CLI as user nobody (uid 65534). */
async function runAsNobody(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, join(process.cwd(), 'bin/dolly'), ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Containers this root still has (found by label). */
async function containersOf(root: string): Promise<string[]> {
  const list = await createDockerClient().listContainers({ all: true, filters: { label: [`dolly.root=${root}`] } });
  return list.map((c) => c.Labels['dolly.kind'] ?? '').filter((kind) => kind !== 'source');
}

/** Volumes in a btrfs pool of a root. */
async function volumesOf(root: string): Promise<string[]> {
  return readdir(join(root, 'pool', 'volumes')).catch(() => []);
}

/** One line on stderr, a hint, the expected exit code, and never the password. */
function assertCleanError(result: { code: number; stdout: string; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.trim().split('\n').filter((l) => l.startsWith('dolly:'));
  assert.equal(lines.length, 1, `one error line: ${result.stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.match(lines[0] ?? '', /\(hint: /);
  assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD), 'the password never appears');
}

describe('bad input: a clear one-line error, a non-zero exit, nothing half-made', { skip: skipUnless('root', 'btrfs', 'docker', 'image', 'mariadb-client') }, () => {
  let production: ProductionServer;
  let root: TestRoot;
  const url = (user = 'root', port?: number): string => `mysql://${user}@127.0.0.1:${port ?? production.port}`;
  // The source password comes from the environment (a password in the URL is refused).
  const withPassword = (password = PASSWORD): Record<string, string> => ({ DOLLY_SOURCE_PASSWORD: password });
  const cli = (args: string[], env: Record<string, string> = withPassword()): ReturnType<typeof dolly> => dolly(['--root', root.root, ...args], env);

  before(async () => {
    root = await createTestRoot('dolly-it-bad-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-bad-production' });
    const sql = await production.sql();
    try {
      await fillSampleData(sql, { database: 'shop', bytes: 2 * 1024 * 1024 });
      await sql.execute('CREATE TABLE shop.legacy (id INT PRIMARY KEY) ENGINE=MyISAM');
      await sql.execute("CREATE USER 'weak'@'%' IDENTIFIED BY ?", [PASSWORD]);
      await sql.execute("GRANT SELECT ON *.* TO 'weak'@'%'");
    } finally {
      await sql.close();
    }
    const init = await cli(['init', '--size', '1G', '--ports', '6150-6150']);
    assert.equal(init.code, 0, init.stderr);
  });

  after(async () => {
    await root?.dispose();
    await production?.stop();
  });

  it('an unreachable source is refused and nothing is made', async () => {
    const port = 1;
    assertCleanError(await cli(['replica', 'init', '--source', url('root', port)]), 9, /127\.0\.0\.1:1/);
    assert.deepEqual(await containersOf(root.root), []);
    assert.deepEqual(await volumesOf(root.root), []);
  });

  it('a wrong password is refused without showing it', async () => {
    assertCleanError(await cli(['replica', 'init', '--source', url('root')], withPassword(`${PASSWORD}x`)), 9, /denied|credentials|password/i);
    assert.deepEqual(await containersOf(root.root), []);
  });

  it('missing privileges print the exact GRANT to run', async () => {
    const result = await cli(['replica', 'init', '--source', url('weak')]);
    assertCleanError(result, 9, /GRANT .*REPLICATION SLAVE.* TO 'weak'@'%'/);
    assert.deepEqual(await volumesOf(root.root), []);
  });

  it('a malformed source URL and a bad --databases are refused', async () => {
    assertCleanError(await cli(['replica', 'init', '--source', 'http://x']), 2, /scheme/);
    assertCleanError(await cli(['replica', 'init', '--source', url(), '--databases', 'nope']), 9, /nope/);
    assert.deepEqual(await containersOf(root.root), []);
  });

  it('the password can come from DOLLY_SOURCE_PASSWORD; non-InnoDB tables are warned about', async () => {
    const result = await cli(['--json', 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`], { DOLLY_SOURCE_PASSWORD: PASSWORD });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout) as { warnings: string[] };
    assert.match(parsed.warnings.join(' '), /shop\.legacy \(MyISAM\)/);
    assert.ok(!result.stdout.includes(PASSWORD) && !result.stderr.includes(PASSWORD));
  });

  it('a password in --source is refused before anything happens, and hidden from the process list meanwhile', async () => {
    const before = await containersOf(root.root);
    const result = await cli(['replica', 'init', '--source', `mysql://root:${PASSWORD}@127.0.0.1:${production.port}`], {});
    assertCleanError(result, 2, /holds a password.*process list/);
    assert.deepEqual(await containersOf(root.root), before);
    const other = await createTestRoot('dolly-it-title-');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      assert.equal((await dolly(['--root', other.root, 'init', '--driver', 'copy'])).code, 0);
      // A password from a file never touches a command line; the process list shows only the URL.
      const file = join(other.root, 'pw');
      await writeFile(file, `${PASSWORD}\n`, { mode: 0o600 });
      const child = spawn(process.execPath, [join(process.cwd(), 'bin/dolly'), '--root', other.root, 'replica', 'init', '--source', `mysql://root@127.0.0.1:${port}`, '--source-password-file', file], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1500));
      const cmdline = await readFile(`/proc/${child.pid}/cmdline`, 'utf8');
      child.kill();
      assert.ok(!cmdline.includes(PASSWORD));
    } finally {
      silent.close();
      await other.dispose();
    }
  });

  it('Ctrl-C during replica init stops it and removes what it made', async () => {
    const other = await createTestRoot('dolly-it-sigint-');
    try {
      assert.equal((await dolly(['--root', other.root, 'init', '--size', '1G'])).code, 0);
      const child = spawn(process.execPath, [join(process.cwd(), 'bin/dolly'), '--root', other.root, 'replica', 'init', '--source', url()], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...withPassword() } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const deadline = Date.now() + 60_000;
      while ((await containersOf(other.root)).length === 0) {
        if (Date.now() > deadline) throw new Error(`the replica never started: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.match(stderr, /interrupted/);
      assert.deepEqual(await containersOf(other.root), []);
      assert.deepEqual(await volumesOf(other.root), []);
      assert.equal((await other.deps.store.require()).replica, undefined);
    } finally {
      await other.dispose();
    }
  });

  it('a second replica init on the same root is refused', async () => {
    assertCleanError(await cli(['replica', 'init', '--source', url()]), 4, /already has a replica/);
  });

  it('unknown snapshots and clones are NotFound; clone create before any snapshot too', async () => {
    assertCleanError(await cli(['clone', 'create']), 3, /no snapshot of the replica yet/);
    assertCleanError(await cli(['clone', 'destroy', 'ghost']), 3, /no clone named "ghost"/);
    assertCleanError(await cli(['snapshot', 'destroy', 'nope']), 3, /no snapshot "nope"/);
  });

  it('names that could escape a path or break SQL are refused; taken names too; the port range runs out cleanly', async () => {
    assert.equal((await cli(['snapshot', 'create'])).code, 0);
    for (const name of ['../x', 'a b', "a'b", 'x/y', 'A"B', '']) {
      assertCleanError(await cli(['clone', 'create', '--name', name]), 2, /invalid clone name/);
    }
    assert.deepEqual(await containersOf(root.root), ['replica']);
    const first = await cli(['--json', 'clone', 'create', '--name', 'one']);
    assert.equal(first.code, 0, first.stderr);
    const clone = JSON.parse(first.stdout) as Record<string, unknown>;
    for (const key of ['name', 'host', 'port', 'user', 'password', 'snapshot', 'dsn']) assert.ok(key in clone, `clone JSON has ${key}`);
    assertCleanError(await cli(['clone', 'create', '--name', 'one']), 4, /exists/);
    const volumesBefore = await volumesOf(root.root);
    assertCleanError(await cli(['clone', 'create', '--name', 'two']), 6, /no free port in 6150-6150/);
    assert.deepEqual(await volumesOf(root.root), volumesBefore);
    assert.deepEqual((await containersOf(root.root)).sort(), ['clone', 'replica']);
  });

  it('an unreachable Docker engine is reported with a hint', async () => {
    assertCleanError(await cli(['clone', 'list'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }), 8, /Docker engine is not reachable/);
  });

  it('a missing image is reported with the command that builds it', async () => {
    const other = await createTestRoot('dolly-it-noimage-');
    try {
      assert.equal((await dolly(['--root', other.root, 'init', '--driver', 'copy', '--image', 'dolly/missing:1'])).code, 0);
      assertCleanError(await dolly(['--root', other.root, 'replica', 'init', '--source', url()], withPassword()), 3, /image dolly\/missing:1 not found/);
      assert.deepEqual(await containersOf(other.root), []);
    } finally {
      await other.dispose();
    }
  });

  it('init is refused on a root that has a pool, and without root for btrfs', async () => {
    assertCleanError(await cli(['init']), 4, /already has a dolly pool/);
    const nonrootDir = join(tmpdir(), `dolly-it-nonroot-${process.pid}`);
    const asNobody = await runAsNobody(['--root', nonrootDir, 'init']);
    assertCleanError(asNobody, 7, /needs root/);
    assert.equal(existsSync(nonrootDir), false);
  });

  it('a pool that fills up during the copy fails with ResourceExhausted and leaves nothing', async () => {
    const small = await createTestRoot('dolly-it-full-');
    const big = await production.sql();
    try {
      await fillSampleData(big, { database: 'bulk', bytes: 400 * 1024 * 1024 });
      assert.equal((await dolly(['--root', small.root, 'init', '--size', '256M', '--ports', '6151-6152'])).code, 0);
      const result = await dolly(['--root', small.root, 'replica', 'init', '--source', url()], withPassword());
      assertCleanError(result, 6, /space|full/i);
      assert.deepEqual(await containersOf(small.root), []);
      assert.deepEqual(await volumesOf(small.root), []);
    } finally {
      await big.execute('DROP DATABASE IF EXISTS bulk').catch(() => undefined);
      await big.close();
      await small.dispose();
      assert.deepEqual(await leftovers(small.root), []);
    }
  });
});
