import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectFlavor, flavorOps } from './flavor.js';

const hostile = "a'b\\";

describe('detectFlavor', () => {
  it('reads MariaDB from the version string, anything else is MySQL', () => {
    assert.equal(detectFlavor('10.11.18-MariaDB-0+deb12u1-log'), 'mariadb');
    assert.equal(detectFlavor('11.4.2-MariaDB'), 'mariadb');
    assert.equal(detectFlavor('8.0.36'), 'mysql');
    assert.equal(detectFlavor('8.4.0-commercial'), 'mysql');
  });
});

describe('change source SQL', () => {
  it('MariaDB: every value escaped, GTID from slave_pos', () => {
    const sql = flavorOps('mariadb').changeSourceSql({ host: hostile, port: 3306, user: hostile, password: hostile });
    assert.equal(
      sql,
      "CHANGE MASTER TO MASTER_HOST='a\\'b\\\\', MASTER_PORT=3306, MASTER_USER='a\\'b\\\\', MASTER_PASSWORD='a\\'b\\\\', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=5",
    );
  });

  it('MySQL: SOURCE syntax, auto position, public key', () => {
    const sql = flavorOps('mysql').changeSourceSql({ host: 'db', port: 3307, user: 'u', password: hostile, connectRetrySeconds: 10 });
    assert.equal(
      sql,
      "CHANGE REPLICATION SOURCE TO SOURCE_HOST='db', SOURCE_PORT=3307, SOURCE_USER='u', SOURCE_PASSWORD='a\\'b\\\\', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=10",
    );
  });

  it('keeps newlines and NULs out of the statement and refuses a non-integer port', () => {
    const sql = flavorOps('mariadb').changeSourceSql({ host: 'h', port: 1, user: 'u', password: "x\ny\0z'; DROP TABLE t; --" });
    assert.ok(!sql.includes('\n'));
    assert.ok(sql.includes("MASTER_PASSWORD='x\\ny\\0z\\'; DROP TABLE t; --'"));
    assert.throws(() => flavorOps('mariadb').changeSourceSql({ host: 'h', port: 1.5, user: 'u', password: 'p' }), /port/);
    assert.throws(() => flavorOps('mysql').changeSourceSql({ host: 'h', port: -1, user: 'u', password: 'p' }), /port/);
  });
});

describe('flavor statements', () => {
  it('MariaDB', () => {
    const ops = flavorOps('mariadb');
    assert.equal(ops.stopApplierSql, 'STOP SLAVE SQL_THREAD');
    assert.deepEqual(ops.quiesceSql, ['BACKUP STAGE START', 'BACKUP STAGE BLOCK_COMMIT']);
    assert.deepEqual(ops.releaseSql, ['BACKUP STAGE END']);
    assert.equal(ops.gtidPositionSql, 'SELECT @@GLOBAL.gtid_slave_pos AS gtid');
    assert.equal(ops.setPositionSql(hostile), "SET GLOBAL gtid_slave_pos = 'a\\'b\\\\'");
    assert.equal(ops.waitForGtidSql('0-1-9', 0.5), "SELECT MASTER_GTID_WAIT('0-1-9', 0.500) AS result");
    assert.equal(ops.statusSql, 'SHOW SLAVE STATUS');
    assert.deepEqual(ops.resetReplicaAll(), ['STOP SLAVE', 'RESET SLAVE ALL']);
  });

  it('MySQL', () => {
    const ops = flavorOps('mysql');
    assert.equal(ops.stopApplierSql, 'STOP REPLICA SQL_THREAD');
    assert.deepEqual(ops.quiesceSql, ['FLUSH TABLES WITH READ LOCK']);
    assert.deepEqual(ops.releaseSql, ['UNLOCK TABLES']);
    assert.equal(ops.gtidPositionSql, 'SELECT @@GLOBAL.gtid_executed AS gtid');
    assert.equal(ops.waitForGtidSql('u:1-5', Number.NaN), "SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1-5', 0.000) AS result");
    assert.equal(ops.statusColumns.lagSeconds, 'Seconds_Behind_Source');
    assert.equal(ops.statusSql, 'SHOW REPLICA STATUS');
  });

  it('replication filters let account statements through and escape LIKE wildcards', () => {
    assert.deepEqual(flavorOps('mariadb').filterSql(['my_shop', 'b%']), [
      "SET GLOBAL replicate_wild_ignore_table = ''",
      "SET GLOBAL replicate_wild_do_table = 'my\\\\_shop.%,b\\\\%.%'",
    ]);
    assert.deepEqual(flavorOps('mariadb').filterSql(), ["SET GLOBAL replicate_wild_ignore_table = ''", "SET GLOBAL replicate_wild_do_table = ''"]);
    assert.deepEqual(flavorOps('mysql').filterSql(['a']), ["CHANGE REPLICATION FILTER REPLICATE_WILD_IGNORE_TABLE = (), REPLICATE_WILD_DO_TABLE = ('a.%')"]);
    assert.throws(() => flavorOps('mariadb').filterSql(['a,b']), /filter/);
  });
});

