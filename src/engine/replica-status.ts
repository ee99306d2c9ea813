import { FailedPreconditionError, messageOf, UnavailableError } from '../errors.js';
import type { Replica } from '../state/state.js';
import { replicaStatus, type ReplicaStatus } from '../mysql/replication.js';
import { connectSql } from '../mysql/sql-client.js';
import type { EngineDeps } from './context.js';
import { REPLICA, replicaConnectOptions } from './servers.js';
import { poolFullView } from './pool-space.js';

export interface ReplicaStatusView extends ReplicaStatus {
  server: 'running' | 'stopped' | 'missing';
  source: string;
  databases: string[];
  /** How connections to the source use TLS (`replica init --source-tls`; preferred when it was not given). */
  source_tls?: string;
}

/**
 * How long `replica status` waits for the replica's server, connection and statements together:
 * the command answers within 3 s (a CLI's start included) whatever the server does.
 */
const STATUS_TIMEOUT_MS = 1_500;

/** `dolly replica status`: IO/SQL threads, lag, GTID position and the last error. */
export async function getReplicaStatus(deps: EngineDeps): Promise<ReplicaStatusView> {
  const state = await deps.store.require();
  const replica = state.replica;
  if (!replica) throw new FailedPreconditionError('there is no replica', { hint: 'run `dolly replica init --source mysql://...`' });
  const server = (await deps.runtime.inspect(REPLICA).catch(() => null))?.state ?? 'missing';
  const base = { server, source: `${replica.source.host}:${replica.source.port}`, databases: replica.databases, source_tls: replica.source.tls_mode ?? 'preferred' };
  if (server !== 'running') {
    return { ...base, io_running: false, sql_running: false, lag_seconds: null, gtid: '', last_error: `the replica's server is ${server}`, io_state: '' };
  }
  // Answers within seconds even when the replica's server hangs (a full disk, SIGSTOP): it says so instead.
  try {
    const status = await withinDeadline(readStatus(deps, replica), STATUS_TIMEOUT_MS);
    return { ...base, ...status, ...(await poolFullView(deps, state, status)) };
  } catch (error) {
    return { ...base, io_running: false, sql_running: false, lag_seconds: null, gtid: '', last_error: `the replica's server does not answer: ${messageOf(error)}`, io_state: '' };
  }
}

/** The replica's own view of its threads, over one connection with the status limits. */
async function readStatus(deps: EngineDeps, replica: Replica): Promise<ReplicaStatus> {
  const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: STATUS_TIMEOUT_MS, queryTimeoutMs: STATUS_TIMEOUT_MS });
  try {
    return await replicaStatus(client, replica.source.flavor);
  } finally {
    await client.close();
  }
}

/** `work`, or an UnavailableError once `ms` have passed (the work ends on its own limits later). */
async function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(`no answer within ${ms / 1000} s`)), ms);
  });
  work.catch(() => undefined); // a failure after the deadline is nobody's to report
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
