import { randomBytes } from 'node:crypto';
import { CommandFailedError, messageOf } from '../errors.js';
import { appendEvent, type EventDraft } from '../state/event-log.js';
import { currentOwner } from '../state/owner.js';
import type { Job, JobStep, State } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { describeStep, runStep } from './job-steps.js';

/**
 * An operation journaled in the store. The pattern of every command that makes or changes
 * something:
 *   1. `JobRun.begin`: in ONE short transaction, check the state, reserve what the job needs
 *      (a name, a port, an entity in status `creating`) and record the job with its first undo steps;
 *   2. the slow work, outside any lock; before each thing it makes, `willUndo` journals how to
 *      take it back, so a crash at any instant is covered (a job that knows its names up front
 *      journals every undo step in step 1: each is a no-op for what was not made yet);
 *   3. `commit`: in one transaction the entity becomes `ready`, the undo list is dropped and the
 *      job's events are appended to the root's event log (a crash keeps both or neither);
 *      steps that must still happen (an old volume to remove) are journaled as `finish` and run;
 *   4. on any error (Ctrl-C included) `abort` runs the undo list, last first.
 * If the process dies instead, the reconciler of the next command does 3 or 4 for it.
 */
export class JobRun {
  private constructor(
    readonly job: Job,
    private readonly deps: EngineDeps,
  ) {}

  /**
   * Reserves and journals; `reserve` throws to refuse (nothing is written then). A removal, which
   * nothing takes back once journaled, records its events here (`Reservation.events`).
   */
  static begin<R>(deps: EngineDeps, kind: Job['kind'], reserve: (state: State) => Reservation<R>): { job: JobRun; reserved: R } {
    return updateRecording(
      deps,
      (state) => {
        const { target, undo, reserved, finish = [], events = [] } = reserve(state);
        const created: Job = { id: randomBytes(6).toString('hex'), kind, target, owner: currentOwner(), started_at: deps.now().toISOString(), undo, finish };
        state.jobs.push(created);
        return { job: new JobRun(created, deps), reserved, events };
      },
      (begun) => begun.events,
    );
  }

  /** Journals how to undo what the job is about to make (call it BEFORE making it). */
  willUndo(...steps: JobStep[]): void {
    this.change((job) => job.undo.push(...steps));
  }

  /** Drops undo steps that are no longer needed (e.g. the applier was resumed). */
  dropUndo(match: (step: JobStep) => boolean): void {
    this.change((job) => {
      job.undo = job.undo.filter((step) => !match(step));
    });
  }

  /** Changes the state (and the job) in one transaction, while the job runs. */
  update<T>(fn: (state: State) => T): T {
    return this.deps.store.update(fn);
  }

  /**
   * Makes the job's result permanent: `fn` marks the entity ready (one transaction, which also
   * drops the undo list and journals `finish`, or keeps the finish steps journaled at the start),
   * then the finish steps run and the job ends. `events` are appended to the root's event log in
   * that same transaction. Returns the steps that failed (the next command's reconciler retries them).
   */
  async commit(fn: (state: State) => void, finish?: JobStep[], events: readonly EventDraft[] = []): Promise<string[]> {
    const steps = updateRecording(
      this.deps,
      (state) => {
        fn(state);
        const job = state.jobs.find((j) => j.id === this.job.id);
        if (!job) return finish ?? [];
        job.undo = [];
        if (finish !== undefined) job.finish = [...finish];
        // Nothing left to do: the job ends in the same transaction.
        if (job.finish.length === 0) state.jobs = state.jobs.filter((j) => j.id !== this.job.id);
        return [...job.finish];
      },
      () => events,
    );
    return steps.length === 0 ? [] : this.runAndEnd(steps, 'finish');
  }

  /** Takes back everything the job made, last first, and ends it. Never throws. */
  async abort(): Promise<void> {
    const undo = this.deps.store.read()?.jobs.find((j) => j.id === this.job.id)?.undo ?? [];
    await this.runAndEnd([...undo].reverse(), 'undo');
  }

  private async runAndEnd(steps: JobStep[], phase: 'undo' | 'finish'): Promise<string[]> {
    const failed = await runSteps(this.deps, steps, phase);
    // A step that failed keeps the job in the journal: the next command's reconciler retries it.
    if (failed.length === 0) endJob(this.deps, this.job.id);
    return failed;
  }

  private change(fn: (job: Job) => void): void {
    this.deps.store.update((state) => {
      const job = state.jobs.find((j) => j.id === this.job.id);
      if (job) fn(job);
    });
  }
}

/** Runs steps in order; returns the ones that failed (logged, never thrown). */
export async function runSteps(deps: EngineDeps, steps: readonly JobStep[], phase: 'undo' | 'finish'): Promise<string[]> {
  const failed: string[] = [];
  for (const step of steps) {
    try {
      await runStep(deps, step);
    } catch (error) {
      failed.push(describeStep(step));
      deps.logger.warn(`could not ${describeStep(step)} (${phase}); the next dolly command tries again`, { error: messageOf(error) });
    }
  }
  return failed;
}

/**
 * Runs `fn` on the state and appends the events it yields to the root's event log, in ONE store
 * transaction: when either fails, neither is written.
 */
export function updateRecording<T>(deps: EngineDeps, fn: (state: State) => T, events: (result: T) => readonly EventDraft[]): T {
  return deps.store.transact((db) => {
    // Nested in this transaction (a savepoint): the state is written only if the events are too.
    const result = deps.store.update(fn);
    const at = deps.now();
    for (const event of events(result)) appendEvent(db, event, at);
    return result;
  });
}

/** Removes a job from the journal. */
export function endJob(deps: EngineDeps, id: string): void {
  deps.store.update((state) => {
    state.jobs = state.jobs.filter((j) => j.id !== id);
  });
}

/** What a job's first transaction reserved: its target, its first undo steps, and a value for the work. */
export interface Reservation<R> {
  target: string;
  undo: JobStep[];
  /** A job that only removes things (destroy) journals its steps as `finish` from the start. */
  finish?: JobStep[];
  /** What a removal tells the event log, recorded with the journaling (see `withRemoval`). */
  events?: readonly EventDraft[];
  reserved: R;
}

/**
 * Runs `work` as a journaled job: reserve + journal, work (which calls `job.commit`), and the
 * undo on any error. Returns what `work` returns.
 */
export async function withJob<R, T>(deps: EngineDeps, kind: Job['kind'], reserve: (state: State) => Reservation<R>, work: (job: JobRun, reserved: R) => Promise<T>): Promise<T> {
  const { job, reserved } = JobRun.begin(deps, kind, reserve);
  try {
    return await work(job, reserved);
  } catch (error) {
    await job.abort();
    throw error;
  }
}

/**
 * A job that only removes things (destroy): `mark` checks the state, marks the entity `deleting`
 * and returns the steps, which are journaled as `finish` at once and run; a crash half-way is
 * finished by the next command's reconciler. The removal is decided when it is journaled: its
 * `events` are recorded in that transaction. Throws when a step failed (it is retried then).
 */
export async function withRemoval(deps: EngineDeps, kind: Job['kind'], what: string, mark: (state: State) => { target: string; finish: JobStep[]; events?: readonly EventDraft[] }): Promise<void> {
  const { job } = JobRun.begin(deps, kind, (state) => ({ ...mark(state), undo: [], reserved: null }));
  const failed = await job.commit(() => undefined);
  if (failed.length > 0) throw new CommandFailedError(`destroying ${what}`, null, `could not ${failed.join(', ')}`, { hint: 'the next dolly command tries again' });
}
