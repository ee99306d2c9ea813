import { messageOf } from '../errors.js';
import { quoteIdentifier } from './identifiers.js';
import { connectSql, type ConnectOptions, type SqlClient } from './sql-client.js';

export interface LoadEmulatorOptions {
  /** The database that gets `repl_status` (the seed's `docker`). */
  database: string;
  /** One row per interval (the seed: 1000 ms). */
  intervalMs: number;
  /** Called when a write fails (the source restarting); the emulator reconnects by itself. */
  onError?: (message: string) => void;
}

/** A running load emulator. */
export interface LoadEmulator {
  /** Stops writing and closes the connection; waits for a write under way. */
  stop(): Promise<void>;
  /** The id of the last row written (0 before the first). */
  lastId(): number;
  /** Writes that failed so far. */
  errors(): number;
}

/**
 * The seed's "production load": one row per interval into `<database>.repl_status`, the seed's
 * table (`id` AUTO_INCREMENT, `ts` TIMESTAMP(6)), made if missing. A failed write drops the connection;
 * the next tick connects again, so the emulator rides out a restart of the source.
 */
export async function startLoadEmulator(connect: ConnectOptions, opts: LoadEmulatorOptions): Promise<LoadEmulator> {
  const table = `${quoteIdentifier(opts.database)}.repl_status`;
  let client: SqlClient | null = await connectSql({ ...connect, connectTimeoutMs: connect.connectTimeoutMs ?? 5000 });
  try {
    await client.execute(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(opts.database)}`);
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${table} (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, ` +
        '`ts` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB',
    );
  } catch (error) {
    await client.close();
    throw error;
  }
  let last = 0;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    try {
      client ??= await connectSql({ ...connect, connectTimeoutMs: Math.min(connect.connectTimeoutMs ?? 2000, opts.intervalMs * 2) });
      await client.execute(`INSERT INTO ${table} (ts) VALUES (NOW(6))`);
      const [row] = await client.query<{ id: unknown }>('SELECT LAST_INSERT_ID() AS id');
      last = Number(row?.id ?? last);
    } catch (error) {
      failures += 1;
      opts.onError?.(messageOf(error));
      const broken = client;
      client = null;
      await broken?.close().catch(() => undefined);
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().then(schedule);
    }, opts.intervalMs);
    timer.unref();
  };
  running = tick().then(schedule);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await client?.close();
      client = null;
    },
    lastId: () => last,
    errors: () => failures,
  };
}
