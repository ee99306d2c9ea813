import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flavorOps } from '../mysql/flavor.js';
import { CLONE_PRIVILEGES, NO_PLUGIN_DIR, accountInitSql, cloneCommand, defaultApplyThreads, prepareCommand, replicaCommand } from './server-config.js';

describe('server command lines', () => {
  const mariadb = flavorOps('mariadb');
  it('a clone has its own id, listens in its own namespace, no replication, no binlog, events off, a small buffer pool', () => {
    const args = cloneCommand(mariadb, 4242, '64M');
    assert.equal(args[0], 'mariadbd');
    assert.equal(args[1], '--no-defaults');
    for (const flag of ['--server-id=4242', '--port=3306', '--bind-address=0.0.0.0', '--skip-slave-start', '--skip-log-bin', '--event-scheduler=OFF', '--innodb-buffer-pool-size=64M', '--read-only=OFF', '--performance-schema=OFF']) {
      assert.ok(args.includes(flag), flag);
    }
  });
  it('a clone loads no plugin and writes files only in its private directory, unless --admin', () => {
    const args = cloneCommand(mariadb, 1, '64M');
    assert.ok(args.includes(`--plugin-dir=${NO_PLUGIN_DIR}`));
    assert.ok(args.includes('--secure-file-priv=/var/lib/mysql-files'));
    assert.ok(!args.some((a) => a.startsWith('--user')), 'runs as the container user, never --user=root');
    const admin = cloneCommand(mariadb, 1, '64M', { admin: true });
    assert.ok(!admin.some((a) => a.startsWith('--plugin-dir')));
    assert.ok(admin.includes('--secure-file-priv=/var/lib/mysql-files'));
  });
  it("a clone's user gets data and schema rights, never FILE, SUPER, GRANT OPTION or plugins", () => {
    const sql = accountInitSql('dolly', ['%'], 'pw', CLONE_PRIVILEGES);
    const grants = sql.split('\n').filter((l) => l.startsWith('GRANT'));
    assert.equal(grants.length, 3);
    const [global = '', data = '', system = ''] = grants;
    assert.equal(global, "GRANT PROCESS, SHOW DATABASES ON *.* TO 'dolly'@'%';");
    for (const right of ['SELECT', 'CREATE VIEW', 'CREATE ROUTINE', 'TRIGGER', 'EVENT', 'DROP']) assert.ok(data.includes(right), right);
    assert.match(data, / ON `%`\.\* TO /);
    assert.equal(system, "GRANT SELECT ON `mysql`.* TO 'dolly'@'%';", 'the mysql schema is read-only');
    for (const right of ['FILE', 'SUPER', 'ALL', 'GRANT OPTION', 'SHUTDOWN', 'REPLICATION', 'CREATE USER']) assert.ok(!grants.join('\n').includes(right), right);
    assert.match(sql, /REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'dolly'@'%';\nGRANT PROCESS/);
  });
  it('the replica is durable, read-only, socket-only and initialises an empty datadir first', () => {
    const args = replicaCommand(mariadb, 7, '256M', ['--replicate-wild-ignore-table=mysql.%']);
    assert.deepEqual(args.slice(0, 2), ['sh', '-c']);
    assert.match(args[2] ?? '', /mariadb-install-db/);
    for (const flag of ['--read-only=ON', '--skip-networking', '--innodb-flush-log-at-trx-commit=1', '--relay-log-recovery=ON', '--replicate-wild-ignore-table=mysql.%']) assert.ok(args.includes(flag), flag);
  });
  it('a replica with apply settings: parallel workers in commit order, commits synced each second unless durable', () => {
    const maria = replicaCommand(mariadb, 7, '256M', [], { apply: { threads: 8, durableCommits: false } });
    for (const flag of ['--slave-parallel-threads=8', '--slave-parallel-mode=optimistic', '--innodb-flush-log-at-trx-commit=2']) assert.ok(maria.includes(flag), flag);
    const serial = replicaCommand(mariadb, 7, '256M', [], { apply: { threads: 0, durableCommits: true } });
    for (const flag of ['--slave-parallel-threads=0', '--innodb-flush-log-at-trx-commit=1']) assert.ok(serial.includes(flag), flag);
    assert.ok(!serial.some((a) => a.startsWith('--slave-parallel-mode')));
    const mysql = replicaCommand(flavorOps('mysql'), 7, '256M', [], { apply: { threads: 6, durableCommits: false } });
    for (const flag of ['--replica-parallel-workers=6', '--replica-preserve-commit-order=ON', '--innodb-flush-log-at-trx-commit=2']) assert.ok(mysql.includes(flag), flag);
    // MySQL has no "no workers" any more: 0 means one worker.
    assert.ok(replicaCommand(flavorOps('mysql'), 7, '256M', [], { apply: { threads: 0, durableCommits: true } }).includes('--replica-parallel-workers=1'));
  });
  it('applier workers are twice the cores, 4 to 16', () => {
    assert.deepEqual([1, 2, 4, 8, 64].map(defaultApplyThreads), [4, 4, 8, 16, 16]);
  });
  it('the prepare server has no network and starts no replication', () => {
    const args = prepareCommand(mariadb, 9);
    assert.ok(args.includes('--skip-networking'));
    assert.ok(args.includes('--skip-slave-start'));
  });
  it('init SQL quotes the account and password', () => {
    const sql = accountInitSql('dolly', ['%'], "pa'ss\\");
    assert.match(sql, /IDENTIFIED BY 'pa\\'ss\\\\'/);
    assert.equal(sql.split('\n').filter((l) => l.trim()).length, 4);
  });
  it("a clone's command carries its limits' flags; without limits it has none", () => {
    const args = cloneCommand(mariadb, 1, '64M', { limits: ['--max-connections=50', '--maximum-tmp_table_size=1M'] });
    assert.ok(args.includes('--max-connections=50') && args.includes('--maximum-tmp_table_size=1M'));
    assert.ok(!cloneCommand(mariadb, 1, '64M').some((a) => a.startsWith('--max-connections') || a.startsWith('--maximum-')));
  });
  it('no server ignores accounts named by host (no --skip-name-resolve)', () => {
    for (const args of [cloneCommand(mariadb, 1, '64M'), prepareCommand(mariadb, 2), replicaCommand(mariadb, 3, '64M', [])]) assert.ok(!args.includes('--skip-name-resolve'));
  });
});
