import type { StateStore } from '../state/store.js';
import type { DollyEvent } from './events.js';

/** One delivery waiting in the outbox. */
export interface PendingDelivery {
  seq: number;
  url: string;
  event: DollyEvent;
  /** Attempts made so far. */
  attempts: number;
}

/**
 * Where webhook deliveries wait until a receiver took them: in the root's store (deliveries
 * survive a killed engine), or in memory (tests of the delivery rules). Times are epoch ms.
 */
export interface WebhookOutbox {
  /** Queues `event` for `url`, due at once. */
  add(url: string, event: DollyEvent, now: number): void;
  /**
   * Queues `event` for every URL and records that the webhooks have taken the event log up to it,
   * in one step (so an event is queued once, even across a killed engine).
   */
  accept(event: DollyEvent, urls: readonly string[], now: number): void;
  /** The seq of the last event accepted; undefined before the first start. */
  cursor(): number | undefined;
  /** Deliveries due at `now`, oldest first. */
  due(now: number, limit: number): PendingDelivery[];
  /** Delivered, or given up: forgotten. */
  remove(seq: number): void;
  /** Failed again: `attempts` made, next try at `nextAt`. */
  postpone(seq: number, attempts: number, nextAt: number): void;
  /** Forgets deliveries to URLs the engine no longer serves; returns how many. */
  keepOnly(urls: readonly string[]): number;
}

/** The outbox as a table of the root's store (webhook_outbox, migration 3). */
export function storeOutbox(store: StateStore): WebhookOutbox {
  const insert = 'INSERT INTO webhook_outbox (url, event, attempts, next_at) VALUES (?, ?, 0, ?)';
  return {
    add: (url, event, now) => {
      store.transact((db) => db.prepare(insert).run(url, JSON.stringify(event), now));
    },
    accept: (event, urls, now) => {
      store.transact((db) => {
        for (const url of urls) db.prepare(insert).run(url, JSON.stringify(event), now);
        db.prepare("INSERT INTO event_cursors (name, seq) VALUES ('webhooks', ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq").run(event.seq);
      });
    },
    cursor: () => store.query((db) => (db.prepare("SELECT seq FROM event_cursors WHERE name = 'webhooks'").get() as { seq: number } | undefined)?.seq),
    due: (now, limit) =>
      store
        .query((db) => db.prepare('SELECT seq, url, event, attempts FROM webhook_outbox WHERE next_at <= ? ORDER BY seq LIMIT ?').all(now, limit) as { seq: number; url: string; event: string; attempts: number }[])
        .map((row) => ({ seq: row.seq, url: row.url, event: JSON.parse(row.event) as DollyEvent, attempts: row.attempts })),
    remove: (seq) => {
      store.transact((db) => db.prepare('DELETE FROM webhook_outbox WHERE seq = ?').run(seq));
    },
    postpone: (seq, attempts, nextAt) => {
      store.transact((db) => db.prepare('UPDATE webhook_outbox SET attempts = ?, next_at = ? WHERE seq = ?').run(attempts, nextAt, seq));
    },
    keepOnly: (urls) =>
      store.transact((db) => {
        const rows = db.prepare('SELECT seq, url FROM webhook_outbox').all() as { seq: number; url: string }[];
        const gone = rows.filter((r) => !urls.includes(r.url));
        for (const row of gone) db.prepare('DELETE FROM webhook_outbox WHERE seq = ?').run(row.seq);
        return gone.length;
      }),
  };
}

/** The outbox in memory: what a process that may lose them uses (and the rules' unit tests). */
export function memoryOutbox(): WebhookOutbox {
  let next = 1;
  let taken: number | undefined;
  const rows: (PendingDelivery & { nextAt: number })[] = [];
  const add = (url: string, event: DollyEvent, now: number): void => {
    rows.push({ seq: next++, url, event, attempts: 0, nextAt: now });
  };
  return {
    add,
    accept: (event, urls, now) => {
      for (const url of urls) add(url, event, now);
      taken = event.seq;
    },
    cursor: () => taken,
    due: (now, limit) => rows.filter((r) => r.nextAt <= now).slice(0, limit).map(({ nextAt: _, ...row }) => ({ ...row })),
    remove: (seq) => {
      const index = rows.findIndex((r) => r.seq === seq);
      if (index >= 0) rows.splice(index, 1);
    },
    postpone: (seq, attempts, nextAt) => {
      const row = rows.find((r) => r.seq === seq);
      if (row) Object.assign(row, { attempts, nextAt });
    },
    keepOnly: (urls) => {
      const before = rows.length;
      for (let i = rows.length - 1; i >= 0; i -= 1) if (!urls.includes(rows[i]?.url ?? '')) rows.splice(i, 1);
      return before - rows.length;
    },
  };
}
