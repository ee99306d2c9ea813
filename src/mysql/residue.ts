import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataMount } from '../storage/driver.js';
import { FailedPreconditionError } from '../errors.js';
import type { Flavor } from './flavor.js';
import type { SqlClient } from './sql-client.js';

/**
 * Where a server keeps old row versions beside its tables, and how masking leaves none of them
 * (src/engine/mask-snapshot.ts). The tables themselves are rebuilt (src/mask/apply.ts); this is
 * the rest of the datadir:
 *
 * - undo: MariaDB re-creates its undo tablespaces, zero-filled, when a server starts with another
 *   `innodb_undo_tablespaces` after a slow shutdown. The mask server starts with one count and the
 *   settle server with the usual one, so the replica's undo (and the masking's own) is gone. MySQL
 *   empties and truncates its undo tablespaces (src/mysql/undo-rotate.ts).
 * - redo: MariaDB writes a new, empty log when a server starts with another `innodb_log_file_size`
 *   after a clean shutdown (the mask server's is larger, the settle server's the usual). MySQL's
 *   redo files are removed after its slow shutdown (the after-prepare step).
 * - doublewrite: MariaDB's two blocks of 64 pages in ibdata1 are zero-filled after the clean
 *   shutdown (a page with LSN 0 is never restored from them); MySQL's `#ib_*.dblwr` are removed.
 * - temporary tablespaces (`ibtmp1`, MySQL's `#innodb_temp`): removed; servers make new ones.
 * - binary and relay logs: no binlog (dolly's servers run with `--skip-log-bin`); the replica's
 *   relay logs are deleted.
 */

/** A masking server's extra options, and the check that they took effect. */
export interface ResidueStep {
  args: string[];
  /** The undo tablespaces the datadir had before (MariaDB): what the settle server goes back to. */
  undo: number;
  /** The redo log's size before (MariaDB, bytes): what the settle server goes back to. */
  logBytes: number;
  /**
   * False when the server kept its undo as it was: MariaDB renews it only after a slow shutdown,
   * and a snapshot taken before masking rules were set had a fast one. Start it once more then.
   */
  renewed(client: SqlClient): Promise<boolean>;
}

/** The mask server: a new undo and redo (MariaDB); nothing beyond the prepare server's (MySQL). */
export async function maskServerResidue(flavor: Flavor, data: DataMount): Promise<ResidueStep> {
  if (flavor === 'mysql') return { args: [], undo: 0, logBytes: 0, renewed: async () => true };
  const path = pathOf(data);
  const undo = (await readdir(path)).filter((f) => /^undo\d{3}$/.test(f)).length;
  // Another count than the datadir's (1 means none to InnoDB, so never 1).
  const count = undo === 0 ? 2 : undo + 1;
  const logBytes = await stat(join(path, 'ib_logfile0')).then((s) => s.size, () => 96 * MiB);
  const logMiB = Math.ceil(logBytes / MiB) + 16;
  return {
    args: [`--innodb-undo-tablespaces=${count}`, `--innodb-log-file-size=${logMiB}M`],
    undo,
    logBytes,
    renewed: async (client) => {
      const [row] = await client.query<{ n: unknown }>('SELECT @@innodb_undo_tablespaces AS n');
      return Number(row?.n) === count;
    },
  };
}

/**
 * MariaDB's second start, with the datadir's own undo count and the usual redo size, so that
 * clones start as from any snapshot (no undo or redo to remake); null for MySQL.
 */
export function settleServerResidue(flavor: Flavor, undo: number, logBytes: number): ResidueStep | null {
  if (flavor === 'mysql') return null;
  return {
    args: [`--innodb-undo-tablespaces=${undo}`, `--innodb-log-file-size=${Math.ceil(logBytes / MiB)}M`],
    undo,
    logBytes,
    renewed: async (client) => {
      const [row] = await client.query<{ n: unknown }>('SELECT @@innodb_undo_tablespaces AS n');
      return Number(row?.n) === undo;
    },
  };
}

/** After a masking server's clean exit: temporary tablespaces go, MariaDB's doublewrite blocks are zeroed. */
export async function afterMaskFiles(flavor: Flavor, data: DataMount): Promise<void> {
  const path = pathOf(data);
  await rm(join(path, 'ibtmp1'), { force: true });
  // The replica's relay logs: a server that is not told the replica's --relay-log name (the
  // prepare server) neither reads nor deletes them, and they hold the events it applied.
  for (const f of await readdir(path)) if (/(^|-)relay-bin\.(\d+|index)$/.test(f)) await rm(join(path, f), { force: true });
  if (flavor === 'mysql') {
    for (const f of await readdir(join(path, '#innodb_temp')).catch(() => [] as string[])) await rm(join(path, '#innodb_temp', f), { force: true });
    return;
  }
  await zeroDoublewrite(join(path, 'ibdata1'));
  await zeroFreePages(join(path, 'ibdata1'));
}

const MiB = 1024 * 1024;

/** TRX_SYS is page 5 of the system tablespace; its doublewrite header sits 200 bytes before the page's end. */
const TRX_SYS_PAGE = 5;
const DOUBLEWRITE_MAGIC = 536_853_855;
/** Pages in each of the two doublewrite blocks (one extent of 16 KiB pages). */
const BLOCK_PAGES = 64;

