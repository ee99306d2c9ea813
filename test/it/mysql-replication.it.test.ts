import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { fillSampleData, startLoadEmulator, startProductionServer, type LoadEmulator, type ProductionServer } from '../../src/demo/production-server.js';
import { SourceError } from '../../src/errors.js';
import { copyDatabases } from '../../src/mysql/dump.js';
import {
  pauseApplier, quiesce, release, replicaStatus, resumeApplier, sourcePosition, sourceTimeOfLastEvent, startReplication, waitUntilCaughtUp,
} from '../../src/mysql/replication.js';
import { checkSource } from '../../src/mysql/source-check.js';
import type { SqlClient } from '../../src/mysql/sql-client.js';
import { MARIADB_IMAGE, requires } from '../support/capabilities.js';
import { TEST_ROOT, eventually, removeTestLeftovers, startTestServer, withSql, type TestServer } from '../support/mysql-servers.js';

const docker = createDockerClient();
const password = `pw'${randomBytes(6).toString('hex')}\\`; // hostile on purpose: quote and backslash
let source: ProductionServer | undefined;
let replica: TestServer | undefined;
let load: LoadEmulator | undefined;
let gtid = '';
/** How far the shared scenario got; a later step skips when an earlier one failed. */
let reached = 0;

const count = async (sql: SqlClient, query: string): Promise<number> => Number((await sql.query<{ n: unknown }>(query))[0]?.n ?? -1);

