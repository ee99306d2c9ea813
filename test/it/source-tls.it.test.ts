import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { up } from '../../src/engine/lifecycle.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { REPLICA, replicaConnectOptions } from '../../src/engine/servers.js';
import { replicaCaPath, sourceCaPath } from '../../src/engine/source-tls.js';
import { runDir } from '../../src/engine/context.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { SourceError } from '../../src/errors.js';
import { connectSql, type SqlClient } from '../../src/mysql/sql-client.js';
import { sourceArgs } from '../../src/mysql/dump-pipe.js';
import { clientTlsArgs } from '../../src/mysql/source-tls.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { assertNoReplicaLeft, createTestRoot, dolly, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);
const PASSWORD = 'Tls-s3cret!';
const docker = createDockerClient();

/** A CA and a server certificate it signed for `db.example.test` only (no IP), and an unrelated CA. */
async function makeCertificates(dir: string): Promise<{ ca: string; wrongCa: string; serverCert: string; serverKey: string }> {
  const openssl = (...args: string[]) => run('openssl', args);
  const p = (name: string) => join(dir, name);
  for (const ca of ['ca', 'wrong-ca']) {
    await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${ca}.key`), '-out', p(`${ca}.pem`), '-days', '2', '-subj', `/CN=dolly test ${ca}`);
  }
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=db.example.test');
  await writeFile(p('san.ext'), 'subjectAltName=DNS:db.example.test\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await openssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('san.ext'));
  return { ca: p('ca.pem'), wrongCa: p('wrong-ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key') };
}

/** The first row of SHOW SLAVE STATUS. */
async function slaveStatus(client: SqlClient): Promise<Record<string, unknown>> {
  const [row] = await client.query('SHOW SLAVE STATUS');
  return row ?? {};
}

/** Waits until the IO thread is running or has an error; returns its status row. */
async function ioSettled(client: SqlClient, wantRunning: boolean): Promise<Record<string, unknown>> {
  let row: Record<string, unknown> = {};
  for (let i = 0; i < 100; i += 1) {
    row = await slaveStatus(client);
    if (wantRunning ? row.Slave_IO_Running === 'Yes' : String(row.Last_IO_Error ?? '') !== '') return row;
    await new Promise((r) => setTimeout(r, 200));
  }
  return row;
}

/**
 * TLS to the source (issue 17 item 7): a MariaDB source with a certificate that refuses every
 * clear-text connection (`require_secure_transport`), so a replica that works proves that every
 * connection dolly made to it (check, dump sessions, account copy, IO thread) used TLS.
 */
describe('replica init --source-tls (MariaDB 10.11 source that requires TLS)', { skip: skipUnless('root', 'docker', 'image', 'btrfs', 'mariadb-client') }, () => {
  let production: ProductionServer;
  let certDir: string;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  let caPem: string;
  const roots: TestRoot[] = [];
  const newRoot = async (ports: string): Promise<TestRoot> => {
    const root = await createTestRoot('dolly-it-tls-');
    roots.push(root);
    await initPool({ driver: 'btrfs', size: '2G', ports }, root.deps);
    return root;
  };
  const source = () => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'dolly-it-tls-certs-'));
    certs = await makeCertificates(certDir);
    caPem = await readFile(certs.ca, 'utf8');
    production = await startProductionServer({
      docker,
      root: '/var/tmp/dolly-it-tls-source',
      image: MARIADB_IMAGE,
      rootPassword: PASSWORD,
      name: 'it-tls-source',
      files: { 'server.pem': await readFile(certs.serverCert, 'utf8'), 'server.key': await readFile(certs.serverKey, 'utf8'), 'ca.pem': caPem },
      extraArgs: ['--ssl-cert=/dolly-init/server.pem', '--ssl-key=/dolly-init/server.key', '--ssl-ca=/dolly-init/ca.pem', '--require-secure-transport=ON'],
      tls: { verify: 'none' },
    });
    const sql = await production.sql();
    try {
      for (const statement of [
        'CREATE DATABASE shop',
        'USE shop',
        'CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50)) ENGINE=InnoDB',
        "INSERT INTO shop.orders (note) SELECT CONCAT('order ', seq) FROM seq_1_to_2000",
        "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'",
        "GRANT SELECT ON shop.* TO 'app'@'%'",
      ]) await sql.execute(statement);
    } finally {
      await sql.close();
    }
  });

  after(async () => {
    for (const root of roots) await root.dispose().catch(() => undefined);
    await production?.stop();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  it('the source refuses clear text (so whatever works below used TLS)', async () => {
    const sql = await production.sql();
    try {
      assert.equal(Number((await sql.query<{ v: unknown }>('SELECT @@require_secure_transport AS v'))[0]?.v), 1);
    } finally {
      await sql.close();
    }
    // MariaDB answers a clear-text login as if the password were wrong: the hint says so.
    await assert.rejects(connectSql({ ...source(), role: 'source' }), (e: unknown) => e instanceof SourceError && /--source-tls required/.test(e.hint ?? ''));
  });

  it('verify-ca with the right CA: copies, replicates a later row over TLS with the CA, and keeps doing so after up', async (t) => {
    const root = await newRoot('7600-7602');
    const started = Date.now();
    const result = await initReplica({ source: { ...source(), tls: { mode: 'verify-ca', ca: caPem } } }, root.deps);
    t.diagnostic(`replica init (verify-ca, ${result.parallel?.sessions ?? 1} sessions) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(result.parallel, 'the parallel dump sessions ran (over TLS)');
    const state = root.deps.store.require();
    assert.equal(state.replica?.source.tls_mode, 'verify-ca');
    assert.equal((await getReplicaStatus(root.deps)).source_tls, 'verify-ca');
    assert.equal((await stat(sourceCaPath(root.root))).mode & 0o777, 0o644, 'the CA is kept in the root, public');
    assert.equal(await readFile(replicaCaPath(root.root), 'utf8'), caPem);

    const replica = await connectSql(replicaConnectOptions(root.root, state.replica ?? assert.fail('no replica')));
    try {
      assert.equal((await replica.query<{ n: number }>("SELECT COUNT(*) AS n FROM mysql.global_priv WHERE User = 'app'"))[0]?.n, 1, 'the accounts were copied (over TLS)');
      const sql = await production.sql();
      await sql.execute("INSERT INTO shop.orders (note) VALUES ('after the copy')").finally(() => sql.close());
      const applied = async (): Promise<number> => Number((await replica.query<{ n: number }>("SELECT COUNT(*) AS n FROM shop.orders WHERE note = 'after the copy'"))[0]?.n ?? 0);
      for (let i = 0; i < 100 && (await applied()) === 0; i += 1) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await applied(), 1, 'replication applied the later row');
      const row = await slaveStatus(replica);
      assert.equal(row.Master_SSL_Allowed, 'Yes');
      assert.equal(row.Master_SSL_CA_File, '/run/dolly/source-ca.pem');
      assert.equal(row.Master_SSL_Verify_Server_Cert, 'No', 'verify-ca checks the chain, not the host name');

      // The IO thread really checks: a wrong CA, or the host name (the certificate names db.example.test), stop it.
      await copyFile(certs.wrongCa, join(runDir(root.root, REPLICA), 'wrong-ca.pem'));
      await replica.execute('STOP SLAVE');
      await replica.execute("CHANGE MASTER TO MASTER_SSL_CA='/run/dolly/wrong-ca.pem'");
      await replica.execute('START SLAVE');
      assert.match(String((await ioSettled(replica, false)).Last_IO_Error), /certificate|SSL|TLS/i, 'the IO thread refuses a certificate of another CA');
      await replica.execute('STOP SLAVE');
      await replica.execute("CHANGE MASTER TO MASTER_SSL_CA='/run/dolly/source-ca.pem', MASTER_SSL_VERIFY_SERVER_CERT=1");
      await replica.execute('START SLAVE');
      const identity = await ioSettled(replica, false);
      assert.equal(identity.Master_SSL_Verify_Server_Cert, 'Yes');
      assert.match(String(identity.Last_IO_Error), /certificate|SSL|TLS|host/i, 'the IO thread refuses a certificate that does not name 127.0.0.1');
      await replica.execute('STOP SLAVE');
      await replica.execute('CHANGE MASTER TO MASTER_SSL_VERIFY_SERVER_CERT=0');
      await replica.execute('START SLAVE');
      assert.equal((await ioSettled(replica, true)).Slave_IO_Running, 'Yes', 'back with the right CA');
    } finally {
      await replica.close();
    }

    // A restart that lost the run dir's copy of the CA: `up` puts it back, and the IO thread connects.
    await root.deps.runtime.stop(REPLICA);
    await rm(replicaCaPath(root.root));
    await up(root.deps);
    assert.equal(await readFile(replicaCaPath(root.root), 'utf8'), caPem, 'up restored the CA');
    const again = await connectSql(replicaConnectOptions(root.root, root.deps.store.require().replica ?? assert.fail('no replica')));
    try {
      const row = await ioSettled(again, true);
      assert.equal(row.Slave_IO_Running, 'Yes', `IO thread after up: ${String(row.Last_IO_Error)}`);
    } finally {
      await again.close();
    }
  });

  it('verify-ca with another CA: refused naming the certificate, nothing made', async () => {
    const root = await newRoot('7603-7605');
    const wrong = await readFile(certs.wrongCa, 'utf8');
    await assert.rejects(initReplica({ source: { ...source(), tls: { mode: 'verify-ca', ca: wrong } } }, root.deps), (e: unknown) => {
      assert.ok(e instanceof SourceError, String(e));
      assert.match(e.message, /^TLS to the source at 127\.0\.0\.1:\d+ failed: the server's certificate is not signed by the given CA/);
      assert.ok(!e.message.includes('\n'));
      assert.match(e.hint ?? '', /--source-ca/);
      return true;
    });
    await assertNoReplicaLeft(root, 'wrong CA');
  });

  it('the dump programs\' flags check the same: the right CA connects, another CA or the host name is refused', async () => {
    const client = async (tls: Parameters<typeof clientTlsArgs>[1], ca: string | undefined): Promise<string> => {
      const args = [...sourceArgs(source()), ...clientTlsArgs('mariadb', tls, ca), '--batch', '--skip-column-names', '-e', "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'"];
      try {
        return (await run('mariadb', args, { env: { ...process.env, MYSQL_PWD: PASSWORD } })).stdout.trim();
      } catch (error) {
        return `failed: ${String((error as { stderr?: unknown }).stderr ?? error)}`;
      }
    };
    assert.match(await client({ mode: 'required' }, undefined), /^TLSv1\.[23]$/, 'required: TLS, unverified');
    assert.match(await client({ mode: 'verify-ca', ca: caPem }, certs.ca), /^TLSv1\.[23]$/, 'verify-ca, right CA');
    assert.match(await client({ mode: 'verify-ca', ca: caPem }, certs.wrongCa), /^failed: .*(certificate|SSL|TLS)/i, 'verify-ca, another CA');
    assert.match(await client({ mode: 'verify-identity', ca: caPem }, certs.ca), /^failed: .*(certificate|SSL|TLS|host)/i, 'verify-identity to 127.0.0.1');
  });

  it('verify-identity with the right CA but to 127.0.0.1 (the certificate names db.example.test): refused for the host name', async () => {
    const root = await newRoot('7606-7608');
    await assert.rejects(initReplica({ source: { ...source(), tls: { mode: 'verify-identity', ca: caPem } } }, root.deps), (e: unknown) => {
      assert.ok(e instanceof SourceError, String(e));
      assert.match(e.message, /TLS to the source at 127\.0\.0\.1:\d+ failed: the server's certificate does not name this host/);
      assert.match(e.hint ?? '', /verify-ca/);
      return true;
    });
    await assertNoReplicaLeft(root, 'host name');
  });

  it('verify-identity with the right CA to the name the certificate holds (db.example.test, in /etc/hosts for this test): copies and replicates, the IO thread checking the name', async () => {
    const root = await newRoot('7620-7622');
    const marker = '# dolly-it-source-tls';
    const hosts = await readFile('/etc/hosts', 'utf8');
    const clean = (text: string): string => text.split('\n').filter((line) => !line.includes(marker)).join('\n');
    // Written in place (/etc/hosts may be a bind mount); the line goes again in `finally`.
    await writeFile('/etc/hosts', `${clean(hosts).replace(/\n*$/, '\n')}127.0.0.1 db.example.test ${marker}\n`);
    try {
      await initReplica({ source: { ...source(), host: 'db.example.test', tls: { mode: 'verify-identity', ca: caPem } } }, root.deps);
      const state = root.deps.store.require();
      assert.equal(state.replica?.source.tls_mode, 'verify-identity');
      const replica = await connectSql(replicaConnectOptions(root.root, state.replica ?? assert.fail('no replica')));
      try {
        const sql = await production.sql();
        await sql.execute("INSERT INTO shop.orders (note) VALUES ('by name')").finally(() => sql.close());
        const applied = async (): Promise<number> => Number((await replica.query<{ n: number }>("SELECT COUNT(*) AS n FROM shop.orders WHERE note = 'by name'"))[0]?.n ?? 0);
        for (let i = 0; i < 100 && (await applied()) === 0; i += 1) await new Promise((r) => setTimeout(r, 200));
        assert.equal(await applied(), 1, 'replication applied the later row');
        const row = await slaveStatus(replica);
        assert.equal(row.Master_Host, 'db.example.test');
        assert.equal(row.Master_SSL_Verify_Server_Cert, 'Yes', 'verify-identity checks the host name');
        assert.equal(row.Slave_IO_Running, 'Yes', String(row.Last_IO_Error));
      } finally {
        await replica.close();
      }
    } finally {
      await writeFile('/etc/hosts', clean(await readFile('/etc/hosts', 'utf8')));
    }
  });

  it('through the CLI: verify-ca without --source-ca is refused before anything (exit 2); with it, one dump stream works', async () => {
    const root = await newRoot('7609-7611');
    const url = `mysql://root@127.0.0.1:${production.port}`;
    const refused = await dolly(['--root', root.root, 'replica', 'init', '--source', url, '--source-tls', 'verify-ca'], { DOLLY_SOURCE_PASSWORD: PASSWORD });
    assert.equal(refused.code, EXIT_CODES.invalid_argument, refused.stderr);
    const lines = refused.stderr.split('\n').filter((l) => l.startsWith('dolly: '));
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0] ?? '', /^dolly: --source-tls verify-ca needs the CA .* \(hint: add --source-ca FILE/);
    await assertNoReplicaLeft(root, 'no CA');
    const clear = await dolly(['--root', root.root, 'replica', 'init', '--source', url, '--parallel', '1'], { DOLLY_SOURCE_PASSWORD: PASSWORD });
    assert.equal(clear.code, EXIT_CODES.source, clear.stderr);
    assert.match(clear.stderr, /refused user 'root'.*--source-tls required/);
    await assertNoReplicaLeft(root, 'clear text');
    const ok = await dolly(['--root', root.root, '--json', 'replica', 'init', '--source', url, '--parallel', '1', '--source-tls', 'verify-ca', '--source-ca', certs.ca], { DOLLY_SOURCE_PASSWORD: PASSWORD });
    assert.equal(ok.code, 0, ok.stderr);
    const status = await dolly(['--root', root.root, 'replica', 'status']);
    assert.match(status.stdout, /^tls\s+verify-ca$/m, status.stdout);
    assert.match(status.stdout, /^io\s+running/m, status.stdout);
  });
});

