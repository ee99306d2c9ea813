/**
 * The parallel logical copy of a MariaDB source (`replica init --method dump --parallel N`, N ≥ 2):
 * several `mariadb-dump | mariadb` streams that read one consistent snapshot.
 *
 * MariaDB cannot share a snapshot between sessions, so the copy makes them start at one instant:
 * a coordinator session takes `FLUSH TABLES WITH READ LOCK` (commits wait), reads the GTID
 * position, starts every data session (each `START TRANSACTION WITH CONSISTENT SNAPSHOT`), waits
 * until each has shown output that `mariadb-dump` writes only after its transaction began, and
 * unlocks. The lock is held for that start only (reported as `lock_ms`).
 *
 * Data sessions (see dump-plan.ts for the split): N for ranges of the split group's key, one for
 * every other table whole. After the unlock, one session dumps the definitions (tables, views,
 * routines, events; no data, no triggers), loaded first, and one the triggers, loaded last, so no
 * trigger fires while rows load. Data streams wait in memory (up to BUFFER_BYTES each) while the
 * definitions load; a data session whose output waits longer than the source's net_write_timeout
 * (60 s by default) would be cut off, which only a schema that takes a minute to create risks.
 */
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, SourceError } from '../errors.js';
import { BROKEN_PIPE, DISK_FULL, dumpError, kill, loadError, loaderArgs, pipeFailure, sourceArgs, startChild, type Child, type Exit } from './dump-pipe.js';
import type { CopyDatabasesOptions, CopyResult } from './dump.js';
import { planCopy, rangeConditions, type CopyPlan, type TableStat } from './dump-plan.js';
import { quoteIdentifier } from './identifiers.js';
import { checkDumpableDatabases, flavorOps } from './flavor.js';
import { connectSql, type SqlClient } from './sql-client.js';
import { clientTlsArgs, sourceConnectOptions } from './source-tls.js';

export interface ParallelCopyOptions extends CopyDatabasesOptions {
  /** Sessions that share the split group's key ranges (2–8). */
  sessions: number;
  /** Longest the source's commits may wait for the sessions to start (default 30 s). */
  lockTimeoutMs?: number;
}

export interface ParallelCopyResult extends CopyResult {
  /** Data streams that ran side by side: one per key range, plus one for every other table. */
  sessions: number;
  /** Key ranges the split group was dumped in (0: nothing could be split). */
  ranges: number;
  /** How long the source's commits waited while the sessions started. */
  lock_ms: number;
  /** The split group's key column and its tables (none when nothing could be split). */
  split_column: string | null;
  split_tables: number;
}

export const MAX_SESSIONS = 8;
/** Output of one data session kept in memory while the definitions load. */
const BUFFER_BYTES = 64 * 1024 * 1024;
const LOCK_TIMEOUT_MS = 30_000;
/** Lines `mariadb-dump --databases` writes only after its transaction started (the header comes before). */
const AFTER_SNAPSHOT = ['\n-- Current Database: ', '\n-- Dumping data for table ', '\n-- Table structure for table '];

