import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';

/**
 * The contract between the `loadgen` service and the load emulator's image: the environment the
 * topology gives it, and the one function its entry point calls to read it back. The seed passed
 * `MYSQL_HOST`; the password comes as a file (a Docker secret), never as a value in the env.
 */
export const LOADGEN_ENV = {
  host: 'MYSQL_HOST',
  port: 'MYSQL_PORT',
  user: 'MYSQL_USER',
  passwordFile: 'MYSQL_PASSWORD_FILE',
  database: 'MYSQL_DATABASE',
  intervalMs: 'LOADGEN_INTERVAL_MS',
} as const;

/** What the load emulator needs: where the source is, as whom, and how often to write a row. */
export interface LoadgenSettings {
  /** The source's service name on the overlay network. */
  host: string;
  port: number;
  user: string;
  /** Path of the password's secret file in the container. */
  passwordFile: string;
  /** Gets `repl_status` (the seed's `docker`). */
  database: string;
  intervalMs: number;
}

/** The service's environment for these settings, keys sorted. */
export function loadgenEnv(settings: LoadgenSettings): Record<string, string> {
  const env: Record<string, string> = {
    [LOADGEN_ENV.database]: settings.database,
    [LOADGEN_ENV.host]: settings.host,
    [LOADGEN_ENV.passwordFile]: settings.passwordFile,
    [LOADGEN_ENV.port]: String(settings.port),
    [LOADGEN_ENV.user]: settings.user,
    [LOADGEN_ENV.intervalMs]: String(settings.intervalMs),
  };
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Reads the settings back from an environment (the load emulator's entry point). */
export function readLoadgenEnv(env: Readonly<Record<string, string | undefined>>): LoadgenSettings {
  const text = (key: string): string => {
    const value = env[key];
    if (value === undefined || value === '') {
      throw new InvalidArgumentError(`${key} is not set`, { hint: 'the loadgen service of the Swarm topology sets it (src/swarm/loadgen-env.ts)' });
    }
    return value;
  };
  const integer = (key: string, min: number, max: number): number => {
    const value = Number(text(key));
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${key} must be a whole number from ${min} to ${max}`, { hint: 'check the loadgen service of the Swarm topology' });
    }
    return value;
  };
  return {
    host: text(LOADGEN_ENV.host),
    port: integer(LOADGEN_ENV.port, 1, 65535),
    user: text(LOADGEN_ENV.user),
    passwordFile: text(LOADGEN_ENV.passwordFile),
    database: text(LOADGEN_ENV.database),
    intervalMs: integer(LOADGEN_ENV.intervalMs, 100, 3_600_000),
  };
}

/** The password from its secret file, trailing newlines dropped (the source's rule too). */
export async function readPasswordFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).replace(/\n+$/, '');
}
