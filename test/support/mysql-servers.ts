import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { DockerClient } from '../../src/docker/client.js';
import { labelsFor } from '../../src/labels.js';
import { serverCommandLine } from '../../src/mysql/server-args.js';
import { connectSql, type ConnectOptions, type SqlClient } from '../../src/mysql/sql-client.js';
import { waitForServer } from '../../src/mysql/wait-ready.js';
import { MARIADB_IMAGE } from './capabilities.js';

/**
 * Root label of everything one mysql integration test file starts (found again by it): one per
 * file (node --test runs each file in its own process), so files that run side by side never
 * remove each other's servers as an earlier run's leftovers.
 */
export const TEST_ROOT = `/tmp/dolly-it-mysql-${basename(process.argv[1] ?? 'unknown').replace(/\.it\.test\.ts$/, '')}`;

/** A plain MariaDB in Docker, reachable only over its unix socket in a host directory. */
export interface TestServer extends AsyncDisposable {
  readonly containerId: string;
  readonly runDir: string;
  readonly socketPath: string;
  /** root over the socket (unix_socket authentication: the host runs the tests as root). */
  readonly connectOptions: ConnectOptions;
  sql(): Promise<SqlClient>;
  /** Removes the container and the run directory. Idempotent. */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  name: string;
  serverId?: number;
  /** More mariadbd options (e.g. --log-bin). */
  args?: string[];
  /** false: start it and return without waiting (for tests of waiting). */
  wait?: boolean;
}

/**
 * Starts an empty MariaDB (datadir initialised inside the container, no TCP: --skip-networking)
 * with its run directory bind-mounted, so the host reaches its socket. Acts as a replica target,
 * or as a source that lacks something. Removed again if it does not start.
 */
export async function startTestServer(docker: DockerClient, opts: TestServerOptions): Promise<TestServer> {
  const runDir = await mkdtemp(join(tmpdir(), 'dolly-it-run-'));
  const socketPath = join(runDir, 'mysqld.sock');
  const command = serverCommandLine(
    { flavor: 'mariadb', serverId: opts.serverId ?? 2, role: 'source', args: ['--relay-log=relay-bin', ...(opts.args ?? [])] },
    { datadir: '/var/lib/mysql', runDir: '/run/dolly' },
    'socket-only',
  );
  const container = await docker.createContainer({
    Image: MARIADB_IMAGE,
    Cmd: command,
    Labels: labelsFor(TEST_ROOT, 'replica', opts.name),
    HostConfig: { NetworkMode: 'host', Binds: [`${runDir}:/run/dolly`], RestartPolicy: { Name: 'no' } },
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await container.remove({ force: true, v: true }).catch(() => undefined);
    await rm(runDir, { recursive: true, force: true });
  };
  const connectOptions: ConnectOptions = { socketPath, user: 'root', password: '' };
  try {
    await container.start();
    if (opts.wait !== false) {
      await waitForServer(connectOptions, { timeoutMs: 120_000, alive: async () => (await container.inspect()).State.Running });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    containerId: container.id,
    runDir,
    socketPath,
    connectOptions,
    sql: () => connectSql(connectOptions),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Runs `fn` with a fresh connection, closing it afterwards. */
export async function withSql<T>(open: () => Promise<SqlClient>, fn: (sql: SqlClient) => Promise<T>): Promise<T> {
  const sql = await open();
  try {
    return await fn(sql);
  } finally {
    await sql.close();
  }
}

/** Polls `check` until it returns true (every 100 ms) or fails after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Removes containers a crashed earlier run of these tests left (labelled with TEST_ROOT). */
export async function removeTestLeftovers(docker: DockerClient): Promise<void> {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`dolly.root=${TEST_ROOT}`] } });
  for (const c of leftovers) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
}
