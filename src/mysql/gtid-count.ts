/**
 * Counting transactions in GTID positions, for the replica's lag in transactions and its apply
 * rate. Pure: text in, numbers out.
 *
 * MariaDB positions (`gtid_slave_pos`, `Gtid_IO_Pos`) hold one `domain-server-seq` per domain;
 * seq_no counts up within a domain, so the sum over domains is a count of the transactions a
 * position covers. MySQL sets (`gtid_executed`, `Retrieved_Gtid_Set`) list intervals per source
 * uuid (and per tag, MySQL 8.3+: `uuid:1-5:tag:1-3`); the count is the sum of interval lengths.
 */

/** A MariaDB position by domain id: the highest seq_no seen in each. */
export type DomainPosition = Map<number, number>;

/** Parses `0-1-9,1-2-40` (whitespace allowed); null when it is not a MariaDB position. */
export function parseDomainPosition(text: string): DomainPosition | null {
  const position: DomainPosition = new Map();
  for (const part of splitList(text)) {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!m) return null;
    const domain = Number(m[1]);
    position.set(domain, Math.max(position.get(domain) ?? 0, Number(m[3])));
  }
  return position;
}

/** A MySQL GTID set: for each `uuid` (or `uuid:tag`, lower-case), its intervals sorted and merged, ends inclusive. */
export type GtidSet = Map<string, Array<[number, number]>>;

/** Parses `uuid:1-5:7,\nuuid2:1-3:tag:1-2`; null when it is not a MySQL GTID set. */
export function parseGtidSet(text: string): GtidSet | null {
  const set: GtidSet = new Map();
  for (const part of splitList(text)) {
    const [uuid, ...rest] = part.split(':').map((p) => p.trim());
    if (uuid === undefined || !/^[0-9a-f-]{32,36}$/i.test(uuid) || rest.length === 0) return null;
    let key = uuid.toLowerCase();
    for (const token of rest) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(token);
      if (m) {
        const start = Number(m[1]);
        const end = m[2] === undefined ? start : Number(m[2]);
        if (end < start) return null;
        addInterval(set, key, start, end);
      } else if (/^[a-z_][a-z0-9_]{0,31}$/i.test(token)) {
        key = `${uuid.toLowerCase()}:${token.toLowerCase()}`;
      } else {
        return null;
      }
    }
  }
  return set;
}

/** Every GTID of `a` and of `b`. */
export function unionGtidSets(a: GtidSet, b: GtidSet): GtidSet {
  const union: GtidSet = new Map();
  for (const set of [a, b]) for (const [key, intervals] of set) for (const [start, end] of intervals) addInterval(union, key, start, end);
  return union;
}

/** A set as MySQL writes it (without its newlines): `uuid:1-5:7,uuid:tag:1-2`, keys sorted. */
export function formatGtidSet(set: GtidSet): string {
  return [...set.keys()]
    .sort()
    .map((key) => `${key}:${(set.get(key) ?? []).map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`)).join(':')}`)
    .join(',');
}

/** How many transactions a MariaDB position (sum of seq_no) or a MySQL set (sum of interval lengths) covers; null when unreadable. */
export function countTransactions(flavor: 'mariadb' | 'mysql', text: string): number | null {
  if (flavor === 'mariadb') {
    const position = parseDomainPosition(text);
    return position === null ? null : sum([...position.values()]);
  }
  const set = parseGtidSet(text);
  return set === null ? null : countSet(set);
}

/**
 * What a MySQL replica has received: its `Retrieved_Gtid_Set` united with what it has executed
 * (the copy's position is executed but never retrieved). '' stays '' when both are empty;
 * null when either is unreadable.
 */
export function receivedGtidSet(retrieved: string, executed: string): string | null {
  const r = parseGtidSet(retrieved);
  const e = parseGtidSet(executed);
  return r === null || e === null ? null : formatGtidSet(unionGtidSets(r, e));
}

/**
 * Transactions received but not yet applied. MariaDB: per domain, received seq_no less applied
 * seq_no (a domain not applied yet counts its whole seq_no); MySQL: the GTIDs of `received`
 * missing from `applied`. Null when either is unreadable, or when nothing is known as received
 * while something is applied (MariaDB's `Gtid_IO_Pos` is empty until the IO thread first starts).
 */
export function behindTransactions(flavor: 'mariadb' | 'mysql', received: string, applied: string): number | null {
  if (flavor === 'mariadb') {
    const r = parseDomainPosition(received);
    const a = parseDomainPosition(applied);
    if (r === null || a === null || (r.size === 0 && a.size > 0)) return null;
    return sum([...r].map(([domain, seq]) => Math.max(0, seq - (a.get(domain) ?? 0))));
  }
  const r = parseGtidSet(received);
  const a = parseGtidSet(applied);
  if (r === null || a === null || (r.size === 0 && a.size > 0)) return null;
  return countSet(subtract(r, a));
}

/** One reading of the applied count, and when it was taken (ms, any clock both readings share). */
export interface AppliedReading {
  count: number;
  atMs: number;
}

/**
 * Transactions applied per second between two readings, to one decimal; null when either
 * count is unknown, no time passed, or the count went down (a new replica, a reset position).
 */
export function applyRate(earlier: AppliedReading | null | undefined, later: AppliedReading | null | undefined): number | null {
  if (!earlier || !later) return null;
  const seconds = (later.atMs - earlier.atMs) / 1000;
  const applied = later.count - earlier.count;
  if (!(seconds > 0) || applied < 0 || !Number.isFinite(applied)) return null;
  return Math.round((applied / seconds) * 10) / 10;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function countSet(set: GtidSet): number {
  return sum([...set.values()].flatMap((intervals) => intervals.map(([s, e]) => e - s + 1)));
}

/** Adds [start, end] to `key`'s intervals, keeping them sorted, disjoint and merged (adjacent ones too). */
function addInterval(set: GtidSet, key: string, start: number, end: number): void {
  const all = [...(set.get(key) ?? []), [start, end] as [number, number]].sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of all) {
    const last = merged.at(-1);
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  set.set(key, merged);
}

/** The GTIDs of `a` not in `b`. */
function subtract(a: GtidSet, b: GtidSet): GtidSet {
  const rest: GtidSet = new Map();
  for (const [key, intervals] of a) {
    const holes = b.get(key) ?? [];
    const left: Array<[number, number]> = [];
    for (const [start, end] of intervals) {
      let from = start;
      for (const [hs, he] of holes) {
        if (he < from || hs > end) continue;
        if (hs > from) left.push([from, hs - 1]);
        from = Math.max(from, he + 1);
        if (from > end) break;
      }
      if (from <= end) left.push([from, end]);
    }
    if (left.length > 0) rest.set(key, left);
  }
  return rest;
}
