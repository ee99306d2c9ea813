import { InvalidArgumentError } from '../errors.js';
import { receivedGtidSet } from './gtid-count.js';
import { quoteString, sqlInteger, wildTablePattern } from './identifiers.js';

/**
 * Every difference between MariaDB and MySQL lives here, and nowhere else. MariaDB 10.11 is
 * proven by the integration tests; the MySQL side (8.0.26+ and 8.4: REPLICA/SOURCE syntax,
 * `--source-data`) is written from the MySQL 8.4 manual and is not tested on this machine.
 */
export type Flavor = 'mariadb' | 'mysql';

/** `mariadb` when the version string (SELECT VERSION()) says MariaDB, otherwise `mysql`. */
export function detectFlavor(version: string): Flavor {
  return /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

/** Where the replica reads its source: values are escaped, never concatenated raw. */
export interface ChangeSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Seconds between reconnection attempts of the IO thread (default 5). */
  connectRetrySeconds?: number;
  /** Connect to the source over TLS; undefined: the server's default (MariaDB 11.4+: required). */
  tls?: boolean;
  /** With `tls`: the CA file (a path inside the replica's container) the source's certificate must chain to. */
  tlsCa?: string;
  /** With `tls`: whether the certificate must also name the host (`*_SSL_VERIFY_SERVER_CERT`); absent: the server's default. */
  tlsVerifyServerCert?: boolean;
}

/** The TLS clauses of CHANGE MASTER / CHANGE REPLICATION SOURCE (`prefix` MASTER or SOURCE). */
function tlsClauses(prefix: 'MASTER' | 'SOURCE', o: ChangeSourceOptions): string {
  if (o.tls === undefined) return '';
  if (!o.tls) return `, ${prefix}_SSL=0`;
  return (
    `, ${prefix}_SSL=1` +
    (o.tlsCa !== undefined ? `, ${prefix}_SSL_CA=${quoteString(o.tlsCa)}` : '') +
    (o.tlsVerifyServerCert !== undefined ? `, ${prefix}_SSL_VERIFY_SERVER_CERT=${o.tlsVerifyServerCert ? 1 : 0}` : '')
  );
}

/** The SHOW SLAVE/REPLICA STATUS columns dolly reads, by their name in this flavor. */
export interface StatusColumns {
  ioState: string;
  ioRunning: string;
  sqlRunning: string;
  lagSeconds: string;
  lastIoError: string;
  lastSqlError: string;
  /** What the IO thread has received: MariaDB's Gtid_IO_Pos, MySQL's Retrieved_Gtid_Set. */
  receivedGtid: string;
}

/** A privilege the source user needs: the name GRANT takes, and every name SHOW GRANTS may print for it. */
export interface PrivilegeNeed {
  grant: string;
  accepted: readonly string[];
  /** `global`: only ON *.* counts; `database`: ON *.* or ON `db`.* for every copied database. */
  level: 'global' | 'database';
}

