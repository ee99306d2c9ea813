import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

  it('a malformed source URL, a bad --databases and a bad --apply-threads are refused', async () => {
    assertCleanError(await cli(['replica', 'init', '--source', 'http://x']), 2, /scheme/);
    assertCleanError(await cli(['replica', 'init', '--source', url(), '--databases', 'nope']), 9, /nope/);
    assertCleanError(await cli(['replica', 'init', '--source', url(), '--apply-threads', '65']), 2, /^dolly: --apply-threads must be a whole number from 0 to 64, not 65/);
    assertCleanError(await cli(['replica', 'init', '--source', url(), '--apply-threads', '-1']), 2, /--apply-threads takes a whole number/);
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

/** Every file under `dir` with its content (directories end in /): what must not change. */
async function tree(dir: string): Promise<string[]> {
  const entries: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    entries.push(entry.isDirectory() ? `${path}/` : `${path}: ${await readFile(path, 'utf8')}`);
  }
  return entries.sort();
}

/** A sparse image file attached to a loop device of the test's own. */
async function loopDevice(dir: string, name: string, size = '512M'): Promise<string> {
  const image = join(dir, `${name}.img`);
  await exec('truncate', ['-s', size, image]);
  return (await exec('losetup', ['-f', '--show', image])).stdout.trim();
}

/** blkid's TYPE of a device ('' when it holds no file system). */
async function fsType(device: string): Promise<string> {
  return (await exec('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device]).catch(() => ({ stdout: '' }))).stdout.trim();
}

/** What is mounted at `path` ('' when nothing). */
async function mountedAt(path: string): Promise<string> {
  return (await exec('findmnt', ['-n', '-o', 'SOURCE', '--mountpoint', path]).catch(() => ({ stdout: '' }))).stdout.trim();
}

describe('bad input through the CLI: teardown --purge of a foreign directory, init --device and --directory', { skip: skipUnless('root', 'btrfs', 'docker') }, () => {
  let scratch: string;
  const devices: string[] = [];
  const mounts: string[] = [];

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'dolly-it-bad-cli-'));
  });

  after(async () => {
    for (const mount of mounts.reverse()) await exec('umount', ['-l', mount]).catch(() => undefined);
    for (const device of devices) await exec('losetup', ['-d', device]).catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
    if (scratch) assert.deepEqual(await leftovers(scratch), []);
  });

  it('teardown --purge of a directory that is not a dolly root is refused, and deletes nothing', async () => {
    const foreign = join(scratch, 'not-a-root');
    // Names dolly's own files have, so a purge that went ahead would take them.
    await mkdir(join(foreign, 'run', 'replica'), { recursive: true });
    await writeFile(join(foreign, 'run', 'replica', 'error.log'), 'somebody else\'s log');
    await writeFile(join(foreign, 'pool.img'), 'somebody else\'s image');
    await writeFile(join(foreign, 'notes.txt'), 'keep me');
    const before = await tree(foreign);
    assertCleanError(await dolly(['--root', foreign, 'teardown', '--purge']), 3, new RegExp(`no dolly state at ${foreign}`));
    assert.deepEqual(await tree(foreign), before, 'teardown --purge changed a directory that is not a dolly root');
    const missing = join(scratch, 'nothing-here');
    assertCleanError(await dolly(['--root', missing, 'teardown', '--purge']), 3, /no dolly state/);
    assert.equal(existsSync(missing), false, 'teardown made the root it was given');
  });

  it('init --device: not a block device, a missing one, with --size or --directory, one holding data: refused and nothing made', async () => {
    const root = join(scratch, 'device-root');
    assertCleanError(await dolly(['--root', root, 'init', '--device', '/dev/null']), 2, /\/dev\/null is not a block device/);
    assertCleanError(await dolly(['--root', root, 'init', '--device', join(scratch, 'no-such-device')]), 3, /does not exist/);
    const blank = await loopDevice(scratch, 'blank');
    devices.push(blank);
    assertCleanError(await dolly(['--root', root, 'init', '--device', blank, '--size', '1G']), 2, /--size applies only to a pool image file/);
    assertCleanError(await dolly(['--root', root, 'init', '--device', blank, '--directory', scratch]), 2, /exclude each other/);
    assert.equal(await fsType(blank), '', 'a refused init wrote to the device');
    const used = await loopDevice(scratch, 'used');
    devices.push(used);
    await exec('mkfs.ext4', ['-q', used]);
    assertCleanError(await dolly(['--root', root, 'init', '--device', used]), 5, new RegExp(`${used} is not empty .*TYPE=ext4`));
    assert.equal(await fsType(used), 'ext4', "dolly overwrote a device's data");
    assert.equal(existsSync(root), false, 'a refused init left its root');
  });

  it('init --device on a blank loop device makes a btrfs pool on it; teardown --purge gives the device back', async () => {
    const root = join(scratch, 'device-pool');
    const device = await loopDevice(scratch, 'pool');
    devices.push(device);
    const made = await dolly(['--root', root, '--json', 'init', '--device', device, '--ports', '7781-7782']);
    assert.equal(made.code, 0, made.stderr);
    mounts.push(join(root, 'pool'));
    assert.equal(await fsType(device), 'btrfs');
    assert.equal(await mountedAt(join(root, 'pool')), device);
    const status = await dolly(['--root', root, '--json', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { driver: string }).driver, 'btrfs');
    // A second init on it is refused: the device holds this root's pool, mounted.
    mounts.push(join(scratch, 'device-again', 'pool')); // unmounted at the end should it be mounted there
    assertCleanError(await dolly(['--root', join(scratch, 'device-again'), 'init', '--device', device]), 5, /not empty|mounted|busy/);
    assert.equal(existsSync(join(scratch, 'device-again')), false);
    const purged = await dolly(['--root', root, 'teardown', '--purge']);
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(await mountedAt(join(root, 'pool')), '', 'the device is still mounted');
    assert.deepEqual(existsSync(root) ? (await readdir(root, { recursive: true })).sort() : [], [], 'teardown --purge left these in the root');
  });

  it('init --directory: not btrfs or missing is refused; a btrfs directory is used in place and kept by teardown --purge', async () => {
    const plain = join(scratch, 'plain');
    await mkdir(plain);
    assertCleanError(await dolly(['--root', join(scratch, 'dir-root'), 'init', '--directory', plain]), 2, /is not on a btrfs file system/);
    assert.deepEqual(await readdir(plain), []);
    assertCleanError(await dolly(['--root', join(scratch, 'dir-root'), 'init', '--directory', join(scratch, 'no-such-dir')]), 3, /does not exist/);
    assert.equal(existsSync(join(scratch, 'dir-root')), false);
    // Somebody else's btrfs, mounted by them: dolly takes a directory of it.
    const device = await loopDevice(scratch, 'theirs');
    devices.push(device);
    await exec('mkfs.btrfs', ['-q', device]);
    const theirs = join(scratch, 'theirs');
    await mkdir(theirs);
    await exec('mount', [device, theirs]);
    mounts.push(theirs);
    await writeFile(join(theirs, 'their-file'), 'theirs');
    await mkdir(join(theirs, 'dolly'));
    const root = join(scratch, 'dir-pool');
    const made = await dolly(['--root', root, 'init', '--directory', join(theirs, 'dolly'), '--ports', '7783-7784']);
    assert.equal(made.code, 0, made.stderr);
    assert.ok(existsSync(join(theirs, 'dolly', 'volumes')));
    assertCleanError(await dolly(['--root', join(scratch, 'dir-second'), 'init', '--directory', join(theirs, 'dolly')]), 4, /already exists/);
    assert.equal(existsSync(join(scratch, 'dir-second')), false, 'a refused init left its root');
    const purged = await dolly(['--root', root, 'teardown', '--purge']);
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(await mountedAt(theirs), device, "teardown unmounted somebody else's file system");
    assert.deepEqual(await readdir(join(theirs, 'dolly')), [], 'the pool directory is not emptied');
    assert.equal(await readFile(join(theirs, 'their-file'), 'utf8'), 'theirs');
  });
});
