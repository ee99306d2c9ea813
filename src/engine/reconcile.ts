import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../errors.js';
import { currentOwner, ownerAlive } from '../state/owner.js';
import type { Job, JobStep, State } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { describeStep } from './job-steps.js';
import { endJob, runSteps } from './jobs.js';
import { prepareServerName } from './prepare.js';
import { REPLICA, REPLICA_VOLUME, cloneServerName } from './servers.js';
import { PITR_VOLUME } from './pitr-binlog.js';
import { listBasePoints } from './base-point-store.js';

/** What the reconciler did. */
export interface ReconcileReport {
  /** Jobs of dead commands, undone (`clone-create alice: remove server clone-alice, ...`). */
  undone: string[];
  /** Jobs of dead commands that had committed, finished forward. */
  finished: string[];
  /** Things no entity or job accounts for, removed (`sweep` only). */
  removed: string[];
  /** Steps that failed; their jobs stay in the journal for the next command. */
  failed: string[];
}

/**
 * Converges what runs with what the store says. Always: every job whose process died is taken
 * over (in one transaction, so two reconcilers never do the same job) and undone, or finished if
 * it had committed. With `sweep` (`dolly up`): servers, volumes and run dirs that no
 * entity and no live job accounts for are removed: servers first, a volume only when no
 * container uses it. Runs at the start of every command that changes something; cheap when the
 * journal is empty.
 */
export async function reconcile(deps: EngineDeps, options: { sweep?: boolean } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { undone: [], finished: [], removed: [], failed: [] };
  const state = deps.store.read();
  if (state === null) return report;
  if (state.jobs.some((job) => !ownerAlive(job.owner))) {
    for (const job of claimDeadJobs(deps)) {
      const committed = job.undo.length === 0;
      const steps = committed ? job.finish : [...job.undo].reverse();
      const failed = await runSteps(deps, steps, committed ? 'finish' : 'undo');
      const line = `${job.kind} ${job.target}: ${steps.map(describeStep).join(', ') || 'nothing to do'}`;
      if (failed.length > 0) report.failed.push(...failed);
      else endJob(deps, job.id);
      (committed ? report.finished : report.undone).push(line);
      deps.logger.warn(`a dolly command died half-way; ${committed ? 'finished' : 'undid'} its work`, { job: line });
    }
  }
  if (options.sweep) report.removed.push(...(await sweep(deps)));
  return report;
}

/** Takes over every job whose owner is dead; returns them as they were journaled. */
function claimDeadJobs(deps: EngineDeps): Job[] {
  const me = currentOwner();
  return deps.store.update((state) => {
    const dead = state.jobs.filter((job) => !ownerAlive(job.owner));
    for (const job of dead) job.owner = me;
    return dead.map((job) => structuredClone(job));
  });
}

/** Steps that live jobs (other commands running now) may still need: never swept. */
function liveSteps(state: State): JobStep[] {
  return state.jobs.filter((job) => ownerAlive(job.owner)).flatMap((job) => [...job.undo, ...job.finish]);
}

const SWEPT_KINDS: ReadonlySet<string> = new Set(['replica', 'clone', 'prepare']);

/** Removes servers, volumes and run dirs nothing accounts for; entities left half-made without a job. */
async function sweep(deps: EngineDeps): Promise<string[]> {
  const removed: string[] = [];
  const state = deps.store.require();
  const live = liveSteps(state);
  // A live job's entities: its target, and what its steps would forget (a point-in-time clone's snapshots).
  const busy = [...state.jobs.filter((job) => ownerAlive(job.owner)).map((job) => job.target), ...live.flatMap((s) => (s.do === 'forget-snapshot' ? [s.id] : s.do === 'forget-clone' ? [s.name] : []))];
  // Entities that are not ready and have no live job: their job is gone (e.g. an older dolly).
  for (const clone of state.clones.filter((c) => c.status !== 'ready' && !busy.includes(c.name))) {
    await runSteps(deps, [{ do: 'remove-server', name: cloneServerName(clone.name) }, { do: 'remove-run-dir', server: cloneServerName(clone.name) }, { do: 'remove-volume', id: clone.volume }, { do: 'forget-clone', name: clone.name }], 'undo');
    removed.push(`clone ${clone.name} (${clone.status})`);
  }
  for (const snapshot of state.snapshots.filter((s) => s.status !== 'ready' && !busy.includes(s.id))) {
    await runSteps(deps, [{ do: 'remove-server', name: prepareServerName(snapshot.volume) }, { do: 'remove-volume', id: snapshot.volume }, { do: 'forget-snapshot', id: snapshot.id }], 'undo');
    removed.push(`snapshot ${snapshot.id} (${snapshot.status})`);
  }
  const now = deps.store.require();
  const wantedServers = new Set([...(now.replica && !now.swarm ? [REPLICA] : []), ...now.clones.map((c) => cloneServerName(c.name))]);
  const liveServers = new Set(live.flatMap((s) => (s.do === 'remove-server' ? [s.name] : [])));
  for (const server of await deps.runtime.list()) {
    // Only servers of the pipeline; other containers labelled with this root (a demo's source) are not ours to judge.
    if (!SWEPT_KINDS.has(server.kind)) continue;
    if (wantedServers.has(server.name) || liveServers.has(server.name)) continue;
    if (now.pool.driver === 'commit' && server.kind !== 'prepare' && server.kind !== 'clone') continue; // the commit driver's data lives in containers
    await deps.runtime.remove(server.name);
    removed.push(`server ${server.name}`);
  }
  const wantedVolumes = new Set([...(now.replica || now.swarm ? [REPLICA_VOLUME] : []), ...(now.replica?.pitr ? [PITR_VOLUME] : []), ...listBasePoints(deps.store).map((p) => p.volume), ...now.snapshots.map((s) => s.volume), ...now.clones.map((c) => c.volume)]);
  const liveVolumes = new Set(live.flatMap((s) => (s.do === 'remove-volume' ? [s.id] : [])));
  const used = new Set((await deps.runtime.list()).map((s) => s.volume));
  const driver = deps.driver(now);
  for (const volume of await driver.list()) {
    if (wantedVolumes.has(volume) || liveVolumes.has(volume) || used.has(volume)) continue;
    try {
      await driver.remove(volume);
      removed.push(`volume ${volume}`);
    } catch (error) {
      deps.logger.warn('could not remove a leftover volume', { volume, error: messageOf(error) });
    }
  }
  const wantedDirs = new Set([...wantedServers, ...(now.replica || now.swarm ? [REPLICA] : []), ...liveServers, ...live.flatMap((s) => (s.do === 'remove-run-dir' ? [s.server] : []))]);
  for (const dir of await readdir(join(deps.root, 'run')).catch(() => [] as string[])) {
    if (wantedDirs.has(dir) || !/^(replica|clone-|prepare-)/.test(dir)) continue;
    await runSteps(deps, [{ do: 'remove-run-dir', server: dir }], 'undo');
    removed.push(`run dir ${dir}`);
  }
  return removed;
}