export interface FlavorOps {
  readonly flavor: Flavor;
  /** `mariadbd` / `mysqld`. */
  readonly serverBinary: string;
  /** `mariadb` / `mysql`. */
  readonly clientBinary: string;
  /** `mariadb-dump` / `mysqldump`. */
  readonly dumpBinary: string;
  /** `mariadb-admin` / `mysqladmin` (a health check's `ping`). */
  readonly adminBinary: string;
  /** The replica's flag for the seconds without data after which its IO thread reconnects. */
  readonly netTimeoutFlag: string;
  /** The argv that initialises an empty datadir (run once, before the first start); `asRoot`: run by root for a server that runs as root. */
  initDatadir(datadir: string, options?: { asRoot?: boolean }): string[];
  /** Flag that keeps replication from starting with the server. */
  readonly skipReplicaStart: string;
  /**
   * The replica skips error 1396 (CREATE USER of an account it has, DROP USER of one it has not):
   * accounts are copied after the dump, so an account statement of that window arrives twice.
   */
  readonly skipAccountErrors: string;
  /** Flags every dolly-run server of this flavor gets (replica, prepare, clone). */
  readonly extraServerArgs: readonly string[];
  /** A source's binlog flags besides `--log-bin` (row format, strict GTIDs; MySQL's GTID mode is in extraServerArgs). */
  readonly sourceBinlogArgs: readonly string[];
  /** The replica's flags that load the authentication plugins a source's accounts may use, so their accounts replicate. */
  readonly accountPluginArgs: readonly string[];
  /**
   * The replica's flags that keep old values out of its system tablespace: MySQL's change buffer
   * (on by default in 9.7) keeps secondary-index entries in ibdata1 pages no later step can clear,
   * so masked snapshots could hold them (src/mysql/residue.ts). MariaDB's is off (10.11) or gone (11.x).
   */
  readonly replicaResidueArgs: readonly string[];
  /** A replica's own binlog (point-in-time clones) besides its files and sizes: what it applied, in rows, without the source's statement text. */
  readonly replicaBinlogArgs: readonly string[];
  /**
   * Shell run in the datadir after the prepare server shut down cleanly: drops what holds the
   * rows prepare replaced (MariaDB's Aria log keeps every account row ever written). Empty when
   * there is nothing to do.
   */
  readonly afterPrepareShell: string;
  /** The replica's flags for `threads` parallel applier workers keeping the source's commit order (0: the one SQL thread). */
  parallelApplyArgs(threads: number): string[];
  /** Prepare empties and truncates the undo tablespaces (they keep replaced rows: src/mysql/undo-rotate.ts). */
  readonly rotatesUndo: boolean;
  /** Statements before the prepare server's SHUTDOWN (MySQL: a slow shutdown, purge complete). */
  readonly prepareShutdownSql: readonly string[];
  /** Files in a datadir a clone must not inherit (MySQL's server_uuid lives in auto.cnf). */
  readonly cloneRemoveFiles: readonly string[];
  /** Dump options after the connection options: consistent, with the GTID position in the stream. */
  dumpArgs(databases: readonly string[]): string[];
  /** Text that starts (at the beginning of a line) the dump statement carrying the GTID position. */
  readonly dumpPositionMarker: string;
  /** The GTID position from that statement's text after the marker (up to its `;`); null when malformed. */
  parseDumpPosition(statement: string): string | null;
  readonly stopApplierSql: string;
  readonly startApplierSql: string;
  /** Statements (on one connection) that block commits and flush non-transactional tables. */
  readonly quiesceSql: readonly string[];
  readonly releaseSql: readonly string[];
  /** The replica's applied position; one column `gtid`. */
  readonly gtidPositionSql: string;
  /** A source's current (binlogged) position; one column `gtid`. */
  readonly sourcePositionSql: string;
  /** Sets the replica's position (replication stopped), when the dump did not. */
  setPositionSql(gtid: string): string;
  changeSourceSql(opts: ChangeSourceOptions): string;
  /** Replication filters (replication stopped): skip account statements; only `databases` when given. */
  filterSql(databases?: readonly string[]): string[];
  readonly startReplicationSql: string;
  readonly stopReplicationSql: string;
  /** Forget the source entirely (prepare step). */
  resetReplicaAll(): string[];
  readonly statusSql: string;
  readonly statusColumns: StatusColumns;
  /** The position the IO thread has received, from the status row's `receivedGtid` column and the applied position; null when unreadable. */
  receivedPosition(column: string, applied: string): string | null;
  /** One column `result`: 0 once the replica has applied `gtid`, non-zero on timeout. */
  waitForGtidSql(gtid: string, timeoutSeconds: number): string;
  /** One column `at_epoch` (seconds since 1970): the source's commit time of the last applied transaction; 0/NULL when unknown. */
  readonly lastAppliedCommitTimeSql: string | null;
  /** Source settings, columns log_bin, server_id, binlog_format, gtid_mode, enforce_gtid_consistency. */
  readonly sourceSettingsSql: string;
  /** MySQL needs gtid_mode=ON and enforce_gtid_consistency=ON on the source. */
  readonly requiresGtidMode: boolean;
  /**
   * One column `tracking`: how the source marks which transactions a replica may apply at once
   * (MySQL 8.0's binlog_transaction_dependency_tracking; 8.4 removed it and always uses writesets).
   * Null where nothing on the source limits parallel apply (MariaDB: optimistic mode).
   */
  readonly dependencyTrackingSql: string | null;
  /** What a binlog_format other than ROW is: a failed check, or a warning. */
  readonly nonRowFormat: 'error' | 'warning';
  requiredPrivileges(version: string): PrivilegeNeed[];
}

/** Database-level privileges mariadb-dump/mysqldump need for `--routines --events --triggers`. */
const DATABASE_PRIVILEGES: PrivilegeNeed[] = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT', 'LOCK TABLES'].map((p) => ({
  grant: p,
  accepted: [p],
  level: 'database' as const,
}));

