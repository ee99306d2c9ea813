/**
 * dolly's provisioning benchmark (issue 8): how fast `replica init` makes the first copy of a
 * source, by method, on one data set per engine, in one run:
 * - MariaDB 10.11: `--method dump --parallel 1` (one mariadb-dump | mariadb stream), `--method dump`
 *   (the default: two sessions of one snapshot) vs `--method backup`
 *   (`mariadb-backup --backup --stream=xbstream` on the source, piped into dolly);
 * - MariaDB 11.8: `--method backup`;
 * - MySQL 9.7: `--method dump` (mysqldump | mysql) vs `--method clone` (the CLONE plugin).
 * Each figure is the whole command, start to replication running, and MB/s = the source's data
 * size (information_schema, data + indexes) / those seconds. On the root the physical method
 * made, a snapshot and then clone ready (command start → the bench's SELECT 1, `--clones` runs):
 * the clone-ready figure of each engine at that size.
 *
 *   node --import tsx bench/provision.ts [--quick] [--size MB] [--clones N] [--only mariadb-10.11,mariadb-11.8,mysql-9.7] [--no-dump] [--json [FILE]]
 *
 * Needs what `make bench` needs and the image dolly/mysql:9.7. Its roots are
 * /var/tmp/dolly-bench-prov-<tag>-*; everything is removed at the end, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { fillSampleData, startProductionServer, type ProductionServer } from '../src/demo/production-server.js';
import { Resources } from './cleanup.js';
import { renderEngineReady, type EngineReady } from './engine-ready.js';
import { destroyClone, dollyJson, DOLLY_BIN, ReplicaInitSchema, SnapshotSchema, timeCloneCreate } from './dolly.js';
import { machineInfo } from './machine.js';
import { log, MiB, round, runOk, spread, type Spread } from './util.js';

const MYSQL_IMAGE = 'dolly/mysql:9.7';
const quick = process.argv.includes('--quick');
const sizeIndex = process.argv.indexOf('--size');
const sizeMb = sizeIndex >= 0 ? Number(process.argv[sizeIndex + 1]) : quick ? 200 : 4096;
const clonesIndex = process.argv.indexOf('--clones');
const cloneRuns = clonesIndex >= 0 ? Number(process.argv[clonesIndex + 1]) : quick ? 3 : 5;
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? (process.argv[onlyIndex + 1] ?? '').split(',') : null;
/** `--no-dump`: the physical methods and clone ready alone (the dump figures from an earlier run). */
const noDump = process.argv.includes('--no-dump');
const jsonIndex = process.argv.indexOf('--json');
const jsonFile = jsonIndex < 0 ? null : (process.argv[jsonIndex + 1]?.startsWith('--') === false ? process.argv[jsonIndex + 1] : `bench/results-provision${quick ? '-quick' : ''}.json`);
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const prefix = `/var/tmp/dolly-bench-prov-${tag}`;
const password = randomBytes(12).toString('base64url');
const docker = createDockerClient();
const resources = new Resources();

/** `dump` is one stream (`--parallel 1`); `dump-parallel` is MariaDB's default, two sessions of one snapshot. */
type Method = 'dump' | 'dump-parallel' | 'backup' | 'clone';

interface MethodFigure {
  method: Method;
  seconds: number;
  /** dump-parallel: how long the source's commits waited while its sessions started. */
  lock_ms?: number;
  mb_per_s: number;
  copied_bytes: number;
}

interface EngineFigures {
  engine: string;
  data_bytes: number;
  fill_seconds: number;
  methods: MethodFigure[];
  /** Clone ready (ms, command start → SELECT 1) on the physical method's replica. */
  clone_ready_ms: Spread | null;
  snapshot_pause_ms: number | null;
}

const ResultSchema = ReplicaInitSchema.extend({ method: z.string(), parallel: z.object({ lock_ms: z.number(), sessions: z.number() }).optional() });

