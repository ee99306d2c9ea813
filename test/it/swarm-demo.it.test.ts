import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { LABEL_ROOT } from '../../src/labels.js';
import { skipUnless } from '../support/capabilities.js';
import { dolly, leftovers } from '../support/engine-harness.js';

describe('dolly demo --swarm', { skip: skipUnless('root', 'docker', 'btrfs', 'image') }, () => {
  let root = '';
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("tells the seed's story on a 3-node sandbox and removes everything", async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-it-swarm-demo-'));
    const out = await dolly(['--root', root, 'demo', '--swarm', '--exit', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const summary = JSON.parse(out.stdout) as { placement: Record<string, string>; proof: { found_in_clone: boolean }; snapshot: { pause_ms: number }; clone: { host: string }; steps: { step: string }[] };
    assert.equal(summary.placement.source, 'node-1');
    assert.equal(summary.placement.replica, 'node-2');
    assert.notEqual(summary.placement.loadgen, 'node-2');
    assert.equal(summary.proof.found_in_clone, true);
    assert.equal(summary.clone.host, '127.0.0.1');
    assert.deepEqual(summary.steps.map((s) => s.step), ['pool', 'sandbox up', 'deploy', 'services running', 'first rows', 'replication', 'replica caught up', 'snapshot create', 'clone create']);
    const docker = createDockerClient();
    assert.deepEqual(await docker.listContainers({ all: true, filters: { label: [`${LABEL_ROOT}=${root}`] } }), []);
    assert.deepEqual((await docker.listVolumes({ filters: { label: [`${LABEL_ROOT}=${root}`] } })).Volumes ?? [], []);
    assert.deepEqual(await leftovers(root), []);
  });
});
