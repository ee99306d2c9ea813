import { quoteAccount, quoteString } from '../mysql/identifiers.js';
import { CONTAINER_DATADIR, CONTAINER_RUNDIR } from '../runtime/runtime.js';

/** What a server's command line needs from its flavor (see src/mysql/flavor.ts). */
export interface ServerFlavor {
  /** `mariadbd` / `mysqld`. */
  readonly serverBinary: string;
  /** Shell words that initialise an empty datadir. */
  initDatadir(datadir: string): string[];
  /** Flags that keep replication from starting (`--skip-slave-start` / `--skip-replica-start`). */
  readonly skipReplicaStart: string;
  /** Flags every dolly-run server of this flavor gets (e.g. `--mysqlx=0`). */
  readonly extraServerArgs: readonly string[];
}

export const SOCKET = `${CONTAINER_RUNDIR}/mysqld.sock`;
export const INIT_FILE = `${CONTAINER_RUNDIR}/init.sql`;
export const ERROR_LOG = `${CONTAINER_RUNDIR}/error.log`;

/** Where the server listens: its own port on the host, or no TCP at all. */
export type Listen = { port: number; bindAddress: string } | 'socket-only';

function baseArgs(flavor: ServerFlavor, serverId: number, listen: Listen): string[] {
  const args = [
    '--no-defaults',
    '--user=root',
    `--datadir=${CONTAINER_DATADIR}`,
    `--socket=${SOCKET}`,
    `--pid-file=${CONTAINER_RUNDIR}/mysqld.pid`,
    `--log-error=${ERROR_LOG}`,
    '--tmpdir=/tmp',
    '--skip-name-resolve',
    `--server-id=${serverId}`,
    ...flavor.extraServerArgs,
  ];
  if (listen === 'socket-only') args.push('--skip-networking');
  else args.push(`--port=${listen.port}`, `--bind-address=${listen.bindAddress}`);
  return args;
}

/**
 * The replica: durable (flush at commit), read-only for users, no binlog of its own, relay logs
 * recovered after a crash, datadir initialised on first start. `init.sql` (re)creates dolly's
 * admin account at every start.
 */
export function replicaCommand(flavor: ServerFlavor, serverId: number, bufferPool: string, filters: readonly string[]): string[] {
  const server = [
    flavor.serverBinary,
    ...baseArgs(flavor, serverId, 'socket-only'),
    '--read-only=ON',
    '--event-scheduler=OFF',
    '--skip-log-bin',
    '--relay-log=relay-bin',
    '--relay-log-recovery=ON',
    '--innodb-flush-log-at-trx-commit=1',
    `--innodb-buffer-pool-size=${bufferPool}`,
    `--init-file=${INIT_FILE}`,
    ...filters,
  ];
  const init = flavor.initDatadir(CONTAINER_DATADIR).join(' ');
  const script = `[ -d ${CONTAINER_DATADIR}/mysql ] || ${init} > ${CONTAINER_RUNDIR}/init-datadir.log 2>&1 || exit 1; exec "$@"`;
  return ['sh', '-c', script, 'sh', ...server];
}

/** The temporary server that prepares a snapshot: no network, no replication, no events. */
export function prepareCommand(flavor: ServerFlavor, serverId: number): string[] {
  return [
    flavor.serverBinary,
    ...baseArgs(flavor, serverId, 'socket-only'),
    flavor.skipReplicaStart,
    '--skip-log-bin',
    '--read-only=OFF',
    '--event-scheduler=OFF',
    '--innodb-buffer-pool-size=128M',
    '--performance-schema=OFF',
  ];
}

/** A clone: own server id and port, no replication, no binlog, events off, small and fast. */
export function cloneCommand(flavor: ServerFlavor, serverId: number, port: number, bindAddress: string, bufferPool: string): string[] {
  return [
    flavor.serverBinary,
    ...baseArgs(flavor, serverId, { port, bindAddress }),
    flavor.skipReplicaStart,
    '--skip-log-bin',
    '--read-only=OFF',
    '--event-scheduler=OFF',
    `--innodb-buffer-pool-size=${bufferPool}`,
    '--performance-schema=OFF',
    '--innodb-buffer-pool-load-at-startup=OFF',
    '--innodb-buffer-pool-dump-at-shutdown=OFF',
    '--innodb-flush-log-at-trx-commit=2',
    `--init-file=${INIT_FILE}`,
  ];
}

/** SQL run at every start of a server (via --init-file): creates or re-keys one account. */
export function accountInitSql(user: string, hosts: readonly string[], password: string): string {
  const lines: string[] = [];
  const secret = quoteString(password);
  for (const host of hosts) {
    const account = quoteAccount(user, host);
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${secret};`,
      `ALTER USER ${account} IDENTIFIED BY ${secret} ACCOUNT UNLOCK;`,
      `GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;`,
    );
  }
  return `${lines.join('\n')}\n`;
}
