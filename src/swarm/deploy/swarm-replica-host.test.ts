import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDockerClient } from '../../docker/client.js';
import { FailedPreconditionError } from '../../errors.js';
import { swarmReplicaHost } from './swarm-replica-host.js';

describe('the Swarm replica host', () => {
  // An engine that is never asked: the refusal comes before any Docker call.
  const host = swarmReplicaHost({ service: 'replica', poolNode: 'node-2', serverId: 58, image: 'dolly/mariadb:10.11' }, { docker: createDockerClient(), engines: () => undefined });

  it('refuses --source-tls verify-identity through its forward (dolly would see 127.0.0.1, not the certificate name)', async () => {
    const source = { host: 'source', port: 3306, user: 'root', password: 'pw', tls: { mode: 'verify-identity' as const, ca: 'PEM' } };
    await assert.rejects(host.sourceForDolly(source), (error: unknown) => error instanceof FailedPreconditionError && /verify-identity/.test(error.message) && /verify-ca/.test(error.hint ?? ''));
  });

  it("gives the engine the service's server id and image, and the replica the source as given", () => {
    assert.equal(host.serverId, 58);
    assert.equal(host.image, 'dolly/mariadb:10.11');
    const source = { host: 'source', port: 3306, user: 'root', password: 'pw' };
    assert.deepEqual(host.sourceForReplica(source), source);
  });
});
