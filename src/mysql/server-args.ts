import { flavorOps, type Flavor } from './flavor.js';
import { sqlInteger } from './identifiers.js';

/**
 * The one builder of a MariaDB/MySQL server's command line, for every server dolly starts: the
 * replica, the prepare server, clones (src/engine/servers.ts, prepare.ts), the Swarm's source and
 * replica services (src/swarm/topology.ts), the demo's production server and the tests' servers.
 * A server is described in server terms (ServerCommand: flavor, id, role and its options); where it
 * sees its directories (ServerPaths) and how it listens come from whoever runs it — the Docker
 * runtime's fixed container paths (src/runtime/docker-runtime.ts), a Swarm service's mounts, a host
 * process's own directories.
 */

/** Where a server sees its directories (inside its container, or on the host for a host process). */
export interface ServerPaths {
  datadir: string;
  /** Socket, pid file, error log, init file and TLS files. */
  runDir: string;
  /** Temporary files (dolly's own servers: a size-limited tmpfs); absent: the server's default. */
  tmpDir?: string;
  /** `secure_file_priv` (dolly's own servers: a private, empty directory); absent: the server's default. */
  filesDir?: string;
  /** The init file when it is not `runDir/init.sql` (the demo copies it into its container). */
  initFile?: string;
}

/** Where a server listens: no TCP at all, or a port on an address (of its own namespace or the host's). */
export type Listen = 'socket-only' | { port: number; bindAddress: string };

/**
 * How the replica applies what it receives (`replica init --apply-threads`, `--durable-commits`).
 * `threads`: parallel applier workers (0: the single SQL thread). `durableCommits`: an fsync of the
 * redo log per transaction; without it each commit is written to the OS at once and synced about
 * once a second — safe for a replica (see the replica role).
 */
export interface ApplySettings {
  threads: number;
  durableCommits: boolean;
}

/**
 * Applier workers sized for the host: twice its cores, at least 4, at most 16. Workers mostly wait
 * (on commit order, on the disk), so more than the cores pays; beyond 16 a single source's stream
 * rarely has the independent transactions to feed them.
 */
export function defaultApplyThreads(cores: number): number {
  return Math.min(16, Math.max(4, 2 * Math.max(1, Math.floor(cores))));
}

/** A plugin directory that does not exist (and cannot be made: the root file system is read-only). */
export const NO_PLUGIN_DIR = '/nonexistent/dolly-no-plugins';

/** A file dolly writes into the replica's volume: its absence means the pool is not mounted. */
export const REPLICA_MARKER = '.dolly-replica';

/** File names in the run directory, where the engine writes them before the start. */
export const INIT_FILE_NAME = 'init.sql';
export const SOCKET_NAME = 'mysqld.sock';
export const ERROR_LOG_NAME = 'error.log';

/** A clone's TLS files, by name in its run directory (src/engine/tls.ts writes them). */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/**
 * The replica: read-only for users, no binlog of its own, relay logs recovered after a crash,
 * datadir initialised on first start, applied in parallel in the source's commit order
 * (`apply`). `init.sql` (re)creates dolly's admin account at every start. With `requireMarker`,
 * it refuses to start on a datadir without REPLICA_MARKER: when Docker restarts it after a reboot
 * before the pool is mounted, it must not initialise an empty replica on the bare mount point.
 * `args`: replication filters and any more flags, after the init file.
 *
 * Durability: without `apply.durableCommits` a commit is written to the OS at once (so a killed
 * server loses nothing, and a snapshot of the file system holds every commit the applier made)
 * and synced about once a second. After a crash of the machine the replica may come back up to a
 * second older, but never torn: the applied position is an InnoDB table written in the same
 * transaction as the data (MariaDB's mysql.gtid_slave_pos, MySQL's mysql.gtid_executed and
 * applier metadata), and relay-log recovery throws the relay logs away and fetches again from
 * that position. The source keeps what the replica would fetch again.
 */
export interface ReplicaRole {
  role: 'replica';
  bufferPool: string;
  args: readonly string[];
  requireMarker?: boolean;
  apply?: ApplySettings;
  /**
   * The server runs as root (a Swarm task: `--user=root` in `args`), so root initialises its
   * datadir too (MySQL's `--initialize` refuses root without `--user=root`).
   */
  asRoot?: boolean;
  /**
   * The replica keeps what it applied as its own binlog (point-in-time clones, src/engine/pitr.ts):
   * files `dir/base.NNNNNN` (dir outside the datadir, so no snapshot holds them), the source's
   * GTIDs, commit times and server ids kept as they came, row format. `expireSeconds` is a
   * backstop for when dolly is not running: dolly purges by its window itself. `durable`: synced
   * per commit (with `--durable-commits`), else written to the OS at once.
   */
  binlog?: ReplicaBinlog;
}

/** A replica's own binlog: where, under which base name, kept how long at most. */
export interface ReplicaBinlog {
  dir: string;
  base: string;
  expireSeconds: number;
  durable: boolean;
}

