import { quoteAccount, quoteString } from '../mysql/identifiers.js';
import { CONTAINER_DATADIR, CONTAINER_FILESDIR, CONTAINER_PORT, CONTAINER_RUNDIR, CONTAINER_TMPDIR } from '../runtime/runtime.js';

/** What a server's command line needs from its flavor (see src/mysql/flavor.ts). */
export interface ServerFlavor {
  /** `mariadbd` / `mysqld`. */
  readonly serverBinary: string;
  /** Shell words that initialise an empty datadir. */
  initDatadir(datadir: string): string[];
  /** Flags that keep replication from starting (`--skip-slave-start` / `--skip-replica-start`). */
  readonly skipReplicaStart: string;
  /** The replica's flag that skips account statements it already has (error 1396). */
  readonly skipAccountErrors: string;
  /** Flags every dolly-run server of this flavor gets (e.g. `--mysqlx=0`). */
  readonly extraServerArgs: readonly string[];
  /** The replica's flags that load the authentication plugins of a source's accounts (MariaDB's ed25519). */
  readonly accountPluginArgs: readonly string[];
  /** Shell run in the datadir once the prepare server has shut down cleanly ('' for none). */
  readonly afterPrepareShell: string;
  /** The replica's flags for `threads` applier workers in commit order (0: one applier thread, no workers). */
  parallelApplyArgs(threads: number): string[];
}

/**
 * How the replica applies what it receives (`replica init --apply-threads`, `--durable-commits`).
 * `threads`: parallel applier workers (0: the single SQL thread). `durableCommits`: an fsync of the
 * redo log per transaction; without it each commit is written to the OS at once and synced about
 * once a second — safe for a replica (see replicaCommand).
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

export const SOCKET = `${CONTAINER_RUNDIR}/mysqld.sock`;
export const INIT_FILE = `${CONTAINER_RUNDIR}/init.sql`;
export const ERROR_LOG = `${CONTAINER_RUNDIR}/error.log`;

/**
 * Where the server listens: every address of its own network namespace (the runtime publishes
 * the port), its own port in the host's namespace, or no TCP at all.
 */
export type Listen = 'own-namespace' | 'socket-only' | { port: number; bindAddress: string };

/**
 * Flags of every server: it runs as the container's (non-root) user, files only in its private
 * `secure_file_priv` directory, temporary files on a tmpfs.
 */
function baseArgs(flavor: ServerFlavor, serverId: number, listen: Listen): string[] {
  const args = [
    '--no-defaults',
    `--datadir=${CONTAINER_DATADIR}`,
    `--socket=${SOCKET}`,
    `--pid-file=${CONTAINER_RUNDIR}/mysqld.pid`,
    `--log-error=${ERROR_LOG}`,
    `--tmpdir=${CONTAINER_TMPDIR}`,
    `--secure-file-priv=${CONTAINER_FILESDIR}`,
    // No --skip-name-resolve: with it, a server ignores every account named by host
    // ('app'@'web1.example.com'), so a DEFINER by host name and GRANTs to it fail. A clone's only
    // resolver answers at once (see the runtime), the others have no TCP clients.
    `--server-id=${serverId}`,
    ...flavor.extraServerArgs,
  ];
  if (listen === 'socket-only') args.push('--skip-networking');
  else if (listen === 'own-namespace') args.push(`--port=${CONTAINER_PORT}`, '--bind-address=0.0.0.0');
  else args.push(`--port=${listen.port}`, `--bind-address=${listen.bindAddress}`);
  return args;
}

/** A plugin directory that does not exist (and cannot be made: the root file system is read-only). */
export const NO_PLUGIN_DIR = '/nonexistent/dolly-no-plugins';

/** A file dolly writes into the replica's volume: its absence means the pool is not mounted. */
export const REPLICA_MARKER = '.dolly-replica';

