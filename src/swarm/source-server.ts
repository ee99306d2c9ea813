import { flavorOps, type Flavor } from '../mysql/flavor.js';
import { INIT_FILE_NAME, serverCommandLine } from '../mysql/server-args.js';

/** Where the source keeps its data inside its container (a named volume on the source's node). */
export const SOURCE_DATADIR = '/var/lib/mysql';
/** Its socket, pid file and generated init file (not a volume: rebuilt at every start). */
export const SOURCE_RUNDIR = '/run/dolly';
/** The port the source listens on inside the overlay network (the seed's 3306). */
export const SOURCE_PORT = 3306;
/** The account the source's password is for; the load emulator and the replication bootstrap use it. */
export const SOURCE_USER = 'root';

export interface SourceServerOptions {
  /** MariaDB (the seed's) or MySQL; default mariadb. */
  flavor?: Flavor;
  serverId: number;
  /** The root password's file in the container (`/run/secrets/<name>`). */
  passwordFile: string;
}

/**
 * The "production" server of the seed as a Swarm service's argv: on its first start the datadir
 * is initialised; at every start the root password is read from the Docker secret's file and turned
 * into an init file (0600, kept out of the binlog) that makes `root@'%'` with that password; then
 * the server runs with binlog (ROW), GTIDs (MariaDB: strict mode; MySQL: gtid_mode ON), its own
 * server id, durable commits, and listens on the overlay network. The datadir's own root account
 * is for the task's socket only: MariaDB's authenticates the OS user (unix_socket), MySQL's
 * (`--initialize-insecure`) has no password and `localhost` names only socket clients under
 * `--skip-name-resolve`. MySQL makes its TLS certificate and RSA keys in the datadir on the first
 * start, so a client of `caching_sha2_password` (root's) logs in over TLS or with the server's
 * public key. The password is never on a command line or in the environment: it only
 * passes through shell variables. A trailing newline of the secret is not part of the password
 * (`$(cat ...)` drops it), the same rule as the load emulator's (loadgen-env.ts).
 */
export function sourceServerCommand(opts: SourceServerOptions): string[] {
  const initFile = `${SOURCE_RUNDIR}/${INIT_FILE_NAME}`;
  return serverCommandLine(
    {
      flavor: opts.flavor ?? 'mariadb',
      serverId: opts.serverId,
      role: 'source',
      // "Production": a restart must lose no committed transaction (the fault tests compare GTIDs).
      binlog: { durable: true, expireSeconds: 604800 },
      maxAllowedPacket: '256M',
      initFile: true,
      shellBeforeStart: initFileScript(opts.passwordFile, initFile),
    },
    { datadir: SOURCE_DATADIR, runDir: SOURCE_RUNDIR },
    { port: SOURCE_PORT, bindAddress: '0.0.0.0' },
  );
}

/**
 * Shell lines that write the init file from the password's file: the password passes only through
 * shell variables, escaped for a string literal of MariaDB and MySQL (default sql_mode: backslashes
 * first, then quotes). Exported so a test can run them under `sh`.
 */
export function initFileScript(passwordFile: string, initFile: string): string[] {
  return [
    `pw=$(cat ${shellQuote(passwordFile)})`,
    `esc=$(printf '%s' "$pw" | sed -e 's/\\\\/\\\\\\\\/g' -e "s/'/\\\\\\\\'/g")`,
    `printf '%s\\n' ${initSql().map((line) => `"${line}"`).join(' ')} > ${shellQuote(initFile)}`,
    'unset pw esc',
  ];
}

/** The init file's lines, in shell double quotes: `$esc` is the escaped password. */
function initSql(): string[] {
  const account = `'${SOURCE_USER}'@'%'`;
  return [
    'SET sql_log_bin = 0;',
    `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY '$esc';`,
    `ALTER USER ${account} IDENTIFIED BY '$esc';`,
    `GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;`,
  ];
}

/** The source's health check: `mariadb-admin ping` (MySQL: `mysqladmin ping`) over its socket (answers even before auth). */
export function sourceHealthcheckCommand(flavor: Flavor = 'mariadb'): string[] {
  return ['CMD', flavorOps(flavor).adminBinary, `--socket=${SOURCE_RUNDIR}/mysqld.sock`, 'ping'];
}

/** Single-quotes a word for sh. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