describe('dump and server arguments', () => {
  it('MariaDB dump: consistent, GTID in the stream, routines/events/triggers', () => {
    assert.deepEqual(flavorOps('mariadb').dumpArgs(['shop', 'docker']), [
      '--single-transaction', '--master-data=1', '--gtid', '--routines', '--events', '--triggers', '--hex-blob', '--databases', 'shop', 'docker',
    ]);
  });

  it('MySQL dump: source-data and gtid_purged', () => {
    const args = flavorOps('mysql').dumpArgs(['shop']);
    assert.deepEqual(args.slice(0, 3), ['--single-transaction', '--source-data=1', '--set-gtid-purged=ON']);
    assert.deepEqual(args.slice(-2), ['--databases', 'shop']);
  });

  it('refuses database names that would read as options', () => {
    assert.throws(() => flavorOps('mariadb').dumpArgs(['--all-databases']), /cannot dump/);
  });

  it('server flavor: binaries, init, replica start, extra args', () => {
    const m = flavorOps('mariadb');
    assert.equal(m.serverBinary, 'mariadbd');
    assert.deepEqual(m.initDatadir('/d'), ['mariadb-install-db', '--no-defaults', '--datadir=/d', '--auth-root-authentication-method=socket', '--skip-test-db']);
    assert.equal(m.skipReplicaStart, '--skip-slave-start');
    assert.deepEqual(m.extraServerArgs, []);
    const y = flavorOps('mysql');
    assert.equal(y.serverBinary, 'mysqld');
    assert.ok(y.initDatadir('/d').includes('--initialize-insecure'));
    assert.ok(!y.initDatadir('/d').includes('--user=root'));
    assert.deepEqual(y.initDatadir('/d', { asRoot: true }).slice(-1), ['--user=root']);
    assert.deepEqual(m.initDatadir('/d', { asRoot: true }), m.initDatadir('/d'), 'mariadb-install-db run by root needs no --user');
    assert.equal(y.skipReplicaStart, '--skip-replica-start');
    assert.ok(y.extraServerArgs.includes('--mysqlx=0'));
    assert.deepEqual(y.cloneRemoveFiles, ['auto.cnf']);
  });
});

describe('dump position parsing', () => {
  it('MariaDB: the quoted domain-server-seq list', () => {
    const parse = flavorOps('mariadb').parseDumpPosition;
    assert.equal(parse("'0-1-9'"), '0-1-9');
    assert.equal(parse("'0-1-9,1-2-30'"), '0-1-9,1-2-30');
    assert.equal(parse("''"), '');
    assert.equal(parse("'0-1-9' OR 1"), null);
  });

  it('MySQL: the last quoted set after the version comment, newlines dropped', () => {
    const parse = flavorOps('mysql').parseDumpPosition;
    assert.equal(parse("/*!80000 '+'*/ '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n5A1B:1-3'"), '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,5A1B:1-3');
    assert.equal(parse("'u:1-5'"), 'u:1-5');
  });
});

describe('privileges', () => {
  it('MariaDB 10.5+ names BINLOG MONITOR, older ones REPLICATION CLIENT', () => {
    const names = (v: string): string[] => flavorOps('mariadb').requiredPrivileges(v).map((p) => p.grant);
    assert.ok(names('10.11.18-MariaDB').includes('BINLOG MONITOR'));
    assert.ok(names('10.4.30-MariaDB').includes('REPLICATION CLIENT'));
    assert.ok(names('11.4.2-MariaDB').includes('BINLOG MONITOR'));
    assert.ok(flavorOps('mysql').requiredPrivileges('8.0.36').map((p) => p.grant).includes('REPLICATION CLIENT'));
  });
  it('asks for TLS to the source, or says explicitly that there is none (MariaDB 11.4+ requires it by default)', () => {
    const base = { host: 'h', port: 1, user: 'u', password: 'p' };
    assert.match(flavorOps('mariadb').changeSourceSql({ ...base, tls: false }), /, MASTER_SSL=0$/);
    assert.match(flavorOps('mariadb').changeSourceSql({ ...base, tls: true }), /, MASTER_SSL=1$/);
    assert.doesNotMatch(flavorOps('mariadb').changeSourceSql(base), /MASTER_SSL/);
    assert.match(flavorOps('mysql').changeSourceSql({ ...base, tls: true }), /, SOURCE_SSL=1$/);
  });
  it('names the CA and whether the host name is verified (--source-tls verify-ca / verify-identity)', () => {
    const base = { host: 'h', port: 1, user: 'u', password: 'p', tls: true, tlsCa: "/run/dolly/source-ca.pem" };
    assert.match(flavorOps('mariadb').changeSourceSql({ ...base, tlsVerifyServerCert: false }), /, MASTER_SSL=1, MASTER_SSL_CA='\/run\/dolly\/source-ca.pem', MASTER_SSL_VERIFY_SERVER_CERT=0$/);
    assert.match(flavorOps('mariadb').changeSourceSql({ ...base, tlsVerifyServerCert: true }), /, MASTER_SSL_VERIFY_SERVER_CERT=1$/);
    assert.match(flavorOps('mysql').changeSourceSql({ ...base, tlsVerifyServerCert: true }), /, SOURCE_SSL=1, SOURCE_SSL_CA='\/run\/dolly\/source-ca.pem', SOURCE_SSL_VERIFY_SERVER_CERT=1$/);
    assert.doesNotMatch(flavorOps('mysql').changeSourceSql({ ...base, tls: false }), /SSL_CA/);
  });
});