/** Copies `databases` through several sessions of one snapshot; see the module comment. */
export async function copyDatabasesParallel(opts: ParallelCopyOptions): Promise<ParallelCopyResult> {
  if (opts.flavor !== 'mariadb' || opts.toolsImage) throw new InvalidArgumentError('a parallel copy reads MariaDB sources only', { hint: 'use --parallel 1 (or --method clone for MySQL)' });
  if (!Number.isInteger(opts.sessions) || opts.sessions < 2 || opts.sessions > MAX_SESSIONS) {
    throw new InvalidArgumentError(`a parallel copy takes 2 to ${MAX_SESSIONS} sessions, not ${opts.sessions}`, { hint: `--parallel 1 copies through one stream; 2 is the default` });
  }
  checkDumpableDatabases(opts.databases);
  opts.signal?.throwIfAborted();
  const coordinator = await connectSql(sourceConnectOptions(opts.source));
  const run = new CopyRun(opts);
  const budgetMs = opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS;
  let locked = false;
  let closed = false;
  const closeOnce = async (): Promise<void> => {
    if (!closed) await coordinator.close().catch(() => undefined);
    closed = true;
  };
  try {
    await coordinator.execute(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(budgetMs / 2000))}`);
    let planned: { plan: CopyPlan; ranges: string[] } | null = null;
    let lockedAt = 0;
    for (let attempt = 1; planned === null; attempt += 1) {
      const stats = await tableStats(coordinator, opts.databases);
      const plan = planCopy(stats);
      const ranges = await splitRanges(coordinator, plan, opts.sessions);
      opts.signal?.throwIfAborted();
      await coordinator.execute('FLUSH LOCAL TABLES');
      lockedAt = performance.now();
      await coordinator.execute('FLUSH TABLES WITH READ LOCK');
      locked = true;
      opts.signal?.throwIfAborted();
      // DDL waits now: the tables the sessions will see are the ones planned, or the plan is made again.
      const names = await tableNames(coordinator, opts.databases);
      if (names === stats.map((t) => `${t.schema}.${t.table}`).sort().join('\n')) {
        planned = { plan, ranges };
        break;
      }
      await coordinator.execute('UNLOCK TABLES');
      locked = false;
      if (attempt >= 3) throw new SourceError("the source's tables kept changing while the copy started (three tries)", { hint: 'run replica init again when no tables are being created or dropped' });
    }
    const { plan, ranges } = planned;
    const [row] = await coordinator.query<{ gtid: string }>(flavorOps('mariadb').sourcePositionSql);
    const gtid = row?.gtid ?? '';
    const data = startDataSessions(run, plan, ranges);
    await run.allStarted(Math.max(1, budgetMs - (performance.now() - lockedAt)));
    await coordinator.execute('UNLOCK TABLES');
    locked = false;
    const lockMs = Math.round(performance.now() - lockedAt);
    await closeOnce();
    // Definitions are not versioned rows: like one mariadb-dump's, they are read after the snapshot.
    const dbs = opts.databases;
    const definitions = run.start('definitions', ['--no-data', '--skip-triggers', '--routines', '--events', '--databases', ...dbs]);
    const triggers = run.start('triggers', ['--no-data', '--no-create-info', '--no-create-db', '--triggers', '--databases', ...dbs]);
    await run.load(definitions);
    await Promise.all(data.map((s) => run.load(s)));
    await run.load(triggers);
    return { bytes: run.bytes, gtid, sessions: data.length, ranges: ranges.length, lock_ms: lockMs, split_column: plan.column, split_tables: ranges.length > 0 ? plan.split.length : 0 };
  } catch (error) {
    // The source's commits first: never wait for the sessions to end while they are blocked.
    if (locked) await coordinator.execute('UNLOCK TABLES').catch(() => undefined);
    locked = false;
    run.stop();
    await run.settled();
    opts.signal?.throwIfAborted();
    throw run.rootError() ?? error;
  } finally {
    run.dispose();
    if (locked) await coordinator.execute('UNLOCK TABLES').catch(() => undefined);
    await closeOnce();
  }
}

/** The data sessions: one per key range of the split group, one for every other table. */
function startDataSessions(run: CopyRun, plan: CopyPlan, ranges: string[]): DumpSession[] {
  const data: DumpSession[] = [];
  const rows = ['--no-create-info', '--no-create-db', '--skip-triggers', '--skip-add-locks'];
  if (ranges.length > 0) {
    const splitDbs = [...new Set(plan.split.map((t) => t.schema))];
    const others = plan.whole.filter((t) => splitDbs.includes(t.schema)).map(ignore);
    ranges.forEach((where, i) => data.push(run.start(`range ${i + 1}`, [...rows, `--where=${where}`, '--databases', ...splitDbs, ...others])));
  }
  data.push(run.start('other tables', [...rows, '--databases', ...run.opts.databases, ...(ranges.length > 0 ? plan.split.map(ignore) : [])]));
  return data;
}

const ignore = (t: TableStat): string => `--ignore-table=${t.schema}.${t.table}`;

/** The base tables (and sequences) of `databases`: engine, size, and a single integer primary key. */
async function tableStats(client: SqlClient, databases: readonly string[]): Promise<TableStat[]> {
  if (databases.length === 0) return [];
  const marks = databases.map(() => '?').join(', ');
  const rows = await client.query<{ schema: string; name: string; engine: string | null; type: string; bytes: number | string | null; keycol: string | null }>(
    `SELECT t.TABLE_SCHEMA AS \`schema\`, t.TABLE_NAME AS name, t.ENGINE AS engine, t.TABLE_TYPE AS type,
            COALESCE(t.DATA_LENGTH, 0) + COALESCE(t.INDEX_LENGTH, 0) AS bytes,
            (SELECT IF(COUNT(*) = 1 AND MAX(c.DATA_TYPE) IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint'), MAX(c.COLUMN_NAME), NULL)
               FROM information_schema.STATISTICS s
               JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
              WHERE s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY') AS keycol
       FROM information_schema.TABLES t
      WHERE t.TABLE_SCHEMA IN (${marks}) AND t.TABLE_TYPE <> 'VIEW'`,
    [...databases],
  );
  return rows.map((r) => ({
    schema: r.schema,
    table: r.name,
    engine: r.engine ?? '',
    bytes: Number(r.bytes ?? 0),
    intKey: r.type === 'BASE TABLE' ? r.keycol : null,
  }));
}

