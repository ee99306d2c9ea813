import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BinlogFormatError, BinlogGapError, readBinlogFile, scanBinlog, type BinlogTransaction } from './binlog-reader.js';
import { formatGtidSet, parseGtidSet } from './gtid-count.js';

// Real binlogs of a replica (log-slave-updates), remade by test/fixtures/binlog/make-fixtures.sh;
// expected.json comes from mariadb-binlog/mysqlbinlog output, not from this reader.
const ROOT = fileURLToPath(new URL('../../test/fixtures/binlog/', import.meta.url));

interface ExpectedFile {
  file: string;
  startState: string;
  transactions: BinlogTransaction[];
}

const SETS = [
  { dir: 'mariadb-10.11', flavor: 'mariadb', version: /^10\.11\.\d+-MariaDB/, checksum: true },
  { dir: 'mariadb-11.8-nochecksum', flavor: 'mariadb', version: /^11\.8\.\d+-MariaDB/, checksum: false },
  { dir: 'mysql-9.7', flavor: 'mysql', version: /^9\.7\./, checksum: true },
  { dir: 'mysql-9.7-nochecksum-compressed', flavor: 'mysql', version: /^9\.7\./, checksum: false },
] as const;

const temps: string[] = [];
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

/** A directory holding copies of some fixture files (and other files given as buffers). */
async function dirWith(set: string, files: string[], extra: Record<string, Buffer> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'binlog-reader-'));
  temps.push(dir);
  for (const f of files) await copyFile(join(ROOT, set, f), join(dir, f));
  for (const [name, data] of Object.entries(extra)) await writeFile(join(dir, name), data);
  return dir;
}

/** The state after a file, from the tool's list: MariaDB the last GTID per domain, MySQL the union. */
function stateAfter(flavor: 'mariadb' | 'mysql', file: ExpectedFile): string {
  const gtids = [...file.startState.split(',').filter((g) => g !== ''), ...file.transactions.map((t) => t.gtid)];
  if (flavor === 'mysql') return formatGtidSet(parseGtidSet(gtids.join(',')) ?? new Map());
  const byDomain = new Map(gtids.map((g) => [Number(g.split('-')[0]), g]));
  return [...byDomain.keys()].sort((a, b) => a - b).map((d) => byDomain.get(d)).join(',');
}

