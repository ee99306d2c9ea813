/**
 * A small reader of binary log files (v4; MariaDB 10.11+/11.x, MySQL 8.0+/9.x) that lists their
 * transactions with GTID, source commit time and exact byte range, to find the cut of a
 * point-in-time clone. Only event headers are read, and the bodies of the few events that start,
 * end or describe a transaction; each event's CRC32 is checked when the file has checksums.
 * Files are read through a fixed window (events larger than it are read whole, one at a time).
 */
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { detectFlavor, type Flavor } from './flavor.js';
import { formatGtidSet, parseDomainPosition, parseGtidSet, unionGtidSets, type GtidSet } from './gtid-count.js';

/** The server family that wrote a binlog, from its format description event. */
export type BinlogFlavor = Flavor;

/** One complete transaction of a binlog file. */
export interface BinlogTransaction {
  /** `domain-server-seq` (MariaDB) or `uuid:gno` (MySQL). */
  gtid: string;
  /** Commit time on the source, µs since the epoch (MariaDB: its GTID event's whole seconds × 1e6). */
  stampUs: number;
  /** Server id in the GTID event's header (MariaDB: the GTID's server; MySQL: the server that logged it first). */
  serverId: number;
  file: string;
  /** Offset of its GTID event. */
  startPos: number;
  /** Offset after its last event: the position to stop at to include it. */
  endPos: number;
}

/** What a binlog file says about itself. */
export interface BinlogFileInfo {
  file: string;
  flavor: BinlogFlavor;
  serverVersion: string;
  /** Whether every event ends with a CRC32. */
  checksum: boolean;
  /** MariaDB Gtid_list (`0-1-5,1-1-1`) / MySQL Previous_gtids (`uuid:1-5`) at the file's start; '' when empty. */
  startState: string;
  size: number;
}

/** One file read: its info, its complete transactions from the start position, and the state after its last one. */
export interface BinlogFileRead {
  info: BinlogFileInfo;
  transactions: BinlogTransaction[];
  /** The file ends inside an event or a transaction (a file being written, or a cut copy). */
  truncated: boolean;
  /** The start state with every complete transaction of the file added (from offset 4, whatever the start position). */
  endState: string;
}

/** A file that is not a binlog this reader can trust: its name, the offset of the event, and the problem. */
export class BinlogFormatError extends Error {
  constructor(file: string, offset: number, problem: string) {
    super(`binlog ${file} at ${offset}: ${problem}`);
    this.name = 'BinlogFormatError';
  }
}

/** A file that does not continue the one before it: transactions are missing between them (or the files are out of order). */
export class BinlogGapError extends Error {
  constructor(readonly previousFile: string, readonly file: string, readonly missing: string) {
    super(`binlog ${file} does not continue ${previousFile}: ${missing}`);
    this.name = 'BinlogGapError';
  }
}

const HEADER = 19;
const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const WINDOW = 1 << 20;
// The events read; every other one (rows, Rotate, Stop, Binlog_checkpoint...) is skipped by its length.
const T = { query: 2, fde: 15, xid: 16, mysqlGtid: 33, anonymousGtid: 34, previousGtids: 35, xaPrepare: 38, payload: 40, taggedGtid: 42, mariaGtid: 162, gtidList: 163, startEncryption: 164, queryCompressed: 165 };

/** Reads `[pos, pos + n)` of a Buffer, or of an open file through a window (a new one each time it moves: results stay valid). */
class Bytes {
  private at = 0;
  constructor(private buf: Buffer, private readonly handle: FileHandle | null = null, private readonly window = WINDOW) {}
  async get(pos: number, n: number): Promise<Buffer> {
    if (pos < this.at || pos + n > this.at + this.buf.length) {
      if (this.handle === null) throw new RangeError(`bytes ${pos}+${n} are outside the buffer`);
      const buf = Buffer.allocUnsafe(Math.max(n, this.window));
      let got = 0;
      for (let r = -1; r !== 0 && got < buf.length; got += r) r = (await this.handle.read(buf, got, buf.length - got, pos + got)).bytesRead;
      if (got < n) throw new RangeError(`the file ended at ${pos + got} while reading ${pos}+${n}`);
      [this.buf, this.at] = [buf.subarray(0, got), pos];
    }
    return this.buf.subarray(pos - this.at, pos - this.at + n);
  }
}

