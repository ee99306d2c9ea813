import type { ObjectKind } from '../labels.js';
import type { ServerCommand } from '../mysql/server-args.js';
import type { DataMount } from '../storage/driver.js';

/**
 * What to run: one database server over one volume, in server terms — its datadir (the storage
 * driver's DataMount), its run directory on the host, what server it is (flavor, id, role and the
 * role's options: src/mysql/server-args.ts), how it is reached (network, port) — with no path of
 * where the runtime puts it. `name` is unique within a root.
 *
 * A runtime maps it: the Docker runtime (docker-runtime.ts) makes a container labelled with the
 * root, kind, name and volume, mounts the datadir and run directory at CONTAINER_PATHS
 * (container-layout.ts), and runs the server's command line (serverCommandLine) for those paths,
 * its startup steps wrapped in `sh -c`. Another runtime is another adapter of the same spec: a
 * host process would pass the host's own directories as ServerPaths (the datadir path, the run
 * directory, a tmp and a files directory of its own), listen on `port` at `bindAddress` itself,
 * run the startup script with its own shell and keep its pid where `list` finds it; a Swarm
 * service mounts the same two directories at the same container paths (src/swarm/topology.ts).
 */
export interface ServerSpec {
  name: string;
  kind: ObjectKind;
  image: string;
  /** The volume the datadir comes from, and how to reach it (from the storage driver). */
  volume: string;
  data: DataMount;
  /** Host directory of the server's run files: socket, pid file, error log, init file, TLS files (the engine writes the init and TLS files). */
  runDir: string;
  /** The server itself; the runtime decides where it sees its directories and which address it listens on. */
  server: ServerCommand;
  /**
   * `host`: the host's network namespace (the replica, which must reach a source on the host's
   * loopback; it listens on no TCP port unless `port` is given). `none`: no networking (prepare).
   * `isolated`: its own namespace on the root's clone network (no traffic between its
   * containers), reached on `bindAddress:port` of the host.
   */
  network: 'host' | 'none' | 'isolated';
  /** The host TCP port a client connects to, recorded as a label for `list`; absent: socket only. */
  port?: number;
  /** Host address the port is on. */
  bindAddress?: string;
  /** `on-failure`: the engine restarts the server when it exits with an error (a crash). Default: never. */
  restart?: 'on-failure';
  /**
   * More directories of the pool the server sees, writable, owned by its user like the datadir
   * (the replica's binlog, a replay server's relay logs). Host paths only (a `path` DataMount).
   */
  extraMounts?: readonly { path: string; target: string }[];
  /** What the server's container may use (none: the runtime's defaults, no limit). */
  limits?: ServerLimits;
}

/**
 * A container's share of the host. Memory is a hard limit with no swap beyond it; the tmpfs
 * of its tmpdir is charged to it too, so `tmpdirBytes` must leave room under it.
 * CPU: `cpuShares` weighs it against the other containers when the cores are busy (Docker's
 * default is 1024), `cpus` caps it outright. `oomScoreAdj` (-1000..1000) orders who the host's
 * OOM killer ends first: clones before the replica.
 */
export interface ServerLimits {
  memoryBytes?: number;
  /** Size of its tmpdir's tmpfs (default 1 GB). */
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
