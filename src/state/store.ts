import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AlreadyExistsError, FailedPreconditionError, InternalError } from '../errors.js';
import { migrate } from './migrations.js';
import { stateSchema, type State } from './state.js';

/** The store of a root: one SQLite database (mode 0600: it holds clone passwords). */
export const DB_FILE = 'dolly.db';
/** Where dolly 0.1 kept its state; imported (then deleted) the first time the store opens. */
export const LEGACY_STATE_FILE = 'state.json';

type Db = Database.Database;

/** How long a writer waits for another process's transaction before giving up. */
const BUSY_TIMEOUT_MS = 15_000;

/**
 * The state of one root: entities (settings, replica, snapshots, clones) each with a status, and
 * the journal of jobs in progress. Every change runs in `update`, one short SQLite write
 * transaction (`BEGIN IMMEDIATE`): the kernel releases its lock the instant the process dies, so a
 * crash never leaves a lock behind, and slow work (servers, copies) always runs outside it.
 */
export class StateStore {
  readonly file: string;
  private db: Db | undefined;

  constructor(readonly root: string) {
    this.file = join(root, DB_FILE);
  }

  /** The state, or null when the root has no pool yet. */
  read(): State | null {
    const db = this.open(false);
    return db === undefined ? null : load(db, this.file);
  }

  /** The state; FailedPreconditionError when `dolly init` has not run for this root. */
  require(): State {
    const state = this.read();
    if (state === null) {
      throw new FailedPreconditionError(`no dolly pool at ${this.root}`, { hint: 'run `dolly init` first (or pass --root / DOLLY_ROOT)' });
    }
    return state;
  }

  /** Records a new root's first state (`dolly init`); AlreadyExistsError when it has one. */
  create(state: State): void {
    const db = this.open(true);
    if (db === undefined) throw new InternalError(`cannot open ${this.file}`);
    db.transaction(() => {
      if (db.prepare('SELECT 1 FROM meta WHERE key = ?').get('pool') !== undefined) {
        throw new AlreadyExistsError(`${this.root} already has a dolly pool`, { hint: 'use it, or remove it with `dolly teardown --purge`' });
      }
      save(db, stateSchema.parse(state));
    }).immediate();
  }

  /**
   * Reads the state, lets `fn` change it and writes it back, in one write transaction. `fn` is
   * synchronous on purpose: nothing slow may run while the root is locked. When `fn` throws,
   * nothing is written.
   */
  update<T>(fn: (state: State) => T): T {
    const db = this.open(false);
    if (db === undefined) this.require();
    const open = db as Db;
    return open.transaction(() => {
      const state = load(open, this.file);
      const result = fn(state);
      save(open, stateSchema.parse(state));
      return result;
    }).immediate();
  }

  /**
   * Runs `fn` on the database in one write transaction: for the tables that are not part of the
   * state document (the engine's tokens and its claim). Needs an initialised root.
   */
  transact<T>(fn: (db: Db) => T): T {
    const db = this.open(false);
    if (db === undefined) this.require();
    return (db as Db).transaction(() => fn(db as Db)).immediate();
  }

  /**
   * Reads with `fn` without taking the write lock (the engine's tokens and claim: every API request
   * authenticates, and must not queue behind a writer). Needs an initialised root.
   */
  query<T>(fn: (db: Db) => T): T {
    const db = this.open(false);
    if (db === undefined) this.require();
    return fn(db as Db);
  }