/** The names (`schema.table`, sorted, one per line) of what tableStats lists: compared under the lock. */
async function tableNames(client: SqlClient, databases: readonly string[]): Promise<string> {
  if (databases.length === 0) return '';
  const rows = await client.query<{ name: string }>(
    `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${databases.map(() => '?').join(', ')}) AND TABLE_TYPE <> 'VIEW'`,
    [...databases],
  );
  return rows.map((r) => r.name).sort().join('\n');
}

/** The `--where` ranges of the plan's key, cut from its largest table's MIN..MAX (none when empty). */
async function splitRanges(client: SqlClient, plan: CopyPlan, sessions: number): Promise<string[]> {
  if (plan.column === null || plan.rangeTable === null) return [];
  const col = quoteIdentifier(plan.column);
  const [row] = await client.query<{ lo: string | null; hi: string | null }>(
    `SELECT CAST(MIN(${col}) AS CHAR) AS lo, CAST(MAX(${col}) AS CHAR) AS hi FROM ${quoteIdentifier(plan.rangeTable.schema)}.${quoteIdentifier(plan.rangeTable.table)}`,
  );
  if (!row || row.lo === null || row.hi === null) return [];
  const ranges = rangeConditions(plan.column, row.lo, row.hi, sessions);
  return ranges.length > 1 ? ranges : [];
}

/** One dump session: its program, its output (counted, watched for the snapshot, buffered) and later its loader. */
interface DumpSession {
  label: string;
  dump: Child;
  output: Readable;
  /** Resolves once the session's transaction has begun (or it ended well). */
  started: Promise<void>;
  /** The dump → buffer pipeline (rejects when the output breaks). */
  read: Promise<unknown>;
}

/** The children of one copy: started, loaded, stopped together; the first root failure kept. */
class CopyRun {
  bytes = 0;
  private readonly children: Child[] = [];
  private readonly waits: Promise<unknown>[] = [];
  private readonly sessions: DumpSession[] = [];
  private readonly loaders = new Set<Child>();
  /** Programs that failed on their own (not stopped by us), in the order they ended. */
  private readonly selfFailed: { child: Child; exit: Exit }[] = [];
  /** Per session: resolves once its transaction began. */
  private readonly started: Promise<void>[] = [];
  private readonly exits = { count: 0 };
  private failure: Error | null = null;
  private readonly onAbort = (): void => this.stop();

