import { join } from 'node:path';
import { execIn } from '../../docker/exec.js';
import { assertBackupFits, assertReplicationStarted } from '../../engine/replica-init.js';
import { REPLICA_VOLUME } from '../../engine/servers.js';
import { CommandFailedError, FailedPreconditionError, SourceError, UnavailableError, messageOf } from '../../errors.js';
import { quoteIdentifier } from '../../mysql/identifiers.js';
import { detectFlavor, flavorOps } from '../../mysql/flavor.js';
import { normalizeGtid, replicaStatus, startReplication, type ReplicaStatus } from '../../mysql/replication.js';
import { SYSTEM_DATABASES } from '../../mysql/source-check.js';
import { connectSql, type ConnectOptions, type SqlClient } from '../../mysql/sql-client.js';
import { waitForServer } from '../../mysql/wait-ready.js';
import { CONTAINER_RUNDIR } from '../../runtime/container-layout.js';
import { StateStore } from '../../state/store.js';
import type { Topology } from '../model.js';
import { SOURCE_PORT, SOURCE_USER } from '../source-server.js';
import { readReplicaAdmin, swarmRecord, type ReplicaAdmin } from './replica-prep.js';
import { readDeploySecret, type SwarmDeps } from './swarm-deploy.js';
import { waitForRunningTask, type RunningTask } from './tasks.js';
import { secondsSince } from '../../elapsed.js';
import { emptyDatadir, removeReceiver, scaleReplica, transferBackup } from './backup-transfer.js';

/** What `dolly swarm bootstrap` did. */
export interface BootstrapResult {
  /** True when replication was already configured: nothing was copied. */
  already: boolean;
  method: 'dump' | 'backup';
  source_version: string;
  databases: string[];
  gtid: string;
  seconds: number;
  replica: ReplicaStatus;
}

export interface BootstrapOptions {
  /** How long to wait for the services and servers to answer, and for a backup to arrive (default 300 s). */
  timeoutMs?: number;
  /**
   * `dump` (default): mariadb-dump inside the replica's task. `backup`: mariadb-backup in the
   * source's task, streamed over the stack's network to the pool node (backup-transfer.ts).
   */
  method?: 'dump' | 'backup';
  /** Extra mariadb-backup options (e.g. `--parallel=4`), passed as arguments, never through a shell. */
  backupArgs?: readonly string[];
}

/** The replica's socket on the pool node, as the machine holding the pool root sees it. */
export function swarmReplicaConnect(topology: Topology, admin: ReplicaAdmin): ConnectOptions {
  return { socketPath: join(topology.pool.runDir, 'mysqld.sock'), user: admin.admin_user, password: admin.admin_password };
}

/**
 * Bootstraps replication from `source` to `replica` across nodes, the way `dolly replica init`
 * does: a consistent copy (`mariadb-dump --single-transaction --gtid`) streamed inside the
 * replica's task, over the stack's network, into the replica's socket, then GTID replication from
 * exactly the copy's position. Runs where the pool root is (the pool node, or the sandbox's host).
 * Idempotent: a replica that already replicates is left alone. A failed copy is undone (the copied
 * databases dropped, the position forgotten). With a dolly pool at the root, the state records the
 * replica so that snapshots and clones work on it.
 */
