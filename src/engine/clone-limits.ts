import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import { OOM_SCORE_CLONE, OOM_SCORE_REPLICA } from '../runtime/oom-score.js';
import type { ServerLimits } from '../runtime/runtime.js';
import type { Settings } from '../state/state.js';
import { parseSize } from '../storage/btrfs-pool.js';

const MiB = 1024 * 1024;

/** `init --clone-cpus` default: one core at most per clone. */
export const DEFAULT_CLONE_CPUS = 1;
/** `init --clone-connections` default: the clone server's `max_connections`. */
export const DEFAULT_CLONE_CONNECTIONS = 50;
/** What a clone's memory limit adds to its buffer pool unless `init --clone-memory` says: 512M with the default 64M pool. */
export const DEFAULT_MEMORY_MARGIN = 448 * MiB;
/** The least room `init` accepts above the buffer pool: an idle server takes about 30M beyond it, then the tmpdir and sessions. */
export const MIN_MEMORY_MARGIN = 192 * MiB;
/**
 * CPU weights against the other containers when the cores are busy (Docker's default is 1024):
 * the replica's applier outweighs 16 busy clones.
 */
export const REPLICA_CPU_SHARES = 4096;
export const CLONE_CPU_SHARES = 256;
/** Caps of one statement's buffers and packets, whatever the memory limit. */
const MAX_BUFFER_BYTES = 16 * MiB;
const MAX_PACKET_BYTES = 64 * MiB;

/**
 * One clone's share of the host, from the root's settings. The memory limit holds the buffer pool
 * and the rest ("spare"): half of it is the `/tmp` tmpfs (on-disk temporary tables and sort files
 * land there and count as the container's memory), a quarter is what one session may use, an
 * eighth what one MEMORY or in-memory temporary table may hold.
 */
export interface CloneLimits {
  memoryBytes: number;
  /** CPU cores at most (0: no cap). */
  cpus: number;
  /** The server's `max_connections`. */
  connections: number;
  bufferPoolBytes: number;
  tmpdirBytes: number;
  sessionBytes: number;
  /** What every session together may use (MySQL's global connection memory limit): half the spare. */
  allSessionsBytes: number;
  tableBytes: number;
  /** Caps of sort, join, read and bulk-insert buffers. */
  bufferBytes: number;
}

/** The limits of every clone of a root; settings of a root made before they existed get the defaults. */
export function cloneLimits(settings: Pick<Settings, 'buffer_pool' | 'clone_memory_bytes' | 'clone_cpus' | 'clone_connections'>): CloneLimits {
  const bufferPoolBytes = bufferPoolSize(settings.buffer_pool);
  const memoryBytes = settings.clone_memory_bytes ?? bufferPoolBytes + DEFAULT_MEMORY_MARGIN;
  const spare = Math.max(memoryBytes - bufferPoolBytes, MIN_MEMORY_MARGIN);
  const sessionBytes = mib(spare / 4);
  return {
    memoryBytes,
    cpus: settings.clone_cpus ?? DEFAULT_CLONE_CPUS,
    connections: settings.clone_connections ?? DEFAULT_CLONE_CONNECTIONS,
    bufferPoolBytes,
    tmpdirBytes: mib(spare / 2),
    sessionBytes,
    allSessionsBytes: mib(spare / 2),
    tableBytes: mib(spare / 8),
    bufferBytes: Math.min(MAX_BUFFER_BYTES, mib(sessionBytes / 4)),
  };
}

/** A clone's container: its memory with no swap, its tmpfs inside it, a low CPU weight, a core cap, first in line for the OOM killer. */
export function cloneContainerLimits(limits: CloneLimits, hostCpus = availableParallelism()): ServerLimits {
  return {
    memoryBytes: limits.memoryBytes,
    tmpdirBytes: limits.tmpdirBytes,
    cpuShares: CLONE_CPU_SHARES,
    // Docker refuses a cap above the host's cores (a root moved to a smaller host still starts).
    ...(limits.cpus > 0 ? { cpus: Math.min(limits.cpus, hostCpus) } : {}),
    oomScoreAdj: OOM_SCORE_CLONE,
  };
}

/** The replica's container: no memory limit (its applier must not fail), a high CPU weight, last in line for the OOM killer. */
export function replicaContainerLimits(): ServerLimits {
  return { cpuShares: REPLICA_CPU_SHARES, oomScoreAdj: OOM_SCORE_REPLICA };
}

/**
 * A clone server's flags: its connections, and caps on what a session (or an admin, globally)
 * may raise with SET (`--maximum-VAR`: a larger value is cut to the cap). MariaDB bounds one
 * session's memory (`max_session_mem_used`); MySQL one connection's and all of them together
 * (`connection_memory_limit`, `global_connection_memory_limit`) and its TempTable engine's RAM
 * (`temptable_max_ram`, no memory-mapped overflow in the tmpdir: it goes to InnoDB on disk).
 * Options that not every supported version has are `--loose-` (a server skips them with a warning
 * instead of refusing to start).
 */
