import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceError, UnavailableError } from '../errors.js';
import { fakeSqlClient, mysqlError } from '../../test/support/mysql-fake-client.js';
import { flavorOps } from './flavor.js';
import { normalizeGtid, replicaStatus, replicationFilterArgs, sourceTimeOfLastEvent, startReplication, statusFromRow, waitUntilCaughtUp } from './replication.js';

const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const source = { host: '127.0.0.1', port: 3306, user: 'repl', password: "p'w" };

describe('statusFromRow', () => {
  it('maps MariaDB SHOW SLAVE STATUS', () => {
    const status = statusFromRow(flavorOps('mariadb'), {
      Slave_IO_State: 'Waiting for master to send event',
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
      Seconds_Behind_Master: 3,
      Last_IO_Error: '',
      Last_SQL_Error: '',
      Gtid_IO_Pos: '0-1-12,\n1-2-5',
    }, '0-1-9,1-2-5');
    assert.deepEqual(status, {
      io_running: true,
      sql_running: true,
      lag_seconds: 3,
      gtid: '0-1-9,1-2-5',
      last_error: null,
      io_state: 'Waiting for master to send event',
      received_gtid: '0-1-12,1-2-5',
      applied_transactions: 14,
      behind_transactions: 3,
    });
  });

  it('maps MySQL SHOW REPLICA STATUS; the SQL error wins over the IO error; Connecting is not running', () => {
    const status = statusFromRow(flavorOps('mysql'), {
      Replica_IO_State: 'Connecting to source',
      Replica_IO_Running: 'Connecting',
      Replica_SQL_Running: 'No',
      Seconds_Behind_Source: null,
      Last_IO_Error: 'error connecting to source',
      Last_SQL_Error: "Could not execute Write_rows event on table d.t; Duplicate entry '5' for key 'PRIMARY'",
      Retrieved_Gtid_Set: `${U}:4-9`,
    }, `${U}:1-5`);
    assert.equal(status.io_running, false);
    assert.equal(status.sql_running, false);
    assert.equal(status.lag_seconds, null);
    assert.match(status.last_error ?? '', /Duplicate entry/);
    // Received: what was retrieved together with what the copy executed.
    assert.equal(status.received_gtid, `${U}:1-9`);
    assert.equal(status.applied_transactions, 5);
    assert.equal(status.behind_transactions, 4);
  });

  it('no row: replication not configured', () => {
    assert.deepEqual(statusFromRow(flavorOps('mariadb'), undefined, ''), {
      io_running: false,
      sql_running: false,
      lag_seconds: null,
      gtid: '',
      last_error: null,
      io_state: '',
      received_gtid: '',
      applied_transactions: 0,
      behind_transactions: null,
    });
  });
});

describe('startReplication', () => {
  it('MariaDB: stops, keeps the position the dump set, filters, points at the source, starts', async () => {
    const client = fakeSqlClient((sql) => {
      if (sql === 'STOP SLAVE') return mysqlError('ER_BAD_SLAVE', 1200, 'Misconfigured slave');
      if (sql.includes('gtid_slave_pos AS gtid')) return [{ gtid: '0-1-9' }];
      return undefined;
    });
    await startReplication(client, 'mariadb', source, '0-1-9', { databases: ['shop'] });
    assert.deepEqual(client.statements.map((s) => s.sql), [
      'STOP SLAVE',
      'SELECT @@GLOBAL.gtid_slave_pos AS gtid',
      "SET GLOBAL replicate_wild_ignore_table = ''",
      "SET GLOBAL replicate_wild_do_table = 'shop.%'",
      "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='p\\'w', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=5",
      'START SLAVE',
    ]);
  });

  it('sets the position when it differs (MySQL: gtid_purged)', async () => {
    const client = fakeSqlClient((sql) => (sql.includes('gtid_executed AS gtid') ? [{ gtid: '' }] : undefined));
    await startReplication(client, 'mysql', source, 'u:1-5');
    assert.ok(client.statements.some((s) => s.sql === "SET @@GLOBAL.gtid_purged = 'u:1-5'"));
  });

  it('other errors of STOP are not swallowed', async () => {
    const client = fakeSqlClient((sql) => (sql === 'STOP SLAVE' ? mysqlError('ER_SPECIFIC_ACCESS_DENIED_ERROR', 1227, 'Access denied') : undefined));
    await assert.rejects(startReplication(client, 'mariadb', source), /Access denied/);
  });

  it('filter arguments for the replica command line', () => {
    assert.deepEqual(replicationFilterArgs(['my_db']), ['--replicate-wild-do-table=my\\_db.%']);
  });
});

