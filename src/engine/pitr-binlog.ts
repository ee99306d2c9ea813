import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { Flavor } from '../mysql/flavor.js';
import type { ReplicaBinlog } from '../mysql/server-args.js';
import type { SqlClient } from '../mysql/sql-client.js';
import { CONTAINER_BINLOGDIR } from '../runtime/container-layout.js';
import type { Replica, Snapshot, State } from '../state/state.js';
import type { StorageDriver } from '../storage/driver.js';

/**
 * The replica's own binlog, kept for point-in-time clones (`clone create --at`): what the replica
 * applied, with the source's GTIDs, commit times and server ids, in files `BASE.NNNNNN` on a pool
 * volume of its own (`replica-binlog`), mounted beside the datadir. No snapshot of the datadir,
 * no clone and no branch ever holds it. dolly purges it by its window (`purgeReplicaBinlog`); the
 * server's own expiry is a backstop for when dolly does not run.
 */
export const PITR_VOLUME = 'replica-binlog';

/** The replica's pitr settings as stored. */
export type Pitr = NonNullable<Replica['pitr']>;

/** The server's expiry: the window and an hour (dolly purges exactly; this only catches a dolly that is gone). */
export function binlogExpirySeconds(pitr: Pick<Pitr, 'window_s'>): number {
  return pitr.window_s + 3_600;
}

/** The binlog volume's mount and the replica's binlog flags. */
export async function replicaBinlogMount(driver: StorageDriver, pitr: Pitr, durable: boolean): Promise<{ binlog: ReplicaBinlog; mount: { path: string; target: string } }> {
  // Made on first use: turning point-in-time clones on records them first, so a crash converges.
  const data = (await driver.exists(PITR_VOLUME)) ? await driver.mount(PITR_VOLUME) : await driver.createVolume(PITR_VOLUME);
  if (data.kind !== 'path') throw new FailedPreconditionError(`the ${driver.name} driver keeps no volume as a directory: point-in-time clones need btrfs or copy`, { hint: 'turn them off: `dolly replica pitr --off`' });
  return { binlog: { dir: CONTAINER_BINLOGDIR, base: pitr.base, expireSeconds: binlogExpirySeconds(pitr), durable }, mount: { path: data.path, target: CONTAINER_BINLOGDIR } };
}

/**
 * `--pitr-window 24h`: a duration from a minute to 30 days (`90m`, `24h`, `7d`, `3600s`).
 * Shorter than a minute is refused: the window is what clones may go back in time.
 */
export function parseWindow(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3_600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 60 || seconds > 30 * 86_400) {
    throw new InvalidArgumentError(`invalid window ${JSON.stringify(text)}`, { hint: 'give a duration from 1m to 30d, such as 90m, 24h or 7d' });
  }
  return seconds;
}

/** `--base-interval 60s`: seconds between base points, 10 s to a day. */
export function parseBaseInterval(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3_600 }[m[2] as 's' | 'm' | 'h'] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 10 || seconds > 86_400) throw new InvalidArgumentError(`invalid base interval ${JSON.stringify(text)}`, { hint: 'give a duration from 10s to 24h, such as 60s or 5m' });
  return seconds;
}

/** Where the replica's binlog stands now (read while it is paused for a snapshot: exact). */
export async function binlogPosition(client: SqlClient, flavor: Flavor): Promise<{ file: string; pos: number }> {
  const [row] = await client.query<{ File?: unknown; Position?: unknown }>(flavor === 'mysql' ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS');
  if (row?.File === undefined || row.File === null) throw new FailedPreconditionError("the replica's binlog is off although point-in-time clones are on", { hint: 'run `dolly up` (it restarts the replica with its binlog)' });
  return { file: String(row.File), pos: Number(row.Position) };
}

/** The binlog's files (`BASE.NNNNNN`) in order, with their sizes, as the volume holds them. */
export async function binlogFiles(dir: string, base: string): Promise<{ name: string; bytes: number }[]> {
  const number = (n: string): number => Number(n.slice(base.length + 1));
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${base}.`) && /^\d{6,}$/.test(n.slice(base.length + 1))).sort((a, b) => number(a) - number(b));
  return Promise.all(names.map(async (name) => ({ name, bytes: (await stat(join(dir, name))).size })));
}

/**
 * The bases a point can be replayed from: ready snapshots of the replica (never a branch, a masked
 * snapshot or a point) and base points (src/engine/base-point.ts) that recorded where the current
 * binlog stood, oldest first by their data's time.
 */
export function pitrBases(state: State, basePoints: readonly Snapshot[] = []): Snapshot[] {
  return [...state.snapshots, ...basePoints]
    .filter((s) => s.status === 'ready' && s.binlog !== undefined && s.binlog.file.startsWith(`${state.replica?.pitr?.base ?? '-'}.`) && s.branch_of === undefined && s.masked !== true && s.point === undefined)
    .sort((a, b) => Date.parse(a.data_state_at) - Date.parse(b.data_state_at));
}

/**
 * The first binlog file the window needs: the file of the newest base whose data is at or before
 * `now - window` (older points are out of the window), else of the oldest base. Null: no base yet.
 */
export function keepFrom(bases: readonly Snapshot[], windowS: number, now: Date): string | null {
  const edge = now.getTime() - windowS * 1000;
  let keep: Snapshot | undefined;
  for (const base of bases) if (Date.parse(base.data_state_at) <= edge || keep === undefined) keep = base;
  return keep?.binlog?.file ?? null;
}

/** Purges the replica's binlog files before `first` (`PURGE BINARY LOGS TO`, by file, so a base's own file is never cut into). */
export async function purgeReplicaBinlog(client: SqlClient, first: string): Promise<void> {
  await client.execute(`PURGE BINARY LOGS TO '${first.replace(/[^A-Za-z0-9._-]/g, '')}'`);
}
