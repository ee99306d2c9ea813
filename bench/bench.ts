/**
 * dolly's benchmark: clone-ready time per storage driver and data size, against dump + restore,
 * snapshot pause under load, and what an idle clone costs — one run, one data set, one table.
 *
 *   node --import tsx bench/bench.ts [--quick] [--json [FILE]] [--runs N]
 *   node --import tsx bench/bench.ts --render FILE    (the table of an earlier --json run)
 *
 * Needs: root, dockerd, the image dolly/mariadb:10.11, mariadb-client, btrfs-progs, and a built
 * CLI (`npx tsc -p tsconfig.json`). Everything it makes lives under /var/tmp/dolly-bench-<tag>-*
 * and is removed at the end, on failure and on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { fillSampleData, startLoadEmulator, startProductionServer, type ProductionServer } from '../src/demo/production-server.js';
import { Resources } from './cleanup.js';
import { apiConcurrent, apiFleet, apiReady, emptyApiFigure, startApi, type ApiSession } from './api.js';
import { concurrentCreates, isolationCost, tlsCost } from './concurrency.js';
import { destroyClone, dollyJson, idleCost, ReplicaInitSchema, SnapshotSchema, timeCloneCreate, waitForReplica, type CloneRun } from './dolly.js';
import { dumpAndRestore } from './dump-restore.js';
import { loadAverage, machineInfo, otherContainers } from './machine.js';
import { renderNotes, renderTable, TARGETS, type Column, type DriverName, type Results, type SnapshotFigure } from './report.js';
import { abort, AbortedError, GiB, liveChildren, log, MiB, seconds, sleep } from './util.js';
import { z } from 'zod';

interface Options {
  quick: boolean;
  json: string | null;
  runs: number;
  smallBytes: number;
  idleMs: number;
  btrfsSize: string;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const opts: Options = { quick, json: null, runs: quick ? 3 : 5, smallBytes: quick ? 100 * MiB : GiB, idleMs: 12_000, btrfsSize: quick ? '8G' : '30G' };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const next = argv[i + 1];
    if (arg === '--json') {
      opts.json = next !== undefined && !next.startsWith('--') ? next : `bench/results${quick ? '-quick' : ''}.json`;
      if (opts.json === next) i += 1;
    } else if (arg === '--runs' && next !== undefined && /^\d+$/.test(next)) {
      opts.runs = Number(next);
      i += 1;
    } else if (arg === '--render' && next !== undefined) {
      // Re-prints the table of an earlier run from its raw figures (no measuring).
      const results = JSON.parse(readFileSync(next, 'utf8')) as Results;
      process.stdout.write(`${renderTable(results)}\n${renderNotes(results)}\n`);
      process.exit(0);
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node --import tsx bench/bench.ts [--quick] [--json [FILE]] [--runs N] | --render FILE\n');
      process.exit(0);
    } else if (arg !== '--quick') {
      process.stderr.write(`unknown argument ${String(arg)}\n`);
      process.exit(2);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const prefix = `/var/tmp/dolly-bench-${tag}`;
const roots: Record<DriverName, string> = { btrfs: `${prefix}-btrfs`, commit: `${prefix}-commit`, copy: `${prefix}-copy` };
const sourceLabel = `${prefix}-source`;
const password = randomBytes(12).toString('base64url');
const DATABASE = 'bench';
const PORTS = '6200-6299';
/** Clone creates started at once (issue 7: 16, at most 2× the time of one). */
const CONCURRENT = 16;
const resources = new Resources();
const docker = createDockerClient();
const small = opts.quick ? '100 MB' : '1 GB';
const bigLabel = opts.quick ? '400 MB' : '4 GB';
const column = (label: string, driver: DriverName): Column => ({ label, driver, data_bytes: 0, clone_runs: [], snapshot: null, idle: null, replica_init: null });
const startedAt = new Date();
const results: Results = {
  mode: opts.quick ? 'quick' : 'full',
  sizes: { small, big: bigLabel },
  command: `node --import tsx bench/bench.ts ${process.argv.slice(2).join(' ')}`.trim(),
  started_at: startedAt.toISOString(),
  finished_at: '',
  total_ms: 0,
  machine: {},
  targets: TARGETS,
  columns: { btrfs: column(`btrfs ${small}`, 'btrfs'), btrfs_big: column(`btrfs ${bigLabel}`, 'btrfs'), commit: column(`commit ${small}`, 'commit'), copy: column(`copy ${small}`, 'copy') },
  btrfs_small_beside_big: [],
  dump_restore: null,
  phases: [],
  concurrent: { before: [], after: [], loadavg_before: loadAverage(), loadavg_after: [] },
  concurrency: null,
  isolation: null,
  tls: null,
  api: emptyApiFigure(),
};
/** Creates at once through the API (issue 9: 20 by 4 users) and idle clones held (50). */
const API_CONCURRENT = 20;
const API_FLEET = opts.quick ? 10 : 50;
let apiSession: ApiSession | undefined;
const smallColumns: [DriverName, Column][] = [['btrfs', results.columns.btrfs], ['commit', results.columns.commit], ['copy', results.columns.copy]];

