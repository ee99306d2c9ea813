import { InternalError, SourceError, UnavailableError } from '../errors.js';
import { flavorOps, type Flavor } from '../mysql/flavor.js';
import { normalizeGtid, pauseApplier, quiesce, release, replicaStatus, resumeApplier, sourceTimeOfLastEvent } from '../mysql/replication.js';
import type { SqlClient } from '../mysql/sql-client.js';

/**
 * A snapshot needs a running applier: one left stopped (a command that died in its pause, before
 * the reconciler ran) is started again; one stopped by an error is refused with that error.
 */
async function ensureApplierRunning(client: SqlClient, flavor: Flavor): Promise<void> {
  let status = await replicaStatus(client, flavor);
  if (status.sql_running) return;
  if (status.last_error) throw new SourceError(`replication is stopped by an error: ${status.last_error}`, { hint: 'see `dolly replica status`; fix the cause on the source or the replica first' });
  await client.execute(flavorOps(flavor).startApplierSql);
  const deadline = Date.now() + 10_000;
  while (!(status = await replicaStatus(client, flavor)).sql_running) {
    if (Date.now() > deadline) throw new UnavailableError("the replica's applier does not start", { hint: 'see `dolly replica status`' });
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The replica held still for a snapshot; `resume` lets it go and returns how long it was held. */
export interface ReplicaPause {
  gtid: string;
  dataStateAt: Date;
  pauseMs: number;
  resume(): Promise<number>;
}

/**
 * Holds the replica still on ONE connection: reads the data time while the applier still runs,
 * stops the applier, blocks commits and flushes non-transactional tables (unless `quiesce` is
 * false: the caller shuts the server down instead), and records the GTID position.
 */
export async function pauseReplica(client: SqlClient, flavor: Flavor, now: () => Date, options: { quiesce?: boolean } = {}): Promise<ReplicaPause> {
  await ensureApplierRunning(client, flavor);
  const dataStateAt = await sourceTimeOfLastEvent(client, flavor, () => now().getTime());
  if (dataStateAt === null) {
    const status = await replicaStatus(client, flavor);
    throw new UnavailableError(`the replica is not receiving from its source (IO thread ${status.io_running ? 'running' : 'stopped'}${status.last_error ? `: ${status.last_error}` : ''}), so the age of its data is unknown`, {
      hint: 'see `dolly replica status`; take the snapshot once replication runs again',
    });
  }
  const started = performance.now();
  await pauseApplier(client, flavor);
  const blocking = options.quiesce !== false;
  try {
    if (blocking) await quiesce(client, flavor);
    const [row] = await client.query<{ gtid: unknown }>(flavorOps(flavor).gtidPositionSql);
    if (!row) throw new InternalError('the replica returned no GTID position');
    let resumed: number | undefined;
    const pause: ReplicaPause = {
      gtid: normalizeGtid(row.gtid),
      dataStateAt,
      pauseMs: 0,
      async resume() {
        if (resumed !== undefined) return resumed;
        if (blocking) await release(client, flavor);
        await resumeApplier(client, flavor);
        resumed = Math.round(performance.now() - started);
        return resumed;
      },
    };
    return pause;
  } catch (error) {
    if (blocking) await release(client, flavor).catch(() => undefined);
    await resumeApplier(client, flavor).catch(() => undefined);
    throw error;
  }
}