describe('copy and replication between real MariaDB 10.11 servers', { timeout: 600_000 }, () => {
  before(async () => {
    await removeTestLeftovers(docker).catch(() => undefined);
  });
  after(async () => {
    await load?.stop();
    await source?.stop();
    await replica?.stop();
  });

  it('starts a source with sample data and the load emulator, and an empty replica', async (t) => {
    if (!requires(t, 'docker', 'image', 'mariadb-client')) return;
    [source, replica] = await Promise.all([
      startProductionServer({ docker, root: TEST_ROOT, image: MARIADB_IMAGE, rootPassword: password, name: `it-repl-source-${process.pid}` }),
      startTestServer(docker, { name: `it-repl-replica-${process.pid}`, serverId: 2, args: ['--relay-log-recovery=ON'] }),
    ]);
    let progress = 0;
    await withSql(() => source!.sql(), async (sql) => {
      const made = await fillSampleData(sql, { database: 'my_shop', bytes: 4 * 1024 * 1024, onProgress: (b) => (progress = b) });
      assert.ok(made.rows > 10_000);
      assert.ok(progress >= 4 * 1024 * 1024);
      assert.ok(made.bytes > 3 * 1024 * 1024 && made.bytes < 6 * 1024 * 1024, `${made.bytes} bytes on disk`);
      await sql.execute('CREATE DATABASE other');
      await sql.execute('CREATE TABLE other.t (id INT PRIMARY KEY) ENGINE=InnoDB');
    });
    load = await startLoadEmulator(source.connectOptions, { database: 'docker', intervalMs: 200 });
    await eventually('the load emulator to write', async () => load!.lastId() >= 2);
    reached = 1;
  });

  it('copyDatabases streams the databases into the replica and returns the GTID from the dump', async (t) => {
    if (!source || !replica || reached < 1) return t.skip('no servers');
    const info = await withSql(() => source!.sql(), (sql) => checkSource(sql, { databases: ['docker', 'my_shop'] }));
    let progressed = 0;
    const copy = await copyDatabases({
      source: { host: source.host, port: source.port, user: 'root', password },
      databases: info.databases,
      flavor: info.flavor,
      target: { socketPath: replica.socketPath, user: 'root', password: '' },
      onProgress: (bytes) => (progressed = bytes),
    });
    gtid = copy.gtid;
    assert.match(copy.gtid, /^0-1-\d+$/);
    assert.ok(copy.bytes > 1024 * 1024);
    assert.equal(progressed, copy.bytes);
    const orders = await withSql(() => source!.sql(), (sql) => count(sql, 'SELECT COUNT(*) AS n FROM my_shop.orders'));
    await withSql(() => replica!.sql(), async (sql) => {
      assert.equal(await count(sql, 'SELECT COUNT(*) AS n FROM my_shop.orders'), orders);
      assert.ok((await count(sql, 'SELECT COUNT(*) AS n FROM docker.repl_status')) >= 2);
      assert.equal(await count(sql, "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'other'"), 0);
      const [pos] = await sql.query<{ gtid: string }>('SELECT @@GLOBAL.gtid_slave_pos AS gtid');
      assert.equal(pos?.gtid, copy.gtid, 'the dump set gtid_slave_pos itself');
    });
    reached = 2;
  });

  it('startReplication: new source writes appear on the replica; other databases and accounts are filtered', async (t) => {
    if (!source || !replica || reached < 2) return t.skip('no copy');
    await withSql(() => replica!.sql(), (sql) => startReplication(sql, 'mariadb', { host: source!.host, port: source!.port, user: 'root', password }, gtid, { databases: ['docker', 'my_shop'] }));
    const marker = await withSql(() => source!.sql(), async (sql) => {
      await sql.execute("INSERT INTO my_shop.orders (customer_id, status, amount, note, created_at) VALUES (1, 'new', 9.99, 'replicated', NOW())");
      await sql.execute('INSERT INTO other.t VALUES (1)');
      await sql.execute("CREATE USER 'app'@'%' IDENTIFIED BY 'x'");
      await sql.execute("GRANT SELECT ON my_shop.* TO 'app'@'%'");
      return count(sql, 'SELECT MAX(id) AS n FROM my_shop.orders');
    });
    await withSql(() => source!.sql(), (src) => withSql(() => replica!.sql(), async (sql) => {
      const waited = await waitUntilCaughtUp(sql, 'mariadb', { source: src }, 30_000);
      assert.match(waited.gtid, /^0-1-\d+$/);
      assert.equal(await count(sql, `SELECT COUNT(*) AS n FROM my_shop.orders WHERE id = ${marker} AND note = 'replicated'`), 1);
      assert.equal(await count(sql, "SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'app'"), 0);
      const status = await replicaStatus(sql, 'mariadb');
      assert.equal(status.io_running, true);
      assert.equal(status.sql_running, true);
      assert.equal(status.last_error, null);
      assert.equal(typeof status.lag_seconds, 'number');
      // Idle, or taking the next event of the load emulator that writes on the source.
      assert.match(status.io_state, /Waiting for master|Queueing master event/);
      assert.match(status.gtid, /^0-1-\d+$/);
    }));
    reached = 3;
  });

  it('the load emulator rows arrive on the replica', async (t) => {
    if (!source || !replica || !load || reached < 3) return t.skip('no replication');
    const last = load.lastId();
    await withSql(() => replica!.sql(), async (sql) => {
      await waitUntilCaughtUp(sql, 'mariadb', await withSql(() => source!.sql(), (src) => sourcePosition(src, 'mariadb')), 30_000);
      assert.ok((await count(sql, 'SELECT MAX(id) AS n FROM docker.repl_status')) >= last);
    });
  });

  it('pause and quiesce on one connection hold the position still; data_state_at is about now', async (t) => {
    if (!source || !replica || reached < 3) return t.skip('no replication');
    await withSql(() => replica!.sql(), async (sql) => {
      const at = await sourceTimeOfLastEvent(sql, 'mariadb');
      assert.ok(at !== null && Math.abs(at.getTime() - Date.now()) < 5000, `data_state_at ${at?.toISOString()}`);
      await pauseApplier(sql, 'mariadb');
      await quiesce(sql, 'mariadb');
      try {
        const before = (await replicaStatus(sql, 'mariadb')).gtid;
        await new Promise((r) => setTimeout(r, 700)); // the emulator writes meanwhile
        const paused = await replicaStatus(sql, 'mariadb');
        assert.equal(paused.sql_running, false);
        assert.equal(paused.io_running, true);
        assert.equal(paused.gtid, before);
      } finally {
        await release(sql, 'mariadb');
        await resumeApplier(sql, 'mariadb');
      }
      await withSql(() => source!.sql(), (src) => waitUntilCaughtUp(sql, 'mariadb', { source: src }, 30_000));
    });
  });

  it('the load emulator and the replica ride out a restart of the source', async (t) => {
    if (!source || !replica || !load || reached < 3) return t.skip('no replication');
    await docker.getContainer(source.containerId).restart({ t: 10 });
    const after = load.lastId();
    await eventually('the emulator to write again', async () => load!.lastId() > after + 2, 60_000);
    await withSql(() => source!.sql(), (src) => withSql(() => replica!.sql(), (sql) => waitUntilCaughtUp(sql, 'mariadb', { source: src }, 60_000)));
  });

  it('a conflicting row written on the replica stops replication with the error in last_error', async (t) => {
    if (!source || !replica || reached < 3) return t.skip('no replication');
    await withSql(() => replica!.sql(), async (sql) => {
      await sql.execute("INSERT INTO my_shop.orders (id, customer_id, status, amount, note, created_at) VALUES (99999999, 1, 'new', 1, 'conflict', NOW())");
    });
    await withSql(() => source!.sql(), (sql) =>
      sql.execute("INSERT INTO my_shop.orders (id, customer_id, status, amount, note, created_at) VALUES (99999999, 2, 'paid', 2, 'source', NOW())"),
    );
    await withSql(() => replica!.sql(), async (sql) => {
      await eventually('the SQL thread to stop', async () => !(await replicaStatus(sql, 'mariadb')).sql_running);
      const status = await replicaStatus(sql, 'mariadb');
      assert.equal(status.io_running, true);
      assert.match(status.last_error ?? '', /Duplicate entry '99999999' for key 'PRIMARY'/);
      const started = Date.now();
      await assert.rejects(
        withSql(() => source!.sql(), (src) => waitUntilCaughtUp(sql, 'mariadb', { source: src }, 60_000)),
        (e: unknown) => e instanceof SourceError && /replication stopped: .*Duplicate entry/.test(e.message),
      );
      assert.ok(Date.now() - started < 5000, 'fails fast instead of waiting for the timeout');
    });
  });
});