async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  log(`▶ ${name}`);
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const ms = performance.now() - started;
    results.phases.push({ name, ms: Math.round(ms) });
    log(`■ ${name}: ${seconds(ms)}`);
  }
}

async function fill(source: ProductionServer, bytes: number): Promise<number> {
  const sql = await source.sql();
  let next = 0;
  try {
    const made = await fillSampleData(sql, {
      database: DATABASE,
      bytes,
      onProgress: (b) => {
        if (b / bytes >= next) log(`  filling: ${Math.round((100 * b) / bytes)}%`);
        while (b / bytes >= next) next += 0.2;
      },
    });
    return made.bytes;
  } finally {
    await sql.close();
  }
}

async function sourceQuery(source: ProductionServer, text: string): Promise<string> {
  const sql = await source.sql();
  try {
    const [row] = await sql.query<{ v: unknown }>(text);
    return String(row?.v ?? '');
  } finally {
    await sql.close();
  }
}

/** Snapshot with the seed's load emulator writing to the source (every 100 ms) meanwhile. */
async function snapshotUnderLoad(source: ProductionServer, root: string): Promise<SnapshotFigure> {
  resources.emulator = await startLoadEmulator(source.connectOptions, { database: DATABASE, intervalMs: 100 });
  try {
    await sleep(1000);
    const before = resources.emulator.lastId();
    const { value, result } = await dollyJson(root, ['snapshot', 'create'], SnapshotSchema);
    const rows = resources.emulator.lastId() - before;
    if (resources.emulator.errors() > 0) log(`  load emulator: ${resources.emulator.errors()} failed write(s)`);
    log(`  snapshot ${value.id}: pause ${value.pause_ms} ms, prepare ${seconds(value.prepare_ms)}, ${rows} rows written meanwhile`);
    return { id: value.id, pause_ms: value.pause_ms, prepare_ms: value.prepare_ms, command_ms: Math.round(result.ms), load_rows: rows };
  } finally {
    await resources.stopEmulator();
  }
}

async function cloneRun(root: string, name: string, snapshot?: string): Promise<CloneRun> {
  const { run } = await timeCloneCreate(root, name, snapshot);
  await destroyClone(root, name);
  log(`  ${root.slice(prefix.length + 1)} ${name}: ready ${seconds(run.total_ms)} (command ${seconds(run.command_ms)}, ready_ms ${String(run.ready_ms)})`);
  return run;
}

/** Idle clones side by side: created, left alone for opts.idleMs, measured, destroyed. */
async function idle(targets: { column: Column; root: string; snapshot?: string }[]): Promise<void> {
  const since: number[] = [];
  for (const t of targets) {
    await timeCloneCreate(t.root, 'idle', t.snapshot);
    since.push(performance.now());
  }
  await sleep(opts.idleMs);
  for (const [i, t] of targets.entries()) {
    t.column.idle = await idleCost(t.root, 'idle', since[i] ?? 0);
    log(`  idle ${t.column.label}: exclusive ${String(t.column.idle.exclusive_bytes)} B, memory ${t.column.idle.memory_text}`);
  }
  for (const t of targets) await destroyClone(t.root, 'idle');
}

