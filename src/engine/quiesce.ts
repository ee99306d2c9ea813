import { InternalError } from '../errors.js';
import { flavorOps, type Flavor } from '../mysql/flavor.js';
import { normalizeGtid, pauseApplier, quiesce, release, resumeApplier, sourceTimeOfLastEvent } from '../mysql/replication.js';
import type { SqlClient } from '../mysql/sql-client.js';

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
  const dataStateAt = (await sourceTimeOfLastEvent(client, flavor, () => now().getTime())) ?? now();
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