  constructor(readonly opts: ParallelCopyOptions) {
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  start(label: string, args: string[]): DumpSession {
    this.opts.signal?.throwIfAborted();
    const { source } = this.opts;
    const program = this.opts.binaries?.dump ?? 'mariadb-dump';
    const full = [...sourceArgs(source), ...clientTlsArgs('mariadb', source.tls, source.caFile), '--single-transaction', '--hex-blob', ...args];
    const dump = this.track(startChild(program, full, source.password, 'ignore', this.exits));
    let began = (): void => undefined;
    const started = new Promise<void>((resolve) => (began = resolve));
    void dump.exit.then((e) => e.code === 0 && began());
    this.started.push(started);
    const marker = new MarkerScan(AFTER_SNAPSHOT);
    const watch = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.bytes += chunk.length;
        this.opts.onProgress?.(this.bytes);
        if (marker.push(chunk)) began();
        callback(null, chunk);
      },
    });
    const output = new PassThrough({ readableHighWaterMark: BUFFER_BYTES, writableHighWaterMark: 64 * 1024 });
    const read = dump.proc.stdout ? pipeline(dump.proc.stdout, watch, output).catch((e: unknown) => e) : Promise.resolve(null);
    this.waits.push(read);
    const session = { label, dump, output, started, read };
    this.sessions.push(session);
    return session;
  }

  /** Waits until every session began its transaction; a session that fails first, or the time limit, ends the copy. */
  async allStarted(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    const failed = new Promise<Child>((resolve) => {
      for (const child of this.children) void child.exit.then((e) => e.code !== 0 && resolve(child));
    });
    try {
      const outcome = await Promise.race([Promise.all(this.started).then(() => 'ok' as const), late, failed]);
      if (outcome === 'late') {
        throw new SourceError(`the copy's sessions did not all start within ${Math.round(timeoutMs / 1000)} s, so the source's commits were let go and the copy stopped`, {
          hint: 'check max_connections and the load on the source, or copy with --parallel 1',
        });
      }
      if (outcome !== 'ok') {
        const exit = await outcome.exit;
        if (!outcome.killedByUs) this.selfFailed.push({ child: outcome, exit });
        throw this.rootError() ?? new SourceError(`${outcome.name} failed as it started`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Loads a session's output into the target with its own client, then checks both programs. */
  async load(session: DumpSession): Promise<void> {
    const { target } = this.opts;
    const program = this.opts.binaries?.client ?? 'mariadb';
    const load = this.track(startChild(program, loaderArgs(target.socketPath, target.user), target.password, 'pipe', this.exits));
    this.loaders.add(load);
    const piped = load.proc.stdin ? pipeline(session.output, load.proc.stdin).then(() => null, (e: unknown) => e) : Promise.resolve(null);
    this.waits.push(piped);
    const [dumpExit, loadExit, readError, pipeError] = await Promise.all([this.watch(session.dump), this.watch(load), session.read, piped]);
    const failure = pipeFailure({ child: session.dump, exit: dumpExit }, { child: load, exit: loadExit }, readError ?? pipeError, this.opts.source);
    if (failure) {
      this.failure ??= failure;
      throw failure;
    }
  }

  /**
   * Stops every program of the copy, and drops what their outputs hold: a session's output that
   * no loader reads any more would otherwise keep its program's stdout (and its exit) open.
   */
  stop(): void {
    for (const child of this.children) kill(child);
    for (const session of this.sessions) session.output.destroy();
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.children.map((c) => c.exit), ...this.waits]);
  }

  dispose(): void {
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  /**
   * The failure to report: of the programs that failed on their own (not stopped by us), a loader
   * that found the replica's disk full, else the first that did not merely lose its pipe; else the
   * first failure a load saw.
   */
  rootError(): Error | null {
    const failed = this.selfFailed;
    const pick =
      failed.find((f) => this.loaders.has(f.child) && DISK_FULL.test(f.child.stderr)) ??
      failed.find((f) => this.loaders.has(f.child) || !BROKEN_PIPE.test(f.child.stderr)) ??
      failed[0];
    if (!pick) return this.failure;
    if (pick.child.spawnError) return pipeFailure(pick, pick, null, this.opts.source) ?? this.failure;
    return this.loaders.has(pick.child) ? loadError(pick.child, pick.exit.code) : dumpError(pick.child, pick.exit.code, this.opts.source);
  }

  private track(child: Child): Child {
    this.children.push(child);
    return child;
  }

  private watch(child: Child): Promise<Exit> {
    return child.exit.then((e) => {
      if (e.code !== 0) {
        // One that exited with a code failed on its own, even when our stop signal came after it
        // died (Node may report its exit after another child's): only our signal makes an effect.
        if (!(child.killedByUs && e.signal !== null)) this.selfFailed.push({ child, exit: e });
        this.stop();
      }
      return e;
    });
  }
}

/** Finds the first of some markers in a stream of chunks (a marker may straddle two chunks). */
export class MarkerScan {
  private tail = '';
  private found = false;
  private readonly keep: number;

  constructor(private readonly markers: readonly string[]) {
    this.keep = Math.max(...markers.map((m) => m.length)) - 1;
  }

  /** True from the chunk that completes a marker on. */
  push(chunk: Buffer): boolean {
    if (this.found) return true;
    const text = this.tail + chunk.toString('latin1');
    this.found = this.markers.some((m) => text.includes(m));
    this.tail = text.slice(-this.keep);
    return this.found;
  }
}