function seconds(value: number): string {
  return Math.max(0, Number.isFinite(value) ? value : 0).toFixed(3);
}

/** Database names that can follow `--databases` on a dump's command line: none empty, none that reads as an option. */
export function checkDumpableDatabases(databases: readonly string[]): void {
  for (const db of databases) {
    if (db.startsWith('-') || db.length === 0) throw new InvalidArgumentError(`cannot dump a database named ${JSON.stringify(db)}`, { hint: 'leave it out with --databases' });
  }
}

/** Common dump options; `--databases` comes last, followed by the names (checked: no leading `-`). */
function dumpTail(databases: readonly string[]): string[] {
  checkDumpableDatabases(databases);
  return ['--routines', '--events', '--triggers', '--hex-blob', '--databases', ...databases];
}

const mariadb: FlavorOps = {
  flavor: 'mariadb',
  serverBinary: 'mariadbd',
  clientBinary: 'mariadb',
  dumpBinary: 'mariadb-dump',
  adminBinary: 'mariadb-admin',
  netTimeoutFlag: '--slave-net-timeout',
  initDatadir: (datadir) => ['mariadb-install-db', '--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=socket', '--skip-test-db'],
  skipReplicaStart: '--skip-slave-start',
  // 1524: an account for an authentication plugin the replica has not loaded.
  skipAccountErrors: '--slave-skip-errors=1396,1524',
  extraServerArgs: [],
  sourceBinlogArgs: ['--binlog-format=ROW', '--gtid-strict-mode=ON'],
  accountPluginArgs: ['--plugin-load-add=auth_ed25519'],
  replicaResidueArgs: [],
  // The source's statement text (annotations) is neither logged nor re-logged: only rows.
  replicaBinlogArgs: ['--log-slave-updates=ON', '--binlog-format=ROW', '--binlog-annotate-row-events=OFF', '--replicate-annotate-row-events=OFF'],
  // Optimistic: any two transactions may run at once; a conflict rolls the later one back and
  // retries it. Commits stay in the source's order (always, in MariaDB's parallel replication).
  parallelApplyArgs: (threads) => (threads > 0 ? [`--slave-parallel-threads=${threads}`, '--slave-parallel-mode=optimistic', '--slave-parallel-max-queued=1048576'] : ['--slave-parallel-threads=0']),
  rotatesUndo: false,
  prepareShutdownSql: [],
  // After a clean shutdown the log is only for crash recovery. Each table is zero-filled first
  // (its pages then refer to no log, as for a table moved to another server; 10.11's aria_chk
  // fails that on mysql.proc until the table is rebuilt with --recover), then the log goes and the
  // next server starts a new one.
  afterPrepareShell:
    "find . -name '*.MAI' -exec sh -c 'for t; do z() { aria_chk --silent --tmpdir=/tmp \"$@\" \"$t\"; }; z --zerofill 2>/dev/null || { z --recover && z --zerofill; } || exit 1; done' sh {} + && rm -f aria_log.* aria_log_control",
  cloneRemoveFiles: [],
  dumpArgs: (databases) => ['--single-transaction', '--master-data=1', '--gtid', ...dumpTail(databases)],
  // mariadb-dump 10.11 writes, near the end: SET GLOBAL gtid_slave_pos='0-1-9';
  dumpPositionMarker: "\nSET GLOBAL gtid_slave_pos=",
  parseDumpPosition: (statement) => /^\s*'([0-9,\s-]*)'\s*$/.exec(statement)?.[1]?.replace(/\s+/g, '') ?? null,
  stopApplierSql: 'STOP SLAVE SQL_THREAD',
  startApplierSql: 'START SLAVE SQL_THREAD',
  quiesceSql: ['BACKUP STAGE START', 'BACKUP STAGE BLOCK_COMMIT'],
  releaseSql: ['BACKUP STAGE END'],
  gtidPositionSql: 'SELECT @@GLOBAL.gtid_slave_pos AS gtid',
  sourcePositionSql: 'SELECT @@GLOBAL.gtid_binlog_pos AS gtid',
  setPositionSql: (gtid) => `SET GLOBAL gtid_slave_pos = ${quoteString(gtid)}`,
  changeSourceSql: (o) =>
    `CHANGE MASTER TO MASTER_HOST=${quoteString(o.host)}, MASTER_PORT=${sqlInteger(o.port, 'port')}, MASTER_USER=${quoteString(o.user)}, ` +
    `MASTER_PASSWORD=${quoteString(o.password)}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=${sqlInteger(o.connectRetrySeconds ?? 5, 'connect retry')}` +
    tlsClauses('MASTER', o),
  filterSql: (databases) => [
    "SET GLOBAL replicate_wild_ignore_table = ''",
    `SET GLOBAL replicate_wild_do_table = ${quoteString((databases ?? []).map(wildTablePattern).join(','))}`,
  ],
  startReplicationSql: 'START SLAVE',
  stopReplicationSql: 'STOP SLAVE',
  resetReplicaAll: () => ['STOP SLAVE', 'RESET SLAVE ALL'],
  statusSql: 'SHOW SLAVE STATUS',
  statusColumns: {
    ioState: 'Slave_IO_State',
    ioRunning: 'Slave_IO_Running',
    sqlRunning: 'Slave_SQL_Running',
    lagSeconds: 'Seconds_Behind_Master',
    lastIoError: 'Last_IO_Error',
    lastSqlError: 'Last_SQL_Error',
    receivedGtid: 'Gtid_IO_Pos',
  },
  // Per domain, the last GTID received (10.11 and 11.8 have no @@gtid_io_pos variable, only this column).
  receivedPosition: (column) => column.replace(/\s+/g, ''),
  waitForGtidSql: (gtid, timeout) => `SELECT MASTER_GTID_WAIT(${quoteString(gtid)}, ${seconds(timeout)}) AS result`,
  // 10.11 records no commit time of applied events (11.6 adds Master_last_event_time).
  lastAppliedCommitTimeSql: null,
  sourceSettingsSql:
    'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.server_id AS server_id, @@GLOBAL.binlog_format AS binlog_format, NULL AS gtid_mode, NULL AS enforce_gtid_consistency',
  requiresGtidMode: false,
  dependencyTrackingSql: null,
  // MariaDB's default is MIXED; GTID replication of MIXED/STATEMENT works (see source-check.ts).
  nonRowFormat: 'warning',
  requiredPrivileges: (version) => {
    const [major = 0, minor = 0] = /(\d+)\.(\d+)/.exec(version)?.slice(1).map(Number) ?? [];
    const monitor = major > 10 || (major === 10 && minor >= 5) ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
    return [
      { grant: 'RELOAD', accepted: ['RELOAD'], level: 'global' },
      { grant: 'REPLICATION SLAVE', accepted: ['REPLICATION SLAVE', 'REPLICATION REPLICA'], level: 'global' },
      { grant: monitor, accepted: ['BINLOG MONITOR', 'REPLICATION CLIENT'], level: 'global' },
      ...DATABASE_PRIVILEGES,
    ];
  },
};

