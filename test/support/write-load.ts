import { randomInt } from 'node:crypto';
import { messageOf } from '../../src/errors.js';
import { quoteIdentifier } from '../../src/mysql/identifiers.js';
import { connectSql, type ConnectOptions, type SqlClient } from '../../src/mysql/sql-client.js';

/**
 * What one transaction of the load does. Each inserts exactly one `ledger` row, so the ledger's
 * row count is the number of load transactions committed (the consistency checks count on it).
 * - `single`: that one insert, autocommitted.
 * - `multi`: the ledger row and four `events` rows in one transaction.
 * - `mixed`: a transfer between two accounts (two updates, in id order: no deadlock), the ledger
 *   row, an update and a delete of random `events` rows and one new event.
 */
export type LoadMix = 'single' | 'multi' | 'mixed';

export interface WriteLoadOptions {
  /** Client connections writing at once (the issue: 16). */
  connections: number;
  /** Transactions a second, all connections together; absent: as fast as the source takes them. */
  rate?: number;
  mix: LoadMix;
  /** Default `load`. */
  database?: string;
  /** With a value: one more connection sets `heartbeat.at = NOW(6)` this often (for lag readings). */
  heartbeatMs?: number;
}

/** What a load did, once stopped. */
export interface LoadFigures {
  transactions: number;
  seconds: number;
  /** Transactions committed per second. */
  rate: number;
  /** Transactions that failed (deadlock, lost connection) and were rolled back. */
  errors: number;
  /** The last error's message, if any. */
  lastError: string | null;
}

export interface WriteLoad {
  /** Transactions committed so far. */
  committed(): number;
  /** Stops every connection after its transaction under way and closes them. */
  stop(): Promise<LoadFigures>;
}

/** Accounts made by prepareLoadSchema; their balances always add up to ACCOUNTS × OPENING_BALANCE. */
export const ACCOUNTS = 1000;
export const OPENING_BALANCE = 1000;

/**
 * Makes (or makes again) the load's tables on the source: `accounts` (ACCOUNTS rows),
 * `ledger`, `events`, `heartbeat` (one row). Their GTIDs come before any load transaction.
 */
export async function prepareLoadSchema(connect: ConnectOptions, database = 'load'): Promise<void> {
  const db = quoteIdentifier(database);
  const client = await connectSql(connect);
  try {
    await client.execute(`DROP DATABASE IF EXISTS ${db}`);
    await client.execute(`CREATE DATABASE ${db}`);
    await client.execute(`CREATE TABLE ${db}.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB`);
    await client.execute(
      `CREATE TABLE ${db}.ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, conn INT NOT NULL, amount INT NOT NULL, ` +
        'note VARCHAR(64) NOT NULL, created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB',
    );
    await client.execute(
      `CREATE TABLE ${db}.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(16) NOT NULL, hits INT NOT NULL DEFAULT 0, ` +
        'payload VARCHAR(255) NOT NULL, KEY (kind)) ENGINE=InnoDB',
    );
    await client.execute(`CREATE TABLE ${db}.heartbeat (id INT PRIMARY KEY, at TIMESTAMP(6) NOT NULL) ENGINE=InnoDB`);
    await client.execute(`INSERT INTO ${db}.heartbeat VALUES (1, NOW(6))`);
    const values = Array.from({ length: ACCOUNTS }, (_, i) => `(${i + 1}, ${OPENING_BALANCE})`).join(',');
    await client.execute(`INSERT INTO ${db}.accounts VALUES ${values}`);
  } finally {
    await client.close();
  }
}

