/**
 * How many dump sessions `replica init --method dump` should use here (issue 8): the same MariaDB
 * source copied by `--parallel N` for each N asked, **interleaved** run by run (run 1: 1, 2, …;
 * run 2 the other way round), each on a fresh btrfs root, timed as a user sees it (command start
 * → replication running). Beside each time: MB/s of the source's data, how long the source's
 * commits waited (`parallel.lock_ms`), and how busy the machine's CPUs were (/proc/stat), which
 * says whether more sessions can help at all.
 *
 *   node --import tsx bench/dump-sessions.ts [--size MB] [--runs N] [--sessions 1,2,4] [--json [FILE]]
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { fillSampleData, startProductionServer } from '../src/demo/production-server.js';
import { Resources } from './cleanup.js';
import { dollyJson, ReplicaInitSchema } from './dolly.js';
import { machineInfo } from './machine.js';
import { argValue, log, MiB, round } from './util.js';

const sizeMb = Number(argValue('--size', '1024'));
const runs = Number(argValue('--runs', '2'));
const sessions = argValue('--sessions', '1,2').split(',').map(Number);
const jsonIndex = process.argv.indexOf('--json');
const jsonFile = jsonIndex < 0 ? null : (process.argv[jsonIndex + 1]?.startsWith('--') === false ? process.argv[jsonIndex + 1] : 'bench/results-dump-sessions.json');
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const prefix = `/var/tmp/dolly-bench-sessions-${tag}`;
const password = randomBytes(12).toString('base64url');
const resources = new Resources();
const ResultSchema = ReplicaInitSchema.extend({ parallel: z.object({ lock_ms: z.number(), sessions: z.number(), ranges: z.number() }).optional() });

interface Figure {
  run: number;
  parallel: number;
  seconds: number;
  mb_per_s: number;
  lock_ms: number | null;
  /** Share of all CPUs' time that was not idle or waiting for I/O, during the command. */
  cpu_busy_pct: number;
}

/** user+nice+system+irq+softirq+steal, and the total, of all CPUs since boot. */
async function cpuTimes(): Promise<{ busy: number; total: number }> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = first.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

async function copyWith(n: number, run: number, url: string, dataBytes: number): Promise<Figure> {
  const root = `${prefix}-p${n}-r${run}`;
  resources.addRoot(root);
  await dollyJson(root, ['init', '--driver', 'btrfs', '--size', `${Math.ceil((sizeMb * 3) / 1024) + 2}G`, '--ports', '6310-6319'], z.unknown());
  const before = await cpuTimes();
  const started = performance.now();
  const { value } = await dollyJson(root, ['replica', 'init', '--source', url, '--parallel', String(n)], ResultSchema, { DOLLY_SOURCE_PASSWORD: password });
  const seconds = round((performance.now() - started) / 1000, 1);
  const after = await cpuTimes();
  await resources.purgeRoot(root);
  const figure: Figure = {
    run,
    parallel: n,
    seconds,
    mb_per_s: round(dataBytes / MiB / seconds, 1),
    lock_ms: value.parallel?.lock_ms ?? null,
    cpu_busy_pct: round((100 * (after.busy - before.busy)) / Math.max(1, after.total - before.total)),
  };
  log(`run ${run}: --parallel ${n} ${seconds} s, ${figure.mb_per_s} MB/s, commits held ${figure.lock_ms ?? '-'} ms, CPU ${figure.cpu_busy_pct}% busy`);
  return figure;
}

function render(figures: Figure[], dataMb: number): string {
  const lines = [`| --parallel | ${Array.from({ length: runs }, (_, i) => `run ${i + 1}`).join(' | ')} | median | MB/s | × one stream | commits held | CPU busy |`, `|---|${'---|'.repeat(runs + 5)}`];
  const median = (values: number[]): number => {
    const s = [...values].sort((a, b) => a - b);
    return s.length % 2 === 1 ? (s[(s.length - 1) / 2] ?? 0) : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
  };
  const base = median(figures.filter((f) => f.parallel === 1).map((f) => f.seconds));
  for (const n of sessions) {
    const mine = figures.filter((f) => f.parallel === n);
    const m = median(mine.map((f) => f.seconds));
    const locks = mine.map((f) => f.lock_ms).filter((l): l is number => l !== null);
    lines.push(
      `| ${n} | ${mine.map((f) => `${f.seconds} s`).join(' | ')} | ${round(m, 1)} s | ${round(dataMb / m, 1)} | ${base > 0 ? `${round(base / m, 2)}×` : '-'} | ${locks.length > 0 ? `${Math.min(...locks)}–${Math.max(...locks)} ms` : '-'} | ${mine.map((f) => `${f.cpu_busy_pct}%`).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

const docker = createDockerClient();
let failed: unknown = null;
const figures: Figure[] = [];
let dataMb = 0;
try {
  const source = await startProductionServer({ docker, root: `${prefix}-source`, image: DEFAULT_IMAGE, rootPassword: password, name: `bench-sessions-${tag}` });
  resources.addServer(source, `${prefix}-source`);
  const sql = await source.sql();
  const filled = await fillSampleData(sql, { database: 'bench', bytes: sizeMb * MiB, flavor: 'mariadb' }).finally(() => sql.close());
  dataMb = filled.bytes / MiB;
  log(`source: ${round(dataMb)} MiB`);
  const url = `mysql://root@127.0.0.1:${source.port}`;
  for (let r = 1; r <= runs; r += 1) {
    const order = r % 2 === 1 ? sessions : [...sessions].reverse();
    for (const n of order) figures.push(await copyWith(n, r, url, filled.bytes));
  }
} catch (error) {
  failed = error;
} finally {
  await resources.cleanupAll();
}
const results = { command: `node --import tsx bench/dump-sessions.ts ${process.argv.slice(2).join(' ')}`.trim(), at: new Date().toISOString(), machine: await machineInfo('/var/tmp'), size_mib: round(dataMb), figures };
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${render(figures, dataMb)}\n`);
if (failed !== null) {
  log(`FAILED: ${failed instanceof Error ? failed.message : String(failed)}`);
  process.exit(1);
}