/** Reads one binlog file (a path, or a Buffer with its name) and returns the complete transactions that start at or after `fromPos` (default 4, an event's offset). */
export async function readBinlogFile(source: string | Buffer, options: { fromPos?: number; name?: string; window?: number } = {}): Promise<BinlogFileRead> {
  const transactions: BinlogTransaction[] = [];
  const result = await walkFile(source, options.name, options.fromPos ?? 4, options.window, (tx) => void transactions.push(tx));
  return { info: result.info, transactions, truncated: result.truncated, endState: result.endState };
}

/** Where scanBinlog reads: the files `BASE.NNNNNN` of `dir`, in number order, from `fromFile` (default the oldest). */
export interface BinlogScanFrom {
  dir: string;
  base: string;
  fromFile?: string;
  /** Offset in the first file: transactions starting before it are not visited (default 4, all). */
  fromPos?: number;
}

/** What scanBinlog read: each file's info, whether `visit` stopped it, and the last file's truncation and end state (when stopped: up to the transaction it stopped at, included). */
export interface BinlogScan {
  files: BinlogFileInfo[];
  stopped: boolean;
  truncated: boolean;
  endState: string;
}

/**
 * Reads the binlog files in order, calling `visit` for each complete transaction until it returns
 * false. Each file must start in the state the file before ended in (MariaDB: the last seq_no of
 * each domain; MySQL: its Previous_gtids with every GTID of the file added), checked before any of
 * its transactions is visited: otherwise BinlogGapError. The last file may be cut (being written).
 */
export async function scanBinlog(from: BinlogScanFrom, visit: (tx: BinlogTransaction) => boolean | void): Promise<BinlogScan> {
  const names = (await readdir(from.dir)).filter((n) => n.startsWith(`${from.base}.`) && /^\d{6,}$/.test(n.slice(from.base.length + 1)));
  names.sort((a, b) => Number(a.slice(from.base.length + 1)) - Number(b.slice(from.base.length + 1)));
  const first = from.fromFile === undefined ? 0 : names.indexOf(from.fromFile);
  if (first < 0) throw new Error(`binlog ${from.fromFile ?? ''} is not in ${from.dir}`);
  const scan: BinlogScan = { files: [], stopped: false, truncated: false, endState: '' };
  let previous: { info: BinlogFileInfo; endState: string } | null = null;
  for (const name of names.slice(first)) {
    const check = (info: BinlogFileInfo): void => {
      if (previous !== null) checkContinuity(previous.info, previous.endState, info);
      previous = null;
    };
    const result = await walkFile(join(from.dir, name), name, name === names[first] ? (from.fromPos ?? 4) : 4, undefined, (tx, info) => {
      check(info);
      scan.stopped = visit(tx) === false;
      return !scan.stopped;
    });
    check(result.info);
    scan.files.push(result.info);
    [scan.truncated, scan.endState] = [result.truncated, result.endState];
    if (scan.stopped) break;
    previous = { info: result.info, endState: result.endState };
  }
  return scan;
}

