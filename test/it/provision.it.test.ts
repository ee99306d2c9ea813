import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { accountCredentials, accountRowsHex } from '../support/credentials.js';
import { initPool } from '../../src/engine/pool-init.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { assertNoReplicaLeft, createTestRoot, mariadbQuery, mysqlQuery, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);
const PASSWORD = 'Backup-s3cret!';
const APP_PASSWORD = 'app-pw-2';
const docker = createDockerClient();

/** `mariadb-backup --backup` inside the production server's container, the password only in its environment. */
function backupArgs(production: ProductionServer, extra: string[]): string[] {
  return ['exec', '-i', '-e', 'MYSQL_PWD', production.containerId, 'mariadb-backup', '--backup', '--user=root', '--socket=/run/dolly/mysqld.sock', ...extra];
}

/** Runs bin/dolly with the source password in its environment; `feed`, a shell command, is piped into its stdin. */
async function dollyFed(args: string[], feed?: string, password = PASSWORD): Promise<{ code: number; stdout: string; stderr: string }> {
  const dolly = [join(process.cwd(), 'bin/dolly'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = feed ? `set -o pipefail; ${feed} | ${dolly}` : `${dolly} < /dev/null`;
  try {
    const { stdout, stderr } = await run('bash', ['-c', script], { env: { ...process.env, DOLLY_SOURCE_PASSWORD: password, MYSQL_PWD: PASSWORD }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `replica init --method backup --backup -`, fed by `mariadb-backup --stream` in the production server's container. */
function initFromStream(root: TestRoot, production: ProductionServer): Promise<{ code: number; stdout: string; stderr: string }> {
  const backup = ['docker', ...backupArgs(production, ['--stream=xbstream', '--target-dir=/tmp'])].join(' ');
  return dollyFed(['--root', root.root, '--json', 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`, '--method', 'backup', '--backup', '-'], `${backup} 2>/dev/null`);
}

/** dolly's error: exactly one `dolly: ... (hint: ...)` line, saying `message`. */
function assertOneErrorLine(stderr: string, message: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.startsWith('dolly: '));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0] ?? '', message);
  assert.match(lines[0] ?? '', /\(hint: .+\)$/);
}

/**
 * Physical provisioning (issue 8): `replica init --method backup` restores a mariadb-backup backup
 * (a stream on stdin or a directory) into the replica's pool volume, prepares it with the image's
 * own mariadb-backup, and starts GTID replication from the position the backup recorded.
 */
describe('replica init --method backup (MariaDB 10.11)', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let production: ProductionServer;
  const roots: TestRoot[] = [];
  const newRoot = async (ports: string): Promise<TestRoot> => {
    const root = await createTestRoot('dolly-it-backup-');
    roots.push(root);
    await initPool({ driver: 'btrfs', size: '2G', ports }, root.deps);
    return root;
  };
  const rootConn = () => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
  const checksum = 'CHECKSUM TABLE shop.orders, shop.blobs';

  before(async () => {
    production = await startProductionServer({ docker, root: '/var/tmp/dolly-it-backup-source', image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-backup-source' });
    await mariadbQuery(rootConn(), [
      'CREATE DATABASE shop CHARACTER SET utf8mb4',
      'USE shop',
      'CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, total DECIMAL(10,2), note VARCHAR(100)) ENGINE=InnoDB',
      'CREATE TABLE shop.blobs (id INT PRIMARY KEY, body LONGBLOB) ENGINE=InnoDB',
      'CREATE TABLE shop.legacy (id INT PRIMARY KEY) ENGINE=Aria',
      "INSERT INTO shop.orders (total, note) SELECT seq / 100, CONCAT('order ', seq, ' 😀') FROM seq_1_to_20000",
      'INSERT INTO shop.blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_500',
      'INSERT INTO shop.legacy SELECT seq FROM seq_1_to_10',
      `CREATE USER 'app'@'%' IDENTIFIED BY '${APP_PASSWORD}'`,
      "GRANT SELECT, INSERT, CREATE VIEW, SHOW VIEW ON shop.* TO 'app'@'%'",
    ].join('; '));
    await mariadbQuery({ ...rootConn(), user: 'app', password: APP_PASSWORD }, 'CREATE VIEW shop.big AS SELECT id FROM shop.orders WHERE total > 190');
  });

  after(async () => {
    for (const root of roots) await root.dispose().catch(() => undefined);
    await production?.stop();
  });

  it('from a stream on stdin: the replica has the data at the backup\'s GTID, replicates what came after, and clones work with --user app', async () => {
    const root = await newRoot('6870-6874');
    const result = await initFromStream(root, production);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { method: string; databases: string[]; gtid: string; copied_bytes: number };
    assert.equal(out.method, 'backup');
    assert.ok(out.databases.includes('shop'));
    assert.match(out.gtid, /^0-1-\d+$/);
    assert.ok(out.copied_bytes > 1024 * 1024, `streamed ${out.copied_bytes} bytes`);
    // Written after the backup: arrives by replication from the recorded position, exactly once.
    await mariadbQuery(rootConn(), "INSERT INTO shop.orders (total, note) VALUES (999.99, 'after the backup'); INSERT INTO shop.legacy VALUES (11)");
    const gtid = await mariadbQuery(rootConn(), 'SELECT @@gtid_binlog_pos');
    for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.gtid, gtid, `replication: ${status.last_error ?? 'behind'}`);
    assert.ok(status.io_running && status.sql_running);
    await createSnapshot(root.deps);
    const clone = await createClone({ name: 'phys' }, root.deps);
    assert.equal(await mariadbQuery(clone, checksum), await mariadbQuery(rootConn(), checksum), 'every checksum equal to the source');
    assert.equal(await mariadbQuery(clone, "SELECT COUNT(*) FROM shop.orders WHERE note = 'after the backup'"), '1');
    assert.equal(await mariadbQuery(clone, 'SELECT COUNT(*) FROM shop.legacy'), '11', 'the Aria table came with the backup');
    const asApp = await createClone({ name: 'phys-app', user: 'app' }, root.deps);
    assert.equal(await mariadbQuery(asApp, 'SELECT COUNT(*) FROM shop.big'), '1001', 'the view of app (its DEFINER) works as app');
    await assert.rejects(mariadbQuery({ ...asApp, password: APP_PASSWORD }, 'SELECT 1'), /Access denied/, "production's password does not open a clone");
    // A physical copy brings the source's own accounts, root@localhost included: none keeps its credential.
    const secrets = await accountCredentials((q) => mariadbQuery(rootConn(), q), 'mariadb');
    assert.ok(secrets.length >= 2, `the source's credentials were read (${secrets.length})`);
    const admin = await createClone({ name: 'phys-admin', admin: true }, root.deps);
    const rows = await accountRowsHex((q) => mariadbQuery(admin, q), 'mariadb');
    assert.ok(rows.includes('root@localhost'), rows.slice(0, 200));
    for (const secret of secrets) assert.ok(!rows.includes(secret), "a source credential (root's or app's) is in a clone of a physical copy");
  });

  it('a backup larger than the pool: the pool fills, one line with a hint, nothing half-made, and the pool is usable again', async () => {
    await mariadbQuery(rootConn(), 'CREATE TABLE shop.ballast (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB; INSERT INTO shop.ballast SELECT seq, REPEAT(RANDOM_BYTES(1024), 1024) FROM shop.seq_1_to_400');
    try {
      const root = await createTestRoot('dolly-it-backup-full-');
      roots.push(root);
      await initPool({ driver: 'btrfs', size: '256M', ports: '6950-6954' }, root.deps);
      const full = await initFromStream(root, production);
      assert.notEqual(full.code, 0);
      assert.equal(full.code, EXIT_CODES.resource_exhausted, full.stderr);
      assertOneErrorLine(full.stderr, /no space left in the pool/);
      await assertNoReplicaLeft(root);
      // btrfs frees a deleted subvolume's extents in the background and shows them free at its next
      // commit (every 30 s by default): the space comes back, not at once.
      const driver = root.deps.driver(root.deps.store.require());
      let space = await driver.space();
      const waited = Date.now();
      for (let i = 0; i < 180 && space.freeBytes <= space.totalBytes / 2; i += 1) {
        await new Promise((r) => setTimeout(r, 500));
        space = await driver.space();
      }
      assert.ok(space.freeBytes > space.totalBytes / 2, `the half-made copy's space came back: ${space.freeBytes} of ${space.totalBytes} free after ${Date.now() - waited} ms`);
    } finally {
      await mariadbQuery(rootConn(), 'DROP TABLE shop.ballast');
    }
  });

  it('from a directory; a backup without a recorded position is refused with one line and a hint, and nothing is half-made', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-it-backup-dir-'));
    try {
      await run('docker', backupArgs(production, ['--target-dir=/tmp/bk']), { env: { ...process.env, MYSQL_PWD: PASSWORD } });
      await run('docker', ['cp', `${production.containerId}:/tmp/bk`, join(dir, 'bk')]);
      await run('docker', ['exec', production.containerId, 'rm', '-rf', '/tmp/bk']);
      const backupDir = join(dir, 'bk');
      const files = await readdir(backupDir);
      const positionFile = files.find((f) => f.endsWith('_binlog_info'));
      assert.ok(positionFile, `the backup has a position file: ${files.join(', ')}`);
      await run('mv', [join(backupDir, positionFile), join(dir, positionFile)]);
      const root = await newRoot('6875-6879');
      const refused = await dollyFed(['--root', root.root, 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`, '--method', 'backup', '--backup', backupDir]);
      assert.notEqual(refused.code, 0);
      assertOneErrorLine(refused.stderr, /records no binary log position/);
      await assertNoReplicaLeft(root);
      await run('mv', [join(dir, positionFile), join(backupDir, positionFile)]);
      const ok = await dollyFed(['--root', root.root, '--json', 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`, '--method', 'backup', '--backup', backupDir]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((JSON.parse(ok.stdout) as { method: string }).method, 'backup');
      const status = await getReplicaStatus(root.deps);
      assert.ok(status.io_running && status.sql_running, status.last_error ?? '');
      assert.equal((await readdir(backupDir)).includes('ibdata1'), true, 'the backup directory is left as it was (copied, not moved)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bad inputs: no --backup, --databases, a missing directory, a stream that is not a backup — one line, a hint, nothing half-made', async () => {
    const root = await newRoot('6880-6884');
    const base = ['--root', root.root, 'replica', 'init', '--source', `mysql://root@127.0.0.1:${production.port}`, '--method', 'backup'];
    const cases: { args: string[]; message: RegExp }[] = [
      { args: base, message: /--method backup needs --backup/ },
      { args: [...base, '--backup', '/nonexistent/backup'], message: /is not a directory/ },
      { args: [...base, '--backup', tmpdir()], message: /is not a mariadb-backup backup/ },
      { args: [...base, '--backup', tmpdir(), '--databases', 'shop'], message: /--databases does not apply/ },
    ];
    for (const c of cases) {
      const out = await dollyFed(c.args);
      assert.notEqual(out.code, 0, c.args.join(' '));
      assertOneErrorLine(out.stderr, c.message);
    }
    const out = await dollyFed([...base, '--backup', '-'], 'head -c 1000000 /dev/urandom');
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /mbstream/);
    await assertNoReplicaLeft(root);
  });
});

describe('replica init --method backup (MariaDB 11.8), and a backup for another version', { skip: skipUnless('root', 'docker', 'image', 'image-mariadb-11.8', 'btrfs', 'mariadb-client') }, () => {
  const MARIADB_11 = 'dolly/mariadb:11.8';
  let production: ProductionServer;
  const roots: TestRoot[] = [];
  const newRoot = async (ports: string, image: string): Promise<TestRoot> => {
    const root = await createTestRoot('dolly-it-backup11-');
    roots.push(root);
    await initPool({ driver: 'btrfs', size: '2G', ports, image }, root.deps);
    return root;
  };
  const rootConn = () => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });

  before(async () => {
    production = await startProductionServer({ docker, root: '/var/tmp/dolly-it-backup11-source', image: MARIADB_11, rootPassword: PASSWORD, name: 'it-backup11-source' });
    await mariadbQuery(rootConn(), "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v JSON); INSERT INTO shop.t SELECT seq, JSON_OBJECT('n', seq) FROM shop.seq_1_to_5000");
  });

  after(async () => {
    for (const root of roots) await root.dispose().catch(() => undefined);
    await production?.stop();
  });

  it('11.8 → 11.8 from a stream: the data at the backup position, then replication', async () => {
    const root = await newRoot('6885-6889', MARIADB_11);
    const result = await initFromStream(root, production);
    assert.equal(result.code, 0, result.stderr);
    await mariadbQuery(rootConn(), "INSERT INTO shop.t VALUES (5001, '{}')");
    const gtid = await mariadbQuery(rootConn(), 'SELECT @@gtid_binlog_pos');
    for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
    assert.equal((await getReplicaStatus(root.deps)).gtid, gtid);
    await createSnapshot(root.deps);
    const clone = await createClone({ name: 'eleven' }, root.deps);
    assert.equal(await mariadbQuery(clone, 'CHECKSUM TABLE shop.t'), await mariadbQuery(rootConn(), 'CHECKSUM TABLE shop.t'));
  });

  it('a backup of 11.8 onto a 10.11 root is refused before anything is made (one line, a hint naming the image)', async () => {
    const root = await newRoot('6890-6894', MARIADB_IMAGE);
    const result = await initFromStream(root, production);
    assert.notEqual(result.code, 0);
    assertOneErrorLine(result.stderr, /older than the source|must be prepared by mariadb-backup 11\.8/);
    await assertNoReplicaLeft(root);
  });
});

describe('replica init --method clone (MySQL 9.7, the CLONE plugin)', { skip: skipUnless('root', 'docker', 'image-mysql-9.7', 'btrfs') }, () => {
  const MYSQL = 'dolly/mysql:9.7';
  let production: ProductionServer;
  let root: TestRoot;
  const source = () => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
  const sql = mysqlQuery;
  const DIGEST = "SELECT SHA2(GROUP_CONCAT(CONCAT_WS('|', id, note, HEX(body)) ORDER BY id SEPARATOR '\\n'), 256) FROM shop.orders";
  const init = (user = 'root', password = PASSWORD) =>
    dollyFed(['--root', root.root, '--json', 'replica', 'init', '--source', `mysql://${user}@127.0.0.1:${production.port}`, '--method', 'clone'], undefined, password);

  before(async () => {
    root = await createTestRoot('dolly-it-clone-');
    production = await startProductionServer({ docker, root: '/var/tmp/dolly-it-clone-source', image: MYSQL, rootPassword: PASSWORD, name: 'it-clone-source', flavor: 'mysql' });
    await sql(source(), [
      'CREATE DATABASE shop',
      'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(60) CHARACTER SET utf8mb4, body BLOB)',
      "INSERT INTO shop.orders VALUES (1, 'café 🍰', RANDOM_BYTES(200)), (2, 'tea', RANDOM_BYTES(300))",
      "CREATE USER 'nob'@'%' IDENTIFIED BY 'nob-pw'",
      "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, SHOW VIEW, EVENT, TRIGGER, LOCK TABLES ON *.* TO 'nob'@'%'",
    ].join('; '));
    await initPool({ driver: 'btrfs', size: '2G', ports: '6895-6899', image: MYSQL }, root.deps);
  });

  after(async () => {
    await root?.dispose();
    await production?.stop();
  });

  it('refused before anything is made: no clone plugin on the source, an account without BACKUP_ADMIN, a MyISAM table', async () => {
    const noPlugin = await init();
    assert.equal(noPlugin.code, 9, noPlugin.stderr);
    assertOneErrorLine(noPlugin.stderr, /no active clone plugin/);
    await assertNoReplicaLeft(root);
    await sql(source(), "INSTALL PLUGIN clone SONAME 'mysql_clone.so'");
    const noGrant = await init('nob', 'nob-pw');
    assert.notEqual(noGrant.code, 0);
    assertOneErrorLine(noGrant.stderr, /nob lacks BACKUP_ADMIN/);
    await assertNoReplicaLeft(root);
    await sql(source(), 'CREATE TABLE shop.legacy (id INT PRIMARY KEY) ENGINE=MyISAM');
    const myisam = await init();
    assertOneErrorLine(myisam.stderr, /CLONE copies only InnoDB: 1 table\(s\) would arrive empty, e\.g\. shop\.legacy \(MyISAM\)/);
    await assertNoReplicaLeft(root);
    await sql(source(), 'DROP TABLE shop.legacy');
  });

  it("clones the source's datadir, replicates from the clone's GTID set, and the clones have their own server_uuid", async () => {
    const result = await init();
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { method: string; gtid: string; copied_bytes: number };
    assert.equal(out.method, 'clone');
    assert.match(out.gtid, /^[0-9a-f-]{36}:1-\d+$/);
    assert.ok(out.copied_bytes > 1024 * 1024, `cloned ${out.copied_bytes} bytes`);
    await sql(source(), "INSERT INTO shop.orders VALUES (3, 'after the clone', NULL)");
    const gtid = await sql(source(), 'SELECT @@GLOBAL.gtid_executed');
    for (let i = 0; i < 100 && (await getReplicaStatus(root.deps)).gtid !== gtid.replace(/\s+/g, ''); i += 1) await new Promise((r) => setTimeout(r, 200));
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.gtid, gtid.replace(/\s+/g, ''), `replication: ${status.last_error ?? 'behind'}`);
    await createSnapshot(root.deps);
    const clone = await createClone({ name: 'cloned' }, root.deps);
    assert.equal(await sql(clone, DIGEST), await sql(source(), DIGEST));
    assert.notEqual(await sql(clone, 'SELECT @@server_uuid'), await sql(source(), 'SELECT @@server_uuid'));
    // CLONE brings the source's own accounts, root included: none keeps its credential in a clone.
    const secrets = await accountCredentials((q) => sql(source(), q), 'mysql');
    assert.ok(secrets.length >= 2, `the source's credentials were read (${secrets.length})`);
    const admin = await createClone({ name: 'cloned-admin', admin: true }, root.deps);
    const rows = await accountRowsHex((q) => sql(admin, q), 'mysql');
    assert.ok(rows.includes('root@'), rows.slice(0, 200));
    for (const secret of secrets) assert.ok(!rows.includes(secret), "a source credential is in a clone of a CLONE copy");
  });
});