async function fill(source: ProductionServer, flavor: 'mariadb' | 'mysql'): Promise<{ bytes: number; seconds: number }> {
  const started = performance.now();
  const sql = await source.sql();
  try {
    let next = 0;
    const made = await fillSampleData(sql, {
      database: 'bench',
      bytes: sizeMb * MiB,
      flavor,
      onProgress: (b) => {
        if (b / (sizeMb * MiB) >= next) log(`  filling ${flavor}: ${Math.round((100 * b) / (sizeMb * MiB))}%`);
        while (b / (sizeMb * MiB) >= next) next += 0.25;
      },
    });
    return { bytes: made.bytes, seconds: round((performance.now() - started) / 1000, 1) };
  } finally {
    await sql.close();
  }
}

/**
 * A fresh btrfs root, `replica init` by `method` from `source` timed end to end; then, with
 * `clones`, a snapshot and that many clone-ready runs on it; then the root is purged.
 */
async function provision(name: string, image: string, source: ProductionServer, method: Method, dataBytes: number, clones = 0): Promise<MethodFigure & { clone_ready_ms?: Spread; pause_ms?: number }> {
  const root = `${prefix}-${name}`;
  resources.addRoot(root);
  await dollyJson(root, ['init', '--driver', 'btrfs', '--size', `${Math.ceil((sizeMb * 3) / 1024) + 4}G`, '--ports', '6300-6309', '--image', image], z.unknown());
  const url = `mysql://root@127.0.0.1:${source.port}`;
  const started = performance.now();
  let copied = 0;
  let lockMs: number | undefined;
  if (method === 'backup') {
    // As a user runs it: the source's own mariadb-backup streaming into dolly's stdin.
    const backup = `docker exec -i -e MYSQL_PWD ${source.containerId} mariadb-backup --backup --user=root --socket=/run/dolly/mysqld.sock --stream=xbstream --target-dir=/tmp 2>/dev/null`;
    const result = await runOk('bash', ['-c', `set -o pipefail; ${backup} | "$0" --root "$1" --json replica init --source "$2" --method backup --backup -`, DOLLY_BIN, root, url], { env: { MYSQL_PWD: password, DOLLY_SOURCE_PASSWORD: password } });
    copied = ResultSchema.parse(JSON.parse(result.stdout)).copied_bytes;
  } else {
    const how = method === 'dump' ? ['--method', 'dump', '--parallel', '1'] : method === 'dump-parallel' ? ['--method', 'dump'] : ['--method', method];
    const { value } = await dollyJson(root, ['replica', 'init', '--source', url, ...how], ResultSchema, { DOLLY_SOURCE_PASSWORD: password });
    copied = value.copied_bytes;
    lockMs = value.parallel?.lock_ms;
  }
  const seconds = round((performance.now() - started) / 1000, 1);
  const figure: MethodFigure = { method, seconds, mb_per_s: round(dataBytes / MiB / seconds, 1), copied_bytes: copied, ...(lockMs !== undefined ? { lock_ms: lockMs } : {}) };
  log(`  ${name}: ${method} ${seconds} s, ${figure.mb_per_s} MB/s${lockMs !== undefined ? `, commits held ${lockMs} ms` : ''}`);
  if (clones === 0) {
    await resources.purgeRoot(root);
    return figure;
  }
  const { value: snapshot } = await dollyJson(root, ['snapshot', 'create'], SnapshotSchema);
  const ready: number[] = [];
  for (let i = 1; i <= clones; i += 1) {
    const { run } = await timeCloneCreate(root, `ready-${i}`);
    ready.push(run.total_ms);
    await destroyClone(root, `ready-${i}`);
  }
  const spreadReady = spread(ready);
  log(`  ${name}: snapshot pause ${snapshot.pause_ms} ms; clone ready median ${round(spreadReady.median)} ms (${ready.map((r) => round(r)).join(', ')})`);
  await resources.purgeRoot(root);
  return { ...figure, clone_ready_ms: spreadReady, pause_ms: snapshot.pause_ms };
}

