import type { ServerPaths } from '../mysql/server-args.js';

/**
 * Where a server sees its directories inside a container of dolly's images: the Docker runtime
 * mounts the datadir and the run directory there, and the Swarm's services do the same.
 */
export const CONTAINER_DATADIR = '/var/lib/mysql';
export const CONTAINER_RUNDIR = '/run/dolly';
/** `secure_file_priv`: a private, empty, size-limited tmpfs (only an `--admin` clone has FILE). */
export const CONTAINER_FILESDIR = '/var/lib/mysql-files';
/** The server's tmpdir: a size-limited tmpfs (the root file system is read-only). */
export const CONTAINER_TMPDIR = '/tmp';
/** The replica's own binlog (point-in-time clones): a pool volume of its own, never in a snapshot of the datadir. */
export const CONTAINER_BINLOGDIR = '/var/lib/mysql-binlog';
/** A replay server's relay logs: a writable copy of the replica's binlog volume (src/engine/pitr-replay.ts). */
export const CONTAINER_RELAYDIR = '/var/lib/mysql-relay';
/** The port a server listens on inside its own network namespace (`isolated`). */
export const CONTAINER_PORT = 3306;

/** A confined server's paths in its container (the replica, prepare servers, clones). */
export const CONTAINER_PATHS: ServerPaths = { datadir: CONTAINER_DATADIR, runDir: CONTAINER_RUNDIR, tmpDir: CONTAINER_TMPDIR, filesDir: CONTAINER_FILESDIR };