export function cloneServerArgs(flavor: 'mariadb' | 'mysql', limits: CloneLimits): string[] {
  const cap = (variable: string, bytes: number): string => `--maximum-${variable}=${bytes}`;
  const buffers = ['sort_buffer_size', 'join_buffer_size', 'read_buffer_size', 'read_rnd_buffer_size', 'bulk_insert_buffer_size', 'myisam_sort_buffer_size'];
  const common = [
    `--max-connections=${limits.connections}`,
    cap('max_heap_table_size', limits.tableBytes),
    cap('tmp_table_size', limits.tableBytes),
    ...buffers.map((variable) => cap(variable, limits.bufferBytes)),
    cap('max_allowed_packet', MAX_PACKET_BYTES),
  ];
  if (flavor === 'mariadb') {
    return [
      ...common,
      // Its default (256M / 128M) is above the cap: the global value comes down to it too.
      `--aria-sort-buffer-size=${limits.bufferBytes}`,
      cap('aria_sort_buffer_size', limits.bufferBytes),
      `--myisam-sort-buffer-size=${limits.bufferBytes}`,
      `--max-session-mem-used=${limits.sessionBytes}`,
      cap('max_session_mem_used', limits.sessionBytes),
      // MariaDB 11.5+: every session's temporary files together (a session may lift its own limit).
      `--loose-max-tmp-total-space-usage=${limits.tmpdirBytes}`,
    ];
  }
  return [
    ...common,
    `--loose-connection-memory-limit=${limits.sessionBytes}`,
    `--loose-maximum-connection_memory_limit=${limits.sessionBytes}`,
    '--loose-global-connection-memory-tracking=ON',
    `--loose-global-connection-memory-limit=${limits.allSessionsBytes}`,
    `--temptable-max-ram=${Math.max(2 * MiB, limits.sessionBytes)}`,
    '--loose-temptable-max-mmap=0',
  ];
}

/** `init --clone-memory`: a size at least the buffer pool plus MIN_MEMORY_MARGIN. */
export function parseCloneMemory(text: string, bufferPool: string): number {
  const bytes = parseSize(text);
  const least = bufferPoolSize(bufferPool) + MIN_MEMORY_MARGIN;
  if (bytes < least) {
    throw new InvalidArgumentError(`--clone-memory ${text} leaves too little beside the ${bufferPool} buffer pool`, { hint: `give at least ${least / MiB}M (the buffer pool plus ${MIN_MEMORY_MARGIN / MiB}M), or a smaller --buffer-pool` });
  }
  return bytes;
}

/** `init --clone-cpus`: cores as a decimal (`1`, `0.5`), 0 for no cap, at most the host's. */
export function parseCloneCpus(text: string, hostCpus = availableParallelism()): number {
  const cpus = /^\d+(\.\d{1,2})?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(cpus === 0 || (cpus >= 0.01 && cpus <= hostCpus))) {
    throw new InvalidArgumentError(`invalid --clone-cpus ${JSON.stringify(text)}`, { hint: `a number of cores from 0.01 to ${hostCpus} (this host's), or 0 for no cap` });
  }
  return cpus;
}

/** `init --clone-connections`: the clone server's max_connections (dolly itself needs one beside the user's). */
export function parseCloneConnections(text: string): number {
  const connections = /^\d{1,6}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(connections >= 2 && connections <= 100_000)) {
    throw new InvalidArgumentError(`invalid --clone-connections ${JSON.stringify(text)}`, { hint: 'a whole number from 2 to 100000' });
  }
  return connections;
}

/** The buffer pool setting (`64M`, or bytes without a unit) in bytes. */
function bufferPoolSize(text: string): number {
  return /^\d+$/.test(text) ? Number(text) : parseSize(text);
}

/** Rounded down to a whole MiB (servers round sizes to blocks anyway; the flags stay readable). */
function mib(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
}

/** The settings `dolly init` records from its `--clone-*` options (each given or its default), checked before anything is made. */
export function cloneLimitSettings(options: { cloneMemory?: string; cloneCpus?: string; cloneConnections?: string }, bufferPool: string): Required<Pick<Settings, 'clone_memory_bytes' | 'clone_cpus' | 'clone_connections'>> {
  return {
    clone_memory_bytes: options.cloneMemory === undefined ? bufferPoolSize(bufferPool) + DEFAULT_MEMORY_MARGIN : parseCloneMemory(options.cloneMemory, bufferPool),
    clone_cpus: options.cloneCpus === undefined ? DEFAULT_CLONE_CPUS : parseCloneCpus(options.cloneCpus),
    clone_connections: options.cloneConnections === undefined ? DEFAULT_CLONE_CONNECTIONS : parseCloneConnections(options.cloneConnections),
  };
}