/** A replica binlog's files are `BASE.NNNNNN` in its directory (BASE: `r-` and a tag drawn at enabling). */
export function replicaBinlogArgs(flavor: Flavor, binlog: ReplicaBinlog): string[] {
  return [
    `--log-bin=${binlog.dir}/${binlog.base}`,
    `--log-bin-index=${binlog.dir}/${binlog.base}.index`,
    ...flavorOps(flavor).replicaBinlogArgs,
    `--sync-binlog=${binlog.durable ? 1 : 0}`,
    '--max-binlog-size=128M',
    `--binlog-expire-logs-seconds=${sqlInteger(binlog.expireSeconds, 'binlog expiry')}`,
  ];
}

/**
 * The temporary server that prepares a snapshot: no network, no replication, no events. It is
 * ended by a SHUTDOWN statement; once it exited cleanly, the flavor's after-prepare step runs in
 * the datadir and the server's wrapper exits with its status.
 */
export interface PrepareRole {
  role: 'prepare';
  /** More server options (the mask server's undo and redo sizes: src/engine/mask-snapshot.ts). */
  args?: readonly string[];
  /** The after-prepare step instead of the flavor's (run in the datadir after a clean exit). */
  afterShell?: string;
}

/**
 * A clone: own server id, no replication, no binlog, events off, small and fast; TLS with the
 * certificate in its run directory (src/engine/tls.ts). Unless `admin`, no plugin can be loaded.
 * `limits`: its connections and the caps of what a session may raise (src/engine/clone-limits.ts).
 */
export interface CloneRole {
  role: 'clone';
  bufferPool: string;
  admin?: boolean;
  tls?: TlsFiles;
  limits?: readonly string[];
}

/**
 * A "production" source (the Swarm's, the demo's) or a plain test server: runs as root in its
 * own container, resolves no host names, initialises an empty datadir first. `binlog`: a binary
 * log in row format with GTIDs, durable (synced per commit) or fast; `initFile`: runs the init
 * file at every start; `shellBeforeStart`: shell lines run after the datadir is initialised and
 * before the server (the Swarm's source writes its init file from a secret there).
 */
export interface SourceRole {
  role: 'source';
  binlog?: { durable: boolean; expireSeconds?: number };
  maxAllowedPacket?: string;
  initFile?: boolean;
  args?: readonly string[];
  shellBeforeStart?: readonly string[];
}

export type ServerRole = ReplicaRole | PrepareRole | CloneRole | SourceRole;

/** A server in server terms: no path, no container; see serverCommandLine for the rest. */
export type ServerCommand = { flavor: Flavor; serverId: number } & ServerRole;

/** Every server's flags: its files under `paths`, its id, the flavor's own flags, where it listens. */
function baseArgs(server: ServerCommand, paths: ServerPaths, listen: Listen): string[] {
  const flavor = flavorOps(server.flavor);
  const source = server.role === 'source';
  const args = [
    flavor.serverBinary,
    '--no-defaults',
    ...(source ? ['--user=root'] : []),
    `--datadir=${paths.datadir}`,
    `--socket=${paths.runDir}/${SOCKET_NAME}`,
    `--pid-file=${paths.runDir}/mysqld.pid`,
  ];
  // A source logs to stderr (its container's log); dolly's servers to their run directory.
  if (!source) args.push(`--log-error=${paths.runDir}/${ERROR_LOG_NAME}`);
  if (paths.tmpDir !== undefined) args.push(`--tmpdir=${paths.tmpDir}`);
  if (paths.filesDir !== undefined) args.push(`--secure-file-priv=${paths.filesDir}`);
  const listenArgs = listen === 'socket-only' ? ['--skip-networking'] : [`--port=${sqlInteger(listen.port, 'port')}`, `--bind-address=${listen.bindAddress}`];
  // No --skip-name-resolve for dolly's servers: with it, a server ignores every account named by
  // host ('app'@'web1.example.com'), so a DEFINER by host name and GRANTs to it fail. A clone's only
  // resolver answers at once (see the runtime), the others have no TCP clients.
  if (source) args.push(...listenArgs, '--skip-name-resolve', `--server-id=${sqlInteger(server.serverId, 'server id')}`, ...flavor.extraServerArgs);
  else args.push(`--server-id=${sqlInteger(server.serverId, 'server id')}`, ...flavor.extraServerArgs, ...listenArgs);
  return args;
}

function initFileArg(paths: ServerPaths): string {
  return `--init-file=${paths.initFile ?? `${paths.runDir}/${INIT_FILE_NAME}`}`;
}

