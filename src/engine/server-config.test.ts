import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLONE_PRIVILEGES, accountInitSql } from './server-config.js';

describe('init SQL of the servers', () => {
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
  it('init SQL quotes the account and password', () => {
    const sql = accountInitSql('dolly', ['%'], "pa'ss\\");
    assert.match(sql, /IDENTIFIED BY 'pa\\'ss\\\\'/);
    assert.equal(sql.split('\n').filter((l) => l.trim()).length, 4);
  });
});
