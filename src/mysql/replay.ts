import { InternalError, SourceError } from '../errors.js';
import type { Flavor } from './flavor.js';
import { quoteString } from './identifiers.js';
import type { SqlClient } from './sql-client.js';

/**
 * Replays a replica's binlog files into a copy of a base, up to an exact transaction, with the
 * server's own applier: the files are the replay server's relay log (a copy of the binlog volume
 * mounted at its relay directory, renamed `relay.NNNNNN` and listed in `relay.index`), its SQL
 * thread starts at the base's position and stops after the cut. No network: the IO thread never
 * runs. Faster than piping `mysqlbinlog` into a client (measured ~5,000 against ~800 transactions
 * a second on MySQL 9.7), and the server keeps its GTID state as a replica would.
 */
export interface ReplayPlan {
  /** First relay file (`relay.NNNNNN`) and the base's position in it. */
  startFile: string;
  startPos: number;
  /** The relay file and end position of the last transaction to apply, and its GTID. */
  cutFile: string;
  cutEndPos: number;
  cutGtid: string;
  /** MySQL: every GTID the result holds (the base's and the replayed ones): the applier stops once all are in. */
  untilGtids?: string;
}

/** The relay log's base name in the relay directory. */
export const RELAY_BASE = 'relay';

/** How long the applier may take to reach the cut before the replay fails. */
const REPLAY_TIMEOUT_S = 3_600;

/**
 * Statements run before the relay index is written: replication settings of the base forgotten
 * (RESET also deletes the relay files its index lists, so the index must be written after it).
 */
export function replayResetSql(flavor: Flavor): string[] {
  return flavor === 'mysql' ? ['STOP REPLICA', 'RESET REPLICA ALL'] : ['STOP SLAVE', 'RESET SLAVE ALL'];
}

/** Points the applier at the relay files and runs it to the cut; fails with the applier's error. */
export async function replayToCut(client: SqlClient, flavor: Flavor, plan: ReplayPlan): Promise<void> {
  if (flavor === 'mysql') {
    await client.execute(`CHANGE REPLICATION SOURCE TO SOURCE_HOST='dolly-replay.invalid', SOURCE_AUTO_POSITION=0, RELAY_LOG_FILE=${quoteString(plan.startFile)}, RELAY_LOG_POS=${plan.startPos}`);
    if (plan.untilGtids === undefined) throw new InternalError('a MySQL replay needs the GTID set to stop after');
    await client.execute(`START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS=${quoteString(plan.untilGtids)}`);
    const [row] = await client.query<{ r: unknown }>(`SELECT WAIT_FOR_EXECUTED_GTID_SET(${quoteString(plan.untilGtids)}, ${REPLAY_TIMEOUT_S}) AS r`);
    if (Number(row?.r) !== 0) await failWithApplierError(client, flavor, 'the replay did not reach its point');
    await waitStopped(client, flavor);
    return;
  }
  await client.execute(`CHANGE MASTER TO MASTER_HOST='dolly-replay.invalid', MASTER_USE_GTID=no, RELAY_LOG_FILE=${quoteString(plan.startFile)}, RELAY_LOG_POS=${plan.startPos}`);
  await client.execute(`START SLAVE SQL_THREAD UNTIL RELAY_LOG_FILE=${quoteString(plan.cutFile)}, RELAY_LOG_POS=${plan.cutEndPos}`);
  await waitStopped(client, flavor);
}

/** Waits until the SQL thread stopped (at its UNTIL), failing with its error when it stopped on one. */
async function waitStopped(client: SqlClient, flavor: Flavor): Promise<void> {
  const deadline = Date.now() + REPLAY_TIMEOUT_S * 1_000;
  for (;;) {
    const status = await applierStatus(client, flavor);
    if (status.error !== '') throw new SourceError(`the replay stopped on an error: ${status.error.split('\n')[0]}`, { hint: 'the point cannot be made from this base; try another point, or see the log' });
    if (!status.running) return;
    if (Date.now() > deadline) throw new InternalError('the replay did not reach its point within an hour');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function failWithApplierError(client: SqlClient, flavor: Flavor, message: string): Promise<never> {
  const status = await applierStatus(client, flavor);
  throw new SourceError(`${message}${status.error !== '' ? `: ${status.error.split('\n')[0]}` : ''}`, { hint: 'see the log' });
}

async function applierStatus(client: SqlClient, flavor: Flavor): Promise<{ running: boolean; error: string }> {
  const [row] = await client.query<Record<string, unknown>>(flavor === 'mysql' ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS');
  if (!row) return { running: false, error: '' };
  const running = String(row[flavor === 'mysql' ? 'Replica_SQL_Running' : 'Slave_SQL_Running'] ?? 'No') === 'Yes';
  return { running, error: String(row.Last_SQL_Error ?? '') };
}

/** The GTID state the replay server reached: MariaDB's `gtid_slave_pos`, MySQL's `gtid_executed`. */
export async function replayedGtid(client: SqlClient, flavor: Flavor): Promise<string> {
  const [row] = await client.query<{ g: unknown }>(flavor === 'mysql' ? 'SELECT @@GLOBAL.gtid_executed AS g' : 'SELECT @@GLOBAL.gtid_slave_pos AS g');
  return String(row?.g ?? '').replace(/\s+/g, '');
}
