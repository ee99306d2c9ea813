import { createClone } from '../src/engine/clone-create.js';
import { createEngineDeps } from '../src/engine/context.js';
import { silentLogger } from '../src/log.js';
import { StateStore } from '../src/state/store.js';
import type { State } from '../src/state/state.js';
import { destroyClone, timeCloneCreate, type CloneRun } from './dolly.js';
import { join } from 'node:path';
import { runOk, spread } from './util.js';

/** 16 `clone create` at once from one snapshot, against one alone and 16 one after another. */
export interface ConcurrencyFigure {
  clones: number;
  /** One create, timed in the same window (command start → SELECT 1). */
  one_ms: number;
  /** The same number one after another. */
  serial_ms: number;
  /** All at once: from the first command's start until the last clone answered. */
  parallel_ms: number;
  /** All at once inside one process (the engine as a library, as a long-running engine would): no Node start per create. */
  in_process_ms?: number;
  /** Each parallel create's own time, median and max. */
  parallel_each_median_ms: number;
  parallel_each_max_ms: number;
  failures: number;
}

export async function concurrentCreates(root: string, count: number, log: (line: string) => void): Promise<ConcurrencyFigure> {
  const one = await timeCloneCreate(root, 'conc-one');
  await destroyClone(root, 'conc-one');
  await settlePool(root);
  let started = performance.now();
  for (let i = 0; i < count; i += 1) await timeCloneCreate(root, `conc-s${i}`);
  const serial = performance.now() - started;
  for (let i = 0; i < count; i += 1) await destroyClone(root, `conc-s${i}`);
  await settlePool(root);
  started = performance.now();
  const runs = await Promise.allSettled(Array.from({ length: count }, (_, i) => timeCloneCreate(root, `conc-p${i}`)));
  const parallel = performance.now() - started;
  const ok = runs.flatMap((r) => (r.status === 'fulfilled' ? [r.value.run] : []));
  for (let i = 0; i < count; i += 1) await destroyClone(root, `conc-p${i}`).catch(() => undefined);
  const each = spread(ok.map((r) => r.total_ms));
  const deps = await createEngineDeps(root, silentLogger);
  await settlePool(root);
  started = performance.now();
  const inProcess = await Promise.allSettled(Array.from({ length: count }, (_, i) => createClone({ name: `conc-i${i}` }, deps)));
  const inProcessMs = performance.now() - started;
  for (let i = 0; i < count; i += 1) await destroyClone(root, `conc-i${i}`).catch(() => undefined);
  deps.store.close();
  const failures = count - ok.length + inProcess.filter((r) => r.status === 'rejected').length;
  log(`  ${count} at once ${Math.round(parallel)} ms (in one process ${Math.round(inProcessMs)} ms); one after another ${Math.round(serial)} ms; one ${Math.round(one.run.total_ms)} ms; ${failures} failed`);
  return { clones: count, one_ms: one.run.total_ms, serial_ms: serial, parallel_ms: parallel, in_process_ms: inProcessMs, parallel_each_median_ms: each.median, parallel_each_max_ms: each.max, failures };
}

/**
 * Waits until btrfs has cleaned up the subvolumes deleted so far (it does that in the background,
 * and with quotas on it is disk work that would slow the next run down).
 */
export async function settlePool(root: string): Promise<void> {
  await runOk('btrfs', ['subvolume', 'sync', join(root, 'pool')]);
}

/** Clone ready with each clone in its own network namespace (the default) and in the host's, interleaved. */
export interface IsolationFigure {
  isolated: CloneRun[];
  host: CloneRun[];
}

export async function isolationCost(root: string, runs: number, log: (line: string) => void): Promise<IsolationFigure> {
  return settingCost(root, runs, log, ['isolated', 'host'], (s, mode) => {
    s.settings.clone_network = mode;
  }, 'net');
}

/**
 * Clone ready under two values of one setting, interleaved (`runs` of each, the pool settled
 * before each); the first value is the default and is set again at the end.
 */
async function settingCost<M extends string>(root: string, runs: number, log: (line: string) => void, modes: readonly [M, M], set: (state: State, mode: M) => void, label: string): Promise<Record<M, CloneRun[]>> {
  const store = new StateStore(root);
  const figure = Object.fromEntries(modes.map((m) => [m, [] as CloneRun[]])) as Record<M, CloneRun[]>;
  try {
    for (let i = 0; i < runs; i += 1) {
      for (const mode of modes) {
        await settlePool(root);
        store.update((s) => set(s, mode));
        const name = `${label}-${mode}-${i}`;
        const { run } = await timeCloneCreate(root, name);
        await destroyClone(root, name);
        figure[mode].push(run);
        log(`  ${label} ${mode}: ready ${Math.round(run.total_ms)} ms`);
      }
    }
  } finally {
    store.update((s) => set(s, modes[0]));
    store.close();
  }
  return figure;
}

/** Clone ready with TLS (the default: a certificate issued per clone, the server's TLS set up) and without, interleaved. */
export interface TlsFigure {
  on: CloneRun[];
  off: CloneRun[];
}

export async function tlsCost(root: string, runs: number, log: (line: string) => void): Promise<TlsFigure> {
  return settingCost(root, runs, log, ['on', 'off'], (s, mode) => {
    s.settings.clone_tls = mode === 'on';
  }, 'tls');
}