function replica(opts: { wait: number[]; status?: Record<string, unknown>; gtid?: string }) {
  const waits = [...opts.wait];
  return fakeSqlClient((sql) => {
    if (sql.startsWith('SELECT MASTER_GTID_WAIT')) return [{ result: waits.shift() ?? -1 }];
    if (sql === 'SHOW SLAVE STATUS') return [{ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 0, Last_IO_Error: '', Last_SQL_Error: '', ...opts.status }];
    if (sql.includes('gtid_slave_pos AS gtid')) return [{ gtid: opts.gtid ?? '0-1-5' }];
    if (sql.includes('gtid_binlog_pos AS gtid')) return [{ gtid: '0-1-12' }];
    return undefined;
  });
}

describe('waitUntilCaughtUp', () => {
  it('waits in slices until MASTER_GTID_WAIT returns 0', async () => {
    const client = replica({ wait: [-1, -1, 0] });
    const result = await waitUntilCaughtUp(client, 'mariadb', '0-1-9', 10_000);
    assert.equal(result.gtid, '0-1-9');
    assert.equal(client.statements.filter((s) => s.sql.startsWith('SELECT MASTER_GTID_WAIT')).length, 3);
  });

  it("reads the source's current position when asked to", async () => {
    const client = replica({ wait: [0] });
    const result = await waitUntilCaughtUp(client, 'mariadb', { source: replica({ wait: [] }) }, 1000);
    assert.equal(result.gtid, '0-1-12');
    assert.ok(client.statements[0]?.sql.includes("'0-1-12'"));
  });

  it('fails fast when the SQL thread stopped with an error', async () => {
    const client = replica({ wait: [-1], status: { Slave_SQL_Running: 'No', Last_SQL_Error: "Duplicate entry '7' for key 'PRIMARY'" } });
    await assert.rejects(waitUntilCaughtUp(client, 'mariadb', '0-1-9', 60_000), (e: unknown) => e instanceof SourceError && /Duplicate entry/.test(e.message));
  });

  it('times out with UnavailableError', async () => {
    await assert.rejects(waitUntilCaughtUp(replica({ wait: [] }), 'mariadb', '0-1-9', 0), UnavailableError);
  });

  it('honours an aborted signal', async () => {
    await assert.rejects(waitUntilCaughtUp(replica({ wait: [] }), 'mariadb', '0-1-9', 1000, AbortSignal.abort()), { name: 'AbortError' });
  });
});

describe('sourceTimeOfLastEvent and status', () => {
  it('caught up → now; behind → now minus lag; unknown lag → null', async () => {
    const now = () => 1_700_000_000_000;
    assert.equal((await sourceTimeOfLastEvent(replica({ wait: [] }), 'mariadb', now))?.getTime(), now());
    assert.equal((await sourceTimeOfLastEvent(replica({ wait: [], status: { Seconds_Behind_Master: 7 } }), 'mariadb', now))?.getTime(), now() - 7000);
    assert.equal(await sourceTimeOfLastEvent(replica({ wait: [], status: { Seconds_Behind_Master: null } }), 'mariadb', now), null);
  });

  it('MySQL uses the commit time of the last applied transaction when behind', async () => {
    const client = fakeSqlClient((sql) => {
      if (sql === 'SHOW REPLICA STATUS') return [{ Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: 4 }];
      if (sql.includes('at_epoch')) return [{ at_epoch: '1700000000.250000' }];
      return [{ gtid: 'u:1-5' }];
    });
    assert.equal((await sourceTimeOfLastEvent(client, 'mysql'))?.getTime(), 1_700_000_000_250);
  });

  it('replicaStatus reads status and position', async () => {
    const status = await replicaStatus(replica({ wait: [], gtid: '0-1-77' }), 'mariadb');
    assert.equal(status.gtid, '0-1-77');
    assert.equal(status.io_running, true);
    assert.equal(normalizeGtid('a:1-5,\nb:1-2'), 'a:1-5,b:1-2');
  });
});
