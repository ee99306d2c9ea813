import { FailedPreconditionError, NotFoundError } from '../errors.js';
import { join } from 'node:path';
import { BinlogFormatError, BinlogGapError, readBinlogFile, scanBinlog, type BinlogTransaction } from '../mysql/binlog-reader.js';
import type { Flavor } from '../mysql/flavor.js';
import { formatGtidSet, parseDomainPosition, parseGtidSet, unionGtidSets } from '../mysql/gtid-count.js';
import type { Snapshot } from '../state/state.js';
import { binlogFiles } from './pitr-binlog.js';
import { positionHolds, stampInPoint, type Point } from './pitr-point.js';

/** Where a point's replay starts and ends in the replica's binlog, found by dolly itself. */
export interface Cut {
  base: Snapshot;
  /** The base's position: the first transaction to replay starts here. */
  start: { file: string; pos: number };
  /** After the last transaction to replay (the base's position when there is none). */
  end: { file: string; pos: number };
  /** The last transaction the point holds (the base's last when none is replayed: its GTID state). */
  gtid: string;
  /** Its commit stamp, µs (0 when none is replayed). */
  stampUs: number;
  transactions: number;
  /** The server ids of the replayed transactions (a replay server must have another: its applier skips its own). */
  serverIds: number[];
  /** The GTID state the point holds: MariaDB's position (one GTID per domain), MySQL's set. */
  gtidState: string;
  /** MySQL: the set the applier stops after. */
  untilGtids?: string;
  /** Whether a server's GTID state is exactly the point's. */
  reached(state: string): boolean;
}

/**
 * Finds the cut for `point` in the binlog files in `dir` (named `base.NNNNNN`): the newest base at
 * or before the point, and the prefix of the commit order after it that the point holds. A
 * time point holds every transaction before the first one stamped after it (see stampInPoint);
 * a GTID point every one up to that GTID. A base whose own last transaction turns out to be after
 * the point (its recorded data time is only as exact as the replica's clock) gives way to the one
 * before. The reader checks each file's start state against the one before: a gap is refused.
 */
export async function findCut(dir: string, base: string, bases: readonly Snapshot[], point: Point, flavor: Flavor): Promise<Cut> {
  const present = new Set((await binlogFiles(dir, base)).map((f) => f.name));
  const oldest = bases.find((b) => b.binlog !== undefined && present.has(b.binlog.file));
  if (!oldest) throw new FailedPreconditionError('the binlog of every base is purged', { hint: 'take a snapshot (`dolly snapshot create`): points start from it' });
  const candidates = bases
    .filter((b) => b.binlog !== undefined && present.has(b.binlog.file))
    .filter((b) => (point.kind === 'time' ? Date.parse(b.data_state_at) * 1_000 <= point.us + 1_000_000 : !holds(b.gtid, point.gtid, flavor) || endsAt(b.gtid, point.gtid, flavor)))
    .reverse();
  if (candidates.length === 0) {
    throw new FailedPreconditionError(`the point is before the window: the oldest point available is ${oldest.data_state_at} (GTID ${oldest.gtid})`, { hint: 'give a later --at or --at-gtid (see `dolly replica status`)' });
  }
  for (const candidate of candidates) {
    const cut = await scanFrom(dir, base, candidate, point, flavor).catch((error: unknown) => {
      if (error instanceof BinlogGapError) throw new FailedPreconditionError(`the kept binlog has a gap: ${error.message}`, { hint: 'points across it cannot be made; take a snapshot (`dolly snapshot create`): points after it can', cause: error });
      if (error instanceof BinlogFormatError) throw new FailedPreconditionError(`the kept binlog cannot be read: ${error.message}`, { hint: 'see the replica\'s binlog files; take a snapshot for points after it', cause: error });
      throw error;
    });
    if (cut !== null) return cut;
  }
  throw new FailedPreconditionError(`the point is before the window: the oldest point available is ${oldest.data_state_at} (GTID ${oldest.gtid})`, { hint: 'give a later --at (see `dolly replica status`)' });
}

