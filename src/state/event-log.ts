import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { StateStore } from './store.js';

/** What the engine tells webhooks and the events stream about. */
export type EventType =
  | 'clone.created'
  | 'clone.reset'
  | 'clone.expiring'
  | 'clone.destroyed'
  | 'snapshot.created'
  | 'snapshot.shared'
  | 'snapshot.destroyed'
  | 'replication.stopped'
  | 'replication.running'
  | 'pool.low';

export interface DollyEvent {
  /** A stable id (webhooks send it as X-Dolly-Delivery, so a receiver can drop a repeat). */
  id: string;
  /** Its place in the root's log: the events stream's `id:`, and where a reader resumes. */
  seq: number;
  type: EventType;
  at: string;
  /** The token name a clone event concerns (its owner); absent for events about the whole root. */
  owner?: string;
  data: Record<string, unknown>;
}

/**
 * The root's events in order. Every process that changes the root appends to it (the engine, and
 * the host's CLI while an engine runs or not), so the engine's events stream and webhooks see every
 * change, and a change made while no engine ran is delivered when one starts.
 */
export interface EventLog {
  /** Records an event; returns it with its id and seq. */
  append(type: EventType, data: Record<string, unknown>, owner?: string): DollyEvent;
  /** Events after `seq`, oldest first, at most `limit`. */
  after(seq: number, limit: number): DollyEvent[];
  /** The newest event's seq; 0 when there is none. */
  last(): number;
}

/** An event to record: what `append` and a job's commit are given (the log adds id, seq and time). */
export interface EventDraft {
  type: EventType;
  data: Record<string, unknown>;
  /** The token name a clone event concerns; absent for events about the whole root. */
  owner?: string;
}

/** Events kept in the store: the newest this many (older ones are dropped as new ones come). */
const KEEP = 10_000;

function newEvent(seq: number, type: EventType, data: Record<string, unknown>, owner: string | undefined, now: Date): DollyEvent {
  return { id: randomBytes(8).toString('hex'), seq, type, at: now.toISOString(), ...(owner !== undefined ? { owner } : {}), data };
}

/**
 * Appends an event to the `events` table (migration 4), in the transaction `db` is in: a job's
 * commit records its event with the change it makes, so neither is ever kept without the other.
 */
export function appendEvent(db: Database.Database, event: EventDraft, at: Date): DollyEvent {
  const draft = newEvent(0, event.type, event.data, event.owner, at);
  const { seq, ...body } = draft;
  const row = db.prepare('INSERT INTO events (body) VALUES (?)').run(JSON.stringify(body));
  const appended = { ...draft, seq: Number(row.lastInsertRowid) };
  db.prepare('DELETE FROM events WHERE seq <= ?').run(appended.seq - KEEP);
  return appended;
}

/** The log as the `events` table of the root's store (migration 4). */
export function storeEventLog(store: StateStore, now: () => Date = () => new Date()): EventLog {
  return {
    append: (type, data, owner) => store.transact((db) => appendEvent(db, { type, data, ...(owner !== undefined ? { owner } : {}) }, now())),
    after: (seq, limit) =>
      store
        .query((db) => db.prepare('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as { seq: number; body: string }[])
        .map((row) => ({ ...(JSON.parse(row.body) as Omit<DollyEvent, 'seq'>), seq: row.seq })),
    last: () => store.query((db) => (db.prepare('SELECT MAX(seq) AS seq FROM events').get() as { seq: number | null }).seq ?? 0),
  };
}

/** The log in memory (tests of what reads it). */
export function memoryEventLog(now: () => Date = () => new Date()): EventLog {
  const events: DollyEvent[] = [];
  return {
    append: (type, data, owner) => {
      const event = newEvent((events.at(-1)?.seq ?? 0) + 1, type, data, owner, now());
      events.push(event);
      return event;
    },
    after: (seq, limit) => events.filter((e) => e.seq > seq).slice(0, limit),
    last: () => events.at(-1)?.seq ?? 0,
  };
}
