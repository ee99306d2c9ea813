import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FailedPreconditionError, ResourceExhaustedError, SourceError } from '../errors.js';
import { copyDatabases, type CopyDatabasesOptions } from './dump.js';

let dir = '';

/** Writes an executable shell script standing in for mariadb-dump or mariadb. */
async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

function options(dump: string, client: string, extra: Partial<CopyDatabasesOptions> = {}): CopyDatabasesOptions {
  return {
    source: { host: '127.0.0.1', port: 3306, user: 'repl', password: 'source-secret' },
    databases: ['shop'],
    flavor: 'mariadb',
    target: { socketPath: '/run/x.sock', user: 'root', password: 'target-secret' },
    binaries: { dump, client },
    ...extra,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dolly-dump-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('copyDatabases (with stand-in programs)', () => {
  it('streams the dump into the client, counts bytes, finds the GTID; passwords only in MYSQL_PWD', async () => {
    const dump = await script('dump-ok', `echo "$@" > ${dir}/dump-args; echo "$MYSQL_PWD" > ${dir}/dump-pwd
printf 'CREATE TABLE t (a int);\\n'
head -c 300000 /dev/zero | tr '\\0' 'x'
printf "\\nSET GLOBAL gtid_slave_pos='0-1-42';\\n"`);
    const client = await script('client-ok', `echo "$@" > ${dir}/client-args; echo "$MYSQL_PWD" > ${dir}/client-pwd; wc -c > ${dir}/client-bytes`);
    let progress = 0;
    const result = await copyDatabases(options(dump, client, { onProgress: (b) => (progress = b) }));
    assert.equal(result.gtid, '0-1-42');
    assert.ok(result.bytes > 300_000);
    assert.equal(progress, result.bytes);
    assert.equal(Number((await readFile(join(dir, 'client-bytes'), 'utf8')).trim()), result.bytes);
    const dumpArgs = await readFile(join(dir, 'dump-args'), 'utf8');
    const clientArgs = await readFile(join(dir, 'client-args'), 'utf8');
    assert.match(dumpArgs, /^--no-defaults --protocol=TCP --host=127\.0\.0\.1 --port=3306 --user=repl .*--master-data=1 --gtid .*--databases shop$/m);
    assert.match(clientArgs, /^--no-defaults --socket=\/run\/x\.sock --user=root/);
    assert.ok(!dumpArgs.includes('secret') && !clientArgs.includes('secret'));
    assert.equal((await readFile(join(dir, 'dump-pwd'), 'utf8')).trim(), 'source-secret');
    assert.equal((await readFile(join(dir, 'client-pwd'), 'utf8')).trim(), 'target-secret');
  });

  it('a failing dump is a SourceError with its last stderr line', async () => {
    const dump = await script('dump-fail', `printf 'CREATE TABLE t (a int);\\n'; echo "mariadb-dump: Got error: 1045: Access denied for user 'repl'@'x' (using password: YES)" >&2; exit 2`);
    const client = await script('client-cat', 'cat > /dev/null');
    await assert.rejects(copyDatabases(options(dump, client)), (e: unknown) => {
      assert.ok(e instanceof SourceError);
      assert.match(e.message, /copying from 127\.0\.0\.1:3306 failed: .*Access denied/);
      assert.match(e.hint ?? '', /privilege/);
      return true;
    });
  });

  it('a full target is ResourceExhaustedError, and the dump is killed', async () => {
    const dump = await script('dump-endless', `echo $$ > ${dir}/endless-pid; while :; do printf 'INSERT INTO t VALUES (1);\\n'; done`);
    const client = await script('client-full', `head -c 1000 > /dev/null; echo "ERROR 1114 (HY000) at line 12: The table 't' is full" >&2; exit 1`);
    await assert.rejects(copyDatabases(options(dump, client)), ResourceExhaustedError);
    const pid = Number((await readFile(join(dir, 'endless-pid'), 'utf8')).trim());
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  it('a dump without a GTID position is a SourceError', async () => {
    const dump = await script('dump-nogtid', `printf 'CREATE TABLE t (a int);\\n'`);
    const client = await script('client-cat2', 'cat > /dev/null');
    await assert.rejects(copyDatabases(options(dump, client)), /carried no GTID position/);
  });

  it('abort kills both children and rejects with the reason', async () => {
    const dump = await script('dump-slow', `echo $$ > ${dir}/slow-pid; while :; do printf 'x\\n'; sleep 0.05; done`);
    const client = await script('client-slow', `echo $$ > ${dir}/slow-client-pid; cat > /dev/null`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user pressed ctrl-c')), 300);
    await assert.rejects(copyDatabases(options(dump, client, { signal: controller.signal })), /ctrl-c/);
    for (const file of ['slow-pid', 'slow-client-pid']) {
      const pid = Number((await readFile(join(dir, file), 'utf8')).trim());
      assert.throws(() => process.kill(pid, 0), /ESRCH/, file);
    }
  });

  it('a missing program is FailedPreconditionError', async () => {
    await assert.rejects(copyDatabases(options(join(dir, 'no-such-dump'), await script('client-cat3', 'cat > /dev/null'))), FailedPreconditionError);
  });
});