function checkContinuity(before: BinlogFileInfo, endState: string, next: BinlogFileInfo): void {
  const gap = (missing: string): never => {
    throw new BinlogGapError(before.file, next.file, `${missing} (it ends at [${endState}], the next starts at [${next.startState}])`);
  };
  if (next.flavor !== before.flavor) gap(`a ${next.flavor} binlog after a ${before.flavor} one`);
  if (next.flavor === 'mariadb') {
    const [a, b] = [parseDomainPosition(endState) ?? new Map<number, number>(), parseDomainPosition(next.startState) ?? new Map<number, number>()];
    const missing = [...b].filter(([domain, seq]) => seq > (a.get(domain) ?? 0)).map(([domain, seq]) => `domain ${domain} seq_no ${(a.get(domain) ?? 0) + 1}-${seq}`);
    if (missing.length > 0) gap(`missing ${missing.join(', ')}`);
    if (a.size !== b.size || [...a].some(([domain, seq]) => b.get(domain) !== seq)) gap('the states differ');
  } else {
    const [a, b] = [parseGtidSet(endState) ?? new Map(), parseGtidSet(next.startState) ?? new Map()];
    const missing = formatGtidSet(minus(b, a));
    if (missing !== '') gap(`missing ${missing}`);
    if (formatGtidSet(a) !== formatGtidSet(b)) gap('the states differ');
  }
}

/** The GTIDs of `a` not in `b` (gtid-count.ts has the same, unexported). */
function minus(a: GtidSet, b: GtidSet): GtidSet {
  const rest: GtidSet = new Map();
  for (const [key, intervals] of a) {
    let left = intervals;
    for (const [hs, he] of b.get(key) ?? []) {
      left = left.flatMap(([s, e]) => {
        if (he < s || hs > e) return [[s, e] as [number, number]];
        return [...(s < hs ? [[s, hs - 1] as [number, number]] : []), ...(he < e ? [[he + 1, e] as [number, number]] : [])];
      });
    }
    if (left.length > 0) rest.set(key, left);
  }
  return rest;
}

type Visit = (tx: BinlogTransaction, info: BinlogFileInfo) => boolean | void;

/** Walks one file from offset 4, visiting the transactions that start at or after `fromPos` until `visit` returns false. */
async function walkFile(source: string | Buffer, name: string | undefined, fromPos: number, window: number | undefined, visit: Visit): Promise<{ info: BinlogFileInfo; truncated: boolean; endState: string }> {
  const file = name ?? (typeof source === 'string' ? basename(source) : 'buffer');
  if (typeof source !== 'string') return walk(new Bytes(source), source.length, file, fromPos, visit);
  const handle = await open(source, 'r');
  try {
    return await walk(new Bytes(Buffer.alloc(0), handle, window), (await handle.stat()).size, file, fromPos, visit);
  } finally {
    await handle.close();
  }
}

