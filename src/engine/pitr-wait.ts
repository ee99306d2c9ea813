import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { flavorOps } from '../mysql/flavor.js';
import { sourceTimeOfLastEvent } from '../mysql/replication.js';
import { connectSql } from '../mysql/sql-client.js';
import type { Replica } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { positionHolds, type Point } from './pitr-point.js';
import { replicaConnectOptions } from './servers.js';

/** How often the replica is asked again while a point waits for it. */
const POLL_MS = 250;
/**
 * A point counts as applied once the replica's data is this much past it: the source's clock
 * ticks on while its last transactions are on their way, and MariaDB stamps whole seconds.
 */
const MARGIN_MS = 1_000;

/**
 * Waits until the replica has applied everything up to `point` (its data time past the point's
 * second, or the GTID in its position), for up to `waitMs`; refuses a point further ahead than
 * that at once, and one not reached in time with how far behind the replica is.
 */
export async function waitUntilApplied(deps: EngineDeps, replica: Replica, point: Point, waitMs: number, signal?: AbortSignal): Promise<void> {
  const flavor = replica.source.flavor;
  const now = (): number => deps.now().getTime();
  const needMs = point.kind === 'time' ? (flavor === 'mariadb' ? (Math.floor(point.us / 1e6) + 1) * 1_000 : Math.ceil(point.us / 1_000)) + MARGIN_MS : 0;
  if (point.kind === 'time' && needMs > now() + waitMs) {
    throw new InvalidArgumentError(`--at ${new Date(Math.floor(point.us / 1_000)).toISOString()} is in the future`, { hint: 'give a past time (UTC), or a time before now such as -90s' });
  }
  const deadline = Date.now() + waitMs;
  const client = await connectSql(replicaConnectOptions(deps.root, replica));
  try {
    for (;;) {
      signal?.throwIfAborted();
      let behind: string;
      if (point.kind === 'time') {
        const applied = await sourceTimeOfLastEvent(client, flavor, now);
        if (applied !== null && applied.getTime() >= needMs) return;
        behind = applied === null ? 'the replica is not receiving from its source' : `the replica has applied up to ${applied.toISOString()}, ${Math.round((now() - applied.getTime()) / 1_000)} s behind`;
      } else {
        const [row] = await client.query<{ gtid: unknown }>(flavorOps(flavor).gtidPositionSql);
        const position = String(row?.gtid ?? '');
        if (gtidIn(point.gtid, position, flavor)) return;
        behind = `the replica's position is ${position.replace(/\s+/g, '')}`;
      }
      if (Date.now() >= deadline) throw new FailedPreconditionError(`the point is not applied yet: ${behind}`, { hint: 'wait and try again, pass a longer --wait, or see `dolly replica status`' });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await client.close();
  }
}

/** Whether one GTID is in a position (MariaDB: its domain's seq reached; MySQL: in the set); a domain or server uuid the position never had is not found. */
export function gtidIn(gtid: string, position: string, flavor: 'mariadb' | 'mysql'): boolean {
  const held = positionHolds(position, gtid, flavor);
  if (held !== null) return held;
  if (flavor === 'mariadb') throw new NotFoundError(`GTID ${gtid}: domain ${gtid.split('-')[0]} is not in the replica's stream (${position || 'empty'})`, { hint: "give a GTID of the source's own domain (see `dolly replica status`)" });
  throw new NotFoundError(`GTID ${gtid}: server ${gtid.slice(0, gtid.lastIndexOf(':'))} is not in the replica's stream`, { hint: "give a GTID of the source's own (see `dolly replica status`)" });
}
