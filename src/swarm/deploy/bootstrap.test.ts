import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedPreconditionError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import { buildTopology } from '../topology.js';
import { swarmBootstrap } from './bootstrap.js';
import type { SwarmDeps } from './swarm-deploy.js';

describe('swarmBootstrap', () => {
  it('refuses --method backup for a MySQL stack before it asks the Swarm anything, one line and a hint', async () => {
    const topology = buildTopology({ flavor: 'mysql', nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }], source: { node: 'node-1' }, pool: { node: 'node-2', root: '/nonexistent/dolly-root' } });
    const untouchable = new Proxy({}, { get: () => assert.fail('the Swarm was asked') });
    const deps = { docker: untouchable, engines: () => undefined, logger: silentLogger, env: {} } as unknown as SwarmDeps;
    await assert.rejects(swarmBootstrap(topology, deps, { method: 'backup' }), (error: unknown) => {
      assert.ok(error instanceof FailedPreconditionError);
      assert.equal(error.message, "--method backup restores mariadb-backup backups of MariaDB; the stack's source runs mysql");
      assert.match(error.hint ?? '', /--method dump/);
      return true;
    });
  });
});