/**
 * The replica: read-only for users, no binlog of its own, relay logs recovered after a crash,
 * datadir initialised on first start, applied in parallel in the source's commit order
 * (`apply`). `init.sql` (re)creates dolly's admin account at every start. With `requireMarker`,
 * it refuses to start on a datadir without REPLICA_MARKER: when Docker restarts it after a reboot
 * before the pool is mounted, it must not initialise an empty replica on the bare mount point.
 *
 * Durability: without `apply.durableCommits` a commit is written to the OS at once (so a killed
 * server loses nothing, and a snapshot of the file system holds every commit the applier made)
 * and synced about once a second. After a crash of the machine the replica may come back up to a
 * second older, but never torn: the applied position is an InnoDB table written in the same
 * transaction as the data (MariaDB's mysql.gtid_slave_pos, MySQL's mysql.gtid_executed and
 * applier metadata), and relay-log recovery throws the relay logs away and fetches again from
 * that position. The source keeps what the replica would fetch again.
 */
export function replicaCommand(flavor: ServerFlavor, serverId: number, bufferPool: string, filters: readonly string[], options: { requireMarker?: boolean; apply?: ApplySettings } = {}): string[] {
  const apply = options.apply ?? { threads: 0, durableCommits: true };
  const server = [
    flavor.serverBinary,
    ...baseArgs(flavor, serverId, 'socket-only'),
    '--read-only=ON',
    '--event-scheduler=OFF',
    '--skip-log-bin',
    '--relay-log=relay-bin',
    '--relay-log-recovery=ON',
    flavor.skipAccountErrors,
    ...flavor.accountPluginArgs,
    `--innodb-flush-log-at-trx-commit=${apply.durableCommits ? 1 : 2}`,
    ...flavor.parallelApplyArgs(apply.threads),
    `--innodb-buffer-pool-size=${bufferPool}`,
    `--init-file=${INIT_FILE}`,
    ...filters,
  ];
  const init = flavor.initDatadir(CONTAINER_DATADIR).join(' ');
  const guard = options.requireMarker
    ? `[ -f ${CONTAINER_DATADIR}/${REPLICA_MARKER} ] || { echo "dolly: ${CONTAINER_DATADIR} is not the pool's replica volume (is the pool mounted? run dolly up)" >&2; exit 75; }; `
    : '';
  // A first initialisation that died half-way (no mysql/ yet) is wiped and made again, so a
  // restart converges instead of failing on the half-made files for ever.
  const wipe = `find ${CONTAINER_DATADIR} -mindepth 1 -maxdepth 1 ! -name ${REPLICA_MARKER} -exec rm -rf {} +`;
  const script = `${guard}[ -d ${CONTAINER_DATADIR}/mysql ] || { ${wipe} && ${init} > ${CONTAINER_RUNDIR}/init-datadir.log 2>&1; } || exit 1; exec "$@"`;
  return ['sh', '-c', script, 'sh', ...server];
}

/**
 * The temporary server that prepares a snapshot: no network, no replication, no events. It is
 * ended by a SHUTDOWN statement; once it exited cleanly, the flavor's after-prepare step runs in
 * the datadir and the container exits with its status.
 */
export function prepareCommand(flavor: ServerFlavor, serverId: number): string[] {
  const after = flavor.afterPrepareShell === '' ? '' : ` && cd ${CONTAINER_DATADIR} && { ${flavor.afterPrepareShell}; }`;
  return ['sh', '-c', `"$@"${after}`, 'sh', ...prepareServer(flavor, serverId)];
}

function prepareServer(flavor: ServerFlavor, serverId: number): string[] {
  return [
    flavor.serverBinary,
    ...baseArgs(flavor, serverId, 'socket-only'),
    flavor.skipReplicaStart,
    '--skip-log-bin',
    '--read-only=OFF',
    '--event-scheduler=OFF',
    '--innodb-buffer-pool-size=128M',
    '--performance-schema=OFF',
    // Unlocks dolly's admin account: a branch's volume (a clone's data) has it locked.
    `--init-file=${INIT_FILE}`,
  ];
}

/**
 * A clone: own server id, its own network namespace (the runtime publishes the port), no
 * replication, no binlog, events off, small and fast; TLS with the certificate in its run
 * directory (src/engine/tls.ts). Unless `admin`, no plugin can be loaded. `limits`: its
 * connections and the caps of what a session may raise (src/engine/clone-limits.ts).
 */
