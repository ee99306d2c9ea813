import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Flavor } from './flavor.js';
import { NO_PLUGIN_DIR, REPLICA_MARKER, defaultApplyThreads, serverArgv, serverCommandLine, startupScript, type ServerCommand, type ServerPaths } from './server-args.js';

/** A confined server's paths, as a container sees them (and as a host process might: any paths). */
const PATHS: ServerPaths = { datadir: '/var/lib/mysql', runDir: '/run/dolly', tmpDir: '/tmp', filesDir: '/var/lib/mysql-files' };
const OWN_NAMESPACE = { port: 3306, bindAddress: '0.0.0.0' };
const FLAVORS: Flavor[] = ['mariadb', 'mysql'];

const replica = (flavor: Flavor, more: Partial<ServerCommand & { role: 'replica' }> = {}): ServerCommand => ({ flavor, serverId: 7, role: 'replica', bufferPool: '256M', args: [], ...more });
const clone = (flavor: Flavor, more: Partial<ServerCommand & { role: 'clone' }> = {}): ServerCommand => ({ flavor, serverId: 4242, role: 'clone', bufferPool: '64M', ...more });
const prepare = (flavor: Flavor): ServerCommand => ({ flavor, serverId: 9, role: 'prepare' });
const source = (flavor: Flavor, more: Partial<ServerCommand & { role: 'source' }> = {}): ServerCommand => ({ flavor, serverId: 1, role: 'source', ...more });

describe('server command lines: every server', () => {
  it('its files under the paths it is given, none elsewhere; its binary, no option files', () => {
    const hostPaths: ServerPaths = { datadir: '/srv/d', runDir: '/srv/r', tmpDir: '/srv/t', filesDir: '/srv/f' };
    for (const flavor of FLAVORS) {
      for (const server of [replica(flavor), clone(flavor), prepare(flavor)]) {
        const args = serverArgv(server, hostPaths, 'socket-only');
        assert.equal(args[0], flavor === 'mariadb' ? 'mariadbd' : 'mysqld');
        assert.equal(args[1], '--no-defaults');
        for (const flag of ['--datadir=/srv/d', '--socket=/srv/r/mysqld.sock', '--pid-file=/srv/r/mysqld.pid', '--log-error=/srv/r/error.log', '--tmpdir=/srv/t', '--secure-file-priv=/srv/f', '--init-file=/srv/r/init.sql']) assert.ok(args.includes(flag), `${server.role} ${flag}`);
        assert.ok(!args.some((a) => /\/var\/lib\/mysql|\/run\/dolly/.test(a)), `${server.role}: no container path`);
      }
    }
  });
  it('the flavor’s own flags: MySQL servers run with GTID mode and without the X plugin', () => {
    for (const server of [replica('mysql'), clone('mysql'), prepare('mysql'), source('mysql')]) {
      for (const flag of ['--mysqlx=0', '--gtid-mode=ON', '--enforce-gtid-consistency=ON']) assert.ok(serverArgv(server, PATHS, 'socket-only').includes(flag), `${server.role} ${flag}`);
    }
    assert.ok(!serverArgv(clone('mariadb'), PATHS, 'socket-only').some((a) => a.startsWith('--gtid-mode')));
  });
  it('listens where told: no TCP, or a port on an address', () => {
    const socket = serverArgv(clone('mariadb'), PATHS, 'socket-only');
    assert.ok(socket.includes('--skip-networking') && !socket.some((a) => a.startsWith('--port')));
    const tcp = serverArgv(clone('mariadb'), PATHS, { port: 6001, bindAddress: '127.0.0.1' });
    assert.ok(tcp.includes('--port=6001') && tcp.includes('--bind-address=127.0.0.1') && !tcp.includes('--skip-networking'));
    assert.throws(() => serverArgv(clone('mariadb'), PATHS, { port: -1, bindAddress: '127.0.0.1' }), /port must be a non-negative integer/);
  });
  it('no server of dolly ignores accounts named by host (no --skip-name-resolve), and none runs as root', () => {
    for (const flavor of FLAVORS) {
      for (const args of [serverArgv(clone(flavor), PATHS, OWN_NAMESPACE), serverArgv(prepare(flavor), PATHS, 'socket-only'), serverArgv(replica(flavor), PATHS, 'socket-only')]) {
        assert.ok(!args.includes('--skip-name-resolve'));
        assert.ok(!args.some((a) => a.startsWith('--user')), 'runs as the runtime’s user, never --user=root');
      }
    }
  });
});

