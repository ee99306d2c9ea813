// Compares a straddling transaction's stamps in the source's binlog and the replica's own. Not part of the tests.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createDockerClient } from '../src/docker/client.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { setPitr } from '../src/engine/pitr-manage.js';
import { initPool } from '../src/engine/pool-init.js';
import { initReplica } from '../src/engine/replica-init.js';
import { connectSql } from '../src/mysql/sql-client.js';
import { containerName } from '../src/runtime/docker-runtime.js';
import { createTestRoot } from '../test/support/engine-harness.js';
const run = promisify(execFile);
const flavor = (process.argv[2] ?? 'mariadb') as 'mariadb' | 'mysql';
const image = flavor === 'mysql' ? 'dolly/mysql:9.7' : 'dolly/mariadb:10.11';
const root = await createTestRoot('dolly-stamp-');
const prod = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: 'pw-Secret1', name: 'st-src', flavor });
try {
  const src = await connectSql({ host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' });
  await src.execute('CREATE DATABASE l');
  await src.execute('CREATE TABLE l.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  await initPool({ driver: 'btrfs', size: '2G', ports: '8070-8079', image }, root.deps);
  await initReplica({ source: { host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' } }, root.deps);
  await setPitr(root.deps, 3600);
  await src.execute('BEGIN');
  await src.execute('INSERT INTO l.t (v) VALUES (1)');
  await src.query('SELECT SLEEP(1.6)');
  await src.execute('INSERT INTO l.t (v) VALUES (2)');
  await src.query('SELECT SLEEP(1.6)');
  await src.execute('COMMIT');
  await src.execute('INSERT INTO l.t (v) VALUES (3)');
  await new Promise((r) => setTimeout(r, 3000));
  const tool = flavor === 'mysql' ? 'mysqlbinlog' : 'mariadb-binlog';
  const s = await run('docker', ['exec', containerName(root.root, 'st-src'), 'sh', '-c', `cd /var/lib/mysql && ${tool} --base64-output=decode-rows $(ls source-bin.[0-9]* | sort) | grep -E '^#[0-9]{6}' | grep -E "GTID|Xid|Query"`]);
  console.log('SOURCE\n' + s.stdout);
  const r = await run('docker', ['exec', containerName(root.root, 'replica'), 'sh', '-c', `cd /var/lib/mysql-binlog && ${tool} --base64-output=decode-rows $(ls r-*.[0-9]* | sort) | grep -E '^#[0-9]{6}' | grep -E "GTID|Xid|Query"`]);
  console.log('REPLICA\n' + r.stdout);
  await src.close();
} finally {
  await root.dispose(); await prod.stop();
}
