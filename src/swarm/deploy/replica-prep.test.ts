import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FailedPreconditionError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import { buildTopology } from '../topology.js';
import { sandboxTopologyConfig } from '../topology-config.js';
import { checkReplicaHome, prepareReplicaPaths, removeReplicaPaths } from './replica-prep.js';

const PASSWORD = { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' } as const;

describe('where the Swarm replica keeps its data, on a root without a pool (file system only)', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-replica-prep-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const topology = () => buildTopology(sandboxTopologyConfig(root, PASSWORD));

  it('no pool and no pool.dataDir: refused with a hint to run dolly init, and nothing is made', async () => {
    assert.throws(() => checkReplicaHome(topology()), (error: unknown) => {
      assert.ok(error instanceof FailedPreconditionError);
      assert.match(error.message, /holds no dolly pool/);
      assert.match(error.hint ?? '', /dolly --root .* init/);
      return true;
    });
    await assert.rejects(prepareReplicaPaths(topology(), silentLogger), /holds no dolly pool/);
    assert.deepEqual(await readdir(root), []);
    assert.deepEqual(await removeReplicaPaths(topology(), silentLogger), { removed: [], kept: [] }, 'destroy on it removes nothing');
  });

  it('a root that is not on this machine is remote: nothing to check here', () => {
    const config = sandboxTopologyConfig(join(root, 'elsewhere'), PASSWORD);
    assert.equal(checkReplicaHome(buildTopology(config)), 'remote');
  });
});
