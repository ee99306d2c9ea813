import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flavorOps } from './flavor.js';
import { databasePatternMatches, grantStatement, missingPrivileges, parseGrants } from './grants.js';

const NEEDS = flavorOps('mariadb').requiredPrivileges('10.11.18-MariaDB');

describe('parseGrants', () => {
  it('reads what MariaDB 10.11 prints for a user with a role', () => {
    const grants = parseGrants([
      'GRANT `dumper` TO `lim`@`%`',
      "GRANT USAGE ON *.* TO `lim`@`%` IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227'",
      'GRANT SELECT ON `d1`.* TO `lim`@`%`',
      'GRANT RELOAD ON *.* TO `dumper`',
      'GRANT SHOW VIEW ON `d1`.* TO `dumper`',
      'SET DEFAULT ROLE `dumper` FOR `lim`@`%`',
    ]);
    assert.deepEqual([...grants.global].sort(), ['RELOAD', 'USAGE']);
    assert.deepEqual(grants.databases.map((d) => [d.pattern, [...d.privileges]]), [
      ['d1', ['SELECT']],
      ['d1', ['SHOW VIEW']],
    ]);
  });

  it('ALL PRIVILEGES, MySQL dynamic privileges without spaces, column and table grants', () => {
    const grants = parseGrants([
      'GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION',
      'GRANT BACKUP_ADMIN,REPLICATION_SLAVE_ADMIN ON *.* TO `u`@`%`',
      'GRANT SELECT (`a`, `b`), INSERT ON `db`.`t` TO `u`@`%`',
      'GRANT SELECT (`a`, `b`), UPDATE ON `db2`.* TO `u`@`%`',
      "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
      'GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`%`',
      'GRANT SELECT ON `we``ird db`.* TO `u`@`%`',
    ]);
    assert.ok(grants.global.has('ALL'));
    assert.ok(grants.global.has('BACKUP_ADMIN') && grants.global.has('REPLICATION_SLAVE_ADMIN'));
    assert.deepEqual(grants.databases.map((d) => [d.pattern, [...d.privileges]]), [
      ['db2', ['UPDATE']],
      ['we`ird db', ['SELECT']],
    ]);
  });
});

describe('databasePatternMatches', () => {
  it('treats % and _ as wildcards and honours backslash escapes', () => {
    assert.ok(databasePatternMatches('shop', 'shop'));
    assert.ok(!databasePatternMatches('shop', 'shops'));
    assert.ok(databasePatternMatches('shop%', 'shop_eu'));
    assert.ok(databasePatternMatches('my_db', 'myXdb'));
    assert.ok(!databasePatternMatches('my\\_db', 'myXdb'));
    assert.ok(databasePatternMatches('my\\_db', 'my_db'));
    assert.ok(databasePatternMatches('a.b', 'a.b'));
    assert.ok(!databasePatternMatches('a.b', 'aXb'));
  });
});

describe('missingPrivileges and the GRANT hint', () => {
  it('nothing is missing for ALL PRIVILEGES ON *.*', () => {
    assert.deepEqual(missingPrivileges(parseGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`%`']), NEEDS, ['shop']), []);
  });

  it('database-level privileges count when they cover every copied database', () => {
    const grants = parseGrants([
      'GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`',
      'GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `shop`.* TO `u`@`%`',
      'GRANT ALL PRIVILEGES ON `logs%`.* TO `u`@`%`',
    ]);
    assert.deepEqual(missingPrivileges(grants, NEEDS, ['shop', 'logs_2024']), []);
    assert.deepEqual(missingPrivileges(grants, NEEDS, ['shop', 'other']).map((m) => m.grant), ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'LOCK TABLES']);
  });

  it('REPLICATION CLIENT is accepted for BINLOG MONITOR (older servers print the old name)', () => {
    const grants = parseGrants(['GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO `u`@`%`']);
    assert.deepEqual(missingPrivileges(grants, NEEDS, ['shop']), []);
  });

  it('writes the exact GRANT to run, account quoted', () => {
    const missing = missingPrivileges(parseGrants(['GRANT SELECT ON `shop`.* TO `lim`@`%`']), NEEDS, ['shop']);
    assert.equal(grantStatement(missing, 'lim', '%'), "GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO 'lim'@'%';");
    assert.equal(grantStatement(missing.slice(0, 1), "a'b\\", '10.0.0.%'), "GRANT RELOAD ON *.* TO 'a\\'b\\\\'@'10.0.0.%';");
  });
});
