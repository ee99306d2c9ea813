import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { forwardThroughContainer, type ExecForward } from '../../src/docker/exec-forward.js';
import { labelsFor } from '../../src/labels.js';
import { serverCommandLine } from '../../src/mysql/server-args.js';
import { connectSql } from '../../src/mysql/sql-client.js';
import { waitForServer } from '../../src/mysql/wait-ready.js';
import { createShell } from '../../src/shell.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';

const docker = createDockerClient();
const ROOT = `/tmp/dolly-it-exec-forward-${process.pid}`;
const NETWORK = `dolly-it-fwd-${process.pid}`;
const PASSWORD = 'fwd-Secret-1';

/**
 * A "source" reachable only on a Docker network this test makes (no published port), and a
 * container beside it on that network: the forward reaches the source through the one beside, as
 * dolly reaches a Swarm source through the replica's task.
 */
describe('a local port forwarded through docker exec in a container', { skip: skipUnless('docker', 'image', 'mariadb-client') }, () => {
  const made: string[] = [];
  let initDir = '';
  let forward: ExecForward | undefined;
  let beside = '';

  before(async () => {
    initDir = await mkdtemp(join(tmpdir(), 'dolly-it-fwd-'));
    await chmod(initDir, 0o755);
    await writeFile(join(initDir, 'init.sql'), [`CREATE USER 'app'@'%' IDENTIFIED BY '${PASSWORD}';`, "GRANT ALL ON *.* TO 'app'@'%';", 'CREATE DATABASE shop;', 'CREATE TABLE shop.t (id INT PRIMARY KEY);', 'INSERT INTO shop.t VALUES (1),(2),(3);', ''].join('\n'), { mode: 0o644 });
    await docker.createNetwork({ Name: NETWORK, Labels: labelsFor(ROOT, 'network', NETWORK) });
    const source = await docker.createContainer({
      name: `${NETWORK}-source`,
      Image: MARIADB_IMAGE,
      Cmd: serverCommandLine({ flavor: 'mariadb', serverId: 7, role: 'source', initFile: true }, { datadir: '/var/lib/mysql', runDir: '/run/dolly', initFile: '/init/init.sql' }, { port: 3306, bindAddress: '0.0.0.0' }),
      Labels: labelsFor(ROOT, 'source', 'source'),
      HostConfig: { NetworkMode: NETWORK, Binds: [`${initDir}:/init:ro`], RestartPolicy: { Name: 'no' } },
      NetworkingConfig: { EndpointsConfig: { [NETWORK]: { Aliases: ['source'] } } },
    });
    made.push(source.id);
    await source.start();
    const side = await docker.createContainer({
      name: `${NETWORK}-beside`,
      Image: MARIADB_IMAGE,
      Entrypoint: ['sleep', 'infinity'],
      Labels: labelsFor(ROOT, 'replica', 'beside'),
      HostConfig: { NetworkMode: NETWORK, RestartPolicy: { Name: 'no' } },
    });
    made.push(side.id);
    await side.start();
    beside = side.id;
    forward = await forwardThroughContainer(docker, beside, { host: 'source', port: 3306 });
    await waitForServer({ host: '127.0.0.1', port: forward.port, user: 'app', password: PASSWORD }, { timeoutMs: 120_000 });
  });

  after(async () => {
    await forward?.close();
    for (const id of made) await docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    await docker.getNetwork(NETWORK).remove().catch(() => undefined);
    await rm(initDir, { recursive: true, force: true });
  });

  it('mysql2 queries the source through it, several connections at once', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => connectSql({ host: '127.0.0.1', port: forward?.port ?? 0, user: 'app', password: PASSWORD })));
    try {
      const answers = await Promise.all(clients.map((c) => c.query<{ n: number; id: number }>('SELECT COUNT(*) AS n, @@server_id AS id FROM shop.t')));
      for (const rows of answers) assert.deepEqual(rows.map((r) => [Number(r.n), Number(r.id)]), [[3, 7]]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('the host\'s mariadb-dump copies through it (the password in the environment, not the command line)', async () => {
    const dump = await createShell().run('mariadb-dump', ['--protocol=tcp', '--host=127.0.0.1', `--port=${forward?.port ?? 0}`, '--user=app', '--single-transaction', 'shop'], { env: { MYSQL_PWD: PASSWORD } });
    assert.match(dump.stdout, /INSERT INTO `t` VALUES\s*\(1\),\s*\(2\),\s*\(3\)/);
  });

  it('a connection the source ends (KILL) ends for the client too: its next query fails at once, it does not hang', async () => {
    const port = forward?.port ?? 0;
    const victim = await connectSql({ host: '127.0.0.1', port, user: 'app', password: PASSWORD });
    try {
      const [row] = await victim.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
      const killer = await connectSql({ host: '127.0.0.1', port, user: 'app', password: PASSWORD });
      try {
        await killer.execute(`KILL CONNECTION ${Number(row?.id)}`);
      } finally {
        await killer.close();
      }
      await new Promise((r) => setTimeout(r, 500));
      const started = Date.now();
      await assert.rejects(victim.query('SELECT 1'));
      assert.ok(Date.now() - started < 5_000, 'the client learnt of the end, not by a timeout');
    } finally {
      await victim.close().catch(() => undefined);
    }
  });

  it('a target the container cannot reach fails the client at once; close ends the port', async () => {
    const nowhere = await forwardThroughContainer(docker, beside, { host: 'no-such-host', port: 3306 });
    const started = Date.now();
    await assert.rejects(connectSql({ host: '127.0.0.1', port: nowhere.port, user: 'app', password: PASSWORD, connectTimeoutMs: 10_000 }));
    assert.ok(Date.now() - started < 9_000, 'refused, not timed out');
    await nowhere.close();
    await assert.rejects(connectSql({ host: '127.0.0.1', port: nowhere.port, user: 'app', password: PASSWORD }));
  });
});
