import type { ObjectKind } from '../labels.js';
import type { DataMount } from '../storage/driver.js';

/** The server's datadir and run directory inside its container. */
export const CONTAINER_DATADIR = '/var/lib/mysql';
export const CONTAINER_RUNDIR = '/run/dolly';

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
  /** `host`: the server binds its own port on the host; `none`: no networking (prepare). */
  network: 'host' | 'none';
  /** The TCP port the server listens on (host networking), recorded as a label for `list`. */
  port?: number;
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
}