async function walk(bytes: Bytes, size: number, file: string, fromPos: number, visit: Visit): Promise<{ info: BinlogFileInfo; truncated: boolean; endState: string }> {
  const fail = (offset: number, problem: string): never => {
    throw new BinlogFormatError(file, offset, problem);
  };
  if (size < 4 || !(await bytes.get(0, 4)).equals(MAGIC)) fail(0, 'not a binary log file (no magic number)');
  if (fromPos < 4 || fromPos > size) fail(fromPos, `the start position is outside the file (size ${size})`);
  let info: BinlogFileInfo | null = null;
  let postHeader = Buffer.alloc(0);
  let state: ReturnType<typeof tracker> | null = null;
  let open: (BinlogTransaction & { mode: 'single' | 'group' | 'unknown' }) | null = null;
  let [pos, stopped] = [4, false];
  while (pos + HEADER <= size && !stopped) {
    const head = await bytes.get(pos, HEADER);
    const [stamp, type, serverId, length] = [head.readUInt32LE(0), head[4] ?? 0, head.readUInt32LE(5), head.readUInt32LE(9)];
    if (length < HEADER) fail(pos, `event length ${length} is shorter than its header`);
    if (pos + length > size) break;
    if (pos < fromPos && pos + length > fromPos) fail(fromPos, 'the start position is not at an event boundary');
    if (pos === fromPos && open !== null) fail(fromPos, `the start position is inside the transaction of ${open.gtid}`);
    if (info === null && type !== T.fde) fail(pos, `the first event is of type ${type}, not a format description`);
    const event = await bytes.get(pos, length);
    if (type === T.fde) {
      const serverVersion = event.subarray(HEADER + 2, HEADER + 52).toString('latin1').replace(/\0.*$/s, '');
      const algorithm = event[length - 5];
      if (algorithm !== 0 && algorithm !== 1) fail(pos, `unknown checksum algorithm ${algorithm}`);
      // Its CRC is computed without the in-use flag, which the server clears in place on close.
      const copy = Buffer.from(event.subarray(0, length - 4));
      copy[17] = (copy[17] ?? 0) & ~1;
      if (algorithm === 1 && crc32(copy) !== event.readUInt32LE(length - 4)) fail(pos, 'checksum mismatch (format description event)');
      postHeader = Buffer.from(event.subarray(HEADER + 57, length - 5));
      const format = { flavor: detectFlavor(serverVersion), serverVersion, checksum: algorithm === 1 };
      info = info === null ? { file, ...format, startState: '', size } : Object.assign(info, format);
    } else if (info?.checksum === true && crc32(event.subarray(0, length - 4)) !== event.readUInt32LE(length - 4)) {
      fail(pos, `checksum mismatch (event type ${type})`);
    }
    const end = pos + length;
    const body = HEADER + (postHeader[type - 1] ?? 0);
    const payloadEnd = length - (info?.checksum === true ? 4 : 0);
    const need = (n: number): void => {
      if (HEADER + n > payloadEnd) fail(pos, `event of type ${type} is too short`);
    };
    const finish = (): void => {
      if (open === null) return;
      const { mode: _mode, ...tx } = open;
      open = null;
      state?.add(tx.gtid);
      if (tx.startPos >= fromPos && visit({ ...tx, endPos: end }, info as BinlogFileInfo) === false) stopped = true;
    };
    switch (type) {
      case T.gtidList:
      case T.previousGtids:
        if (state !== null || info === null) break; // only the one at the file's start is its start state
        info.startState = type === T.gtidList ? gtidList(event.subarray(0, payloadEnd), (p) => fail(pos, p)) : previousGtids(event.subarray(0, payloadEnd), body, (p) => fail(pos, p));
        state = tracker(info.flavor, info.startState);
        break;
      case T.mariaGtid:
      case T.mysqlGtid:
        if (open !== null) fail(pos, `a GTID event inside the transaction of ${open.gtid}`);
        state ??= tracker(info?.flavor ?? 'mysql', '');
        if (type === T.mariaGtid) {
          need(13);
          const gtid = `${event.readUInt32LE(HEADER + 8)}-${serverId}-${event.readBigUInt64LE(HEADER)}`;
          open = { gtid, stampUs: stamp * 1e6, serverId, file, startPos: pos, endPos: 0, mode: ((event[HEADER + 12] ?? 0) & 1) === 1 ? 'single' : 'group' };
        } else {
          need(25);
          const gtid = `${uuidText(event, HEADER + 1)}:${event.readBigUInt64LE(HEADER + 17)}`;
          open = { gtid, stampUs: stamp * 1e6, serverId, file, startPos: pos, endPos: 0, mode: 'unknown' };
          // immediate_commit_timestamp, 7 bytes; its top bit set: original_commit_timestamp follows.
          // Absent before MySQL 8.0.1 (the header's seconds stay).
          if (body + 7 <= payloadEnd) {
            const at = ((event[body + 6] ?? 0) & 0x80) === 0 ? body : body + 7;
            if (at + 7 > payloadEnd) fail(pos, 'GTID event too short for its original commit timestamp');
            open.stampUs = event.readUIntLE(at, 6) + ((event[at + 6] ?? 0) & 0x7f) * 2 ** 48;
          }
        }
        break;
      case T.query:
      case T.queryCompressed: {
        if (open === null) break;
        need(13);
        const start = body + event.readUInt16LE(HEADER + 11) + (event[HEADER + 8] ?? 0) + 1;
        const text = type === T.query && payloadEnd - start <= 32 ? event.subarray(start, payloadEnd).toString('latin1').trim().toUpperCase() : '';
        if (open.mode === 'unknown') open.mode = text === 'BEGIN' ? 'group' : 'single';
        else if (text === 'COMMIT' || text === 'ROLLBACK' || /^XA (COMMIT|ROLLBACK)\b/.test(text)) open.mode = 'single';
        if (open.mode === 'single') finish();
        break;
      }
      case T.xid:
      case T.xaPrepare:
      case T.payload:
        finish();
        break;
      case T.anonymousGtid:
        fail(pos, 'the binlog has transactions without GTIDs (gtid_mode is not ON)');
        break;
      case T.taggedGtid:
        fail(pos, 'tagged GTIDs are not supported');
        break;
      case T.startEncryption:
        fail(pos, 'encrypted binlogs are not supported');
        break;
    }
    pos = end;
  }
  if (info === null) return fail(4, 'no format description event');
  if (pos < fromPos) fail(fromPos, 'the start position is past the last whole event');
  return { info, truncated: !stopped && (pos < size || open !== null), endState: (state ?? tracker(info.flavor, info.startState)).text() };
}