export function cloneCommand(flavor: ServerFlavor, serverId: number, bufferPool: string, options: { admin?: boolean; listen?: Listen; tls?: { cert: string; key: string; ca: string }; limits?: readonly string[] } = {}): string[] {
  const tls = options.tls;
  return [
    flavor.serverBinary,
    ...baseArgs(flavor, serverId, options.listen ?? 'own-namespace'),
    ...(tls ? [`--ssl-cert=${CONTAINER_RUNDIR}/${tls.cert}`, `--ssl-key=${CONTAINER_RUNDIR}/${tls.key}`, `--ssl-ca=${CONTAINER_RUNDIR}/${tls.ca}`] : []),
    ...(options.admin ? [] : [`--plugin-dir=${NO_PLUGIN_DIR}`]),
    flavor.skipReplicaStart,
    '--skip-log-bin',
    '--read-only=OFF',
    '--event-scheduler=OFF',
    `--innodb-buffer-pool-size=${bufferPool}`,
    '--performance-schema=OFF',
    '--innodb-buffer-pool-load-at-startup=OFF',
    '--innodb-buffer-pool-dump-at-shutdown=OFF',
    '--innodb-flush-log-at-trx-commit=2',
    ...(options.limits ?? []),
    `--init-file=${INIT_FILE}`,
  ];
}

/**
 * What a clone's user may do by default: anything to the data of every database but `mysql`
 * (DML, DDL, databases, views, routines, triggers, events, locks, temporary tables), read `mysql`,
 * and see its own server's sessions (PROCESS); never write `mysql` (accounts, routines' definers,
 * the account views), never FILE, SUPER-class admin rights, replication, user management or GRANT
 * OPTION. Neither server has partial revokes here and a LIKE pattern cannot leave one name out,
 * so it is two database-level grants: the server takes the first matching database grant, and an
 * exact name sorts before every pattern, so `mysql`'s SELECT-only grant wins over `%`'s.
 */
export const CLONE_PRIVILEGES: AccountPrivileges = {
  global: ['PROCESS', 'SHOW DATABASES'],
  anyDatabase: [
    'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER',
    'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE',
    'ALTER ROUTINE', 'EVENT', 'TRIGGER',
  ],
  systemSchema: ['SELECT'],
};

/**
 * `ALL`: every privilege WITH GRANT OPTION (dolly's admin, `clone create --admin`); else global
 * privileges, privileges on every database (the `%` pattern), and on the `mysql` schema.
 */
export type AccountPrivileges = 'ALL' | { global: readonly string[]; anyDatabase: readonly string[]; systemSchema: readonly string[] };

/**
 * SQL run at every start of a server (via --init-file): creates or re-keys one account and sets
 * exactly its privileges (what it had before is revoked first).
 */
export function accountInitSql(user: string, hosts: readonly string[], password: string, privileges: AccountPrivileges = 'ALL'): string {
  const lines: string[] = [];
  const secret = quoteString(password);
  for (const host of hosts) {
    const account = quoteAccount(user, host);
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${secret};`,
      `ALTER USER ${account} IDENTIFIED BY ${secret} ACCOUNT UNLOCK;`,
      `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account};`,
    );
    if (privileges === 'ALL') lines.push(`GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;`);
    else {
      lines.push(
        `GRANT ${privileges.global.join(', ')} ON *.* TO ${account};`,
        `GRANT ${privileges.anyDatabase.join(', ')} ON \`%\`.* TO ${account};`,
        `GRANT ${privileges.systemSchema.join(', ')} ON \`mysql\`.* TO ${account};`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * SQL run at every start of a clone made with `--user NAME`: the production account NAME@'%' keeps
 * its own grants and gets the clone's password (production's hash was replaced when the snapshot
 * was prepared).
 */
export function productionAccountInitSql(user: string, password: string): string {
  return `ALTER USER ${quoteAccount(user, '%')} IDENTIFIED BY ${quoteString(password)} ACCOUNT UNLOCK;\n`;
}
