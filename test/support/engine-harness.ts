import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createConnection } from 'mysql2/promise';
import { promisify } from 'node:util';
import { createEngineDeps, type EngineDeps } from '../../src/engine/context.js';
import { teardown } from '../../src/engine/lifecycle.js';
import { silentLogger } from '../../src/log.js';
import { getReplicaStatus } from '../../src/engine/replica-status.js';
import type { SqlClient } from '../../src/mysql/sql-client.js';

const run = promisify(execFile);

/** A dolly root of a test's own: a temp dir, real deps; `dispose` purges whatever it holds. */
export interface TestRoot extends AsyncDisposable {
  root: string;
  deps: EngineDeps;
  dispose(): Promise<void>;
}

export async function createTestRoot(prefix = 'dolly-it-'): Promise<TestRoot> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const deps = await createEngineDeps(root, silentLogger);
  const dispose = async (): Promise<void> => {
    // A failed purge is said and tried once more: the root is not deleted under a mounted pool.
    const purge = async (): Promise<void> => {
      // No state (never made, or a test broke it on purpose): nothing dolly could purge.
      const state = (() => {
        try {
          return deps.store.read();
        } catch {
          return null;
        }
      })();
      if (state !== null) await teardown({ purge: true }, deps);
    };
    const failed = await purge().then(() => null, (error: unknown) => error);
    if (failed !== null) {
      process.stderr.write(`test root ${root}: teardown --purge failed (${String(failed)}); trying again\n`);
      await new Promise((r) => setTimeout(r, 2_000));
      await purge();
    }
    await rm(root, { recursive: true, force: true });
  };
  return { root, deps, dispose, [Symbol.asyncDispose]: dispose };
}

/**
 * What a failed or killed `replica init` must leave: no replica in the state, no job, no volume,
 * no container of the root but a source's, no run directory. `when` prefixes each message.
 */
export async function assertNoReplicaLeft(root: TestRoot, when = ''): Promise<void> {
  const state = root.deps.store.require();
  const at = when === '' ? '' : `${when}: `;
  assert.equal(state.replica, undefined, `${at}a replica is recorded`);
  assert.deepEqual(state.jobs, [], `${at}a job is left`);
  assert.deepEqual(await root.deps.driver(state).list(), [], `${at}volumes left`);
  assert.deepEqual((await root.deps.runtime.list()).filter((s) => s.kind !== 'source'), [], `${at}containers left`);
  assert.deepEqual(await readdir(join(root.root, 'run')).catch(() => []), [], `${at}run dirs left`);
}

/** Runs the built CLI (`bin/dolly`) and returns its exit code and output, never throwing. */
export async function dolly(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; signal?: string }> {
  try {
    const { stdout, stderr } = await run(join(process.cwd(), 'bin/dolly'), args, { env: { ...process.env, ...env }, timeout: 600_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; signal?: string | null };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '', ...(e.signal ? { signal: e.signal } : {}) };
  }
}

/** Runs the real `mariadb` client against a server and returns its tab-separated output. */
export async function mariadbQuery(conn: { host: string; port: number; user: string; password: string }, sql: string): Promise<string> {
  const { stdout } = await run('mariadb', ['--host', conn.host, '--port', String(conn.port), '--user', conn.user, '--default-character-set=utf8mb4', '--batch', '--skip-column-names', '-e', sql], {
    env: { ...process.env, MYSQL_PWD: conn.password },
  });
  return stdout.trim();
}

/**
 * One query (or several, `;`-separated) over mysql2, the first column of the last row as text:
 * for MySQL 9.7, whose accounts use caching_sha2_password.
 */
export async function mysqlQuery(conn: { host: string; port: number; user: string; password: string; ssl?: { ca: string; rejectUnauthorized: boolean } }, sql: string): Promise<string> {
  const c = await createConnection({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, multipleStatements: true, charset: 'utf8mb4', ...(conn.ssl ? { ssl: conn.ssl } : {}) });
  try {
    const [result] = await c.query(sql);
    // Several statements give one entry per statement (rows, or a header for a write): the last rows win.
    const entries: unknown[] = Array.isArray(result) && result.some((r) => Array.isArray(r) || !isRow(r)) ? result : [result];
    const rows = entries.filter((e): e is unknown[] => Array.isArray(e)).at(-1) ?? [];
    const row = rows.at(-1);
    return isRow(row) ? String(Object.values(row)[0] ?? '') : '';
  } finally {
    await c.end();
  }
}

/** Every row's first column of one statement over mysql2, a line each (SHOW GRANTS on MySQL). */
export async function mysqlLines(conn: { host: string; port: number; user: string; password: string }, sql: string): Promise<string> {
  const c = await createConnection({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, charset: 'utf8mb4' });
  try {
    const [rows] = await c.query(sql);
    return (Array.isArray(rows) ? rows : []).filter(isRow).map((row) => String(Object.values(row)[0] ?? '')).join('\n');
  } finally {
    await c.end();
  }
}

function isRow(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('affectedRows' in value);
}

/** Loop devices and mounts that mention a path (to prove nothing leaked). */
export async function leftovers(root: string): Promise<string[]> {
  const { stdout: loops } = await run('losetup', ['-a']);
  const { stdout: mounts } = await run('cat', ['/proc/mounts']);
  return [...loops.split('\n'), ...mounts.split('\n')].filter((line) => line.includes(root));
}

/** Runs the CLI and SIGKILLs it after `killAfterMs` (if it is still running); resolves when it is gone. */
export async function dollyKilled(args: string[], killAfterMs: number, env: Record<string, string> = {}, stdinFile?: string): Promise<'killed' | 'finished'> {
  const stdin = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
  const child = spawn(join(process.cwd(), 'bin/dolly'), args, { stdio: [stdin, 'ignore', 'ignore'], env: { ...process.env, ...env } });
  if (typeof stdin === 'number') closeSync(stdin);
  let finished = false;
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  child.on('exit', () => (finished = true));
  const timer = setTimeout(() => {
    if (!finished && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, killAfterMs);
  await closed;
  clearTimeout(timer);
  return child.signalCode === 'SIGKILL' ? 'killed' : 'finished';
}

/** Waits (up to 30 s) until the root's replica has applied everything the source has, and asserts it did. */
export async function waitCaughtUp(root: TestRoot, source: SqlClient, flavor: 'mariadb' | 'mysql'): Promise<void> {
  const [row] = await source.query<{ g: unknown }>(flavor === 'mysql' ? 'SELECT @@GLOBAL.gtid_executed AS g' : 'SELECT @@gtid_binlog_pos AS g');
  const gtid = String(row?.g).replace(/\s+/g, '');
  for (let i = 0; i < 150 && (await getReplicaStatus(root.deps)).gtid !== gtid; i += 1) await new Promise((r) => setTimeout(r, 200));
  assert.equal((await getReplicaStatus(root.deps)).gtid, gtid, 'the replica did not catch up');
}