function uuidText(buf: Buffer, at: number): string {
  const hex = buf.subarray(at, at + 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** MariaDB Gtid_list: count (low 28 bits), then domain u32, server u32, seq u64 per entry. */
function gtidList(event: Buffer, fail: (problem: string) => never): string {
  const count = event.readUInt32LE(HEADER) & 0x0fffffff;
  if (HEADER + 4 + count * 16 > event.length) fail(`Gtid_list of ${count} entries is too short`);
  const entries = Array.from({ length: count }, (_, i) => HEADER + 4 + i * 16).map((at) => `${event.readUInt32LE(at)}-${event.readUInt32LE(at + 4)}-${event.readBigUInt64LE(at + 8)}`);
  return byDomain(entries).join(',');
}

/** MariaDB GTIDs sorted by domain; the order within a domain stays (the server writes a domain's last GTID last). */
function byDomain(gtids: string[]): string[] {
  return gtids.sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]));
}

/** MySQL Previous_gtids: n_sids u64 (format in its top byte), then uuid, n_intervals u64, [start, end) u64 pairs. */
function previousGtids(event: Buffer, at: number, fail: (problem: string) => never): string {
  const u64 = (): number => {
    if (at + 8 > event.length) fail('Previous_gtids is too short');
    const value = Number(event.readBigUInt64LE(at));
    at += 8;
    return value;
  };
  const sids = u64();
  if (sids >= 2 ** 56) fail('tagged GTIDs are not supported (Previous_gtids in the tagged format)');
  const parts: string[] = [];
  for (let i = 0; i < sids; i++) {
    const uuid = uuidText(event, at);
    at += 16;
    for (let n = u64(); n > 0; n--) parts.push(`${uuid}:${u64()}-${u64() - 1}`);
  }
  return formatGtidSet(parseGtidSet(parts.join(',')) ?? new Map());
}

/** The state as transactions are added: MariaDB the last GTID per domain, MySQL the set of every GTID. */
function tracker(flavor: BinlogFlavor, start: string): { add(gtid: string): void; text(): string } {
  if (flavor === 'mariadb') {
    const last = new Map(start.split(',').filter((g) => g !== '').map((g) => [g.split('-')[0], g] as const));
    return { add: (gtid) => void last.set(gtid.split('-')[0], gtid), text: () => byDomain([...last.values()]).join(',') };
  }
  let set = parseGtidSet(start) ?? new Map();
  return { add: (gtid) => void (set = unionGtidSets(set, parseGtidSet(gtid) ?? new Map())), text: () => formatGtidSet(set) };
}