/** The statements of one transaction of `mix` on connection `conn`. */
function transaction(mix: LoadMix, db: string, conn: number, eventsMade: number): string[] {
  const amount = randomInt(1, 100);
  const ledger = `INSERT INTO ${db}.ledger (conn, amount, note) VALUES (${conn}, ${amount}, 'load ${mix} ${conn}')`;
  if (mix === 'single') return [ledger];
  if (mix === 'multi') {
    const rows = Array.from({ length: 4 }, (_, i) => `('multi', ${i}, REPEAT('m', ${randomInt(16, 200)}))`).join(',');
    return ['BEGIN', ledger, `INSERT INTO ${db}.events (kind, hits, payload) VALUES ${rows}`, 'COMMIT'];
  }
  const a = randomInt(1, ACCOUNTS + 1);
  const b = a === ACCOUNTS ? 1 : a + randomInt(1, ACCOUNTS - a + 1);
  const [low, high] = a < b ? [a, b] : [b, a];
  const lowDelta = low === a ? -amount : amount;
  const someEvent = (): number => randomInt(1, Math.max(2, eventsMade + 1));
  return [
    'BEGIN',
    `UPDATE ${db}.accounts SET balance = balance + (${lowDelta}) WHERE id = ${low}`,
    `UPDATE ${db}.accounts SET balance = balance - (${lowDelta}) WHERE id = ${high}`,
    ledger,
    `UPDATE ${db}.events SET hits = hits + 1 WHERE id = ${someEvent()}`,
    `DELETE FROM ${db}.events WHERE id = ${someEvent()}`,
    `INSERT INTO ${db}.events (kind, payload) VALUES ('mixed', REPEAT('x', ${randomInt(16, 200)}))`,
    'COMMIT',
  ];
}

/**
 * Starts `connections` writers on the source. With `rate`, transaction k of a connection is due at
 * start + k × connections / rate (a late writer does not wait: the source sees the rate asked for
 * as long as it can take it); without, each writes as fast as its commits return.
 */
export async function startWriteLoad(connect: ConnectOptions, options: WriteLoadOptions): Promise<WriteLoad> {
  const db = quoteIdentifier(options.database ?? 'load');
  const clients: SqlClient[] = [];
  try {
    for (let i = 0; i < options.connections + (options.heartbeatMs !== undefined ? 1 : 0); i += 1) clients.push(await connectSql(connect));
  } catch (error) {
    await Promise.all(clients.map((c) => c.close()));
    throw error;
  }
  let stopped = false;
  let committed = 0;
  let errors = 0;
  let lastError: string | null = null;
  let eventsMade = 0;
  const started = performance.now();
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  const writer = async (client: SqlClient, conn: number): Promise<void> => {
    const interval = options.rate !== undefined ? (options.connections * 1000) / options.rate : 0;
    let due = started + (interval * conn) / options.connections;
    while (!stopped) {
      if (interval > 0) {
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        due += interval;
        if (stopped) break;
      }
      const statements = transaction(options.mix, db, conn, eventsMade);
      try {
        for (const sql of statements) await client.execute(sql);
        committed += 1;
        if (options.mix !== 'single') eventsMade += options.mix === 'multi' ? 4 : 1;
      } catch (error) {
        errors += 1;
        lastError = messageOf(error);
        await client.execute('ROLLBACK').catch(() => undefined);
      }
    }
  };
  const heartbeat = async (client: SqlClient, every: number): Promise<void> => {
    while (!stopped) {
      await client.execute(`UPDATE ${db}.heartbeat SET at = NOW(6) WHERE id = 1`).catch((error: unknown) => {
        lastError = messageOf(error);
      });
      await sleep(every);
    }
  };
  const running = clients.map((client, i) => (i < options.connections ? writer(client, i) : heartbeat(client, options.heartbeatMs ?? 100)));
  return {
    committed: () => committed,
    stop: async () => {
      stopped = true;
      await Promise.all(running);
      const seconds = (performance.now() - started) / 1000;
      await Promise.all(clients.map((c) => c.close()));
      return { transactions: committed, seconds, rate: committed / seconds, errors, lastError };
    },
  };
}

/** What the consistency checks read on any server holding the load: ledger rows and the sum of balances. */
export async function loadTotals(client: SqlClient, database = 'load'): Promise<{ ledger: number; balance: number }> {
  const db = quoteIdentifier(database);
  const [ledger] = await client.query<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${db}.ledger`);
  const [balance] = await client.query<{ total: unknown }>(`SELECT SUM(balance) AS total FROM ${db}.accounts`);
  return { ledger: Number(ledger?.n ?? -1), balance: Number(balance?.total ?? -1) };
}
