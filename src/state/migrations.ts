import type Database from 'better-sqlite3';
import { FailedPreconditionError } from '../errors.js';

/**
 * The store's schema, one migration per version (SQLite's `user_version`); each runs once, in a
 * transaction, in order. Entities are rows with their status in a column and their fields as
 * JSON (validated by the zod schemas in state.ts on every read).
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE replica (id INTEGER PRIMARY KEY CHECK (id = 1), status TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE snapshots (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE clones (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, port INTEGER NOT NULL UNIQUE, status TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, owner_pid INTEGER NOT NULL, body TEXT NOT NULL);`,
  // The engine (`dolly serve`): its API tokens, stored as hashes, and the one engine that runs.
  `CREATE TABLE tokens (name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, admin INTEGER NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
   CREATE TABLE engine (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, start TEXT NOT NULL, url TEXT NOT NULL, started_at TEXT NOT NULL);`,
  // Webhook deliveries not made yet: written when the event happens, deleted once delivered, so a
  // killed engine delivers them after its restart (at least once; X-Dolly-Delivery is stable).
  `CREATE TABLE webhook_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, event TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL);`,
  // The root's events, appended by whichever process made the change (the engine or the host's
  // CLI); where each reader of it got to (the webhooks); and what the engine last saw of each
  // clone's clients (idle deletion survives an engine restart).
  `CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
   CREATE TABLE event_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
   CREATE TABLE clone_activity (name TEXT PRIMARY KEY, body TEXT NOT NULL);`,
  // Masking rules (`dolly mask set`), one row per version: the current rules are the newest row;
  // an empty body is `dolly mask clear` (masking off from the next snapshot).
  `CREATE TABLE mask_rules (version INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL);`,
  // Base points of point-in-time clones (src/engine/base-point.ts): raw snapshots of the replica
  // taken every base interval, many more than snapshots, so kept out of the state document.
  `CREATE TABLE base_points (id TEXT PRIMARY KEY, data_state_at TEXT NOT NULL, body TEXT NOT NULL);`,
];

/** The schema version this dolly writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  db.transaction(() => {
    const current = Number(db.pragma('user_version', { simple: true }));
    if (current > SCHEMA_VERSION) throw new FailedPreconditionError(`the store's schema (version ${current}) is newer than this dolly's (${SCHEMA_VERSION})`, { hint: 'upgrade dolly' });
    for (let version = current; version < SCHEMA_VERSION; version += 1) {
      db.exec(MIGRATIONS[version] ?? '');
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
}
