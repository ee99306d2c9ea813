import { SourceError, UnavailableError } from '../errors.js';
import { flavorOps, type Flavor, type FlavorOps } from './flavor.js';
import { behindTransactions, countTransactions } from './gtid-count.js';
import { wildTablePattern } from './identifiers.js';
import { isSqlError, type SqlClient } from './sql-client.js';

/** Where the replica replicates from, as whom. */
export interface SourceEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Replicate over TLS (see ChangeSourceOptions.tls, tlsCa, tlsVerifyServerCert). */
  tls?: boolean;
  tlsCa?: string;
  tlsVerifyServerCert?: boolean;
}

/** The replica's state as SHOW SLAVE/REPLICA STATUS says it (snake_case: it is shown as JSON). */
export interface ReplicaStatus {
  io_running: boolean;
  sql_running: boolean;
  /** Seconds_Behind_Master/Source; null when the SQL or IO thread does not run. */
  lag_seconds: number | null;
  /** The applied position: gtid_slave_pos (MariaDB) / gtid_executed (MySQL). */
  gtid: string;
  /** The SQL thread's last error, else the IO thread's; null when neither has one. */
  last_error: string | null;
  /** What the IO thread does ('' when replication is not configured). */
  io_state: string;
  /** The position the IO thread has received: MariaDB's Gtid_IO_Pos, MySQL's Retrieved_Gtid_Set united with gtid_executed. */
  received_gtid: string;
  /** Transactions in the applied position (MariaDB: seq_no summed over domains; MySQL: GTIDs in gtid_executed); grows as the replica applies. Null when unknown. */
  applied_transactions: number | null;
  /** Transactions received and not yet applied (per domain / per uuid); null when unknown. */
  behind_transactions: number | null;
}

export interface StartReplicationOptions {
  /** Replicate only these databases (when the copy was of some databases, not all). */
  databases?: string[];
  connectRetrySeconds?: number;
}

/**
 * Points the replica at the source and starts replication from `gtid` (the copy's position; on
 * MariaDB the dump already set it, and it is set only when it differs). Account statements are
 * replicated (the source's accounts are copied at `replica init`), unless databases are chosen:
 * then only those databases' tables are.
 */
export async function startReplication(client: SqlClient, flavor: Flavor, source: SourceEndpoint, gtid?: string, options: StartReplicationOptions = {}): Promise<void> {
  const ops = flavorOps(flavor);
  await stopQuietly(client, ops);
  if (gtid !== undefined && gtid !== '' && normalizeGtid(await position(client, ops)) !== normalizeGtid(gtid)) {
    await client.execute(ops.setPositionSql(gtid));
  }
  for (const sql of ops.filterSql(options.databases)) await client.execute(sql);
  await client.execute(ops.changeSourceSql({ ...source, ...(options.connectRetrySeconds !== undefined ? { connectRetrySeconds: options.connectRetrySeconds } : {}) }));
  await client.execute(ops.startReplicationSql);
}

/**
 * The same filters as server options, so they survive a restart of the replica (SET GLOBAL and
 * CHANGE REPLICATION FILTER do not): put them on the replica's command line.
 */
export function replicationFilterArgs(databases?: readonly string[]): string[] {
  const args: string[] = [];
  for (const db of databases ?? []) args.push(`--replicate-wild-do-table=${wildTablePattern(db)}`);
  return args;
}

/** Stops replication; "not configured" / "already stopped" are not errors. */
async function stopQuietly(client: SqlClient, ops: FlavorOps): Promise<void> {
  try {
    await client.execute(ops.stopReplicationSql);
  } catch (error) {
    // 1200: ER_BAD_SLAVE / ER_REPLICA_CONFIGURATION, "not configured as a replica".
    if (!isSqlError(error, 1200)) throw error;
  }
}

/**
 * Reads the applied GTID position, then SHOW SLAVE/REPLICA STATUS (in that order, so what the IO
 * thread has received is read after what was applied, and transactions behind are not undercounted).
 */
export async function replicaStatus(client: SqlClient, flavor: Flavor): Promise<ReplicaStatus> {
  const ops = flavorOps(flavor);
  const gtid = await position(client, ops);
  const rows = await client.query(ops.statusSql);
  return statusFromRow(ops, rows[0], gtid);
}

/** The applied position's transaction count alone (a second reading, for the apply rate). */
export async function appliedTransactions(client: SqlClient, flavor: Flavor): Promise<number | null> {
  return countTransactions(flavor, await position(client, flavorOps(flavor)));
}

/** Maps one status row (absent when replication is not configured) to ReplicaStatus. */
export function statusFromRow(ops: FlavorOps, row: Record<string, unknown> | undefined, gtid: string): ReplicaStatus {
  const applied = countTransactions(ops.flavor, gtid);
  if (!row) return { io_running: false, sql_running: false, lag_seconds: null, gtid, last_error: null, io_state: '', received_gtid: '', applied_transactions: applied, behind_transactions: null };
  const c = ops.statusColumns;
  const text = (name: string): string => {
    const v = row[name];
    return v === null || v === undefined ? '' : String(v);
  };
  const lag = row[c.lagSeconds];
  const lastError = [text(c.lastSqlError), text(c.lastIoError)].find((e) => e !== '') ?? null;
  const received = ops.receivedPosition(text(c.receivedGtid), gtid);
  return {
    io_running: text(c.ioRunning) === 'Yes',
    sql_running: text(c.sqlRunning) === 'Yes',
    lag_seconds: lag === null || lag === undefined || lag === '' ? null : Number(lag),
    gtid,
    last_error: lastError,
    io_state: text(c.ioState),
    received_gtid: received ?? '',
    applied_transactions: applied,
    behind_transactions: received === null ? null : behindTransactions(ops.flavor, received, gtid),
  };
}