export async function swarmBootstrap(topology: Topology, deps: SwarmDeps, options: BootstrapOptions = {}): Promise<BootstrapResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 300_000;
  const admin = await readReplicaAdmin(topology.pool);
  if (!admin) {
    throw new FailedPreconditionError(`no replica account under ${topology.pool.root} on this machine`, { hint: 'run `dolly swarm deploy` first, on the machine that holds the pool root' });
  }
  const method = options.method ?? 'dump';
  // What an interrupted backup bootstrap left: its receiver, the replica scaled to none.
  await removeReceiver(topology, deps);
  await scaleReplica(topology, deps, topology.services.replica.replicas);
  const task = await waitForRunningTask(deps.docker, deps.engines, topology.services.replica.name, timeoutMs);
  const connect = swarmReplicaConnect(topology, admin);
  await waitForServer(connect, { timeoutMs });
  let client = await connectSql(connect);
  try {
    const ops = flavorOps('mariadb');
    if ((await client.query(ops.statusSql)).length > 0) {
      const status = await replicaStatus(client, 'mariadb');
      deps.logger.info('replication is already configured', { io_running: status.io_running, sql_running: status.sql_running });
      return { already: true, method, source_version: '', databases: [], gtid: status.gtid, seconds: secondsSince(started), replica: status };
    }
    await assertEmpty(client);
    const secret = topology.secrets.find((x) => x.key === 'rootPassword');
    if (!secret) throw new FailedPreconditionError('the topology has no root password secret', { hint: 'set rootPassword in the topology' });
    const password = await readDeploySecret(secret, deps);
    const source = { host: topology.services.source.name, port: SOURCE_PORT, user: SOURCE_USER, password };
    const probe = await probeSource(task, source, Date.now() + timeoutMs);
    deps.logger.info('copying from the source across nodes', { method, from: `${source.host}:${source.port}`, to: `replica on ${task.node}`, databases: probe.databases });
    let gtid = probe.gtid;
    if (method === 'backup') {
      const [replicaVersion] = await client.query<{ v: string }>('SELECT @@version AS v');
      assertBackupFits({ flavor: 'mariadb', version: replicaVersion?.v ?? '' }, topology.services.replica.image, { flavor: detectFlavor(probe.version), version: probe.version });
      await client.close();
      const sourceTask = await waitForRunningTask(deps.docker, deps.engines, topology.services.source.name, timeoutMs);
      const position = await transferBackup(topology, deps, { source: sourceTask, timeoutMs, ...(options.backupArgs ? { extraArgs: options.backupArgs } : {}) });
      deps.logger.info('backup prepared; the replica starts on it', { gtid: position.gtid, binlog: `${position.file}:${position.position}` });
      await waitForServer(connect, { timeoutMs });
      client = await connectSql(connect);
      gtid = position.gtid;
    }
    try {
      if (method === 'dump' && probe.databases.length > 0) {
        await copyInTask(task, source, admin, probe.databases);
        gtid = normalizeGtid((await client.query<{ gtid: string }>(ops.gtidPositionSql))[0]?.gtid);
      }
      await startReplication(client, 'mariadb', source, gtid);
      await assertReplicationStarted(client, 'mariadb');
    } catch (error) {
      deps.logger.warn('bootstrap failed; undoing the copy', { reason: messageOf(error) });
      const undo = method === 'backup' ? undoRestore(topology, deps, client) : undoCopy(client, probe.databases);
      await undo.catch((undoError: unknown) => deps.logger.error('undo failed', { reason: messageOf(undoError) }));
      throw error;
    }
    await recordReplica(topology, admin, probe);
    const status = await replicaStatus(client, 'mariadb');
    deps.logger.info('replication running across nodes', { gtid, seconds: secondsSince(started) });
    return { already: false, method, source_version: probe.version, databases: probe.databases, gtid, seconds: secondsSince(started), replica: status };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Takes a restored backup out again: the replica stopped, its datadir emptied, started on a fresh one. */
async function undoRestore(topology: Topology, deps: SwarmDeps, client: SqlClient): Promise<void> {
  await client.execute('STOP SLAVE').catch(() => undefined);
  await client.execute('RESET SLAVE ALL').catch(() => undefined);
  await client.close().catch(() => undefined);
  await scaleReplica(topology, deps, 0);
  await emptyDatadir(topology.pool.dataDir);
  await scaleReplica(topology, deps, topology.services.replica.replicas);
}

/** The replica must hold no user database before a copy goes in. */
async function assertEmpty(client: SqlClient): Promise<void> {
  const rows = await client.query<{ name: string }>('SELECT schema_name AS name FROM information_schema.schemata');
  const user = rows.map((r) => r.name).filter((name) => !SYSTEM_DATABASES.includes(name));
  if (user.length > 0) {
    throw new FailedPreconditionError(`the replica holds databases (${user.join(', ')}) but does not replicate`, { hint: 'start over: `dolly swarm destroy`, delete the replica volume, `dolly swarm deploy`' });
  }
}

interface SourceProbe {
  version: string;
  gtid: string;
  databases: string[];
}

type SourceEndpoint = { host: string; port: number; user: string; password: string };

function clientArgs(source: SourceEndpoint): string[] {
  return ['--no-defaults', '--protocol=TCP', `--host=${source.host}`, `--port=${source.port}`, `--user=${source.user}`];
}

/**
 * Asks the source, from inside the replica's task (over the stack's network), for its version,
 * binlog settings, GTID position and user databases; waits while it is still starting.
 */
async function probeSource(task: RunningTask, source: SourceEndpoint, deadline: number): Promise<SourceProbe> {
  const excluded = SYSTEM_DATABASES.map((d) => `'${d}'`).join(',');
  const sql =
    'SELECT @@version, @@log_bin, @@binlog_format, @@gtid_binlog_pos, ' +
    `(SELECT GROUP_CONCAT(schema_name ORDER BY schema_name SEPARATOR '/') FROM information_schema.schemata WHERE schema_name NOT IN (${excluded}))`;
  for (;;) {
    const result = await execIn(task.engine, task.containerId, ['mariadb', ...clientArgs(source), '--batch', '--skip-column-names', '-e', sql], { env: { MYSQL_PWD: source.password } });
    if (result.code === 0) {
      const [version = '', logBin = '', format = '', gtid = '', databases = 'NULL'] = result.stdout.trim().split('\t');
      if (detectFlavor(version) !== 'mariadb') throw new SourceError(`the source is ${version}, the Swarm replica is MariaDB`, { hint: 'use a MariaDB image for the source' });
      if (logBin !== '1') throw new SourceError('the source has no binary log', { hint: 'start it with --log-bin (the topology\'s source does)' });
      if (format !== 'ROW') throw new SourceError(`the source's binlog_format is ${format}`, { hint: 'use ROW' });
      return { version, gtid: normalizeGtid(gtid), databases: databases === 'NULL' ? [] : databases.split('/') };
    }
    const reason = result.stderr.trim().split('\n').at(-1) ?? '';
    if (/Access denied/.test(reason)) throw new SourceError(`the source refused ${source.user}: ${reason}`, { hint: 'the secret must hold the source\'s root password' });
    if (Date.now() > deadline) throw new UnavailableError(`the source ${source.host}:${source.port} did not answer from the replica's node: ${reason}`, { hint: 'see `dolly swarm status` and the source task\'s log' });
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Streams the consistent copy inside the replica's task: dump from the source, load into the socket. */
async function copyInTask(task: RunningTask, source: SourceEndpoint, admin: ReplicaAdmin, databases: string[]): Promise<void> {
  const load = `mariadb --no-defaults --socket=${CONTAINER_RUNDIR}/mysqld.sock --user=${admin.admin_user} --max-allowed-packet=1G --batch`;
  const script = `set -o pipefail; MYSQL_PWD="$DOLLY_SOURCE_PWD" mariadb-dump "$@" | MYSQL_PWD="$DOLLY_ADMIN_PWD" ${load}`;
  const dump = [...clientArgs(source), '--max-allowed-packet=1G', ...flavorOps('mariadb').dumpArgs(databases)];
  const result = await execIn(task.engine, task.containerId, ['bash', '-c', script, 'copy', ...dump], {
    env: { DOLLY_SOURCE_PWD: source.password, DOLLY_ADMIN_PWD: admin.admin_password },
    keepBytes: 16 * 1024,
  });
  if (result.code !== 0) throw new CommandFailedError('mariadb-dump | mariadb (in the replica task)', result.code, result.stderr);
}

/** Takes a failed copy out again: its databases and the position it set. */
async function undoCopy(client: SqlClient, databases: readonly string[]): Promise<void> {
  await client.execute('STOP SLAVE').catch(() => undefined);
  await client.execute('RESET SLAVE ALL').catch(() => undefined);
  await client.execute('SET SESSION sql_log_bin = 0').catch(() => undefined);
  for (const db of databases) await client.execute(`DROP DATABASE IF EXISTS ${quoteIdentifier(db)}`);
  await client.execute("SET GLOBAL gtid_slave_pos = ''");
}

/** With a dolly pool at the root, the state gets the replica, so snapshots and clones work on it. */
async function recordReplica(topology: Topology, admin: ReplicaAdmin, probe: SourceProbe): Promise<void> {
  const store = new StateStore(topology.pool.root);
  if ((await store.read()) === null) return;
  await store.update((state) => {
    state.replica = {
      status: 'ready',
      volume: REPLICA_VOLUME,
      port: 0,
      server_id: topology.services.replica.serverId ?? 0,
      admin_user: admin.admin_user,
      admin_password: admin.admin_password,
      source: { host: topology.services.source.name, port: SOURCE_PORT, user: SOURCE_USER, flavor: 'mariadb', version: probe.version },
      databases: probe.databases,
      created_at: new Date().toISOString(),
    };
    state.swarm = swarmRecord(topology);
  });
}



/**
 * The Swarm replica's replication state, read on its socket where the pool root is on this
 * machine; null when it cannot be asked (no account here, server not answering).
 */
export async function swarmReplicaStatus(topology: Topology): Promise<ReplicaStatus | null> {
  const admin = await readReplicaAdmin(topology.pool);
  if (!admin) return null;
  const client = await connectSql({ ...swarmReplicaConnect(topology, admin), connectTimeoutMs: 3000 }).catch(() => null);
  if (!client) return null;
  try {
    return await replicaStatus(client, 'mariadb');
  } catch {
    return null;
  } finally {
    await client.close();
  }
}
