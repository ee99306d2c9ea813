import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FailedPreconditionError, InternalError } from '../errors.js';
import type { State } from './state.js';
import { StateStore } from './store.js';

const state = (root: string): State => ({
  version: 1,
  root,
  pool: { driver: 'copy', directory: join(root, 'pool') },
  settings: { image: 'dolly/mariadb:10.11', port_min: 6000, port_max: 6099, bind_address: '127.0.0.1', buffer_pool: '64M' },
  snapshots: [],
  clones: [],
});

describe('StateStore', () => {
  it('writes the state atomically with mode 0600 and reads it back', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dolly-state-'));
    try {
      const store = new StateStore(root);
      assert.equal(await store.read(), null);
      await assert.rejects(store.require(), FailedPreconditionError);
      await store.write(state(root));
      assert.equal((await stat(store.file)).mode & 0o777, 0o600);
      assert.deepEqual(await store.read(), state(root));
      await store.update((s) => {
        s.settings.buffer_pool = '128M';
      });
      assert.match(await readFile(store.file, 'utf8'), /128M/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  it('serialises transactions across callers', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dolly-state-'));
    try {
      const store = new StateStore(root);
      const order: string[] = [];
      const slow = store.transaction(async () => {
        order.push('a-start');
        await new Promise((r) => setTimeout(r, 300));
        order.push('a-end');
      });
      await new Promise((r) => setTimeout(r, 50));
      const fast = store.transaction(async () => {
        order.push('b');
      });
      await Promise.all([slow, fast]);
      assert.deepEqual(order, ['a-start', 'a-end', 'b']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  it('refuses a corrupt state file with a clear error', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dolly-state-'));
    try {
      await writeFile(join(root, 'state.json'), '{"version": 2}');
      await assert.rejects(new StateStore(root).read(), InternalError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
