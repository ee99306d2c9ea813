import { FailedPreconditionError, InvalidArgumentError, messageOf } from '../errors.js';
import { formatBytes } from '../format.js';
import { flavorOps } from '../mysql/flavor.js';
import { replicaStatus } from '../mysql/replication.js';
import { connectSql } from '../mysql/sql-client.js';
import type { Replica, State } from '../state/state.js';
import type { PoolGrowRequest } from '../storage/btrfs-pool.js';
import type { EngineDeps } from './context.js';
import { replicaConnectOptions } from './servers.js';

const MiB = 1024 * 1024;
/** Never pause with less headroom than this, whatever the reserve (btrfs needs room for its metadata). */
const MIN_PAUSE_BYTES = 64 * MiB;
/**
 * How often the engine looks at the pool's free space (a statfs: cheap). A replica catching up
 * from its relay logs writes 100 MB/s and more (data, redo, doublewrite): the pause level must
 * hold what it writes between two looks.
 */
export const SPACE_CHECK_MS = 1_000;
/** How long the pause and resume wait for the replica's server. */
const SQL_TIMEOUT_MS = 3_000;
/**
 * How far ahead the watcher looks: it pauses when the free space, falling at the rate it fell
 * since its last look, would be under the pause level this much later. A fast writer is paused
 * early (btrfs frees overwritten extents only at its next commit, and takes metadata chunks at once).
 */
export const LOOKAHEAD_MS = 5_000;

/** Where dolly pauses the replica (free space below `pauseBelow`) and resumes it (free space at `resumeAt` or more). */
export interface SpaceLevels {
  pauseBelow: number;
  resumeAt: number;
}

/**
 * The levels for a pool's reserve (`init --reserve`, default a tenth of the pool, at least 256M)
 * and size: pause below half the reserve or a twentieth of the pool, whichever is more (at least
 * 64M: btrfs takes metadata space in chunks of up to 512M on large pools, and the replica writes
 * on between two looks); resume once the reserve, a tenth of the pool, or 64M above the pause
 * level is free, whichever is most (the hysteresis). So, as the replica grows: `pool.low` at twice
 * the reserve, no new clone below the reserve, replication paused below half of it.
 */
export function spaceLevels(reserveBytes: number, totalBytes: number): SpaceLevels {
  const pauseBelow = Math.max(Math.floor(reserveBytes / 2), Math.floor(totalBytes / 20), MIN_PAUSE_BYTES);
  return { pauseBelow, resumeAt: Math.max(reserveBytes, Math.floor(totalBytes / 10), pauseBelow + MIN_PAUSE_BYTES) };
}

/** A reading of the free space (ms since the epoch, bytes). */
export interface SpaceReading {
  at: number;
  freeBytes: number;
  totalBytes: number;
}

/**
 * The free space expected `LOOKAHEAD_MS` after `now` if it keeps falling as it fell since
 * `previous` (no previous reading, a rising one, or the pool resized between them: the free
 * space now).
 */
export function foreseenFree(now: SpaceReading, previous?: SpaceReading): number {
  if (previous === undefined || now.at <= previous.at || now.freeBytes >= previous.freeBytes || now.totalBytes !== previous.totalBytes) return now.freeBytes;
  const perMs = (previous.freeBytes - now.freeBytes) / (now.at - previous.at);
  return now.freeBytes - Math.round(perMs * LOOKAHEAD_MS);
}

/**
 * How long a pause the look-ahead took early (the resume level still free) holds before replication
 * is tried again: while it is paused nothing frees space by itself, so waiting for more would wait
 * for ever. If the replica still fills the pool that fast, the look-ahead pauses it again.
 */
export const EARLY_PAUSE_RETRY_MS = 30_000;

/**
 * What the free space asks for: `pause` (running, and too little now, or foreseen once under
 * four times the pause level: btrfs's free space dips for a moment, a drop far above it is not
 * trusted), `resume` (paused with `pausedAtFree` bytes free, and now the resume level is free,
 * and the same gap above `pausedAtFree` or four times the pause level, whichever is less: a pause
 * the look-ahead made early is not undone at the next look; or the resume level is free and the
 * pause has lasted EARLY_PAUSE_RETRY_MS), else `hold`.
 */
