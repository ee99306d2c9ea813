import type { SqlClient } from '../mysql/sql-client.js';
import type { StateStore } from '../state/store.js';

/** What the engine last saw of a clone's clients (kept in the store: an engine restart keeps it). */
export interface CloneActivity {
  /** When a client was last seen (RFC 3339). */
  last_active_at: string;
  /** The server's `Connections` counter at that reading (dolly's own probe included). */
  connections: number;
  /** The server's `Uptime` at that reading, in seconds. */
  uptime: number;
}

/** One look at a clone's server. */
export interface ServerReading {
  /** Client sessions open now (not dolly's probe, not the server's own threads). */
  sessions: number;
  connections: number;
  uptime: number;
}

/** Sessions of clients in a clone's server (not dolly's own, not the server's threads). */
const SESSIONS_SQL = "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID') AND USER NOT IN ('system user', 'event_scheduler', 'unauthenticated user')";

/** Reads sessions and the connection counter through `client` (one connection: the probe counts once). */
export async function readServer(client: SqlClient): Promise<ServerReading> {
  const sessions = Number((await client.query<{ n: unknown }>(SESSIONS_SQL))[0]?.n ?? 0);
  const status = await client.query<{ Variable_name: string; Value: unknown }>("SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Uptime')");
  const value = (name: string): number => Number(status.find((row) => row.Variable_name === name)?.Value ?? 0);
  return { sessions, connections: value('Connections'), uptime: value('Uptime') };
}

/**
 * When the clone was last used, from the previous record and a new reading. A client counts when
 * one is connected now, or when anyone connected since the last reading (the counter grew by more
 * than dolly's own probe: a CI job that connects between two readings is seen), or when the server
 * restarted (a reset). A clone seen for the first time counts as used now: time nobody watched is
 * never called idle.
 */
export function judgeActivity(previous: CloneActivity | undefined, reading: ServerReading, now: Date): CloneActivity {
  const restarted = previous !== undefined && reading.uptime < previous.uptime;
  const connectedSince = previous !== undefined && reading.connections > previous.connections + 1;
  const active = previous === undefined || reading.sessions > 0 || restarted || connectedSince;
  return { last_active_at: active ? now.toISOString() : previous.last_active_at, connections: reading.connections, uptime: reading.uptime };
}

/** The records in the store's `clone_activity` table (migration 4). */
export interface ActivityRecords {
  get(name: string): CloneActivity | undefined;
  put(name: string, activity: CloneActivity): void;
  /** Forgets the records of clones that are gone. */
  keepOnly(names: readonly string[]): void;
}

export function storeActivity(store: StateStore): ActivityRecords {
  return {
    get: (name) => {
      const row = store.query((db) => db.prepare('SELECT body FROM clone_activity WHERE name = ?').get(name) as { body: string } | undefined);
      return row === undefined ? undefined : (JSON.parse(row.body) as CloneActivity);
    },
    put: (name, activity) => {
      store.transact((db) => db.prepare('INSERT INTO clone_activity (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body').run(name, JSON.stringify(activity)));
    },
    keepOnly: (names) => {
      store.transact((db) => {
        for (const { name } of db.prepare('SELECT name FROM clone_activity').all() as { name: string }[]) {
          if (!names.includes(name)) db.prepare('DELETE FROM clone_activity WHERE name = ?').run(name);
        }
      });
    },
  };
}
