// One point-in-time clone on a fresh MariaDB/MySQL root, logging to stderr. Not part of the tests.
import { createDockerClient } from '../src/docker/client.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { createEngineDeps } from '../src/engine/context.js';
import { createCloneAt } from '../src/engine/clone-at.js';
import { setPitr } from '../src/engine/pitr-manage.js';
import { initPool } from '../src/engine/pool-init.js';
import { initReplica } from '../src/engine/replica-init.js';
import { createSnapshot } from '../src/engine/snapshot-create.js';
import { teardown } from '../src/engine/lifecycle.js';
import { connectSql } from '../src/mysql/sql-client.js';
import { createLogger } from '../src/log.js';
import { mkdtemp, rm } from 'node:fs/promises';

const flavor = (process.argv[2] ?? 'mariadb') as 'mariadb' | 'mysql';
const image = flavor === 'mysql' ? 'dolly/mysql:9.7' : 'dolly/mariadb:10.11';
const root = await mkdtemp('/tmp/dolly-dev-pitr-');
const deps = await createEngineDeps(root, createLogger('debug'));
const prod = await startProductionServer({ docker: createDockerClient(), root, image, rootPassword: 'pw-Secret1', name: 'dev-src', flavor });
try {
  const src = await connectSql({ host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' });
  await src.execute('CREATE DATABASE l');
  await src.execute('CREATE TABLE l.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  await initPool({ driver: 'btrfs', size: '2G', ports: '8060-8069', image }, deps);
  await initReplica({ source: { host: '127.0.0.1', port: prod.port, user: 'root', password: 'pw-Secret1' } }, deps);
  await setPitr(deps, 3600);
  for (let i = 0; i < 200; i++) await src.execute('INSERT INTO l.t (v) VALUES (?)', [i]);
  await createSnapshot(deps);
  for (let i = 0; i < 2000; i++) await src.execute('INSERT INTO l.t (v) VALUES (?)', [i]);
  await new Promise((r) => setTimeout(r, 2500));
  const v = await createCloneAt({ at: '-1s', name: 'one' }, deps);
  console.log(v.point, v.ready_ms);
  const c = await connectSql({ host: v.host, port: v.port, user: v.user, password: v.password });
  console.log(await c.query('SELECT COUNT(*) n FROM l.t'));
  await c.close();
  await src.close();
} finally {
  await teardown({ purge: true }, deps).catch((e) => console.error(e));
  await prod.stop();
  await rm(root, { recursive: true, force: true });
}