export function judgeSpace(freeBytes: number, levels: SpaceLevels, pausedAtFree: number | undefined, foreseenBytes = freeBytes, pausedForMs = 0): 'pause' | 'resume' | 'hold' {
  if (pausedAtFree === undefined) {
    const watched = freeBytes < 4 * levels.pauseBelow ? Math.min(freeBytes, foreseenBytes) : freeBytes;
    return watched < levels.pauseBelow ? 'pause' : 'hold';
  }
  if (freeBytes < levels.resumeAt) return 'hold';
  const above = Math.min(pausedAtFree + levels.resumeAt - levels.pauseBelow, 4 * levels.pauseBelow);
  return freeBytes >= above || pausedForMs >= EARLY_PAUSE_RETRY_MS ? 'resume' : 'hold';
}

/** The one line `replica status` and `status` show while dolly holds replication for space; null when it does not. */
export function poolFullNote(replica: Pick<Replica, 'space_pause'> | undefined, space: { freeBytes: number; totalBytes: number }): string | null {
  if (replica?.space_pause === undefined) return null;
  return `pool full: ${formatBytes(space.freeBytes)} free of ${formatBytes(space.totalBytes)}, replication paused by dolly since ${replica.space_pause.at} (hint: \`dolly pool grow --size N\` or \`--add-device DEV\`; it resumes by itself)`;
}

/** The same line from the state, reading the pool's space (a statfs); null when replication is not paused for space. */
export async function readPoolFull(deps: EngineDeps, state: State): Promise<string | null> {
  if (state.replica?.space_pause === undefined) return null;
  return poolFullNote(state.replica, await deps.driver(state).space());
}

/**
 * What `replica status` shows while dolly holds replication for space: the pool-full line as its
 * `last_error` (an error of the replica's own follows it) and `io_state`. Empty otherwise; never throws.
 */
export async function poolFullView(deps: EngineDeps, state: State, status: { last_error: string | null }): Promise<{ last_error?: string; io_state?: string }> {
  const note = await readPoolFull(deps, state).catch(() => null);
  if (note === null) return {};
  return { last_error: status.last_error === null ? note : `${note}; ${status.last_error}`, io_state: 'paused by dolly: pool full' };
}

/** What one check did. */
export interface SpaceCheck {
  /** When it read the free space (ms since the epoch). */
  at: number;
  action: 'paused' | 'resumed' | 'none';
  freeBytes: number;
  totalBytes: number;
  paused: boolean;
}

/**
 * One look at the pool: below the pause level it stops the replica's replication threads (STOP
 * SLAVE/REPLICA: the server keeps running, so clones and `replica status` keep working) and
 * records the pause in the state; while paused it keeps them stopped (a snapshot or `dolly up`
 * may have started them); at the resume level it starts them and clears the record. A stop an
 * operator made (no record) is never undone. Swarm replicas and replicas being made are left alone.
 */
