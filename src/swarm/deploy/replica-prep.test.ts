import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FailedPreconditionError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import { buildTopology } from '../topology.js';
import { sandboxTopologyConfig } from '../topology-config.js';
import { checkReplicaHome, prepareReplicaPaths, readReplicaAdmin, removeReplicaPaths } from './replica-prep.js';

const PASSWORD = { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' } as const;

describe('where the Swarm replica keeps its data, on a root without a pool (file system only)', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-replica-prep-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const topology = (pool: { dataDir?: string; runDir?: string } = {}) => {
    const config = sandboxTopologyConfig(root, PASSWORD);
    return buildTopology({ ...config, pool: { ...config.pool, ...pool } });
  };

  it('no pool and no pool.dataDir: refused with a hint to run dolly init, and nothing is made', async () => {
    assert.throws(() => checkReplicaHome(topology()), (error: unknown) => {
      assert.ok(error instanceof FailedPreconditionError);
      assert.match(error.message, /holds no dolly pool/);
      assert.match(error.hint ?? '', /dolly --root .* init/);
      return true;
    });
    await assert.rejects(prepareReplicaPaths(topology(), silentLogger), /holds no dolly pool/);
    assert.deepEqual(await readdir(root), []);
  });

  it('a pool.dataDir inside <root>/pool is refused: a later dolly init would find it', () => {
    assert.throws(() => checkReplicaHome(topology({ dataDir: join(root, 'pool', 'mine') })), /inside .*pool/);
  });

  it('a root that is not on this machine is remote: nothing to check here', () => {
    const config = sandboxTopologyConfig(join(root, 'elsewhere'), PASSWORD);
    assert.equal(checkReplicaHome(buildTopology(config)), 'remote');
  });

  it('an unmanaged datadir deploy made is removed by destroy, with the run dir and the account file', async () => {
    const dataDir = join(root, 'replica-data');
    const t = topology({ dataDir });
    assert.equal(checkReplicaHome(t), 'unmanaged');
    const admin = await prepareReplicaPaths(t, silentLogger);
    assert.ok(admin);
    assert.deepEqual(await readReplicaAdmin(t.pool), admin);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    await writeFile(join(dataDir, 'master.info'), 'the source password would be here\n');
    const again = await prepareReplicaPaths(t, silentLogger);
    assert.deepEqual(again, admin, 'a second deploy keeps the account and still knows what the first made');
    const result = await removeReplicaPaths(t, silentLogger);
    assert.deepEqual(result.kept, []);
    assert.ok(result.removed.includes(dataDir), JSON.stringify(result));
    assert.equal(existsSync(dataDir), false);
    assert.equal(existsSync(t.pool.runDir), false);
    assert.equal(await readReplicaAdmin(t.pool), null);
    assert.ok(existsSync(join(root, 'run')), 'the parent run directory is shared: it stays');
  });

  it('a datadir that was there before deploy is kept, and destroy says why', async () => {
    const dataDir = join(root, 'theirs');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'keep-me'), 'x');
    const t = topology({ dataDir });
    await prepareReplicaPaths(t, silentLogger);
    const result = await removeReplicaPaths(t, silentLogger);
    assert.ok(existsSync(join(dataDir, 'keep-me')));
    assert.equal(result.kept.length, 1);
    assert.match(result.kept[0] ?? '', /was there before deploy.*master\.info/);
  });
});