describe('server command lines: a clone', () => {
  const mariadb = 'mariadb';
  it('has its own id, no replication, no binlog, events off, a small buffer pool; starts directly', () => {
    const args = serverCommandLine(clone(mariadb), PATHS, OWN_NAMESPACE);
    assert.equal(args[0], 'mariadbd');
    for (const flag of ['--server-id=4242', '--port=3306', '--bind-address=0.0.0.0', '--skip-slave-start', '--skip-log-bin', '--event-scheduler=OFF', '--innodb-buffer-pool-size=64M', '--read-only=OFF', '--performance-schema=OFF', '--innodb-flush-log-at-trx-commit=2']) {
      assert.ok(args.includes(flag), flag);
    }
    assert.ok(serverCommandLine(clone('mysql'), PATHS, OWN_NAMESPACE).includes('--skip-replica-start'));
    assert.equal(startupScript(clone(mariadb), PATHS), null);
  });
  it('loads no plugin and writes files only in its private directory, unless --admin', () => {
    const args = serverArgv(clone(mariadb), PATHS, OWN_NAMESPACE);
    assert.ok(args.includes(`--plugin-dir=${NO_PLUGIN_DIR}`));
    assert.ok(args.includes('--secure-file-priv=/var/lib/mysql-files'));
    const admin = serverArgv(clone(mariadb, { admin: true }), PATHS, OWN_NAMESPACE);
    assert.ok(!admin.some((a) => a.startsWith('--plugin-dir')));
    assert.ok(admin.includes('--secure-file-priv=/var/lib/mysql-files'));
  });
  it('serves TLS with the files of its run directory', () => {
    const args = serverArgv(clone(mariadb, { tls: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' } }), PATHS, OWN_NAMESPACE);
    for (const flag of ['--ssl-cert=/run/dolly/c.pem', '--ssl-key=/run/dolly/k.pem', '--ssl-ca=/run/dolly/ca.pem']) assert.ok(args.includes(flag), flag);
    assert.ok(!serverArgv(clone(mariadb), PATHS, OWN_NAMESPACE).some((a) => a.startsWith('--ssl')));
  });
  it("carries its limits' flags; without limits it has none", () => {
    const args = serverArgv(clone(mariadb, { limits: ['--max-connections=50', '--maximum-tmp_table_size=1M'] }), PATHS, OWN_NAMESPACE);
    assert.ok(args.includes('--max-connections=50') && args.includes('--maximum-tmp_table_size=1M'));
    assert.ok(!serverArgv(clone(mariadb), PATHS, OWN_NAMESPACE).some((a) => a.startsWith('--max-connections') || a.startsWith('--maximum-')));
  });
});

describe('server command lines: the replica', () => {
  it('is durable, read-only, socket-only and initialises an empty datadir first', () => {
    const args = serverCommandLine(replica('mariadb', { args: ['--replicate-wild-ignore-table=mysql.%'] }), PATHS, 'socket-only');
    assert.deepEqual(args.slice(0, 2), ['sh', '-c']);
    assert.match(args[2] ?? '', /mariadb-install-db/);
    assert.deepEqual(args.slice(3, 5), ['sh', 'mariadbd']);
    for (const flag of ['--read-only=ON', '--skip-networking', '--innodb-flush-log-at-trx-commit=1', '--relay-log-recovery=ON', '--replicate-wild-ignore-table=mysql.%', '--slave-skip-errors=1396,1524', '--plugin-load-add=auth_ed25519']) assert.ok(args.includes(flag), flag);
    const mysql = serverCommandLine(replica('mysql'), PATHS, 'socket-only');
    assert.match(mysql[2] ?? '', /mysqld --no-defaults --initialize-insecure --datadir=\/var\/lib\/mysql >/);
    assert.ok(mysql.includes('--replica-skip-errors=1396,1524'));
  });
  it('with apply settings: parallel workers in commit order, commits synced each second unless durable', () => {
    const maria = serverArgv(replica('mariadb', { apply: { threads: 8, durableCommits: false } }), PATHS, 'socket-only');
    for (const flag of ['--slave-parallel-threads=8', '--slave-parallel-mode=optimistic', '--innodb-flush-log-at-trx-commit=2']) assert.ok(maria.includes(flag), flag);
    const serial = serverArgv(replica('mariadb', { apply: { threads: 0, durableCommits: true } }), PATHS, 'socket-only');
    for (const flag of ['--slave-parallel-threads=0', '--innodb-flush-log-at-trx-commit=1']) assert.ok(serial.includes(flag), flag);
    assert.ok(!serial.some((a) => a.startsWith('--slave-parallel-mode')));
    const mysql = serverArgv(replica('mysql', { apply: { threads: 6, durableCommits: false } }), PATHS, 'socket-only');
    for (const flag of ['--replica-parallel-workers=6', '--replica-preserve-commit-order=ON', '--innodb-flush-log-at-trx-commit=2']) assert.ok(mysql.includes(flag), flag);
    // MySQL has no "no workers" any more: 0 means one worker.
    assert.ok(serverArgv(replica('mysql', { apply: { threads: 0, durableCommits: true } }), PATHS, 'socket-only').includes('--replica-parallel-workers=1'));
  });
  it('applier workers are twice the cores, 4 to 16', () => {
    assert.deepEqual([1, 2, 4, 8, 64].map(defaultApplyThreads), [4, 4, 8, 16, 16]);
  });
  it('its startup, run by sh: refuses a datadir without the marker; initialises an empty one; wipes a half-made one; keeps a made one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-startup-'));
    try {
      const paths: ServerPaths = { datadir: join(dir, 'data'), runDir: join(dir, 'run') };
      await mkdir(paths.datadir);
      await mkdir(paths.runDir);
      // A stand-in flavor tool is not possible (the script names the real one), so run up to it: replace the init with `true`.
      const script = (startupScript(replica('mariadb', { requireMarker: true }), paths) ?? '').replace(/mariadb-install-db [^>]*>/, 'mkdir mysql >');
      const run = async (): Promise<number> => promisify(execFile)('sh', ['-c', `cd ${paths.datadir} && ${script}`, 'sh', 'true']).then(() => 0, (e: { code?: number }) => e.code ?? -1);
      assert.equal(await run(), 75, 'no marker: exit 75');
      await writeFile(join(paths.datadir, REPLICA_MARKER), 'x');
      await writeFile(join(paths.datadir, 'half-made'), 'x');
      assert.equal(await run(), 0);
      assert.deepEqual((await promisify(execFile)('ls', ['-A', paths.datadir])).stdout.split('\n').filter((l) => l !== '').sort(), [REPLICA_MARKER, 'mysql']);
      await writeFile(join(paths.datadir, 'mysql', 'kept'), 'x');
      assert.equal(await run(), 0);
      assert.equal(await readFile(join(paths.datadir, 'mysql', 'kept'), 'utf8'), 'x', 'a made datadir is not touched');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('without requireMarker there is no marker check', () => {
    assert.doesNotMatch(startupScript(replica('mariadb'), PATHS) ?? '', /exit 75/);
    assert.match(startupScript(replica('mariadb', { requireMarker: true }), PATHS) ?? '', /^\[ -f \/var\/lib\/mysql\/\.dolly-replica \] \|\|/);
  });
});

describe('server command lines: the prepare server', () => {
  it('has no network, starts no replication, unlocks the admin by its init file', () => {
    for (const flavor of FLAVORS) {
      const args = serverArgv(prepare(flavor), PATHS, 'socket-only');
      for (const flag of ['--skip-networking', flavor === 'mariadb' ? '--skip-slave-start' : '--skip-replica-start', '--read-only=OFF', '--performance-schema=OFF', '--init-file=/run/dolly/init.sql']) assert.ok(args.includes(flag), flag);
    }
  });
  it('runs the flavor’s after-step in the datadir only once the server exited cleanly', () => {
    assert.match(startupScript(prepare('mariadb'), PATHS) ?? '', /^"\$@" && cd \/var\/lib\/mysql && \{ find \. -name '\*\.MAI'.* rm -f aria_log\.\* aria_log_control; \}$/);
    assert.equal(startupScript(prepare('mysql'), PATHS), '"$@" && cd /var/lib/mysql && { rm -f ./#innodb_redo/* ./#ib_*.dblwr; }');
  });
});

describe('server command lines: a source (the Swarm’s, the demo’s, the tests’)', () => {
  it('runs as root in its container, resolves no names, logs to stderr', () => {
    const args = serverArgv(source('mariadb'), { datadir: '/d', runDir: '/r' }, 'socket-only');
    assert.deepEqual(args.slice(0, 3), ['mariadbd', '--no-defaults', '--user=root']);
    assert.ok(args.includes('--skip-name-resolve'));
    assert.ok(!args.some((a) => a.startsWith('--log-error') || a.startsWith('--tmpdir') || a.startsWith('--secure-file-priv') || a.startsWith('--init-file') || a.startsWith('--log-bin')));
  });
  it('a durable binlog: row format, strict GTIDs (MariaDB) or GTID mode (MySQL), synced per commit; or a fast one', () => {
    const durable = serverArgv(source('mariadb', { binlog: { durable: true, expireSeconds: 604800 }, maxAllowedPacket: '256M', initFile: true }), { datadir: '/d', runDir: '/r' }, { port: 3306, bindAddress: '0.0.0.0' });
    for (const flag of ['--log-bin=source-bin', '--binlog-format=ROW', '--gtid-strict-mode=ON', '--binlog-expire-logs-seconds=604800', '--sync-binlog=1', '--innodb-flush-log-at-trx-commit=1', '--max-allowed-packet=256M', '--init-file=/r/init.sql', '--port=3306']) assert.ok(durable.includes(flag), flag);
    const fast = serverArgv(source('mysql', { binlog: { durable: false }, initFile: true }), { datadir: '/d', runDir: '/r', initFile: '/dolly-init/init.sql' }, { port: 7000, bindAddress: '127.0.0.1' });
    for (const flag of ['--log-bin=source-bin', '--gtid-mode=ON', '--sync-binlog=0', '--innodb-flush-log-at-trx-commit=2', '--init-file=/dolly-init/init.sql']) assert.ok(fast.includes(flag), flag);
    assert.ok(!fast.includes('--binlog-format=ROW'), "row format is MySQL's default");
  });
  it('initialises an empty datadir as root (MySQL needs --user=root for it), runs its shell lines, then execs the server', () => {
    const script = startupScript(source('mysql', { shellBeforeStart: ['echo before'] }), { datadir: '/d', runDir: '/r' }) ?? '';
    assert.match(script, /^set -eu\numask 077\nmkdir -p \/r\nif \[ ! -d \/d\/mysql \]; then mysqld --no-defaults --initialize-insecure --datadir=\/d --user=root > /);
    assert.match(script, /\necho before\nexec "\$@"$/);
  });
});
