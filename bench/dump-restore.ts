import { spawn } from 'node:child_process';
import { createConnection } from 'mysql2/promise';
import type { DockerClient } from '../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../src/demo/production-server.js';
import { abort, checkAborted } from './util.js';

/** The classic way, for comparison: dump the source and restore it into a fresh, empty server. */
export interface DumpRestore {
  /** Fresh empty server container started (datadir initialised) until it answered. */
  server_start_ms: number;
  /** `mariadb-dump --single-transaction | mariadb` until both exited. */
  dump_restore_ms: number;
  /** The restored server answered a query on the data (row count of the biggest table). */
  verify_ms: number;
  /** All of it: from nothing to a server answering with the data. */
  total_ms: number;
  rows_checked: number;
  runs: 1;
}

export interface DumpRestoreOptions {
  docker: DockerClient;
  /** Label root the target container is filed under (removed by the caller's sweep too). */
  labelRoot: string;
  image: string;
  source: ProductionServer;
  password: string;
  database: string;
  /** Called with the target as soon as it exists, so an interrupt can remove it. */
  onTarget: (target: ProductionServer) => void;
}

/**
 * One run: start an empty server (same image, host networking, binlog off for the restoring
 * session), pipe `mariadb-dump --single-transaction --databases DB` into `mariadb`, then query the
 * restored data. The target is removed before returning.
 */
export async function dumpAndRestore(opts: DumpRestoreOptions): Promise<DumpRestore> {
  const started = performance.now();
  const target = await startProductionServer({ docker: opts.docker, root: opts.labelRoot, image: opts.image, rootPassword: opts.password, name: 'bench-restore', serverId: 2 });
  opts.onTarget(target);
  try {
    const up = performance.now();
    checkAborted();
    const tcp = (port: number): string[] => ['--no-defaults', '--protocol=TCP', '--host=127.0.0.1', `--port=${port}`, '--user=root'];
    await pipe(
      ['mariadb-dump', [...tcp(opts.source.port), '--single-transaction', '--max-allowed-packet=1G', '--databases', opts.database]],
      ['mariadb', [...tcp(target.port), '--max-allowed-packet=1G', '--batch', '--init-command=SET SESSION sql_log_bin=0']],
      opts.password,
    );
    const restored = performance.now();
    const conn = await createConnection({ host: '127.0.0.1', port: target.port, user: 'root', password: opts.password });
    let rows = 0;
    try {
      const [result] = await conn.query(`SELECT COUNT(*) AS n FROM \`${opts.database}\`.orders`);
      rows = Number((result as { n: unknown }[])[0]?.n ?? 0);
    } finally {
      await conn.end().catch(() => undefined);
    }
    const answered = performance.now();
    return {
      server_start_ms: up - started,
      dump_restore_ms: restored - up,
      verify_ms: answered - restored,
      total_ms: answered - started,
      rows_checked: rows,
      runs: 1,
    };
  } finally {
    await target.stop();
  }
}

type Cmd = [string, string[]];

/** `a | b` without a shell; passwords only in MYSQL_PWD. Rejects when either fails. */
function pipe(from: Cmd, to: Cmd, password: string): Promise<void> {
  const env = { ...process.env, MYSQL_PWD: password };
  const a = spawn(from[0], from[1], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const b = spawn(to[0], to[1], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  const stop = (): void => {
    a.kill('SIGTERM');
    b.kill('SIGTERM');
  };
  abort.signal.addEventListener('abort', stop, { once: true });
  a.stdout.pipe(b.stdin);
  b.stdin.on('error', () => undefined);
  const exit = (child: typeof a | typeof b, name: string): Promise<void> => {
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-2000)));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${String(code)}: ${err.trim().split('\n').slice(-2).join(' | ')}`))));
    });
  };
  return Promise.all([exit(a, from[0]), exit(b, to[0])]).then(
    () => abort.signal.removeEventListener('abort', stop),
    (error: unknown) => {
      stop();
      abort.signal.removeEventListener('abort', stop);
      throw error;
    },
  );
}