/** The cut from one base, or null when the base already holds a transaction after the point. */
async function scanFrom(dir: string, base: string, from: Snapshot, point: Point, flavor: Flavor): Promise<Cut | null> {
  const start = from.binlog!;
  let before: BinlogTransaction | undefined;
  const taken: BinlogTransaction[] = [];
  // A base that ends with the GTID asked for is the point itself: nothing to replay.
  let found = point.kind === 'time' || endsAt(from.gtid, point.gtid, flavor);
  if (point.kind === 'gtid' && found) return cutOf(from, start, [], flavor);
  await scanBinlog({ dir, base, fromFile: start.file }, (tx) => {
    if (tx.file === start.file && tx.startPos < start.pos) {
      before = tx;
      return true;
    }
    if (point.kind === 'time') {
      if (!stampInPoint(tx.stampUs, point.us, flavor)) return false;
      taken.push(tx);
      return true;
    }
    taken.push(tx);
    if (tx.gtid === point.gtid) {
      found = true;
      return false;
    }
    return true;
  });
  // A base at the head of its file: its last transaction is the previous file's last.
  if (point.kind === 'time' && before === undefined) before = await lastOfPrevious(dir, base, start.file);
  if (point.kind === 'time' && before !== undefined && !stampInPoint(before.stampUs, point.us, flavor)) return null;
  if (!found) throw new NotFoundError(`GTID ${point.kind === 'gtid' ? point.gtid : ''} is not in the replica's binlog after its base ${from.id}`, { hint: 'give a GTID the replica has applied (see `dolly replica status`)' });
  return cutOf(from, start, taken, flavor);
}

/** The cut after `taken`, replayed on `from`. */
function cutOf(from: Snapshot, start: { file: string; pos: number }, taken: readonly BinlogTransaction[], flavor: Flavor): Cut {
  const last = taken[taken.length - 1];
  const gtidState = stateAfter(from.gtid, taken, flavor);
  return {
    base: from,
    start,
    end: last ? { file: last.file, pos: last.endPos } : start,
    gtid: last?.gtid ?? from.gtid,
    stampUs: last?.stampUs ?? Date.parse(from.data_state_at) * 1_000,
    transactions: taken.length,
    serverIds: [...new Set(taken.map((t) => t.serverId))],
    gtidState,
    ...(flavor === 'mysql' ? { untilGtids: gtidState } : {}),
    reached: (state) => sameState(state, gtidState, flavor),
  };
}

/** The last transaction of the file before `file` (none: it is the first one kept). */
async function lastOfPrevious(dir: string, base: string, file: string): Promise<BinlogTransaction | undefined> {
  const names = (await binlogFiles(dir, base)).map((f) => f.name);
  const previous = names[names.indexOf(file) - 1];
  if (previous === undefined) return undefined;
  return (await readBinlogFile(join(dir, previous), { name: previous })).transactions.at(-1);
}

/**
 * Whether a position or set ends exactly at one GTID: one domain (MariaDB) or one server (MySQL)
 * only, whose last transaction it is. With more, the order between them is not in the state.
 */
function endsAt(position: string, gtid: string, flavor: Flavor): boolean {
  if (flavor === 'mariadb') {
    const [domain, , seq] = gtid.split('-').map(Number) as [number, number, number];
    const pos = parseDomainPosition(position);
    return pos?.size === 1 && pos.get(domain) === seq;
  }
  const at = gtid.lastIndexOf(':');
  const set = parseGtidSet(position);
  return set?.size === 1 && (set.get(gtid.slice(0, at)) ?? []).at(-1)?.[1] === Number(gtid.slice(at + 1));
}

/** Whether a GTID position (MariaDB) or set (MySQL) holds one GTID. */
function holds(position: string, gtid: string, flavor: Flavor): boolean {
  return positionHolds(position, gtid, flavor) === true;
}

/** The base's GTID state advanced by the replayed transactions. */
function stateAfter(baseState: string, taken: readonly BinlogTransaction[], flavor: Flavor): string {
  if (flavor === 'mariadb') {
    const byDomain = new Map<number, string>();
    for (const part of baseState.split(',').map((p) => p.trim()).filter((p) => p !== '')) byDomain.set(Number(part.split('-')[0]), part);
    for (const tx of taken) byDomain.set(Number(tx.gtid.split('-')[0]), tx.gtid);
    return [...byDomain.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g).join(',');
  }
  let set = parseGtidSet(baseState) ?? new Map();
  for (const tx of taken) set = unionGtidSets(set, parseGtidSet(tx.gtid) ?? new Map());
  return formatGtidSet(set);
}

function sameState(actual: string, expected: string, flavor: Flavor): boolean {
  if (flavor === 'mariadb') {
    const a = parseDomainPosition(actual);
    const e = parseDomainPosition(expected);
    if (!a || !e || a.size !== e.size) return false;
    return [...e].every(([d, seq]) => a.get(d) === seq);
  }
  const a = parseGtidSet(actual);
  const e = parseGtidSet(expected);
  return a !== null && e !== null && formatGtidSet(a) === formatGtidSet(e);
}
