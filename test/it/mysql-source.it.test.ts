import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { freePort } from '../../src/free-port.js';
import { SourceError } from '../../src/errors.js';
import { checkSource } from '../../src/mysql/source-check.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { MARIADB_IMAGE, requires } from '../support/capabilities.js';
import { TEST_ROOT, removeTestLeftovers, startTestServer, withSql, type TestServer } from '../support/mysql-servers.js';

const docker = createDockerClient();
const password = `pw-${randomBytes(6).toString('hex')}`;
let source: ProductionServer | undefined;
let noBinlog: TestServer | undefined;

async function sourceError(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(() => assert.fail('expected a SourceError'), (e: unknown) => e);
  assert.ok(error instanceof SourceError, String(error));
  return error;
}

describe('source checks against real MariaDB 10.11', { timeout: 300_000 }, () => {
  before(async () => {
    await removeTestLeftovers(docker).catch(() => undefined);
  });
  after(async () => {
    await source?.stop();
    await noBinlog?.stop();
  });

  it('a production server passes; databases, non-InnoDB tables and size are reported', async (t) => {
    if (!requires(t, 'docker', 'image', 'mariadb-client')) return;
    source = await startProductionServer({ docker, root: TEST_ROOT, image: MARIADB_IMAGE, rootPassword: password, name: `it-source-${process.pid}` });
    await withSql(() => source!.sql(), async (sql) => {
      await sql.execute('CREATE DATABASE shop');
      await sql.execute('CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB');
      await sql.execute("INSERT INTO shop.items VALUES (1, 'a'), (2, 'b')");
      await sql.execute('CREATE TABLE shop.legacy (id INT) ENGINE=MyISAM');
      await sql.execute('CREATE DATABASE docker');
      const info = await checkSource(sql);
      assert.equal(info.flavor, 'mariadb');
      assert.match(info.version, /^10\.11\./);
      assert.equal(info.serverId, 1);
      assert.equal(info.binlogFormat, 'ROW');
      assert.equal(info.gtidEnabled, true);
      assert.deepEqual(info.databases, ['docker', 'shop']);
      assert.deepEqual(info.nonInnodbTables, [{ schema: 'shop', table: 'legacy', engine: 'MyISAM' }]);
      assert.ok(info.sizeBytes > 0);
      assert.deepEqual(info.warnings, []);
      assert.deepEqual((await checkSource(sql, { databases: ['shop'] })).databases, ['shop']);
    });
  });

  it('a database that does not exist: the hint lists those that do', async (t) => {
    if (!source) return t.skip('no source');
    await withSql(() => source!.sql(), async (sql) => {
      const error = await sourceError(checkSource(sql, { databases: ['shop', 'nope'] }));
      assert.match(error.message, /database nope does not exist/);
      assert.match(error.hint ?? '', /docker, shop/);
    });
  });

  it('a user lacking privileges gets the exact GRANT to run', async (t) => {
    if (!source) return t.skip('no source');
    await withSql(() => source!.sql(), async (sql) => {
      await sql.execute("CREATE USER 'lim'@'%' IDENTIFIED BY 'limpw'");
      await sql.execute("GRANT SELECT ON shop.* TO 'lim'@'%'");
    });
    const lim = await connectSql({ host: '127.0.0.1', port: source.port, user: 'lim', password: 'limpw', role: 'source' });
    try {
      const error = await sourceError(checkSource(lim, { databases: ['shop'] }));
      assert.ok(error.message.includes("GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO 'lim'@'%';"), error.message);
    } finally {
      await lim.close();
    }
    // After running that GRANT the check passes.
    await withSql(() => source!.sql(), (sql) => sql.execute("GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO 'lim'@'%'"));
    await withSql(
      () => connectSql({ host: '127.0.0.1', port: source!.port, user: 'lim', password: 'limpw', role: 'source' }),
      async (sql) => assert.deepEqual((await checkSource(sql, { databases: ['shop'] })).databases, ['shop']),
    );
  });

  it('a wrong password: a clear message that never shows the password', async (t) => {
    if (!source) return t.skip('no source');
    const wrong = 'not-the-password-123';
    const error = await sourceError(connectSql({ host: '127.0.0.1', port: source.port, user: 'root', password: wrong, role: 'source' }));
    assert.equal(error.message, `the source at 127.0.0.1:${source.port} refused user 'root': wrong user name or password`);
    assert.ok(!`${error.message} ${error.hint} ${String(error.cause)}`.includes(wrong));
  });

  it('an unreachable port: SourceError naming host:port', async (t) => {
    if (!requires(t, 'docker')) return;
    const port = await freePort();
    const error = await sourceError(connectSql({ host: '127.0.0.1', port, user: 'root', password, role: 'source', connectTimeoutMs: 2000 }));
    assert.equal(error.message, `cannot connect to the source at 127.0.0.1:${port}: connection refused`);
    assert.ok(error.hint);
  });

  it('a server without a binary log fails with the --log-bin hint', async (t) => {
    if (!requires(t, 'docker', 'image', 'mariadb-client')) return;
    noBinlog = await startTestServer(docker, { name: `it-nobinlog-${process.pid}` });
    await withSql(() => noBinlog!.sql(), async (sql) => {
      await sql.execute('CREATE DATABASE shop');
      const error = await sourceError(checkSource(sql));
      assert.equal(error.message, 'the source has no binary log (log_bin is OFF)');
      assert.match(error.hint ?? '', /--log-bin and --server-id/);
    });
  });
});