export async function checkPoolSpace(deps: EngineDeps, previous?: SpaceReading): Promise<SpaceCheck> {
  const state = deps.store.require();
  const { freeBytes, totalBytes } = await deps.driver(state).space();
  const at = Date.now();
  const foreseen = foreseenFree({ at, freeBytes, totalBytes }, previous);
  const replica = state.replica;
  const paused = replica?.space_pause !== undefined;
  const none: SpaceCheck = { action: 'none', at, freeBytes, totalBytes, paused };
  if (replica?.status !== 'ready' || state.swarm) return none;
  const pausedForMs = replica.space_pause ? deps.now().getTime() - Date.parse(replica.space_pause.at) : 0;
  const verdict = judgeSpace(freeBytes, spaceLevels(state.settings.reserve_bytes ?? 0, totalBytes), replica.space_pause?.free_bytes, foreseen, pausedForMs);
  if (verdict === 'hold' && !paused) return none; // the common case: no connection to the replica
  const ops = flavorOps(replica.source.flavor);
  const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: SQL_TIMEOUT_MS, queryTimeoutMs: SQL_TIMEOUT_MS });
  try {
    if (verdict === 'pause') {
      await client.execute(ops.stopReplicationSql);
      deps.store.update((s) => {
        if (s.replica) s.replica.space_pause = { at: deps.now().toISOString(), free_bytes: freeBytes, total_bytes: totalBytes };
      });
      const soon = foreseen < freeBytes ? ` (${formatBytes(Math.max(0, foreseen))} in ${LOOKAHEAD_MS / 1000} s at this rate)` : '';
      deps.logger.warn(`the pool has ${formatBytes(freeBytes)} free of ${formatBytes(totalBytes)}${soon}: replication paused until it is grown (\`dolly pool grow\`)`);
      return { ...none, action: 'paused', paused: true };
    }
    if (verdict === 'resume') {
      await client.execute(ops.startReplicationSql);
      deps.store.update((s) => {
        if (s.replica) delete s.replica.space_pause;
      });
      deps.logger.info(`the pool has ${formatBytes(freeBytes)} free again: replication resumed`);
      return { ...none, action: 'resumed', paused: false };
    }
    if (paused) {
      const status = await replicaStatus(client, replica.source.flavor);
      if (status.io_running || status.sql_running) await client.execute(ops.stopReplicationSql);
    }
    return none;
  } finally {
    await client.close();
  }
}

/**
 * Runs `checkPoolSpace` now and every `intervalMs` (after `before`, e.g. the `pool.low` watch),
 * each with the previous reading (the look-ahead), until stopped; never keeps the process alive.
 */
export function watchPoolSpace(deps: EngineDeps, options: { intervalMs?: number; before?: () => Promise<void> } = {}): { stop(): void } {
  let busy = false;
  let previous: SpaceReading | undefined;
  const look = (): void => {
    if (busy) return;
    busy = true;
    void (async () => {
      await options.before?.().catch(() => undefined);
      const check = await checkPoolSpace(deps, previous);
      previous = { at: check.at, freeBytes: check.freeBytes, totalBytes: check.totalBytes };
    })()
      .catch((error: unknown) => deps.logger.warn('pool space check failed', { error: messageOf(error) }))
      .finally(() => {
        busy = false;
      });
  };
  const timer = setInterval(look, options.intervalMs ?? SPACE_CHECK_MS);
  timer.unref();
  look();
  return { stop: () => clearInterval(timer) };
}

/** What `dolly pool grow` did. */
export interface PoolGrowResult {
  from_bytes: number;
  to_bytes: number;
  free_bytes: number;
  /** Replication was paused for space and runs again. */
  resumed: boolean;
}

/**
 * `dolly pool grow`: grows the btrfs pool while everything runs, records a device it added, and
 * resumes replication at once when it was paused for space and the space is back.
 */
export async function growPool(request: PoolGrowRequest, deps: EngineDeps): Promise<PoolGrowResult> {
  const state = deps.store.require();
  if (state.pool.driver !== 'btrfs') {
    throw new InvalidArgumentError(`\`pool grow\` grows a btrfs pool; this root uses the ${state.pool.driver} driver`, {
      hint: "free space on the file system that holds the root's volumes instead",
    });
  }
  const { growBtrfsPool } = await import('../storage/btrfs-pool.js');
  const { btrfsPoolConfigSchema } = await import('../storage/create-driver.js');
  const grown = await growBtrfsPool(btrfsPoolConfigSchema.parse(state.pool), request, { shell: deps.shell, logger: deps.logger });
  if (grown.config.added_devices !== undefined) {
    const added = grown.config.added_devices;
    deps.store.update((s) => {
      s.pool.added_devices = added;
    });
  }
  const check = await checkPoolSpace(deps).catch((error: unknown) => {
    throw new FailedPreconditionError(`the pool grew, but replication could not be resumed: ${messageOf(error)}`, { hint: 'the engine resumes it at its next check, or see `dolly replica status`' });
  });
  return { from_bytes: grown.from_bytes, to_bytes: grown.to_bytes, free_bytes: check.freeBytes, resumed: check.action === 'resumed' };
}