async function engine(label: string, image: string, flavor: 'mariadb' | 'mysql', methods: Method[]): Promise<EngineFigures> {
  log(`▶ ${label}: source with ${sizeMb} MB`);
  const source = await startProductionServer({ docker, root: `${prefix}-source`, image, rootPassword: password, name: `bench-prov-${flavor}`, flavor });
  resources.addServer(source, `${prefix}-source`);
  try {
    if (flavor === 'mysql') {
      const sql = await source.sql();
      await sql.execute("INSTALL PLUGIN clone SONAME 'mysql_clone.so'").finally(() => sql.close());
    }
    const filled = await fill(source, flavor);
    log(`  filled ${round(filled.bytes / MiB)} MiB in ${filled.seconds} s`);
    const figures: MethodFigure[] = [];
    let ready: Spread | null = null;
    let pause: number | null = null;
    for (const method of methods) {
      const physical = method === 'backup' || method === 'clone';
      const { clone_ready_ms, pause_ms, ...figure } = await provision(`${flavor}-${method}`, image, source, method, filled.bytes, physical ? cloneRuns : 0);
      figures.push(figure);
      ready = clone_ready_ms ?? ready;
      pause = pause_ms ?? pause;
    }
    return { engine: label, data_bytes: filled.bytes, fill_seconds: filled.seconds, methods: figures, clone_ready_ms: ready, snapshot_pause_ms: pause };
  } finally {
    await resources.stopServer(source);
  }
}

/** An engine's clone-ready column: clone ready and pause were measured on its physical method's replica. */
function engineReady(e: EngineFigures): EngineReady {
  const physical = e.methods.find((m) => m.method === 'backup' || m.method === 'clone');
  return {
    engine: e.engine,
    data_bytes: e.data_bytes,
    provisioned: physical ? { method: physical.method, seconds: physical.seconds } : null,
    clone_ready_ms: e.clone_ready_ms,
    snapshot_pause_ms: e.snapshot_pause_ms,
  };
}

function render(results: { engines: EngineFigures[] }): string {
  const lines = ['| engine | data | method | seconds | MB/s | × dump (one stream) |', '|---|---|---|---|---|---|'];
  for (const e of results.engines) {
    const dump = e.methods.find((m) => m.method === 'dump');
    for (const m of e.methods) {
      const ratio = !dump ? '-' : m === dump ? '1×' : `${round(m.mb_per_s / dump.mb_per_s, 1)}×`;
      const label = m.method === 'dump-parallel' ? `dump, 2 sessions (default; commits held ${m.lock_ms ?? '?'} ms)` : m.method === 'dump' ? 'dump, one stream' : m.method;
      lines.push(`| ${e.engine} | ${round(e.data_bytes / MiB)} MiB | ${label} | ${m.seconds} | ${m.mb_per_s} | ${ratio} |`);
    }
  }
  return `${lines.join('\n')}\n\n${renderEngineReady(results.engines.map(engineReady))}`;
}

let failed: unknown = null;
const results = {
  command: `node --import tsx bench/provision.ts ${process.argv.slice(2).join(' ')}`.trim(),
  at: new Date().toISOString(),
  machine: await machineInfo('/var/tmp'),
  size_mb: sizeMb,
  target: 'physical methods (backup, clone) at least 5× dump (one stream), in MB/s; the parallel dump measured beside it',
  engines: [] as EngineFigures[],
};
const ENGINE_RUNS: { name: string; label: string; image: string; flavor: 'mariadb' | 'mysql'; methods: Method[] }[] = [
  { name: 'mariadb-10.11', label: 'MariaDB 10.11', image: DEFAULT_IMAGE, flavor: 'mariadb', methods: ['dump', 'dump-parallel', 'backup'] },
  { name: 'mariadb-11.8', label: 'MariaDB 11.8', image: 'dolly/mariadb:11.8', flavor: 'mariadb', methods: ['backup'] },
  { name: 'mysql-9.7', label: 'MySQL 9.7', image: MYSQL_IMAGE, flavor: 'mysql', methods: ['dump', 'clone'] },
];
try {
  for (const e of ENGINE_RUNS.filter((r) => only === null || only.includes(r.name))) results.engines.push(await engine(e.label, e.image, e.flavor, e.methods.filter((m) => !noDump || (m !== 'dump' && m !== 'dump-parallel'))));
} catch (error) {
  failed = error;
} finally {
  await resources.cleanupAll();
}
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${render(results)}\n`);
if (failed !== null) {
  log(`FAILED: ${failed instanceof Error ? failed.message : String(failed)}`);
  process.exit(1);
}