const mysql: FlavorOps = {
  flavor: 'mysql',
  serverBinary: 'mysqld',
  clientBinary: 'mysql',
  dumpBinary: 'mysqldump',
  adminBinary: 'mysqladmin',
  netTimeoutFlag: '--replica-net-timeout',
  initDatadir: (datadir, options) => ['mysqld', '--no-defaults', '--initialize-insecure', `--datadir=${datadir}`, ...(options?.asRoot === true ? ['--user=root'] : [])],
  skipReplicaStart: '--skip-replica-start',
  skipAccountErrors: '--replica-skip-errors=1396,1524',
  // AUTO_POSITION needs GTIDs on the replica too; clones inherit the GTID state.
  extraServerArgs: ['--mysqlx=0', '--gtid-mode=ON', '--enforce-gtid-consistency=ON'],
  // Row format is MySQL's default.
  sourceBinlogArgs: [],
  accountPluginArgs: [],
  replicaResidueArgs: ['--innodb-change-buffering=none'],
  replicaBinlogArgs: ['--log-replica-updates=ON', '--binlog-rows-query-log-events=OFF'],
  // After a slow shutdown (prepareShutdownSql) redo and doublewrite hold nothing a restart needs;
  // MySQL makes new ones. ('#' inside a word is no comment.)
  afterPrepareShell: 'rm -f ./#innodb_redo/* ./#ib_*.dblwr',
  // Transactions the source marked independent (its writeset or commit-order dependencies) run
  // at once; commits stay in the source's order, so the applied GTID set has no gaps.
  parallelApplyArgs: (threads) => [`--replica-parallel-workers=${threads > 0 ? threads : 1}`, `--replica-preserve-commit-order=${threads > 0 ? 'ON' : 'OFF'}`],
  rotatesUndo: true,
  prepareShutdownSql: ['SET GLOBAL innodb_fast_shutdown = 0'],
  cloneRemoveFiles: ['auto.cnf'],
  // --no-tablespaces: otherwise mysqldump 8.0.21+ needs PROCESS. Needs an empty gtid_executed on the target.
  dumpArgs: (databases) => ['--single-transaction', '--source-data=1', '--set-gtid-purged=ON', '--no-tablespaces', ...dumpTail(databases)],
  // mysqldump writes, near the start: SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'uuid:1-5,\nuuid:1-3';
  dumpPositionMarker: '\nSET @@GLOBAL.GTID_PURGED=',
  parseDumpPosition: (statement) => /'([A-Za-z0-9_:,\s-]*)'\s*$/.exec(statement)?.[1]?.replace(/\s+/g, '') ?? null,
  stopApplierSql: 'STOP REPLICA SQL_THREAD',
  startApplierSql: 'START REPLICA SQL_THREAD',
  quiesceSql: ['FLUSH TABLES WITH READ LOCK'],
  releaseSql: ['UNLOCK TABLES'],
  gtidPositionSql: 'SELECT @@GLOBAL.gtid_executed AS gtid',
  sourcePositionSql: 'SELECT @@GLOBAL.gtid_executed AS gtid',
  setPositionSql: (gtid) => `SET @@GLOBAL.gtid_purged = ${quoteString(gtid)}`,
  changeSourceSql: (o) =>
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${quoteString(o.host)}, SOURCE_PORT=${sqlInteger(o.port, 'port')}, SOURCE_USER=${quoteString(o.user)}, ` +
    `SOURCE_PASSWORD=${quoteString(o.password)}, SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=${sqlInteger(o.connectRetrySeconds ?? 5, 'connect retry')}` +
    tlsClauses('SOURCE', o),
  filterSql: (databases) => [
    'CHANGE REPLICATION FILTER REPLICATE_WILD_IGNORE_TABLE = (), ' +
      `REPLICATE_WILD_DO_TABLE = (${(databases ?? []).map((d) => quoteString(wildTablePattern(d))).join(', ')})`,
  ],
  startReplicationSql: 'START REPLICA',
  stopReplicationSql: 'STOP REPLICA',
  resetReplicaAll: () => ['STOP REPLICA', 'RESET REPLICA ALL'],
  statusSql: 'SHOW REPLICA STATUS',
  statusColumns: {
    ioState: 'Replica_IO_State',
    ioRunning: 'Replica_IO_Running',
    sqlRunning: 'Replica_SQL_Running',
    lagSeconds: 'Seconds_Behind_Source',
    lastIoError: 'Last_IO_Error',
    lastSqlError: 'Last_SQL_Error',
    receivedGtid: 'Retrieved_Gtid_Set',
  },
  // The copy's position is executed but was never retrieved: received is both together.
  receivedPosition: (column, applied) => receivedGtidSet(column, applied),
  waitForGtidSql: (gtid, timeout) => `SELECT WAIT_FOR_EXECUTED_GTID_SET(${quoteString(gtid)}, ${seconds(timeout)}) AS result`,
  lastAppliedCommitTimeSql:
    'SELECT UNIX_TIMESTAMP(MAX(LAST_APPLIED_TRANSACTION_ORIGINAL_COMMIT_TIMESTAMP)) AS at_epoch FROM performance_schema.replication_applier_status_by_worker',
  sourceSettingsSql:
    'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.server_id AS server_id, @@GLOBAL.binlog_format AS binlog_format, @@GLOBAL.gtid_mode AS gtid_mode, @@GLOBAL.enforce_gtid_consistency AS enforce_gtid_consistency',
  requiresGtidMode: true,
  dependencyTrackingSql: 'SELECT @@GLOBAL.binlog_transaction_dependency_tracking AS tracking',
  nonRowFormat: 'error',
  requiredPrivileges: () => [
    { grant: 'RELOAD', accepted: ['RELOAD'], level: 'global' },
    { grant: 'REPLICATION SLAVE', accepted: ['REPLICATION SLAVE'], level: 'global' },
    { grant: 'REPLICATION CLIENT', accepted: ['REPLICATION CLIENT'], level: 'global' },
    ...DATABASE_PRIVILEGES,
  ],
};

/** The operations of a flavor. */
export function flavorOps(flavor: Flavor): FlavorOps {
  return flavor === 'mariadb' ? mariadb : mysql;
}

