import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { initFileScript, sourceServerCommand } from './source-server.js';

describe('the source server command', () => {
  const command = sourceServerCommand({ serverId: 42, passwordFile: '/run/secrets/pw' });
  it('initialises an empty datadir, writes the init file, then execs mariadbd with binlog and GTID', () => {
    assert.deepEqual(command.slice(0, 2), ['sh', '-c']);
    const script = command[2] ?? '';
    assert.match(script, /if \[ ! -d \/var\/lib\/mysql\/mysql \]; then mariadb-install-db /);
    assert.match(script, /exec "\$@"$/);
    assert.deepEqual(command.slice(3, 5), ['sh', 'mariadbd']);
    for (const flag of ['--server-id=42', '--log-bin=source-bin', '--binlog-format=ROW', '--gtid-strict-mode=ON', '--sync-binlog=1', '--innodb-flush-log-at-trx-commit=1', '--init-file=/run/dolly/init.sql', '--port=3306', '--bind-address=0.0.0.0']) {
      assert.ok(command.includes(flag), flag);
    }
  });
  it('never puts a password on the command line or in the environment', () => {
    assert.ok(!command.some((arg) => /password=|MYSQL_PWD|MYSQL_ROOT_PASSWORD/i.test(arg)));
  });
  it('the init file script, run by sh, escapes any password into a MariaDB literal, 0600, out of the binlog', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-source-init-'));
    try {
      await writeFile(join(dir, 'pw'), 'pa\'ss\\wo"rd $x`y%\n');
      const script = ['set -eu', 'umask 077', ...initFileScript(join(dir, 'pw'), join(dir, 'init.sql'))].join('\n');
      await promisify(execFile)('sh', ['-c', script]);
      const sql = await readFile(join(dir, 'init.sql'), 'utf8');
      assert.deepEqual(sql.split('\n'), [
        'SET sql_log_bin = 0;',
        "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY 'pa\\'ss\\\\wo\"rd $x`y%';",
        "ALTER USER 'root'@'%' IDENTIFIED BY 'pa\\'ss\\\\wo\"rd $x`y%';",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
        '',
      ]);
      assert.equal((await stat(join(dir, 'init.sql'))).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
