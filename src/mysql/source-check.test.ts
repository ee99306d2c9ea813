import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceError } from '../errors.js';
import { fakeSqlClient, mysqlError } from '../../test/support/mysql-fake-client.js';
import { checkSource } from './source-check.js';

interface Source {
  version?: string;
  account?: string;
  settings?: Record<string, unknown>;
  schemas?: string[];
  grants?: string[];
  /** MySQL's binlog_transaction_dependency_tracking; absent: the variable does not exist (8.4+). */
  tracking?: string;
}

function source(s: Source = {}) {
  return fakeSqlClient((sql) => {
    if (sql.startsWith('SELECT VERSION()')) return [{ version: s.version ?? '10.11.18-MariaDB-log', account: s.account ?? 'repl@%' }];
    if (sql.includes('@@GLOBAL.log_bin')) return [{ log_bin: 1, server_id: 1, binlog_format: 'ROW', gtid_mode: null, enforce_gtid_consistency: null, ...s.settings }];
    if (sql.includes('information_schema.SCHEMATA')) return (s.schemas ?? ['docker', 'information_schema', 'mysql', 'performance_schema', 'shop', 'sys']).map((name) => ({ name }));
    if (sql === 'SHOW GRANTS') return (s.grants ?? ['GRANT ALL PRIVILEGES ON *.* TO `repl`@`%`']).map((g) => ({ 'Grants for repl@%': g }));
    if (sql.includes("ENGINE <> 'InnoDB'")) return [{ schema: 'shop', table: 'legacy', engine: 'MyISAM' }];
    if (sql.includes('SUM(DATA_LENGTH')) return [{ bytes: '123456' }];
    if (sql.includes('binlog_transaction_dependency_tracking')) return s.tracking !== undefined ? [{ tracking: s.tracking }] : mysqlError('ER_UNKNOWN_SYSTEM_VARIABLE', 1193, 'Unknown system variable');
    return undefined;
  });
}

async function failure(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(
    () => assert.fail('expected a SourceError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SourceError, String(error));
  return error;
}

describe('checkSource', () => {
  it('reports flavor, databases (system ones left out), non-InnoDB tables and size', async () => {
    const client = source();
    const info = await checkSource(client);
    assert.equal(info.flavor, 'mariadb');
    assert.deepEqual(info.databases, ['docker', 'shop']);
    assert.deepEqual(info.nonInnodbTables, [{ schema: 'shop', table: 'legacy', engine: 'MyISAM' }]);
    assert.equal(info.sizeBytes, 123456);
    assert.equal(info.gtidEnabled, true);
    assert.deepEqual(info.warnings, []);
    const tables = client.statements.find((s) => s.sql.includes("ENGINE <> 'InnoDB'"));
    assert.deepEqual(tables?.params, [['docker', 'shop']]);
  });

  it('the databases asked for must exist; the hint lists those that do', async () => {
    assert.deepEqual((await checkSource(source(), { databases: ['shop'] })).databases, ['shop']);
    const error = await failure(checkSource(source(), { databases: ['shop', 'nope'] }));
    assert.match(error.message, /database nope does not exist/);
    assert.match(error.hint ?? '', /docker, shop/);
    await failure(checkSource(source(), { databases: ['mysql'] }));
    await failure(checkSource(source({ schemas: ['mysql', 'sys'] })));
  });

  it('log_bin OFF and server_id 0 fail with a hint', async () => {
    const noBinlog = await failure(checkSource(source({ settings: { log_bin: 0 } })));
    assert.match(noBinlog.message, /log_bin is OFF/);
    assert.match(noBinlog.hint ?? '', /--log-bin/);
    assert.match((await failure(checkSource(source({ settings: { server_id: 0 } })))).message, /server_id 0/);
  });

  it('MariaDB: MIXED binlog format is a warning; MySQL: an error, as is gtid_mode OFF', async () => {
    const info = await checkSource(source({ settings: { binlog_format: 'MIXED' } }));
    assert.match(info.warnings[0] ?? '', /MIXED/);
    const mysql = { version: '8.0.36', settings: { gtid_mode: 'ON', enforce_gtid_consistency: 'ON' } };
    assert.equal((await checkSource(source(mysql))).flavor, 'mysql');
    await failure(checkSource(source({ ...mysql, settings: { ...mysql.settings, binlog_format: 'STATEMENT' } })));
    assert.match((await failure(checkSource(source({ ...mysql, settings: { gtid_mode: 'OFF_PERMISSIVE', enforce_gtid_consistency: 'ON' } })))).message, /gtid_mode=OFF_PERMISSIVE/);
    await failure(checkSource(source({ ...mysql, settings: { gtid_mode: 'ON', enforce_gtid_consistency: 'WARN' } })));
  });

  it('a MySQL 8.0 source tracking dependencies by commit order only is a warning (parallel apply); writesets, 8.4+ and MariaDB are not', async () => {
    const mysql = { version: '8.0.36', settings: { gtid_mode: 'ON', enforce_gtid_consistency: 'ON' } };
    assert.match((await checkSource(source({ ...mysql, tracking: 'COMMIT_ORDER' }))).warnings.join('\n'), /binlog_transaction_dependency_tracking = WRITESET/);
    assert.deepEqual((await checkSource(source({ ...mysql, tracking: 'WRITESET' }))).warnings, []);
    assert.deepEqual((await checkSource(source({ ...mysql, version: '9.7.4' }))).warnings, []);
    const maria = source({ tracking: 'COMMIT_ORDER' });
    assert.deepEqual((await checkSource(maria)).warnings, []);
    assert.ok(!maria.statements.some((st) => st.sql.includes('dependency_tracking')));
  });

  it('missing privileges: the message carries the exact GRANT for CURRENT_USER()', async () => {
    const error = await failure(checkSource(source({ account: "o'neil@10.0.%", grants: ['GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO `o\'neil`@`10.0.%`'] })));
    assert.ok(error.message.includes("GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'o\\'neil'@'10.0.%';"), error.message);
    assert.ok(!error.message.includes('\n'));
  });
});
