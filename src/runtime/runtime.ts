import type { ObjectKind } from '../labels.js';
import type { DataMount } from '../storage/driver.js';

/** The server's datadir and run directory inside its container. */
export const CONTAINER_DATADIR = '/var/lib/mysql';
export const CONTAINER_RUNDIR = '/run/dolly';
/** `secure_file_priv`: a private, empty, size-limited tmpfs (only an `--admin` clone has FILE). */
export const CONTAINER_FILESDIR = '/var/lib/mysql-files';
/** The server's tmpdir: a size-limited tmpfs (the root file system is read-only). */
export const CONTAINER_TMPDIR = '/tmp';
/** The port a server listens on inside its own network namespace (`isolated`). */
export const CONTAINER_PORT = 3306;

/**
 * What to run: one database server over one volume. `name` is unique within a root; the runtime
 * turns it into a container name and labels it with the root, kind, name and volume.
 */
export interface ServerSpec {
  name: string;
  kind: ObjectKind;
  image: string;
  /** The volume the datadir comes from, and how to reach it (from the storage driver). */
  volume: string;
  data: DataMount;
  /** Host directory mounted at CONTAINER_RUNDIR: socket, pid file, error log, init file. */
  runDir: string;
  /** The command run in the container (server binary and its arguments). */
  command: string[];
  /**
   * `host`: the host's network namespace (the replica, which must reach a source on the host's
   * loopback; it listens on no TCP port). `none`: no networking (prepare). `isolated`: its own
   * namespace on the root's clone network (no traffic between its containers), `CONTAINER_PORT`
   * published on `bindAddress:port` of the host.
   */
  network: 'host' | 'none' | 'isolated';
  /** The host TCP port a client connects to (`isolated`), recorded as a label for `list`. */
  port?: number;
  /** Host address the port is published on (`isolated`). */
  bindAddress?: string;
  /** `on-failure`: the engine restarts the server when it exits with an error (a crash). Default: never. */
  restart?: 'on-failure';
  /** What the server's container may use (none: the runtime's defaults, no limit). */
  limits?: ServerLimits;
}

/**
 * A container's share of the host. Memory is a hard limit with no swap beyond it; the tmpfs
 * mounted at CONTAINER_TMPDIR is charged to it too, so `tmpdirBytes` must leave room under it.
 * CPU: `cpuShares` weighs it against the other containers when the cores are busy (Docker's
 * default is 1024), `cpus` caps it outright. `oomScoreAdj` (-1000..1000) orders who the host's
 * OOM killer ends first: clones before the replica.
 */
export interface ServerLimits {
  memoryBytes?: number;
  /** Size of the CONTAINER_TMPDIR tmpfs (default 1 GB). */
  tmpdirBytes?: number;
  cpuShares?: number;
  cpus?: number;
  oomScoreAdj?: number;
}

export type ServerState = 'running' | 'stopped' | 'missing';

/** A server the runtime knows, found again by its labels. */
export interface ServerInfo {
  name: string;
  kind: ObjectKind;
  volume: string;
  state: ServerState;
  /** Runtime's own id (container id). */
  id: string;
  /** How often the engine restarted it after it failed (its restart policy); 0 when unknown. */
  restarts: number;
}

/**
 * How a server runs (a Docker container today; a host process or a Swarm service later).
 * Lifecycle: create+start with `start(spec)`; `stop` shuts it down cleanly (SIGTERM, waits);
 * `remove` deletes it (stopping it first); `startExisting` starts a stopped one again (after a
 * crash or reboot); `list` finds every server of this root by label, so state can be recovered.
 */
export interface ServerRuntime {
  /** Creates and starts; when the start fails, what was created is removed. */
  start(spec: ServerSpec): Promise<ServerInfo>;
  /** Starts a server that exists but is not running. */
  startExisting(name: string): Promise<void>;
  /** Clean shutdown, waiting up to `timeoutSeconds` before SIGKILL. No-op when not running. */
  stop(name: string, timeoutSeconds?: number): Promise<void>;
  /** Waits until the server's process has exited on its own (e.g. after SHUTDOWN). */
  waitExit(name: string, timeoutMs: number): Promise<number>;
  /** Stops (if needed) and deletes. No-op when missing. */
  remove(name: string): Promise<void>;
  inspect(name: string): Promise<ServerInfo>;
  list(): Promise<ServerInfo[]>;
  /** The last lines the server wrote to stdout/stderr (for error messages). */
  logs(name: string, tailLines: number): Promise<string>;
  /** Memory the server's container uses now, in bytes (0 when unknown). */
  memoryBytes(name: string): Promise<number>;
  /** Makes what servers of this root share (the clone network), once, before many start at once. Idempotent. */
  ensureShared(): Promise<void>;
  /** Removes what servers of this root share (the clone network) once none of them uses it. */
  removeShared(): Promise<void>;
}
