import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flavorOps } from '../mysql/flavor.js';
import { accountInitSql, cloneCommand, prepareCommand, replicaCommand } from './server-config.js';

describe('server command lines', () => {
  const mariadb = flavorOps('mariadb');
  it('a clone has its own id and port, no replication, no binlog, events off, a small buffer pool', () => {
    const args = cloneCommand(mariadb, 4242, 6001, '127.0.0.1', '64M');
    assert.equal(args[0], 'mariadbd');
    assert.equal(args[1], '--no-defaults');
    for (const flag of ['--server-id=4242', '--port=6001', '--bind-address=127.0.0.1', '--skip-slave-start', '--skip-log-bin', '--event-scheduler=OFF', '--innodb-buffer-pool-size=64M', '--read-only=OFF', '--performance-schema=OFF']) {
      assert.ok(args.includes(flag), flag);
    }
  });
  it('the replica is durable, read-only, socket-only and initialises an empty datadir first', () => {
    const args = replicaCommand(mariadb, 7, '256M', ['--replicate-wild-ignore-table=mysql.%']);
    assert.deepEqual(args.slice(0, 2), ['sh', '-c']);
    assert.match(args[2] ?? '', /mariadb-install-db/);
    for (const flag of ['--read-only=ON', '--skip-networking', '--innodb-flush-log-at-trx-commit=1', '--relay-log-recovery=ON', '--replicate-wild-ignore-table=mysql.%']) assert.ok(args.includes(flag), flag);
  });
  it('the prepare server has no network and starts no replication', () => {
    const args = prepareCommand(mariadb, 9);
    assert.ok(args.includes('--skip-networking'));
    assert.ok(args.includes('--skip-slave-start'));
  });
  it('init SQL quotes the account and password', () => {
    const sql = accountInitSql('dolly', ['%'], "pa'ss\\");
    assert.match(sql, /IDENTIFIED BY 'pa\\'ss\\\\'/);
    assert.equal(sql.split('\n').filter((l) => l.trim()).length, 3);
  });
});
