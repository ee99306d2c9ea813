import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AlreadyExistsError, FailedPreconditionError, InternalError } from '../errors.js';
import { currentOwner, ownerAlive } from './owner.js';
import type { State } from './state.js';
import { LEGACY_STATE_FILE, StateStore } from './store.js';

const state = (root: string): State => ({
  version: 2,
  root,
  pool: { driver: 'copy', directory: join(root, 'pool') },
  settings: { image: 'dolly/mariadb:10.11', port_min: 6000, port_max: 6099, bind_address: '127.0.0.1', buffer_pool: '64M' },
  snapshots: [],
  clones: [],
  jobs: [],
});

const clone = (name: string, port: number): State['clones'][number] => ({
  name,
  status: 'ready',
  snapshot: 's1',
  volume: `clone-${name}`,
  port,
  user: 'dolly',
  password: 'pw',
  server_id: 7,
  created_at: '2026-12-01T00:00:00.000Z',
});

async function withRoot(fn: (root: string) => Promise<void> | void): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'dolly-state-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe('StateStore', () => {
  it('creates a root once (mode 0600), reads it back, and refuses a second create', () =>
    withRoot((root) => {
      const store = new StateStore(root);
      assert.equal(store.read(), null);
      assert.equal(existsSync(store.file), false, 'reading does not create the store');
      assert.throws(() => store.require(), FailedPreconditionError);
      store.create(state(root));
      assert.equal(statSync(store.file).mode & 0o777, 0o600);
      assert.deepEqual(new StateStore(root).read(), state(root));
      assert.throws(() => store.create(state(root)), AlreadyExistsError);
      store.close();
    }));

  it('update writes what fn changed, and nothing when fn throws', () =>
    withRoot((root) => {
      const store = new StateStore(root);
      store.create(state(root));
      store.update((s) => s.clones.push(clone('a', 6000), clone('b', 6001)));
      assert.deepEqual(new StateStore(root).require().clones.map((c) => c.name), ['a', 'b']);
      assert.throws(() =>
        store.update((s) => {
          s.clones = [];
          throw new Error('refused');
        }),
      );
      assert.equal(new StateStore(root).require().clones.length, 2);
      // Two clones can never hold one port, whatever the engine's own checks say.
      assert.throws(() => store.update((s) => s.clones.push(clone('c', 6000))));
      store.close();
    }));

  it('serialises writers across processes: 8 processes adding 25 clones each lose nothing', async () =>
    withRoot(async (root) => {
      new StateStore(root).create(state(root));
      const script = `
        import { StateStore } from ${JSON.stringify(join(process.cwd(), 'src/state/store.ts'))};
        const store = new StateStore(process.argv[1]);
        const me = Number(process.argv[2]);
        for (let i = 0; i < 25; i++) store.update((s) => { s.clones.push({ name: 'c' + me + '-' + i, status: 'ready', snapshot: 's', volume: 'v', port: 1 + me * 100 + i, user: 'u', password: 'p', server_id: 1, created_at: 'x' }); });
      `;
      const runs = Array.from({ length: 8 }, (_, me) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, root, String(me)], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        return new Promise<void>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(stderr)))));
      });
      await Promise.all(runs);
      assert.equal(new StateStore(root).require().clones.length, 200);
    }));

  it('a writer killed with SIGKILL inside a transaction leaves no lock and no half-written change', async () =>
    withRoot(async (root) => {
      new StateStore(root).create(state(root));
      const script = `
        import { StateStore } from ${JSON.stringify(join(process.cwd(), 'src/state/store.ts'))};
        const store = new StateStore(process.argv[1]);
        store.update((s) => { s.clones = []; process.stdout.write('in\\n'); const end = Date.now() + 60000; while (Date.now() < end) {} });
      `;
      new StateStore(root).update((s) => s.clones.push(clone('kept', 6000)));
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, root], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('close', resolve));
      const started = Date.now();
      const store = new StateStore(root);
      store.update((s) => s.clones.push(clone('after', 6001)));
      assert.ok(Date.now() - started < 2000, 'the lock died with its process');
      assert.deepEqual(store.require().clones.map((c) => c.name), ['kept', 'after']);
      store.close();
    }));

  it('imports a dolly 0.1 state.json once: every entity ready, no jobs, the file gone', () =>
    withRoot((root) => {
      const legacy = { ...state(root), version: 1, clones: [{ ...clone('old', 6000), status: undefined }] } as Record<string, unknown>;
      delete legacy.jobs;
      writeFileSync(join(root, LEGACY_STATE_FILE), JSON.stringify(legacy), { mode: 0o600 });
      const store = new StateStore(root);
      const read = store.require();
      assert.equal(read.version, 2);
      assert.deepEqual(read.clones.map((c) => [c.name, c.status]), [['old', 'ready']]);
      assert.deepEqual(read.jobs, []);
      assert.equal(existsSync(join(root, LEGACY_STATE_FILE)), false);
      store.close();
    }));

  it('refuses a legacy file that is not a dolly state with a clear error', () =>
    withRoot((root) => {
      writeFileSync(join(root, LEGACY_STATE_FILE), '{"version": 7}');
      assert.throws(() => new StateStore(root).read(), InternalError);
    }));
});

describe('job owners', () => {
  it('this process is alive; a pid that exists but started at another time is not', () => {
    const me = currentOwner();
    assert.equal(ownerAlive(me), true);
    assert.equal(ownerAlive({ pid: me.pid, start: '1' }), false);
    assert.equal(ownerAlive({ pid: 2 ** 22 + 17, start: me.start }), false);
  });
});
