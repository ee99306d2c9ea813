import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { SourceError } from '../../src/errors.js';
import { copyDatabasesParallel } from '../../src/mysql/parallel-dump.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { assertNoReplicaLeft, createTestRoot, dolly, mariadbQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'Parallel-s3cret!';
const docker = createDockerClient();
const TABLES = 'shop.orders, shop.customers, shop.audit, shop.tags, shop.legacy, crm.notes';

/** Commits one small transaction after another on the source until stopped; counts them. */
function startWriter(production: ProductionServer): { stop: () => Promise<number> } {
  let running = true;
  let commits = 0;
  const done = (async () => {
    const sql = await connectSql({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD, role: 'source' });
    try {
      while (running) {
        await sql.execute("INSERT INTO shop.orders (customer_id, total, note) VALUES (7, 1.5, 'written during the copy ✓')");
        await sql.execute('UPDATE shop.customers SET visits = visits + 1 WHERE id = 1 + FLOOR(RAND() * 500)');
        await sql.execute('INSERT INTO crm.notes (id, body) SELECT MAX(id) + 1, \'later\' FROM crm.notes');
        commits += 3;
      }
    } finally {
      await sql.close();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return commits;
    },
  };
}

/**
 * The parallel dump (issue 8): `replica init --method dump` of a MariaDB source runs several
 * `mariadb-dump | mariadb` sessions started under one FLUSH TABLES WITH READ LOCK, so they read
 * one snapshot; the split group's key ranges go to different sessions.
 */
describe('replica init --method dump --parallel (MariaDB 10.11)', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let production: ProductionServer;
  const roots: TestRoot[] = [];
  const newRoot = async (ports: string): Promise<TestRoot> => {
    const root = await createTestRoot('dolly-it-pardump-');
    roots.push(root);
    await initPool({ driver: 'btrfs', size: '2G', ports }, root.deps);
    return root;
  };
  const rootConn = () => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
  /** No session of a copy is left on the source (replication's own Binlog Dump aside). */
  const assertNoCopySession = async (): Promise<void> => {
    let left = '';
    for (let i = 0; i < 25; i += 1) {
      left = await mariadbQuery(rootConn(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> CONNECTION_ID() AND COMMAND NOT IN ('Binlog Dump', 'Daemon')");
      if (left === '0') return;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`${left} dump session(s) left on the source`);
  };

  before(async () => {
    production = await startProductionServer({ docker, root: '/var/tmp/dolly-it-pardump-source', image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-pardump-source' });
    await mariadbQuery(rootConn(), [
      'CREATE DATABASE shop CHARACTER SET utf8mb4',
      'CREATE DATABASE crm CHARACTER SET utf8mb4',
      'USE shop',
      'CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(40), visits INT NOT NULL DEFAULT 0) ENGINE=InnoDB',
      'CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT, total DECIMAL(10,2), note VARCHAR(200), KEY (customer_id)) ENGINE=InnoDB',
      // A trigger that fired while rows are loaded would double this table: the checksums catch it.
      'CREATE TABLE shop.audit (n INT AUTO_INCREMENT PRIMARY KEY, order_id BIGINT) ENGINE=InnoDB',
      'CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (order_id) VALUES (NEW.id)',
      'CREATE TABLE shop.tags (name VARCHAR(30) PRIMARY KEY, n INT) ENGINE=InnoDB',
      'CREATE TABLE shop.legacy (id INT PRIMARY KEY, v INT) ENGINE=Aria',
      'CREATE TABLE crm.notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB',
      'CREATE VIEW shop.big_orders AS SELECT id, total FROM shop.orders WHERE total > 900',
      'CREATE PROCEDURE shop.count_orders() SELECT COUNT(*) FROM shop.orders',
      'CREATE SEQUENCE shop.invoice_no START WITH 100',
      'SELECT NEXTVAL(shop.invoice_no)',
      "INSERT INTO shop.customers SELECT seq, CONCAT('customer ', seq), 0 FROM seq_1_to_500",
      "INSERT INTO shop.orders (customer_id, total, note) SELECT 1 + seq % 500, (seq % 100000) / 100, CONCAT(REPEAT('x', 120), ' order ', seq, ' 😀') FROM seq_1_to_200000",
      "INSERT INTO shop.tags SELECT CONCAT('tag', seq), seq FROM seq_1_to_300",
      'INSERT INTO shop.legacy SELECT seq, seq * 2 FROM seq_1_to_50',
      "INSERT INTO crm.notes SELECT seq, CONCAT('note ', seq) FROM seq_1_to_1000",
      'ANALYZE TABLE shop.orders, shop.customers, crm.notes',
    ].join('; '));
  });

  after(async () => {
    for (const root of roots) await root.dispose().catch(() => undefined);
    await production?.stop();
  });

  it('copies in key ranges of one snapshot while the source writes: every table equal at the GTID, each write once, triggers not fired by the load', async (t) => {
    const root = await newRoot('6960-6964');
    const writer = startWriter(production);
    let result;
    try {
      await new Promise((r) => setTimeout(r, 300));
      result = await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      const commits = await writer.stop();
      assert.ok(commits > 30, `the source wrote during the copy (${commits} commits)`);
    }
    assert.ok(result.parallel, 'MariaDB copies in parallel by default');
    t.diagnostic(`copied ${result.copied_bytes} bytes in ${result.seconds} s: ${JSON.stringify(result.parallel)}`);
    assert.equal(result.parallel.ranges, 2, 'two key ranges by default');
    assert.equal(result.parallel.split_column, 'id');
    assert.equal(result.parallel.split_tables, 3, 'orders, customers and crm.notes share the key `id`');
    assert.equal(result.parallel.sessions, 3, 'two ranges and one session for the other tables');
    assert.ok(result.parallel.lock_ms < 10_000, `commits held ${result.parallel.lock_ms} ms`);
    const gtid = await mariadbQuery(rootConn(), 'SELECT @@gtid_binlog_pos');
    for (let i = 0; i < 150 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.gtid, gtid, `replication: ${status.last_error ?? 'behind'}`);
    assert.ok(status.io_running && status.sql_running, 'replicating');
    await createSnapshot(root.deps);
    const clone = await createClone({ name: 'par' }, root.deps);
    assert.equal(await mariadbQuery(clone, `CHECKSUM TABLE ${TABLES}`), await mariadbQuery(rootConn(), `CHECKSUM TABLE ${TABLES}`), 'every checksum equal to the source');
    assert.equal(await mariadbQuery(clone, 'SELECT COUNT(*) FROM shop.audit'), await mariadbQuery(rootConn(), 'SELECT COUNT(*) FROM shop.orders'), 'one audit row per order: the trigger fired on the source only');
    assert.equal(await mariadbQuery(clone, 'SELECT COUNT(*) FROM shop.big_orders'), await mariadbQuery(rootConn(), 'SELECT COUNT(*) FROM shop.big_orders'), 'the view');
    assert.match(await mariadbQuery(clone, 'CALL shop.count_orders()'), /^\d+$/, 'the procedure');
    assert.equal(await mariadbQuery(clone, 'SELECT NEXTVAL(shop.invoice_no) > 100'), '1', 'the sequence');
    const triggers = "SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING, ACTION_STATEMENT, SQL_MODE, DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'";
    assert.equal(await mariadbQuery(clone, triggers), await mariadbQuery(rootConn(), triggers), 'the trigger, as on the source');
  });

  it('--parallel 1 copies through one stream; bad values are one line with a hint and make nothing', async () => {
    const root = await newRoot('6965-6969');
    const env = { DOLLY_SOURCE_PASSWORD: PASSWORD };
    const source = `mysql://root@127.0.0.1:${production.port}`;
    for (const bad of [['--parallel', '0'], ['--parallel', '9'], ['--parallel', 'two'], ['--parallel', '2', '--method', 'clone']]) {
      const r = await dolly(['--root', root.root, 'replica', 'init', '--source', source, ...bad], env);
      assert.equal(r.code, EXIT_CODES.invalid_argument, `${bad.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', /^dolly: .*--parallel.*\(hint: .+\)$/);
      await assertNoReplicaLeft(root, bad.join(' '));
    }
    const one = await dolly(['--root', root.root, '--json', 'replica', 'init', '--source', source, '--parallel', '1', '--databases', 'crm'], env);
    assert.equal(one.code, 0, one.stderr);
    const out = JSON.parse(one.stdout) as { parallel?: unknown; databases: string[] };
    assert.equal(out.parallel, undefined, 'one stream');
    assert.deepEqual(out.databases, ['crm']);
  });

  it('sessions that do not start in time: the lock is let go at once, the sessions are stopped, one error', async () => {
    // The real mariadb-dump against the real source, each session held back 5 s before it starts
    // (as a source at max_connections would); the loader only swallows its input. So the lock's
    // timeout, and neither a loader that cannot reach its target nor a race, ends the copy.
    const slow = 'sleep 5; exec mariadb-dump "$@"';
    const { dir, binaries } = await standIns(slow, slow);
    const started = Date.now();
    try {
      await assert.rejects(
        copyDatabasesParallel({
          source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD },
          databases: ['shop', 'crm'],
          flavor: 'mariadb',
          target: { socketPath: '/nonexistent/never-used.sock', user: 'root', password: 'x' },
          sessions: 2,
          lockTimeoutMs: 500,
          binaries,
        }),
        (e: Error) => e instanceof SourceError && /did not all start within/.test(e.message) && /max_connections/.test(String((e as SourceError).hint)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.ok(Date.now() - started < 20_000, 'stopped promptly');
    await mariadbQuery(rootConn(), "SET SESSION lock_wait_timeout = 5; INSERT INTO shop.tags VALUES ('after-timeout', 1)");
    await assertNoCopySession();
  });

  /** Stand-ins for mariadb-dump (`data` for the data sessions, `definitions` for the others) and for the client; a real source coordinates. */
  async function standIns(data: string, definitions: string, firstRange = data): Promise<{ dir: string; binaries: { dump: string; client: string } }> {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-it-pardump-bin-'));
    const dump = join(dir, 'dump');
    await writeFile(dump, `#!/bin/sh\ncase "$*" in *--no-data*) ${definitions} ;; *--where=*" < "*) ${firstRange} ;; *) ${data} ;; esac\n`);
    const client = join(dir, 'client');
    await writeFile(client, '#!/bin/sh\ncat > /dev/null\n');
    await chmod(dump, 0o755);
    await chmod(client, 0o755);
    return { dir, binaries: { dump, client } };
  }
  const parallelTo = (binaries: { dump: string; client: string }) => ({
    source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD },
    databases: ['shop', 'crm'],
    flavor: 'mariadb' as const,
    target: { socketPath: '/nonexistent/never-used.sock', user: 'root', password: 'x' },
    sessions: 2,
    binaries,
  });

  it('a session counts as started from what it writes after its transaction began, not from its end: the lock is not held to the end of a dump', async () => {
    const header = "printf -- '-- MariaDB dump\\n--\\n-- Current Database: `shop`\\n--\\n'";
    const { dir, binaries } = await standIns(`${header}; head -c 200000 /dev/zero; exec sleep 8`, `${header}`);
    try {
      const result = await copyDatabasesParallel(parallelTo(binaries));
      assert.equal(result.ranges, 2);
      assert.ok(result.lock_ms < 6000, `commits held ${result.lock_ms} ms: the lock waited for the sessions to end (8 s), not for their start`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await assertNoCopySession();
  });

  it('a failure while data waits unread in memory stops every session at once, with the failing one\'s error', async () => {
    const header = "printf -- '--\\n-- Current Database: `shop`\\n'";
    // Data sessions: 100 MB each, more than the 64 MiB kept in memory while definitions load.
    const { dir, binaries } = await standIns(`${header}; head -c 100000000 /dev/zero; exec sleep 60`, "echo 'mariadb-dump: Got error: 1356: View broken.v references invalid table(s)' >&2; exit 2");
    const started = Date.now();
    try {
        await assert.rejects(copyDatabasesParallel(parallelTo(binaries)), /copying from 127\.0\.0\.1:\d+ failed: .*1356/);
        assert.ok(Date.now() - started < 30_000, `stopped after ${Date.now() - started} ms`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await mariadbQuery(rootConn(), 'SET SESSION lock_wait_timeout = 5; UPDATE shop.tags SET n = n WHERE name = \'tag1\'');
  });

  it('a data session that fails while the others load: its own error is the one reported, not a session stopped because of it', async () => {
    const header = "printf -- '--\\n-- Current Database: `shop`\\n'";
    const lost = "echo 'mariadb-dump: Error 2013: Lost connection to server during query when dumping table `orders` at row: 5' >&2; exit 2";
    const { dir, binaries } = await standIns(`${header}; head -c 30000000 /dev/zero; exec sleep 60`, header, `${header}; head -c 3000000 /dev/zero; sleep 1; ${lost}`);
    try {
      await assert.rejects(copyDatabasesParallel(parallelTo(binaries)), (e: Error) => e instanceof SourceError && /copying from 127\.0\.0\.1:\d+ failed: .*Lost connection/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await assertNoCopySession();
  });

  it('a session that fails stops the copy: one error, nothing half-made, the source not left locked', async () => {
    const root = await newRoot('6970-6974');
    // A view over a table that is gone: the definitions session fails (mariadb-dump error 1356).
    await mariadbQuery(rootConn(), 'CREATE DATABASE broken; CREATE TABLE broken.t (id INT PRIMARY KEY); CREATE VIEW broken.v AS SELECT id FROM broken.t; DROP TABLE broken.t');
    try {
      await assert.rejects(
        initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD }, databases: ['shop', 'broken'] }, root.deps),
        (e: Error) => /copying from 127\.0\.0\.1:\d+ failed: .*(1356|invalid|references)/i.test(e.message),
      );
      await assertNoReplicaLeft(root, 'after the failed copy');
      // No lock left behind: a write commits at once, and no dump session stays connected.
      await mariadbQuery(rootConn(), "SET SESSION lock_wait_timeout = 5; INSERT INTO shop.tags VALUES ('after-failure', 1)");
      await assertNoCopySession();
    } finally {
      await mariadbQuery(rootConn(), 'DROP DATABASE broken');
    }
  });
});
