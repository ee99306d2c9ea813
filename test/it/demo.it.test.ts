import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { skipUnless } from '../support/capabilities.js';
import { dolly, leftovers } from '../support/engine-harness.js';

describe('dolly demo', { skip: skipUnless('root', 'btrfs', 'docker', 'image', 'mariadb-client') }, () => {
  it('runs the seed story, proves the fresh row is in the clone, and removes everything', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dolly-it-demo-'));
    try {
      const result = await dolly(['--root', root, '--json', 'demo', '--size', '16MB', '--exit']);
      assert.equal(result.code, 0, result.stderr);
      const summary = JSON.parse(result.stdout) as { steps: { step: string; seconds: number }[]; proof: { found_in_clone: boolean; row_id: number }; clone: { port: number } };
      assert.equal(summary.proof.found_in_clone, true);
      assert.ok(summary.proof.row_id > 0);
      assert.deepEqual(
        summary.steps.map((s) => s.step),
        ['image', 'production', 'sample data', 'load emulator', 'init', 'replica init', 'replica caught up', 'snapshot create', 'clone create'],
      );
      const containers = await createDockerClient().listContainers({ all: true, filters: { label: [`dolly.root=${root}`] } });
      assert.deepEqual(containers, []);
      assert.deepEqual(await leftovers(root), []);
      assert.equal(existsSync(root), false, 'the demo left its root (e.g. the CA in tls/)');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
