// Smoke: pitr on a MariaDB replica; prints the binlog state. Not part of the tests.
import { createDockerClient } from '../src/docker/client.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { setPitr } from '../src/engine/pitr-manage.js';
import { initPool } from '../src/engine/pool-init.js';
import { initReplica } from '../src/engine/replica-init.js';
import { createSnapshot } from '../src/engine/snapshot-create.js';
import { connectSql } from '../src/mysql/sql-client.js';
import { replicaConnectOptions } from '../src/engine/servers.js';
import { createTestRoot } from '../test/support/engine-harness.js';

const flavor = (process.argv[2] ?? 'mariadb') as 'mariadb' | 'mysql';
const image = flavor === 'mysql' ? 'dolly/mysql:9.7' : 'dolly/mariadb:10.11';
const root = await createTestRoot('dolly-smoke-pitr-');
const prod = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: 'pw-Secret1', name: 'smoke-src', flavor });
try {
  const src = await connectSql({ host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' });
  await src.execute('CREATE DATABASE l');
  await src.execute('CREATE TABLE l.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  await initPool({ driver: 'btrfs', size: '2G', ports: '8050-8059', image }, root.deps);
  await initReplica({ source: { host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' } }, root.deps);
  console.log(await setPitr(root.deps, 3600));
  for (let i = 0; i < 100; i++) await src.execute('INSERT INTO l.t (v) VALUES (?)', [i]);
  const s = await createSnapshot(root.deps);
  console.log('snapshot', s.id, s.gtid, s.binlog, s.data_state_at);
  const r = await connectSql(replicaConnectOptions(root.root, root.deps.store.require().replica!));
  console.log(await r.query(flavor === 'mysql' ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS'));
  console.log(await r.query('SHOW BINARY LOGS'));
  await r.close();
  await src.close();
} finally {
  if (!process.env.KEEP) { await root.dispose(); await prod.stop(); } else console.log('root', root.root);
}
