/**
 * Probe (issue 8): does a parallel logical copy beat the single `mariadb-dump | mariadb` stream on
 * this machine? One MariaDB source filled with `fillSampleData`, then, interleaved run by run, each
 * into a fresh empty server of the same image:
 * - `stream`: `mariadb-dump --single-transaction --gtid --master-data=2 | mariadb` (today's `--method dump`);
 * - `mydumper-N`: `mydumper --trx-consistency-only -t N -r ROWS` (FTWRL, N sessions each
 *   `START TRANSACTION WITH CONSISTENT SNAPSHOT`, unlock, tables split in chunks) into a directory,
 *   then `myloader -t N` (binlog off). Debian's mydumper 0.10.1 on the host.
 * Time = start of the copy → the target's row count of `orders` answered (empty server start excluded).
 *
 *   apt-get install mydumper   # not among dolly's dependencies: only this probe uses it
 *   node --import tsx bench/dump-parallel.ts [--size MB] [--runs N] [--threads 2,4]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { fillSampleData, startProductionServer, type ProductionServer } from '../src/demo/production-server.js';
import { Resources } from './cleanup.js';
import { argValue, log, MiB, round } from './util.js';

const sizeMb = Number(argValue('--size', '1024'));
const runs = Number(argValue('--runs', '2'));
const threads = argValue('--threads', '2').split(',').map(Number);
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const labelRoot = `/var/tmp/dolly-bench-dumppar-${tag}`;
const password = randomBytes(12).toString('base64url');
const docker = createDockerClient();
const resources = new Resources();

/** Runs a command to its end; rejects with its stderr's tail. Passwords only in a 0600 defaults file. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${String(code)}: ${err.trim()}`))));
  });
}

async function defaultsFile(dir: string): Promise<string> {
  const file = join(dir, 'my.cnf');
  await writeFile(file, `[client]\nuser=root\npassword=${password}\n`);
  await chmod(file, 0o600);
  return file;
}

async function copyStream(source: ProductionServer, target: ProductionServer, cnf: string): Promise<void> {
  const tcp = (port: number): string => `--defaults-file=${cnf} --protocol=TCP --host=127.0.0.1 --port=${port} --max-allowed-packet=1G`;
  const line = `set -o pipefail; mariadb-dump ${tcp(source.port)} --single-transaction --gtid --master-data=2 --databases bench | mariadb ${tcp(target.port)} --batch --init-command='SET SESSION sql_log_bin=0'`;
  await run('bash', ['-c', line]);
}

async function copyMydumper(source: ProductionServer, target: ProductionServer, cnf: string, n: number, dir: string): Promise<void> {
  const out = join(dir, `dump-${n}-${Date.now()}`);
  await run('mydumper', [`--defaults-file=${cnf}`, '-h', '127.0.0.1', '-P', String(source.port), '-B', 'bench', '-o', out, '-t', String(n), '-r', '200000', '--trx-consistency-only']);
  await run('myloader', [`--defaults-file=${cnf}`, '-h', '127.0.0.1', '-P', String(target.port), '-d', out, '-t', String(n), '-o']);
  await rm(out, { recursive: true, force: true });
}

async function timed(label: string, source: ProductionServer, copy: (target: ProductionServer) => Promise<void>): Promise<{ label: string; seconds: number; rows: number }> {
  const target = await startProductionServer({ docker, root: labelRoot, image: DEFAULT_IMAGE, rootPassword: password, name: 'bench-dumppar-target', serverId: 2 });
  resources.addServer(target, labelRoot);
  try {
    const started = performance.now();
    await copy(target);
    const sql = await target.sql();
    const rows = await sql.query('SELECT COUNT(*) AS n FROM bench.orders').finally(() => sql.close());
    const seconds = round((performance.now() - started) / 1000, 1);
    return { label, seconds, rows: Number((rows[0] as { n?: unknown } | undefined)?.n ?? 0) };
  } finally {
    await resources.stopServer(target);
  }
}

const dir = await mkdtemp('/var/tmp/dolly-dumppar-');
let failed: unknown = null;
try {
  const cnf = await defaultsFile(dir);
  const source = await startProductionServer({ docker, root: labelRoot, image: DEFAULT_IMAGE, rootPassword: password, name: 'bench-dumppar-source' });
  resources.addServer(source, labelRoot);
  const sql = await source.sql();
  const filled = await fillSampleData(sql, { database: 'bench', bytes: sizeMb * MiB, flavor: 'mariadb' }).finally(() => sql.close());
  const dataMb = filled.bytes / MiB;
  log(`source: ${round(dataMb)} MiB`);
  const results: { label: string; seconds: number; rows: number }[] = [];
  for (let r = 1; r <= runs; r += 1) {
    const order = r % 2 === 1 ? ['stream', ...threads.map((n) => `mydumper-${n}`)] : [...threads.map((n) => `mydumper-${n}`), 'stream'];
    for (const label of order) {
      const n = Number(label.split('-')[1]);
      const figure = await timed(label, source, (t) => (label === 'stream' ? copyStream(source, t, cnf) : copyMydumper(source, t, cnf, n, dir)));
      log(`run ${r}: ${label} ${figure.seconds} s, ${round(dataMb / figure.seconds, 1)} MB/s, ${figure.rows} rows`);
      results.push(figure);
    }
  }
  process.stdout.write(`${JSON.stringify({ size_mib: round(dataMb), results }, null, 2)}\n`);
} catch (error) {
  failed = error;
} finally {
  await resources.cleanupAll();
  await rm(dir, { recursive: true, force: true });
}
if (failed !== null) {
  log(`FAILED: ${failed instanceof Error ? failed.message : String(failed)}`);
  process.exit(1);
}
