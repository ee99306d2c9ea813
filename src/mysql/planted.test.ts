import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeSqlClient, mysqlError } from '../../test/support/mysql-fake-client.js';
import { allowedDefiners, dropObjectSql, dropPlantedObjects, plantedAccounts, type AccountKey } from './planted.js';

const PARENT = { accounts: ['app@%', 'web@web1.example.com', '@localhost'], cloneUser: 'dolly' };
const account = (user: string, host: string, role = false): AccountKey => ({ user, host, role });

describe('plantedAccounts', () => {
  it("is every login account the parent lacks, the clone user's included; not the server's own, not roles", () => {
    const rows = [
      account('app', '%'),
      account('web', 'web1.example.com'),
      account('', 'localhost'),
      account('root', 'localhost'),
      account('mariadb.sys', 'localhost'),
      account('dolly_admin', 'localhost'),
      account('reader', '', true),
      account('evil', '%'),
      account('dolly', '%'),
      account('app', 'localhost'),
    ];
    const serverOwn = (a: AccountKey): boolean => a.user === 'dolly_admin' || a.user === 'mariadb.sys' || (a.user === 'root' && a.host === 'localhost');
    assert.deepEqual(plantedAccounts(rows, PARENT, serverOwn).map((a) => `${a.user}@${a.host}`), ['evil@%', 'dolly@%', 'app@localhost']);
  });
});

describe('allowedDefiners', () => {
  it("is what remains and the clone user; never dolly's admin; a role by its name too", () => {
    const allowed = allowedDefiners([account('app', '%'), account('root', 'localhost'), account('dolly_admin', 'localhost'), account('reader', '', true)], PARENT, 'dolly_admin');
    assert.deepEqual([...allowed].sort(), ['app@%', 'dolly@%', 'reader', 'reader@', 'root@localhost']);
  });
});

describe('dropPlantedObjects', () => {
  it('drops each object whose definer is not allowed, quoted, and warns; a failed drop is a warning, not an error', async () => {
    const client = fakeSqlClient((sql) => {
      if (sql.includes('information_schema.VIEWS')) return [{ kind: 'VIEW', s: 'shop', n: 'ok_view', d: 'app@%' }, { kind: 'VIEW', s: 'shop', n: 'evil`view', d: 'evil@%' }];
      if (sql.includes('information_schema.ROUTINES')) return [{ kind: 'PROCEDURE', s: 'shop', n: 'backdoor', d: 'evil@%' }, { kind: 'FUNCTION', s: 'shop', n: 'f', d: 'dolly@%' }];
      if (sql.includes('information_schema.TRIGGERS')) return [{ kind: 'TRIGGER', s: 'shop', n: 't', d: 'dolly_admin@localhost' }];
      if (sql.includes('information_schema.EVENTS')) return [{ kind: 'EVENT', s: 'shop', n: 'e', d: 'evil@%' }];
      if (sql.startsWith('DROP EVENT')) return mysqlError('ER_DBACCESS_DENIED_ERROR', 1044, 'Access denied');
      return undefined;
    });
    const warnings = await dropPlantedObjects(client, allowedDefiners([account('app', '%'), account('dolly_admin', 'localhost')], PARENT, 'dolly_admin'));
    const drops = client.statements.map((s) => s.sql).filter((sql) => sql.startsWith('DROP'));
    assert.deepEqual(drops, ['DROP VIEW IF EXISTS `shop`.`evil``view`', 'DROP PROCEDURE IF EXISTS `shop`.`backdoor`', 'DROP TRIGGER IF EXISTS `shop`.`t`', 'DROP EVENT IF EXISTS `shop`.`e`']);
    assert.equal(warnings.length, 4);
    assert.match(warnings[3] ?? '', /^event shop\.e \(definer evil@%\): .* could not be dropped \(Access denied\)$/);
  });

  it('writes DROP PACKAGE BODY for a MariaDB package body', () => {
    assert.equal(dropObjectSql({ kind: 'PACKAGE BODY', schema: 'd', name: 'p', definer: 'x@%' }), 'DROP PACKAGE BODY IF EXISTS `d`.`p`');
  });
});