async function bench(): Promise<void> {
  results.machine = await machineInfo('/var/tmp');
  results.concurrent.before = await otherContainers('/var/tmp/dolly-bench-');
  const source = await phase(`source: start and fill ${small}`, async () => {
    const server = await startProductionServer({ docker, root: sourceLabel, image: DEFAULT_IMAGE, rootPassword: password, name: 'bench-source' });
    resources.addServer(server, sourceLabel);
    const made = await fill(server, opts.smallBytes);
    for (const [, c] of smallColumns) c.data_bytes = made;
    results.machine.mariadb = await sourceQuery(server, 'SELECT VERSION() AS v');
    return server;
  });
  results.dump_restore = await phase(`dump + restore ${small}`, () =>
    dumpAndRestore({ docker, labelRoot: sourceLabel, image: DEFAULT_IMAGE, source, password, database: DATABASE, onTarget: (t) => resources.addServer(t, sourceLabel) }),
  );
  for (const [driver, c] of smallColumns) {
    await phase(`${driver}: init + replica init`, async () => {
      resources.addRoot(roots[driver]);
      await dollyJson(roots[driver], ['init', '--driver', driver, '--ports', PORTS, ...(driver === 'btrfs' ? ['--size', opts.btrfsSize] : [])], z.unknown());
      const { value, result } = await dollyJson(roots[driver], ['replica', 'init', '--source', `mysql://root@127.0.0.1:${source.port}`], ReplicaInitSchema, { DOLLY_SOURCE_PASSWORD: password });
      c.replica_init = { command_ms: Math.round(result.ms), copied_bytes: value.copied_bytes };
    });
  }
  await phase('snapshots under load', async () => {
    for (const [driver, c] of smallColumns) c.snapshot = await snapshotUnderLoad(source, roots[driver]);
  });
  await phase(`clone ready ${small}: btrfs, commit, copy interleaved`, async () => {
    for (let i = 1; i <= opts.runs; i += 1) {
      for (const [driver, c] of smallColumns) c.clone_runs.push(await cloneRun(roots[driver], `run-${i}`));
    }
  });
  await phase(`idle clones ${small}`, () => idle(smallColumns.map(([driver, c]) => ({ column: c, root: roots[driver] }))));
  // Isolation first: the concurrency phase leaves btrfs cleaning up 48 deleted clones for a while.
  results.isolation = await phase('btrfs: clone ready, own network namespace vs the host\'s', () => isolationCost(roots.btrfs, opts.runs, log));
  results.tls = await phase('btrfs: clone ready, TLS (default) vs none', () => tlsCost(roots.btrfs, opts.runs, log));
  results.concurrency = await phase(`btrfs: ${CONCURRENT} clone creates at once`, () => concurrentCreates(roots.btrfs, CONCURRENT, log));
  const api = results.api ?? emptyApiFigure();
  apiSession = await phase('dolly serve on the btrfs root', () => startApi(roots.btrfs));
  const session = apiSession;
  await phase(`API: clone ready ${small}`, () => apiReady(session, roots.btrfs, small, opts.runs, undefined, api, log));
  await phase(`API: ${API_CONCURRENT} creates at once by 4 users`, () => apiConcurrent(session, roots.btrfs, API_CONCURRENT, api, log));
  await phase(`API: ${API_FLEET} idle clones`, () => apiFleet(session, roots.btrfs, API_FLEET, api, log));
  await phase('teardown commit and copy', async () => {
    await resources.purgeRoot(roots.commit);
    await resources.purgeRoot(roots.copy);
  });
  const big = results.columns.btrfs_big;
  await phase(`grow the source to ${bigLabel}, replica catches up`, async () => {
    big.data_bytes = await fill(source, 3 * opts.smallBytes);
    const gtid = await sourceQuery(source, 'SELECT @@gtid_binlog_pos AS v');
    const waited = await waitForReplica(roots.btrfs, gtid, 3_600_000);
    log(`  replica caught up ${seconds(waited)} after the fill ended`);
  });
  big.snapshot = await phase(`snapshot ${bigLabel} under load`, () => snapshotUnderLoad(source, roots.btrfs));
  const smallId = results.columns.btrfs.snapshot?.id;
  await phase(`clone ready btrfs ${bigLabel}, interleaved with ${small}`, async () => {
    for (let i = 1; i <= opts.runs; i += 1) {
      big.clone_runs.push(await cloneRun(roots.btrfs, `big-${i}`, big.snapshot?.id));
      results.btrfs_small_beside_big.push(await cloneRun(roots.btrfs, `small-${i}`, smallId));
    }
  });
  await phase(`API: clone ready ${bigLabel}`, () => apiReady(session, roots.btrfs, bigLabel, opts.runs, big.snapshot?.id, api, log));
  await session.engine.stop();
  apiSession = undefined;
  await phase(`idle clone btrfs ${bigLabel}`, () => idle([{ column: big, root: roots.btrfs, ...(big.snapshot ? { snapshot: big.snapshot.id } : {}) }]));
  results.concurrent.after = await otherContainers('/var/tmp/dolly-bench-');
  results.concurrent.loadavg_after = loadAverage();
}

let interrupts = 0;
function onSignal(signal: NodeJS.Signals): void {
  interrupts += 1;
  if (interrupts > 1) {
    log('second interrupt: exiting without cleanup (leftovers are under /var/tmp/dolly-bench-*)');
    process.exit(130);
  }
  log(`${signal}: stopping, then removing what the bench made (press again to exit at once)`);
  abort.abort();
  void apiSession?.engine.kill();
  for (const child of liveChildren()) child.kill('SIGINT');
  void (async () => {
    for (let i = 0; i < 100 && liveChildren().length > 0; i += 1) await sleep(100);
    await resources.cleanupAll();
    process.exit(130);
  })();
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let failed: unknown = null;
try {
  await bench();
} catch (error) {
  failed = error;
} finally {
  await apiSession?.engine.kill();
  await phase('cleanup', () => resources.cleanupAll());
}
if (abort.signal.aborted || failed instanceof AbortedError) {
  await new Promise(() => undefined); // the signal handler exits
}
results.finished_at = new Date().toISOString();
results.total_ms = Date.now() - startedAt.getTime();
if (opts.json !== null) {
  await writeFile(opts.json, `${JSON.stringify(results, null, 2)}\n`);
  log(`raw figures written to ${opts.json}`);
}
if (failed !== null) log(`FAILED: ${failed instanceof Error ? failed.message : String(failed)} (partial figures below)`);
process.stdout.write(`${renderTable(results)}\n${renderNotes(results)}\n`);
process.exit(failed === null ? 0 : 1);
