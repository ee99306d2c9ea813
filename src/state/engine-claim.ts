import { AlreadyExistsError } from '../errors.js';
import { currentOwner, ownerAlive } from './owner.js';
import type { StateStore } from './store.js';

/** The engine that serves a root, as recorded in its store. */
export interface EngineClaim {
  pid: number;
  start: string;
  url: string;
  started_at: string;
}

/** The recorded engine, if its process still runs (a dead one's claim is stale and ignored). */
export function runningEngine(store: StateStore): EngineClaim | null {
  const row = store.query((db) => db.prepare('SELECT pid, start, url, started_at FROM engine WHERE id = 1').get()) as EngineClaim | undefined;
  return row && ownerAlive({ pid: row.pid, start: row.start }) ? row : null;
}

/**
 * Records this process as the root's one engine, in one transaction, so two engines started at
 * once cannot both win; refused while another runs. A claim left by a killed engine is taken over.
 */
export function claimEngine(store: StateStore, url: string, now: Date): void {
  const me = currentOwner();
  store.transact((db) => {
    const row = db.prepare('SELECT pid, start, url FROM engine WHERE id = 1').get() as EngineClaim | undefined;
    if (row && ownerAlive({ pid: row.pid, start: row.start }) && row.pid !== me.pid) {
      throw new AlreadyExistsError(`an engine already serves this root (pid ${row.pid}, ${row.url})`, { hint: 'use it (DOLLY_URL), or stop it first' });
    }
    db.prepare('INSERT OR REPLACE INTO engine (id, pid, start, url, started_at) VALUES (1, ?, ?, ?, ?)').run(me.pid, me.start, url, now.toISOString());
  });
}

/** Drops this process's claim (a graceful stop). */
export function releaseEngine(store: StateStore): void {
  const me = currentOwner();
  store.transact((db) => db.prepare('DELETE FROM engine WHERE id = 1 AND pid = ? AND start = ?').run(me.pid, me.start));
}
