import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError, messageOf } from '../errors.js';
import { connectSql, describeSqlError, endpointOf, type ConnectOptions } from './sql-client.js';

export interface WaitForServerOptions {
  timeoutMs: number;
  /** Pause between attempts (default 30 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Whether the server's process still runs; false ends the wait at once. Asked at most every 250 ms. */
  alive?: () => Promise<boolean>;
}

/** Errors that waiting cannot fix: the server answers, and says no. */
const FINAL = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_HOST_NOT_PRIVILEGED']);
const ALIVE_EVERY_MS = 250;
const CONNECT_TIMEOUT_MS = 2000;

/**
 * Waits until a server answers a real query (connect + SELECT 1) and returns the milliseconds
 * waited. This is on the path of "a clone in about a second": attempts follow each other every
 * `intervalMs`, a refused or missing socket fails in microseconds, and the process check runs
 * beside the attempts, not before each. Throws UnavailableError when `alive()` says the process
 * is gone or after `timeoutMs`; wrong credentials fail at once (mapped by connectSql).
 */
export async function waitForServer(opts: ConnectOptions, wait: WaitForServerOptions): Promise<number> {
  const started = Date.now();
  const interval = wait.intervalMs ?? 30;
  let lastError: unknown = null;
  // The process check runs beside the attempts: its answer is read before the next one.
  let gone = false;
  let checking = false;
  let lastAliveCheck = 0;
  const checkAlive = (): void => {
    if (!wait.alive || checking || Date.now() - lastAliveCheck < ALIVE_EVERY_MS) return;
    checking = true;
    lastAliveCheck = Date.now();
    wait.alive().then(
      (alive) => {
        if (!alive) gone = true;
        checking = false;
      },
      () => {
        checking = false;
      },
    );
  };
  for (;;) {
    wait.signal?.throwIfAborted();
    if (gone) {
      throw new UnavailableError(`the server for ${endpointOf(opts)} exited before it answered`, {
        hint: 'see its log: the datadir may be damaged or a setting invalid',
        cause: lastError,
      });
    }
    const remaining = started + wait.timeoutMs - Date.now();
    try {
      const client = await connectSql({ ...opts, connectTimeoutMs: Math.max(100, Math.min(CONNECT_TIMEOUT_MS, remaining)) });
      try {
        await client.query('SELECT 1');
        return Date.now() - started;
      } finally {
        await client.close();
      }
    } catch (error) {
      const code = describeSqlError(error)?.code;
      if (code !== undefined && FINAL.has(code)) throw error;
      lastError = error;
    }
    checkAlive();
    const left = started + wait.timeoutMs - Date.now();
    if (left <= 0) {
      throw new UnavailableError(`the server at ${endpointOf(opts)} did not answer within ${wait.timeoutMs} ms`, {
        hint: `last error: ${lastError === null ? 'none' : messageOf(lastError)}; see the server's log`,
        cause: lastError,
      });
    }
    try {
      await sleep(Math.min(interval, left), undefined, wait.signal ? { signal: wait.signal } : undefined);
    } catch (error) {
      wait.signal?.throwIfAborted(); // the signal's own reason, not the timer's AbortError
      throw error;
    }
  }
}
