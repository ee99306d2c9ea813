import { FailedPreconditionError, messageOf } from '../errors.js';
import { replicaStatus, type ReplicaStatus } from '../mysql/replication.js';
import { connectSql } from '../mysql/sql-client.js';
import type { EngineDeps } from './context.js';
import { REPLICA, replicaConnectOptions } from './servers.js';

export interface ReplicaStatusView extends ReplicaStatus {
  server: 'running' | 'stopped' | 'missing';
  source: string;
  databases: string[];
  /** How connections to the source use TLS (`replica init --source-tls`; preferred when it was not given). */
  source_tls?: string;
}

/** How long `replica status` waits for the replica's server to connect and to answer. */
const STATUS_TIMEOUT_MS = 3_000;

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
  // Answers within seconds even when the replica's server hangs (a full disk): it says so instead.
  try {
    const client = await connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: STATUS_TIMEOUT_MS, queryTimeoutMs: STATUS_TIMEOUT_MS });
    try {
      return { ...base, ...(await replicaStatus(client, replica.source.flavor)) };
    } finally {
      await client.close();
    }
  } catch (error) {
    return { ...base, io_running: false, sql_running: false, lag_seconds: null, gtid: '', last_error: `the replica's server does not answer: ${messageOf(error)}`, io_state: '' };
  }
}