/** The server's argv (binary first): what the server runs with, the same on every runtime. */
export function serverArgv(server: ServerCommand, paths: ServerPaths, listen: Listen): string[] {
  const flavor = flavorOps(server.flavor);
  const base = baseArgs(server, paths, listen);
  switch (server.role) {
    case 'replica': {
      const apply = server.apply ?? { threads: 0, durableCommits: true };
      return [
        ...base,
        '--read-only=ON',
        '--event-scheduler=OFF',
        ...(server.binlog ? replicaBinlogArgs(server.flavor, server.binlog) : ['--skip-log-bin']),
        '--relay-log=relay-bin',
        '--relay-log-recovery=ON',
        flavor.skipAccountErrors,
        ...flavor.accountPluginArgs,
        ...flavor.replicaResidueArgs,
        `--innodb-flush-log-at-trx-commit=${apply.durableCommits ? 1 : 2}`,
        ...flavor.parallelApplyArgs(apply.threads),
        `--innodb-buffer-pool-size=${server.bufferPool}`,
        initFileArg(paths),
        ...server.args,
      ];
    }
    case 'prepare':
      return [
        ...base,
        flavor.skipReplicaStart,
        '--skip-log-bin',
        '--read-only=OFF',
        '--event-scheduler=OFF',
        '--innodb-buffer-pool-size=128M',
        '--performance-schema=OFF',
        ...(server.args ?? []),
        // Unlocks dolly's admin account: a branch's volume (a clone's data) has it locked.
        initFileArg(paths),
      ];
    case 'clone': {
      const tls = server.tls;
      return [
        ...base,
        ...(tls ? [`--ssl-cert=${paths.runDir}/${tls.cert}`, `--ssl-key=${paths.runDir}/${tls.key}`, `--ssl-ca=${paths.runDir}/${tls.ca}`] : []),
        ...(server.admin === true ? [] : [`--plugin-dir=${NO_PLUGIN_DIR}`]),
        flavor.skipReplicaStart,
        '--skip-log-bin',
        '--read-only=OFF',
        '--event-scheduler=OFF',
        `--innodb-buffer-pool-size=${server.bufferPool}`,
        '--performance-schema=OFF',
        '--innodb-buffer-pool-load-at-startup=OFF',
        '--innodb-buffer-pool-dump-at-shutdown=OFF',
        '--innodb-flush-log-at-trx-commit=2',
        ...(server.limits ?? []),
        initFileArg(paths),
      ];
    }
    case 'source': {
      const binlog = server.binlog;
      return [
        ...base,
        ...(binlog
          ? [
              '--log-bin=source-bin',
              ...flavor.sourceBinlogArgs,
              ...(binlog.expireSeconds !== undefined ? [`--binlog-expire-logs-seconds=${sqlInteger(binlog.expireSeconds, 'binlog expiry')}`] : []),
              // Durable: a restart loses no committed transaction. Fast: bulk loading matters more than a power cut.
              `--sync-binlog=${binlog.durable ? 1 : 0}`,
              `--innodb-flush-log-at-trx-commit=${binlog.durable ? 1 : 2}`,
            ]
          : []),
        ...(server.maxAllowedPacket !== undefined ? [`--max-allowed-packet=${server.maxAllowedPacket}`] : []),
        ...(server.args ?? []),
        ...(server.initFile === true ? [initFileArg(paths)] : []),
      ];
    }
  }
}

/**
 * The startup steps around the server, as a shell script that runs the server's argv as "$@";
 * null when the server starts directly (a clone). The replica initialises an empty datadir (after
 * the marker check; a first initialisation that died half-way is wiped and made again, so a
 * restart converges instead of failing on the half-made files for ever). The prepare server's
 * after-step runs in the datadir once it exited cleanly. A source initialises an empty datadir
 * and runs its `shellBeforeStart`.
 */
export function startupScript(server: ServerCommand, paths: ServerPaths): string | null {
  const flavor = flavorOps(server.flavor);
  const datadir = paths.datadir;
  switch (server.role) {
    case 'replica': {
      const init = flavor.initDatadir(datadir, server.asRoot === true ? { asRoot: true } : {}).join(' ');
      const guard = server.requireMarker === true
        ? `[ -f ${datadir}/${REPLICA_MARKER} ] || { echo "dolly: ${datadir} is not the pool's replica volume (is the pool mounted? run dolly up)" >&2; exit 75; }; `
        : '';
      const wipe = `find ${datadir} -mindepth 1 -maxdepth 1 ! -name ${REPLICA_MARKER} -exec rm -rf {} +`;
      return `${guard}[ -d ${datadir}/mysql ] || { ${wipe} && ${init} > ${paths.runDir}/init-datadir.log 2>&1; } || exit 1; exec "$@"`;
    }
    case 'prepare': {
      const after = server.afterShell ?? flavor.afterPrepareShell;
      return `"$@"${after === '' ? '' : ` && cd ${datadir} && { ${after}; }`}`;
    }
    case 'clone':
      return null;
    case 'source': {
      const init = flavor.initDatadir(datadir, { asRoot: true }).join(' ');
      return [
        'set -eu',
        'umask 077',
        `mkdir -p ${paths.runDir}`,
        `if [ ! -d ${datadir}/mysql ]; then ${init} > /tmp/install-db.log 2>&1 || { cat /tmp/install-db.log >&2; exit 1; }; fi`,
        ...(server.shellBeforeStart ?? []),
        'exec "$@"',
      ].join('\n');
    }
  }
}

/** The whole command: `sh -c SCRIPT sh ARGV...` when there are startup steps, else the argv alone. */
export function serverCommandLine(server: ServerCommand, paths: ServerPaths, listen: Listen): string[] {
  const argv = serverArgv(server, paths, listen);
  const script = startupScript(server, paths);
  return script === null ? argv : ['sh', '-c', script, 'sh', ...argv];
}