  /** Deletes the store (`teardown --purge`). */
  delete(): void {
    this.close();
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${this.file}${suffix}`, { force: true });
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  /** Opens (and migrates) the database; with `create` false, undefined when the root has none. */
  private open(create: boolean): Db | undefined {
    if (this.db !== undefined) return this.db;
    const legacy = join(this.root, LEGACY_STATE_FILE);
    const exists = existsSync(this.file);
    if (!exists && !create && !existsSync(legacy)) return undefined;
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const db = new Database(this.file);
    if (!exists) chmodSync(this.file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(db);
    this.db = db;
    if (existsSync(legacy)) importLegacy(db, legacy);
    return db;
  }
}

/** The whole state from the tables. */
function load(db: Db, file: string): State {
  const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, JSON.parse(r.value) as unknown]));
  if (!meta.has('pool')) throw new FailedPreconditionError(`no dolly pool in ${file}`, { hint: 'run `dolly init` first' });
  const bodies = (sql: string): unknown[] => (db.prepare(sql).all() as { body: string }[]).map((r) => JSON.parse(r.body) as unknown);
  const replica = bodies('SELECT body FROM replica')[0];
  const candidate = {
    version: 2,
    root: meta.get('root'),
    pool: meta.get('pool'),
    settings: meta.get('settings'),
    ...(replica === undefined ? {} : { replica }),
    ...(meta.has('swarm') ? { swarm: meta.get('swarm') } : {}),
    ...(meta.has('schedule') ? { schedule: meta.get('schedule') } : {}),
    snapshots: bodies('SELECT body FROM snapshots ORDER BY seq'),
    clones: bodies('SELECT body FROM clones ORDER BY seq'),
    jobs: bodies('SELECT body FROM jobs ORDER BY seq'),
  };
  const parsed = stateSchema.safeParse(candidate);
  if (!parsed.success) throw new InternalError(`${file} does not hold a valid dolly state: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Writes the whole state back (the tables are small: a root has tens of entities). */
function save(db: Db, state: State): void {
  for (const table of ['meta', 'replica', 'snapshots', 'clones', 'jobs']) db.prepare(`DELETE FROM ${table}`).run();
  const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  meta.run('root', JSON.stringify(state.root));
  meta.run('pool', JSON.stringify(state.pool));
  meta.run('settings', JSON.stringify(state.settings));
  if (state.swarm) meta.run('swarm', JSON.stringify(state.swarm));
  if (state.schedule) meta.run('schedule', JSON.stringify(state.schedule));
  if (state.replica) db.prepare('INSERT INTO replica (id, status, body) VALUES (1, ?, ?)').run(state.replica.status, JSON.stringify(state.replica));
  const snapshot = db.prepare('INSERT INTO snapshots (id, seq, status, body) VALUES (?, ?, ?, ?)');
  state.snapshots.forEach((s, i) => snapshot.run(s.id, i, s.status, JSON.stringify(s)));
  const clone = db.prepare('INSERT INTO clones (name, seq, port, status, body) VALUES (?, ?, ?, ?, ?)');
  state.clones.forEach((c, i) => clone.run(c.name, i, c.port, c.status, JSON.stringify(c)));
  const job = db.prepare('INSERT INTO jobs (id, seq, kind, target, owner_pid, body) VALUES (?, ?, ?, ?, ?, ?)');
  state.jobs.forEach((j, i) => job.run(j.id, i, j.kind, j.target, j.owner.pid, JSON.stringify(j)));
}

/** dolly 0.1's state.json (version 1): every entity was ready, no job ran. Imported once, then deleted. */
function importLegacy(db: Db, legacy: string): void {
  const doc = JSON.parse(readFileSync(legacy, 'utf8')) as Record<string, unknown> & { version?: unknown };
  if (doc.version !== 1) throw new InternalError(`${legacy} is not a dolly 0.1 state (version ${String(doc.version)})`);
  const ready = (items: unknown): unknown[] => (Array.isArray(items) ? items.map((item: object) => ({ ...item, status: 'ready' })) : []);
  const state = stateSchema.parse({
    ...doc,
    version: 2,
    ...(doc.replica ? { replica: { ...(doc.replica as object), status: 'ready' } } : {}),
    snapshots: ready(doc.snapshots),
    clones: ready(doc.clones),
    jobs: [],
  });
  db.transaction(() => {
    if (db.prepare('SELECT 1 FROM meta WHERE key = ?').get('pool') === undefined) save(db, state);
  }).immediate();
  rmSync(legacy, { force: true });
}
