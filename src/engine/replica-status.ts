import { FailedPreconditionError, messageOf, UnavailableError } from '../errors.js';
import type { Replica } from '../state/state.js';
import { applyRate } from '../mysql/gtid-count.js';
import { appliedTransactions, replicaStatus, type ReplicaStatus } from '../mysql/replication.js';
import { connectSql, type SqlClient } from '../mysql/sql-client.js';
import type { EngineDeps } from './context.js';
import { replicaConnectOptions, replicaHostOf } from './servers.js';
import { poolFullView } from './pool-space.js';
import { pitrView } from './pitr-status.js';

export interface ReplicaStatusView extends ReplicaStatus {
  server: 'running' | 'stopped' | 'missing';
  source: string;
  databases: string[];
  /** How connections to the source use TLS (`replica init --source-tls`; preferred when it was not given). */
  source_tls?: string;
  /** Transactions applied per second over about half a second (`replica status`); null when not measured. */
  apply_rate: number | null;
}

export interface ReplicaStatusOptions {
  /** Measure the apply rate: a second reading of the applied position RATE_INTERVAL_MS after the first. */
  applyRate?: boolean;
}

/**
 * How long `replica status` waits for the replica's server, connection and statements together:
 * the command answers within 3 s (a CLI's start included) whatever the server does.
 */
const STATUS_TIMEOUT_MS = 1_500;
/** The apply rate's second reading is taken this long after the first. */
const RATE_INTERVAL_MS = 500;
/** With the apply rate, the answer comes within this long all told; a rate that would take longer is left out. */
const ANSWER_TIMEOUT_MS = 2_000;
/** A second reading given less time than this is not tried. */
const MIN_READING_MS = 100;

/** What a replica whose server cannot be read shows. */
const UNREAD = { io_running: false, sql_running: false, lag_seconds: null, gtid: '', io_state: '', received_gtid: '', applied_transactions: null, behind_transactions: null, apply_rate: null } as const;

/**
 * `dolly replica status`: IO/SQL threads, lag (seconds and transactions received, not yet
 * applied), GTID positions, the last error, and (`applyRate`) transactions applied per second.
 */
export async function getReplicaStatus(deps: EngineDeps, options: ReplicaStatusOptions = {}): Promise<ReplicaStatusView> {
  const state = await deps.store.require();
  const replica = state.replica;
  if (!replica) throw new FailedPreconditionError('there is no replica', { hint: 'run `dolly replica init --source mysql://...`' });
  const server = (await replicaHostOf(deps).inspect().catch(() => null))?.state ?? 'missing';
  const pitr = await pitrView(deps, state);
  const base = { server, source: `${replica.source.host}:${replica.source.port}`, databases: replica.databases, source_tls: replica.source.tls_mode ?? 'preferred', ...(pitr ? { pitr } : {}) };
  if (server !== 'running') {
    return { ...base, ...UNREAD, last_error: `the replica's server is ${server}` };
  }
  // Answers within seconds even when the replica's server hangs (a full disk, SIGSTOP): it says so instead.
  try {
    const status = await readStatus(deps, replica, options.applyRate === true);
    return { ...base, ...status, ...(await poolFullView(deps, state, status)) };
  } catch (error) {
    return { ...base, ...UNREAD, last_error: `the replica's server does not answer: ${messageOf(error)}` };
  }
}

/**
 * The replica's own view of its threads, over one connection with the status limits (failing
 * after STATUS_TIMEOUT_MS); with `withRate` and the SQL thread running, a second reading of the
 * applied position RATE_INTERVAL_MS later gives the rate, or null if it does not come in time.
 */
async function readStatus(deps: EngineDeps, replica: Replica, withRate: boolean): Promise<ReplicaStatus & { apply_rate: number | null }> {
  const started = performance.now();
  const flavor = replica.source.flavor;
  const connecting = connectSql({ ...replicaConnectOptions(deps.root, replica), connectTimeoutMs: STATUS_TIMEOUT_MS, queryTimeoutMs: STATUS_TIMEOUT_MS });
  try {
    const first = await withinDeadline(
      (async () => {
        const client = await connecting;
        const atMs = performance.now();
        return { client, atMs, status: await replicaStatus(client, flavor) };
      })(),
      STATUS_TIMEOUT_MS,
    );
    const { client, status } = first;
    if (!withRate || status.applied_transactions === null) return { ...status, apply_rate: null };
    if (!status.sql_running) return { ...status, apply_rate: 0 };
    const left = started + ANSWER_TIMEOUT_MS - performance.now() - RATE_INTERVAL_MS;
    if (left < MIN_READING_MS) return { ...status, apply_rate: null };
    await new Promise((resolve) => setTimeout(resolve, RATE_INTERVAL_MS));
    const second = await withinDeadline(secondReading(client, flavor), left).catch(() => null);
    return { ...status, apply_rate: second === null ? null : applyRate({ count: status.applied_transactions, atMs: first.atMs }, second) };
  } finally {
    // In the background: a server that stopped answering holds a QUIT for seconds (sql-client.ts).
    void connecting.then((client) => client.close(), () => undefined);
  }
}

async function secondReading(client: SqlClient, flavor: Replica['source']['flavor']): Promise<{ count: number; atMs: number } | null> {
  const atMs = performance.now();
  const count = await appliedTransactions(client, flavor);
  return count === null ? null : { count, atMs };
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