/** A source's current position (what a replica must reach to be caught up). */
export async function sourcePosition(source: SqlClient, flavor: Flavor): Promise<string> {
  const [row] = await source.query<{ gtid: unknown }>(flavorOps(flavor).sourcePositionSql);
  return normalizeGtid(row?.gtid);
}

async function position(client: SqlClient, ops: FlavorOps): Promise<string> {
  const [row] = await client.query<{ gtid: unknown }>(ops.gtidPositionSql);
  return normalizeGtid(row?.gtid);
}

/** GTID sets as text without the newlines MySQL puts after commas. */
export function normalizeGtid(value: unknown): string {
  return value === null || value === undefined ? '' : String(value).replace(/\s+/g, '');
}

/** How long one server-side wait may block before dolly checks the abort signal and the threads. */
const WAIT_SLICE_MS = 500;

/**
 * Waits until the replica has applied `target` (a GTID position, or the source's current one
 * read through `source`). Fails fast with SourceError when replication stops with an error, with
 * UnavailableError after `timeoutMs`. Returns the position waited for and the time it took.
 */
export async function waitUntilCaughtUp(
  client: SqlClient,
  flavor: Flavor,
  target: string | { source: SqlClient },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ gtid: string; waitedMs: number }> {
  const ops = flavorOps(flavor);
  const started = Date.now();
  const gtid = typeof target === 'string' ? normalizeGtid(target) : await sourcePosition(target.source, flavor);
  for (;;) {
    signal?.throwIfAborted();
    const slice = Math.min(WAIT_SLICE_MS, Math.max(0, started + timeoutMs - Date.now()));
    const [row] = await client.query<{ result: unknown }>(ops.waitForGtidSql(gtid, slice / 1000));
    if (row?.result !== null && row?.result !== undefined && Number(row.result) === 0) return { gtid, waitedMs: Date.now() - started };
    const status = await replicaStatus(client, flavor);
    if (!status.sql_running && status.last_error !== null) {
      throw new SourceError(`replication stopped: ${status.last_error}`, {
        hint: 'the replica cannot apply what the source sends; fix the cause (or make a new replica with `dolly replica init`)',
      });
    }
    if (Date.now() - started >= timeoutMs) {
      throw new UnavailableError(`the replica did not reach ${gtid || 'the source position'} within ${timeoutMs} ms (it is at ${status.gtid || 'nothing'}, lag ${status.lag_seconds ?? 'unknown'} s)`, {
        hint: status.io_running ? 'it is still catching up: wait, or give it more time' : `the IO thread does not run (${status.io_state || 'stopped'}): check that the replica reaches the source`,
      });
    }
  }
}

/** Stops the SQL (applier) thread; the IO thread keeps fetching. */
export async function pauseApplier(client: SqlClient, flavor: Flavor): Promise<void> {
  await client.execute(flavorOps(flavor).stopApplierSql);
}

export async function resumeApplier(client: SqlClient, flavor: Flavor): Promise<void> {
  await client.execute(flavorOps(flavor).startApplierSql);
}

/** Blocks commits and flushes non-transactional tables; holds until release() on the SAME client. */
export async function quiesce(client: SqlClient, flavor: Flavor): Promise<void> {
  for (const sql of flavorOps(flavor).quiesceSql) await client.execute(sql);
}

export async function release(client: SqlClient, flavor: Flavor): Promise<void> {
  for (const sql of flavorOps(flavor).releaseSql) await client.execute(sql);
}

/**
 * The source time the replica's data reflects (a snapshot's data_state_at): call it while the SQL
 * thread still runs, just before pauseApplier. Caught up (lag 0) → now; behind → MySQL's commit
 * time of the last applied transaction, or (MariaDB 10.11, which records none) now minus
 * Seconds_Behind_Master — whole seconds, corrected for the clock difference the IO thread measured.
 * Null when the lag is unknown (a thread not running).
 */
export async function sourceTimeOfLastEvent(client: SqlClient, flavor: Flavor, now: () => number = Date.now): Promise<Date | null> {
  const ops = flavorOps(flavor);
  const status = await replicaStatus(client, flavor);
  if (status.lag_seconds === 0) return new Date(now());
  if (ops.lastAppliedCommitTimeSql !== null) {
    const [row] = await client.query<{ at_epoch: unknown }>(ops.lastAppliedCommitTimeSql);
    const epoch = Number(row?.at_epoch ?? 0);
    if (epoch > 0) return new Date(epoch * 1000);
  }
  return status.lag_seconds === null ? null : new Date(now() - status.lag_seconds * 1000);
}
