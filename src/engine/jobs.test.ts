import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createDockerClient } from '../docker/client.js';
import { silentLogger } from '../log.js';
import { DockerRuntime } from '../runtime/docker-runtime.js';
import { createShell } from '../shell.js';
import { storeEventLog, type DollyEvent } from '../state/event-log.js';
import { StateStore } from '../state/store.js';
import { snapshotFixture, stateFixture } from '../../test/support/state-fixtures.js';
import type { EngineDeps } from './context.js';
import { JobRun, withRemoval } from './jobs.js';

/**
 * A job's events are appended in its commit's store transaction: the state change and its event
 * are written together or not at all. Each check reads the root back through a second store (a
 * fresh connection to the file, as the next process would), not the one that wrote it.
 */

const AT = new Date('2026-12-06T12:00:00Z');

/** Engine deps on a new root holding snapshot `s1` (ready); nothing here reaches Docker. */
function withDeps(fn: (deps: EngineDeps) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'dolly-jobs-'));
    const store = new StateStore(root);
    store.create(stateFixture([snapshotFixture('s1')], { root }));
    const docker = createDockerClient();
    try {
      await fn({ root, store, docker, runtime: new DockerRuntime(docker, root), shell: createShell(), logger: silentLogger, now: () => AT, driver: () => assert.fail('no storage is used') });
    } finally {
      store.close();
      rmSync(root, { recursive: true, force: true });
    }
  };
}

/** The root as another process sees it: the snapshots' statuses, the jobs' kinds and the events. */
function seen(root: string): { snapshots: Record<string, string>; jobs: string[]; events: DollyEvent[] } {
  const store = new StateStore(root);
  try {
    const state = store.require();
    return { snapshots: Object.fromEntries(state.snapshots.map((s) => [s.id, s.status])), jobs: state.jobs.map((j) => j.kind), events: storeEventLog(store).after(0, 100) };
  } finally {
    store.close();
  }
}

/** Begins a snapshot-create job that reserved snapshot `s2` (status creating). */
function beginSnapshot(deps: EngineDeps): JobRun {
  return JobRun.begin(deps, 'snapshot-create', (state) => {
    state.snapshots.push(snapshotFixture('s2', { status: 'creating' }));
    return { target: 's2', undo: [{ do: 'forget-snapshot', id: 's2' }], reserved: null };
  }).job;
}

const ready = (id: string) => (state: { snapshots: { id: string; status: string }[] }) => {
  for (const s of state.snapshots) if (s.id === id) s.status = 'ready';
};

describe('a job and its events', () => {
  it('a committed job has its event, written with the state change it tells of', withDeps(async (deps) => {
    const job = beginSnapshot(deps);
    assert.deepEqual(seen(deps.root).events, [], 'nothing is told before the commit');
    const failed = await job.commit(ready('s2'), undefined, [{ type: 'snapshot.created', data: { id: 's2', by: 'alice' }, owner: 'alice' }]);
    assert.deepEqual(failed, []);
    const after = seen(deps.root);
    assert.deepEqual(after.snapshots, { s1: 'ready', s2: 'ready' });
    assert.deepEqual(after.jobs, [], 'the job ended in the commit');
    assert.equal(after.events.length, 1);
    assert.deepEqual({ type: after.events[0]?.type, data: after.events[0]?.data, owner: after.events[0]?.owner, at: after.events[0]?.at }, { type: 'snapshot.created', data: { id: 's2', by: 'alice' }, owner: 'alice', at: AT.toISOString() });
  }));

  it('an event that cannot be written fails the commit: the state is as before it, and nothing is told', withDeps(async (deps) => {
    const job = beginSnapshot(deps);
    // The state change is written first (a savepoint); the event's append then throws inside the same transaction.
    await assert.rejects(job.commit(ready('s2'), undefined, [{ type: 'snapshot.created', data: { id: 's2', size: 1n } }]), /BigInt/);
    const after = seen(deps.root);
    assert.deepEqual(after.snapshots, { s1: 'ready', s2: 'creating' }, 'the snapshot was not made ready');
    assert.deepEqual(after.jobs, ['snapshot-create'], 'the job and its undo list are still journaled');
    assert.deepEqual(after.events, []);
    await job.abort();
    assert.deepEqual(seen(deps.root), { snapshots: { s1: 'ready' }, jobs: [], events: [] }, 'the undo took the reservation back');
  }));

  it('a commit whose state change fails tells nothing', withDeps(async (deps) => {
    const job = beginSnapshot(deps);
    const broken = (state: { snapshots: { id: string; status: string }[] }): void => {
      ready('s2')(state);
      throw new Error('refused half-way');
    };
    await assert.rejects(job.commit(broken, undefined, [{ type: 'snapshot.created', data: { id: 's2' } }]), /refused half-way/);
    assert.deepEqual(seen(deps.root), { snapshots: { s1: 'ready', s2: 'creating' }, jobs: ['snapshot-create'], events: [] });
    await job.abort();
  }));

  it('a removal records its event when it is journaled (nothing takes it back then), and only then', withDeps(async (deps) => {
    const mark = (event: Record<string, unknown>) => (state: { snapshots: { id: string; status: string }[] }) => {
      for (const s of state.snapshots) if (s.id === 's1') s.status = 'deleting';
      return { target: 's1', finish: [{ do: 'forget-snapshot' as const, id: 's1' }], events: [{ type: 'snapshot.destroyed' as const, data: event }] };
    };
    await assert.rejects(withRemoval(deps, 'snapshot-destroy', 'snapshot s1', mark({ id: 's1', size: 1n })), /BigInt/);
    assert.deepEqual(seen(deps.root), { snapshots: { s1: 'ready' }, jobs: [], events: [] }, 'not journaled, not marked, not told');
    await withRemoval(deps, 'snapshot-destroy', 'snapshot s1', mark({ id: 's1', by: 'local' }));
    const after = seen(deps.root);
    assert.deepEqual({ snapshots: after.snapshots, jobs: after.jobs }, { snapshots: {}, jobs: [] });
    assert.deepEqual(after.events.map((e) => [e.type, e.data]), [['snapshot.destroyed', { id: 's1', by: 'local' }]]);
  }));
});
