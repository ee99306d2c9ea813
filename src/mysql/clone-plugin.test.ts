import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeSqlClient, mysqlError } from '../../test/support/mysql-fake-client.js';
import { FailedPreconditionError, SourceError } from '../errors.js';
import { checkCloneDonor, cloneFromDonor, cloneOutcome } from './clone-plugin.js';

const MYSQL = { flavor: 'mysql' as const, version: '9.7.4-2', nonInnodbTables: [] };
const DONOR = { host: '127.0.0.1', port: 3306, user: 'root', password: "p'w", tls: true };

describe('MySQL CLONE: the donor checks, the statement, the outcome', () => {
  const donor = (plugin: string | null, grants: string[]) =>
    fakeSqlClient((sql) => {
      if (sql.includes('information_schema.PLUGINS')) return plugin === null ? [] : [{ status: plugin }];
      if (sql === 'SHOW GRANTS') return grants.map((g) => ({ 'Grants for root@%': g }));
      return undefined;
    });

  it('accepts a MySQL donor with the plugin active and BACKUP_ADMIN (or ALL PRIVILEGES)', async () => {
    await checkCloneDonor(donor('ACTIVE', ['GRANT SELECT ON *.* TO `u`@`%`', 'GRANT BACKUP_ADMIN,REPLICATION_SLAVE_ADMIN ON *.* TO `u`@`%`']), MYSQL, 'u');
    await checkCloneDonor(donor('ACTIVE', ['GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION']), MYSQL, 'root');
  });

  it('refuses MariaDB, a missing or disabled plugin, a missing BACKUP_ADMIN, and non-InnoDB tables — each with a hint', async () => {
    const refuses = async (promise: Promise<void>, type: typeof SourceError | typeof FailedPreconditionError, message: RegExp): Promise<void> => {
      await assert.rejects(promise, (error: unknown) => error instanceof type && message.test(error.message) && (error.hint ?? '').length > 0);
    };
    await refuses(checkCloneDonor(donor('ACTIVE', []), { ...MYSQL, flavor: 'mariadb', version: '10.11.18-MariaDB' }, 'root'), FailedPreconditionError, /is MySQL's CLONE plugin; the source is MariaDB/);
    await refuses(checkCloneDonor(donor(null, []), MYSQL, 'root'), SourceError, /no active clone plugin$/);
    await refuses(checkCloneDonor(donor('DISABLED', []), MYSQL, 'root'), SourceError, /no active clone plugin \(it is DISABLED\)/);
    await refuses(checkCloneDonor(donor('ACTIVE', ['GRANT SELECT, RELOAD ON *.* TO `u`@`%`']), MYSQL, 'u'), SourceError, /u lacks BACKUP_ADMIN/);
    await refuses(checkCloneDonor(donor('ACTIVE', ['GRANT ALL PRIVILEGES ON *.* TO `root`@`%`']), { ...MYSQL, nonInnodbTables: [{ schema: 'shop', table: 'legacy', engine: 'MyISAM' }] }, 'root'), FailedPreconditionError, /only InnoDB: 1 table\(s\) would arrive empty, e\.g\. shop\.legacy \(MyISAM\)/);
  });

  it('refuses another release before cloning; the "no supervisor" error after a clone is success', async () => {
    const other = fakeSqlClient((sql) => (sql.startsWith('SELECT VERSION()') ? [{ version: '9.7.3' }] : undefined));
    await assert.rejects(cloneFromDonor(other, DONOR, '9.7.4-2'), /same MySQL release on both sides: the source runs 9\.7\.4-2, the replica's image 9\.7\.3/);
    assert.ok(!other.statements.some((s) => s.sql.startsWith('CLONE')), 'nothing cloned');
    const same = fakeSqlClient((sql) => {
      if (sql.startsWith('SELECT VERSION()')) return [{ version: '9.7.4-2' }];
      if (sql.startsWith('CLONE INSTANCE')) return mysqlError('ER_CLONE_CLIENT_TRACE', 3707, 'Restart server failed (mysqld is not managed by supervisor process).');
      return undefined;
    });
    await cloneFromDonor(same, DONOR, '9.7.4-2');
    const sql = same.statements.map((s) => s.sql);
    assert.ok(sql.includes("INSTALL PLUGIN clone SONAME 'mysql_clone.so'"));
    assert.ok(sql.includes("SET GLOBAL clone_valid_donor_list = '127.0.0.1:3306'"));
    assert.ok(sql.some((s) => s.startsWith("CLONE INSTANCE FROM 'root'@'127.0.0.1':3306 IDENTIFIED BY 'p\\'w' REQUIRE SSL")), sql.join('\n'));
    const failing = fakeSqlClient((sql) => {
      if (sql.startsWith('SELECT VERSION()')) return [{ version: '9.7.4-2' }];
      if (sql.startsWith('CLONE INSTANCE')) return mysqlError('ER_CLONE_DONOR', 3862, 'Clone Donor Error: 1227 : Access denied.');
      return undefined;
    });
    await assert.rejects(cloneFromDonor(failing, DONOR, '9.7.4-2'), (e: unknown) => e instanceof SourceError && /CLONE INSTANCE from 127\.0\.0\.1:3306 failed: .*Access denied/.test(e.message));
  });

  it('reads the GTID set and the bytes the clone recorded; an unfinished clone is an error', async () => {
    const done = fakeSqlClient((sql) => {
      if (sql.includes('clone_status')) return [{ state: 'Completed', gtid: 'aaaa:1-5,\nbbbb:1-2', file: 'binlog.000002', position: 157, error: null }];
      if (sql.includes('clone_progress')) return [{ bytes: '12345' }];
      return undefined;
    });
    assert.deepEqual(await cloneOutcome(done), { gtid: 'aaaa:1-5,bbbb:1-2', bytes: 12345, binlog: { file: 'binlog.000002', position: 157 } });
    const failed = fakeSqlClient((sql) => (sql.includes('clone_status') ? [{ state: 'Failed', gtid: null, file: null, position: null, error: 'disk full' }] : undefined));
    await assert.rejects(cloneOutcome(failed), /did not complete \(Failed: disk full\)/);
  });
});