/** The same on MySQL 9.7: mysqldump (in a tools container) with --ssl-mode=VERIFY_CA, the IO thread with SOURCE_SSL_CA, and CLONE with clone_ssl_ca. */
describe('replica init --source-tls verify-ca (MySQL 9.7 source that requires TLS)', { skip: skipUnless('root', 'docker', 'btrfs', 'image-mysql-9.7') }, () => {
  const MYSQL = 'dolly/mysql:9.7';
  let production: ProductionServer;
  let certDir: string;
  let caPem: string;
  const roots: TestRoot[] = [];
  const newRoot = async (ports: string): Promise<TestRoot> => {
    const root = await createTestRoot('dolly-it-tls-mysql-');
    roots.push(root);
    await initPool({ driver: 'btrfs', size: '2G', ports, image: MYSQL }, root.deps);
    return root;
  };
  const source = () => ({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD, tls: { mode: 'verify-ca' as const, ca: caPem } });

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'dolly-it-tls-certs-'));
    const certs = await makeCertificates(certDir);
    caPem = await readFile(certs.ca, 'utf8');
    production = await startProductionServer({
      docker,
      root: '/var/tmp/dolly-it-tls-mysql-source',
      image: MYSQL,
      rootPassword: PASSWORD,
      name: 'it-tls-mysql-source',
      flavor: 'mysql',
      files: { 'server.pem': await readFile(certs.serverCert, 'utf8'), 'server.key': await readFile(certs.serverKey, 'utf8'), 'ca.pem': caPem },
      extraArgs: ['--ssl-cert=/dolly-init/server.pem', '--ssl-key=/dolly-init/server.key', '--ssl-ca=/dolly-init/ca.pem', '--require-secure-transport=ON'],
      tls: { verify: 'none' },
    });
    const sql = await production.sql();
    try {
      for (const statement of [
        'CREATE DATABASE shop',
        'CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50)) ENGINE=InnoDB',
        "INSERT INTO shop.orders (note) VALUES ('one'), ('two'), ('three')",
        "INSTALL PLUGIN clone SONAME 'mysql_clone.so'",
      ]) await sql.execute(statement);
    } finally {
      await sql.close();
    }
  });

  after(async () => {
    for (const root of roots) await root.dispose().catch(() => undefined);
    await production?.stop();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  for (const [method, ports] of [['dump', '7612-7615'], ['clone', '7616-7619']] as const) {
    it(`--method ${method}: copies and replicates a later row over TLS checked against the CA`, async (t) => {
      const root = await newRoot(ports);
      if (method === 'clone') {
        // CLONE checks the chain only: verify-identity is refused before anything is made.
        await assert.rejects(initReplica({ source: { ...source(), tls: { mode: 'verify-identity', ca: caPem } }, method }, root.deps), /cannot check the source's host name/);
        await assertNoReplicaLeft(root, 'verify-identity with clone');
      }
      const started = Date.now();
      await initReplica({ source: source(), method }, root.deps);
      t.diagnostic(`replica init --method ${method} (verify-ca) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const replica = await connectSql(replicaConnectOptions(root.root, root.deps.store.require().replica ?? assert.fail('no replica')));
      try {
        const sql = await production.sql();
        await sql.execute(`INSERT INTO shop.orders (note) VALUES ('after ${method}')`).finally(() => sql.close());
        const applied = async (): Promise<number> => Number((await replica.query<{ n: number }>(`SELECT COUNT(*) AS n FROM shop.orders WHERE note = 'after ${method}'`))[0]?.n ?? 0);
        for (let i = 0; i < 100 && (await applied()) === 0; i += 1) await new Promise((r) => setTimeout(r, 200));
        assert.equal(await applied(), 1, 'replication applied the later row');
        const [row] = await replica.query('SHOW REPLICA STATUS');
        assert.equal(row?.Source_SSL_Allowed, 'Yes');
        assert.equal(row?.Source_SSL_CA_File, '/run/dolly/source-ca.pem');
        assert.equal(row?.Source_SSL_Verify_Server_Cert, 'No');
      } finally {
        await replica.close();
      }
    });
  }
});
