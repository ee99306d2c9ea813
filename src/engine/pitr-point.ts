import { InvalidArgumentError } from '../errors.js';
import type { Flavor } from '../mysql/flavor.js';
import { parseDomainPosition, parseGtidSet } from '../mysql/gtid-count.js';

/**
 * What a point-in-time clone asks for: a time (µs since the epoch, the source's clock) or a GTID.
 * `clone create --at 2026-12-07T10:14:59Z` (an ISO-8601 time with `Z` or an offset, up to
 * microseconds) or `--at -90s` (before now: s, m, h, d); `--at-gtid 0-1-4711` (MariaDB) or
 * `3E11FA47-...:23` (MySQL).
 */
export type Point = { kind: 'time'; us: number } | { kind: 'gtid'; gtid: string };

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses `--at`; a time without a zone is refused (whose 10:15?). */
export function parsePointTime(text: string, nowMs: number): number {
  const t = text.trim();
  const rel = /^-(\d+)(s|m|h|d)$/.exec(t);
  if (rel) return (nowMs - Number(rel[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd']) * 1_000;
  const m = ISO.exec(t);
  const ms = m && realTime(m) ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[8]!.toUpperCase()}`) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw new InvalidArgumentError(`invalid --at ${JSON.stringify(text)}`, { hint: 'give a UTC time such as 2026-12-07T10:14:59Z (an offset such as +01:00 works too), or a time before now such as -90s, -15m, -2h' });
  }
  return ms * 1_000 + Number((m[7] ?? '').padEnd(6, '0'));
}

/** A calendar time that exists (Date.parse moves 2026-02-30 to March, and takes 24:00). */
function realTime(m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59;
}

/** Parses `--at-gtid` for the flavor: one MariaDB `domain-server-seq`, or one MySQL `uuid:N`. */
export function parsePointGtid(text: string, flavor: Flavor): string {
  const t = text.trim().toLowerCase();
  const numbers = flavor === 'mariadb' ? t.split('-').map(Number) : [Number(t.slice(t.lastIndexOf(':') + 1))];
  const shaped = flavor === 'mariadb' ? /^\d{1,10}-\d{1,10}-\d{1,16}$/.test(t) : /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\d{1,16}$/.test(t);
  // Domain and server ids are 32 bits; a sequence number must be exact in a JavaScript number; MySQL's start at 1.
  const ok = shaped && (flavor === 'mariadb' ? numbers[0]! <= 0xffffffff && numbers[1]! <= 0xffffffff && Number.isSafeInteger(numbers[2]) : numbers[0]! >= 1 && Number.isSafeInteger(numbers[0]));
  if (!ok) throw new InvalidArgumentError(`invalid --at-gtid ${JSON.stringify(text)} for a ${flavor} replica`, { hint: flavor === 'mariadb' ? 'give one GTID such as 0-1-4711 (domain-server-seq)' : 'give one GTID such as 3e11fa47-71ca-11e1-9e33-c80aa9429562:23' });
  return t;
}

/**
 * Whether a transaction stamped `stampUs` is in the point `us`: MariaDB stamps whole seconds, so
 * the point is floored to its second and every transaction of that second is in; MySQL stamps
 * microseconds, and every transaction at or before the point's microsecond is in.
 */
export function stampInPoint(stampUs: number, pointUs: number, flavor: Flavor): boolean {
  return flavor === 'mariadb' ? Math.floor(stampUs / 1e6) <= Math.floor(pointUs / 1e6) : stampUs <= pointUs;
}

/** A point's time as recorded (`data_state_at`): MariaDB's floored to the second, MySQL's to the millisecond. */
export function pointIso(pointUs: number, flavor: Flavor): string {
  const ms = flavor === 'mariadb' ? Math.floor(pointUs / 1e6) * 1_000 : Math.floor(pointUs / 1_000);
  return new Date(ms).toISOString();
}

/**
 * Whether a GTID position (MariaDB: one GTID per domain) or set (MySQL) holds one GTID: MariaDB's
 * domain reached its seq_no, MySQL's server has it in an interval. Null when the position has
 * nothing of that domain or server at all.
 */
export function positionHolds(position: string, gtid: string, flavor: Flavor): boolean | null {
  if (flavor === 'mariadb') {
    const [domain, , seq] = gtid.split('-').map(Number) as [number, number, number];
    const reached = parseDomainPosition(position)?.get(domain);
    return reached === undefined ? null : reached >= seq;
  }
  const at = gtid.lastIndexOf(':');
  const n = Number(gtid.slice(at + 1));
  const intervals = parseGtidSet(position)?.get(gtid.slice(0, at));
  return intervals === undefined ? null : intervals.some(([a, b]) => a <= n && n <= b);
}
