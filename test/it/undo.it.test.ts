import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { resetClone } from '../../src/engine/clone-manage.js';
import type { EngineDeps } from '../../src/engine/context.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { CommandFailedError } from '../../src/errors.js';
import type { ServerRuntime, ServerSpec } from '../../src/runtime/runtime.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, mariadbQuery, type TestRoot } from '../support/engine-harness.js';

const PASSWORD = 'undo-Secret-1';

/** The real runtime, except that starting a server for which `failOn` says true fails. */
function failingRuntime(real: ServerRuntime, failOn: (name: string) => boolean): ServerRuntime {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'start') {
        return async (spec: ServerSpec) => {
          if (failOn(spec.name)) throw new CommandFailedError(`docker start ${spec.name}`, null, 'injected failure');
          return target.start(spec);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('failures half-way undo what they made', { skip: skipUnless('root', 'btrfs', 'docker', 'image', 'mariadb-client') }, () => {
  let root: TestRoot;
  let production: ProductionServer;
  const broken = (failOn: (name: string) => boolean): EngineDeps => ({ ...root.deps, runtime: failingRuntime(root.deps.runtime, failOn) });
  const volumes = async (): Promise<string[]> => {
    const state = await root.deps.store.require();
    return (await root.deps.driver(state).list()).sort();
  };

  before(async () => {
    root = await createTestRoot('dolly-it-undo-');
    production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: PASSWORD, name: 'it-undo-production' });
    const sql = await production.sql();
    await sql.execute('CREATE DATABASE app');
    await sql.execute("CREATE TABLE app.t (id INT PRIMARY KEY) ENGINE=InnoDB");
    await sql.execute('INSERT INTO app.t VALUES (1)');
    await sql.close();
    await initPool({ size: '1G', ports: '6160-6169' }, root.deps);
  });

  after(async () => {
    await root?.dispose();
    await production?.stop();
  });

  it('replica init whose server fails to start leaves no volume, run dir or replica', async () => {
    await assert.rejects(initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, broken((name) => name === 'replica')), /injected failure/);
    assert.deepEqual(await volumes(), []);
    assert.equal(existsSync(join(root.root, 'run', 'replica')), false);
    assert.equal((await root.deps.store.require()).replica, undefined);
    await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
  });

  it('snapshot create whose prepare fails removes the snapshot volume and resumes the replica', async () => {
    await assert.rejects(createSnapshot(broken((name) => name.startsWith('prepare-'))), /injected failure/);
    assert.deepEqual(await volumes(), ['replica']);
    assert.deepEqual((await root.deps.store.require()).snapshots, []);
    const status = await getReplicaStatus(root.deps);
    assert.equal(status.sql_running, true, 'the applier runs again');
    assert.equal(status.io_running, true);
  });

  it('clone create whose server fails removes its volume and run dir and records nothing', async () => {
    await createSnapshot(root.deps);
    const before = await volumes();
    await assert.rejects(createClone({ name: 'doomed' }, broken((name) => name === 'clone-doomed')), /injected failure/);
    assert.deepEqual(await volumes(), before);
    assert.equal(existsSync(join(root.root, 'run', 'clone-doomed')), false);
    assert.deepEqual((await root.deps.store.require()).clones, []);
  });

  it('clone reset whose new server fails brings the old clone back, data and all', async () => {
    const clone = await createClone({ name: 'keeper' }, root.deps);
    await mariadbQuery(clone, 'INSERT INTO app.t VALUES (42)');
    const before = await volumes();
    let calls = 0;
    await assert.rejects(resetClone('keeper', {}, broken((name) => name === 'clone-keeper' && calls++ === 0)), /injected failure/);
    assert.deepEqual(await volumes(), before);
    assert.equal(await mariadbQuery(clone, 'SELECT COUNT(*) FROM app.t WHERE id = 42'), '1');
  });
});