for (const set of SETS) {
  describe(`binlog reader: ${set.dir}`, async () => {
    const expected = JSON.parse(await readFile(join(ROOT, set.dir, 'expected.json'), 'utf8')) as ExpectedFile[];
    const path = (i: number): string => join(ROOT, set.dir, expected[i]!.file);
    const all = expected.flatMap((f) => f.transactions);

    it('lists each file as the tool does: GTIDs, stamps, server ids, exact start and end positions', async () => {
      assert.equal(expected.length, 3);
      for (const [i, file] of expected.entries()) {
        const read = await readBinlogFile(path(i));
        assert.deepEqual(read.transactions, file.transactions);
        assert.equal(read.info.startState, file.startState);
        assert.equal(read.info.flavor, set.flavor);
        assert.match(read.info.serverVersion, set.version);
        assert.equal(read.info.checksum, set.checksum);
        assert.equal(read.truncated, false);
        assert.equal(read.endState, stateAfter(set.flavor, file));
        // A Buffer, and a window smaller than most events, read the same.
        const data = await readFile(path(i));
        assert.deepEqual((await readBinlogFile(data, { name: file.file })).transactions, file.transactions);
        assert.deepEqual((await readBinlogFile(path(i), { window: 64 })).transactions, file.transactions);
      }
    });

    it('scans the files in order, checking that each continues the one before', async () => {
      const seen: BinlogTransaction[] = [];
      const scan = await scanBinlog({ dir: join(ROOT, set.dir), base: 'bin' }, (tx) => void seen.push(tx));
      assert.deepEqual(seen, all);
      assert.deepEqual(scan.files.map((f) => f.file), expected.map((f) => f.file));
      assert.equal(scan.stopped, false);
      assert.equal(scan.truncated, false);
      assert.equal(scan.endState, stateAfter(set.flavor, expected[2]!));
    });

    it('refuses a missing middle file, naming both files and the missing GTIDs, before visiting the third', async () => {
      const dir = await dirWith(set.dir, [expected[0]!.file, expected[2]!.file]);
      const missing = expected[1]!.transactions.map((t) => t.gtid);
      const [first, last] = [missing[0]!, missing[missing.length - 1]!];
      const text = set.flavor === 'mariadb' ? `domain ${first.split('-')[0]} seq_no ${first.split('-')[2]}-${last.split('-')[2]}` : `${first}-${last.split(':')[1]}`;
      const seen: BinlogTransaction[] = [];
      await assert.rejects(
        scanBinlog({ dir, base: 'bin' }, (tx) => void seen.push(tx)),
        (e: unknown) => e instanceof BinlogGapError && e.previousFile === expected[0]!.file && e.file === expected[2]!.file && e.message.includes(`missing ${text}`),
      );
      assert.deepEqual(seen, expected[0]!.transactions);
    });

    it('returns the complete transactions of a file cut inside a transaction, and says it is truncated', async () => {
      const data = await readFile(path(1));
      const txs = expected[1]!.transactions;
      const cut = await readBinlogFile(data.subarray(0, txs[2]!.startPos + 30), { name: expected[1]!.file });
      assert.deepEqual(cut.transactions, txs.slice(0, 2));
      assert.equal(cut.truncated, true);
      // Cut right after a transaction: nothing is missing. Cut inside the next event's header: truncated.
      const whole = await readBinlogFile(data.subarray(0, txs[2]!.endPos), { name: expected[1]!.file });
      assert.deepEqual([whole.transactions, whole.truncated], [txs.slice(0, 3), false]);
      const header = await readBinlogFile(data.subarray(0, txs[2]!.endPos + 5), { name: expected[1]!.file });
      assert.deepEqual([header.transactions, header.truncated], [txs.slice(0, 3), true]);
      // The newest file of a scan may be the one being written.
      const dir = await dirWith(set.dir, [expected[0]!.file], { [expected[1]!.file]: data.subarray(0, txs[2]!.startPos + 30) });
      const seen: BinlogTransaction[] = [];
      const scan = await scanBinlog({ dir, base: 'bin' }, (tx) => void seen.push(tx));
      assert.deepEqual(seen, [...expected[0]!.transactions, ...txs.slice(0, 2)]);
      assert.equal(scan.truncated, true);
    });

    it('stops when visit returns false', async () => {
      const seen: BinlogTransaction[] = [];
      const scan = await scanBinlog({ dir: join(ROOT, set.dir), base: 'bin' }, (tx) => seen.push(tx) < 3);
      assert.deepEqual(seen, all.slice(0, 3));
      assert.equal(scan.stopped, true);
      assert.equal(scan.files.length, 1);
    });

    it('starts at the GTID event of a transaction in the middle of a file', async () => {
      const txs = expected[1]!.transactions;
      const from = txs[2]!.startPos;
      const read = await readBinlogFile(path(1), { fromPos: from });
      assert.deepEqual(read.transactions, txs.slice(2));
      assert.equal(read.endState, stateAfter(set.flavor, expected[1]!));
      const seen: BinlogTransaction[] = [];
      await scanBinlog({ dir: join(ROOT, set.dir), base: 'bin', fromFile: expected[1]!.file, fromPos: from }, (tx) => void seen.push(tx));
      assert.deepEqual(seen, [...txs.slice(2), ...expected[2]!.transactions]);
      // Not at an event, or at an event inside a transaction: refused.
      await assert.rejects(readBinlogFile(path(1), { fromPos: from + 1 }), /not at an event boundary/);
      const data = await readFile(path(1));
      const second = from + data.readUInt32LE(from + 9);
      await assert.rejects(readBinlogFile(path(1), { fromPos: second }), new RegExp(`inside the transaction of ${txs[2]!.gtid}`));
    });

    if (set.checksum) {
      it('fails on a corrupted byte, naming the file and the event', async () => {
        const data = Buffer.from(await readFile(path(0)));
        const tx = expected[0]!.transactions[1]!;
        const at = Math.floor((tx.startPos + tx.endPos) / 2);
        data[at] = (data[at] ?? 0) ^ 0x01;
        await assert.rejects(readBinlogFile(data, { name: 'bin.000001' }), (e: unknown) => {
          assert.ok(e instanceof BinlogFormatError);
          const m = /^binlog bin\.000001 at (\d+): checksum mismatch \(event type \d+\)$/.exec(e.message);
          assert.ok(m, e.message);
          assert.ok(Number(m[1]) >= tx.startPos && Number(m[1]) < tx.endPos);
          return true;
        });
      });

      it("checks the format description's checksum without its in-use flag (a file being written)", async () => {
        const data = Buffer.from(await readFile(path(0)));
        data[4 + 17] = (data[4 + 17] ?? 0) | 1;
        assert.deepEqual((await readBinlogFile(data, { name: expected[0]!.file })).transactions, expected[0]!.transactions);
      });
    }
  });
}

describe('binlog reader: refusals', () => {
  it('refuses tagged GTIDs and transactions without GTIDs (MySQL 9.7)', async () => {
    await assert.rejects(readBinlogFile(join(ROOT, 'mysql-9.7-refused', 'tagged.000001')), /^BinlogFormatError: binlog tagged\.000001 at \d+: tagged GTIDs are not supported$/);
    await assert.rejects(readBinlogFile(join(ROOT, 'mysql-9.7-refused', 'anonymous.000001')), /at \d+: the binlog has transactions without GTIDs/);
  });

  it('refuses what is not a binlog, and a start position past its end', async () => {
    await assert.rejects(readBinlogFile(Buffer.from('not a binlog at all')), /^BinlogFormatError: binlog buffer at 0: not a binary log file/);
    await assert.rejects(readBinlogFile(join(ROOT, 'mysql-9.7', 'bin.000003'), { fromPos: 1_000_000 }), /start position is outside the file/);
    await assert.rejects(scanBinlog({ dir: join(ROOT, 'mysql-9.7'), base: 'bin', fromFile: 'bin.000009' }, () => true), /bin\.000009 is not in/);
  });
});