/**
 * Zero-fills the doublewrite buffer's two blocks in ibdata1 (after a clean shutdown nothing needs
 * them: a page whose LSN is 0 is never restored from them). Page size from the tablespace's flags.
 */
export async function zeroDoublewrite(ibdata1: string): Promise<{ pages: number }> {
  const file = await open(ibdata1, 'r+');
  try {
    const pageSize = await sixteenKiB(file);
    const header = Buffer.alloc(12);
    await file.read(header, 0, 12, TRX_SYS_PAGE * pageSize + pageSize - 200 + 10);
    if (header.readUInt32BE(0) !== DOUBLEWRITE_MAGIC) return { pages: 0 };
    const blocks = [header.readUInt32BE(4), header.readUInt32BE(8)];
    const zeros = Buffer.alloc(pageSize * BLOCK_PAGES);
    for (const first of blocks) await file.write(zeros, 0, zeros.length, first * pageSize);
    await file.sync();
    return { pages: blocks.length * BLOCK_PAGES };
  } finally {
    await file.close();
  }
}

/**
 * The system tablespace's page size, from its FSP flags (page 0, offset 38 + 16): MariaDB's
 * full_crc32 format keeps the size's shift in bits 0-3 (bit 4 marks the format), the older format
 * in bits 6-9; a shift of 0 is 16 KiB.
 */
async function systemPageSize(file: Awaited<ReturnType<typeof open>>): Promise<number> {
  const raw = Buffer.alloc(4);
  await file.read(raw, 0, 4, 38 + 16);
  const flags = raw.readUInt32BE(0);
  const ssize = (flags & 0x10) !== 0 ? flags & 0xf : (flags >>> 6) & 0xf;
  return ssize === 0 ? 16_384 : 512 << ssize;
}

function pathOf(data: DataMount): string {
  if (data.kind !== 'path') throw new FailedPreconditionError('masking needs a pool whose volumes are directories (btrfs or copy)', { hint: 'make the pool with `dolly init --driver btrfs`' });
  return data.path;
}

/** FSP header: at FIL_PAGE_DATA (38) of page 0; its extent descriptors follow it (112 bytes on). */
const FSP_HEADER = 38;
const XDES_ARRAY = FSP_HEADER + 112;
const XDES_SIZE = 40;
const EXTENT_PAGES = 64;

/**
 * Zero-fills every page of the system tablespace that its own extent descriptors mark free, and
 * every page at or past its free limit. Undo pages freed in ibdata1 (a MariaDB replica whose undo
 * lives there: 10.11's default) keep the old rows they held until a page is used again; after a
 * slow shutdown nothing refers to a free page. Returns the pages zeroed.
 */
export async function zeroFreePages(ibdata1: string): Promise<{ pages: number }> {
  const file = await open(ibdata1, 'r+');
  try {
    const pageSize = await sixteenKiB(file);
    const pages = Math.floor((await file.stat()).size / pageSize);
    const header = Buffer.alloc(20);
    await file.read(header, 0, 20, FSP_HEADER);
    const freeLimit = header.readUInt32BE(12);
    const zeros = Buffer.alloc(pageSize);
    const page = Buffer.alloc(pageSize);
    const descriptors = Buffer.alloc(pageSize);
    let zeroed = 0;
    // One descriptor page (page 0, then every page_size-th page) describes the page_size pages from it.
    for (let xdesPage = 0; xdesPage < pages; xdesPage += pageSize) {
      await file.read(descriptors, 0, pageSize, xdesPage * pageSize);
      for (let extent = 0; extent < pageSize / EXTENT_PAGES; extent += 1) {
        const first = xdesPage + extent * EXTENT_PAGES;
        if (first >= pages) break;
        const entry = XDES_ARRAY + extent * XDES_SIZE;
        const state = descriptors.readUInt32BE(entry + 20);
        for (let i = 0; i < EXTENT_PAGES && first + i < pages; i += 1) {
          const number = first + i;
          // Two bits per page, the first one "free"; a descriptor never initialised (state 0) below the limit is left alone.
          const free = number >= freeLimit || (state !== 0 && ((descriptors[entry + 24 + Math.floor((2 * i) / 8)] ?? 0) >> ((2 * i) % 8)) & 1) === 1;
          if (!free || number === xdesPage) continue;
          // Only pages that hold something are written: on btrfs a write copies the block into this snapshot.
          await file.read(page, 0, pageSize, number * pageSize);
          if (page.equals(zeros)) continue;
          await file.write(zeros, 0, pageSize, number * pageSize);
          zeroed += 1;
        }
      }
    }
    await file.sync();
    return { pages: zeroed };
  } finally {
    await file.close();
  }
}

/** The system tablespace's page size, which must be 16 KiB (the default) for the page arithmetic here. */
async function sixteenKiB(file: Awaited<ReturnType<typeof open>>): Promise<number> {
  const size = await systemPageSize(file);
  if (size !== 16_384) throw new FailedPreconditionError(`masking needs 16 KiB InnoDB pages; this datadir has ${size}`, { hint: 'innodb_page_size other than 16K is not supported by masking yet' });
  return size;
}
