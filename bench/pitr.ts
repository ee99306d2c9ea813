/**
 * Point-in-time clones, speed (issue 22): a source written at a steady 300 transactions/s (16
 * connections of the `mixed` load: two account updates, a ledger insert, an event update, delete
 * and insert per transaction), a replica with `replica pitr --window 1h`, base points every
 * `--base-interval` (taken here on a timer with prunePitr once a minute, as the engine's sweeper
 * would) and snapshots every `--snapshot-every`. After `--warmup` of load, N clones are made one
 * at a time at uniformly random points of [the oldest base's data time + 1 s, now − 2 s] while the
 * load goes on; each is checked to answer (`SELECT COUNT(*)` of the ledger) and destroyed.
 *
 * Figures: clone-at ready p50/p95/max; replay_ms p50/p95 (clone-at's replay_ms: the replay
 * server's start, the replay, the prepare and its shutdown); transactions replayed p50/p95; replay
 * rate (transactions / replay seconds, median) and a least-squares fit of replay_ms against
 * transactions (its slope: the marginal apply rate; its intercept: the fixed cost of a point's
 * server); the source's rate (GTID count difference over the run); binlog bytes and base points
 * (count, exclusive bytes) per hour of writes; then `--masked-points` more with masking rules set
 * (masked after their replay: ready time and the masking's share); a plain clone of the newest
 * snapshot (median of 5).
 *
 * The issue takes snapshots every 15 min; the bench every 5 min by default, so that a short run
 * has several: snapshots only add bases (and a snapshot is never older than the base point before
 * it by more than a base interval), so the base interval, not the snapshot period, sets how much
 * a point replays.
 *
 *   node --import tsx bench/pitr.ts [--quick] [--flavor mariadb|mysql|both] [--warmup 10m]
 *     [--points 100] [--masked-points 5] [--base-interval 30s (default: the engine's for the flavor)] [--snapshot-every 5m] [--pitr-window 1h] [--rate 300]
 *     [--json [FILE]]
 *
 * Its roots are /var/tmp/dolly-bench-pitr-*; everything is removed at the end, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { statfs, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { listBasePoints } from '../src/engine/base-point-store.js';
import { DEFAULT_BASE_INTERVAL_S, prunePitr, takeBasePoint } from '../src/engine/base-point.js';
import { createCloneAt, type CloneAtView } from '../src/engine/clone-at.js';
import { createClone } from '../src/engine/clone-create.js';
import { destroyClone } from '../src/engine/clone-manage.js';
import { createEngineDeps, type EngineDeps } from '../src/engine/context.js';
import { teardown } from '../src/engine/lifecycle.js';
import { PITR_VOLUME, parseBaseInterval, parseWindow, pitrBases } from '../src/engine/pitr-binlog.js';
import { runSteps } from '../src/engine/jobs.js';
import { clearMask, setMask } from '../src/engine/mask-manage.js';
import { setPitr } from '../src/engine/pitr-manage.js';
import { pitrView } from '../src/engine/pitr-status.js';
import { initPool } from '../src/engine/pool-init.js';
import { initReplica } from '../src/engine/replica-init.js';
import { createSnapshot } from '../src/engine/snapshot-create.js';
import { messageOf } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { countTransactions } from '../src/mysql/gtid-count.js';
import { connectSql, type ConnectOptions } from '../src/mysql/sql-client.js';
import { prepareLoadSchema, startWriteLoad, type WriteLoad } from '../test/support/write-load.js';
import { Resources } from './cleanup.js';
import { machineInfo } from './machine.js';
import { abort, argValue, liveChildren, log, MiB, round, sleep } from './util.js';

type Flavor = 'mariadb' | 'mysql';

const quick = process.argv.includes('--quick');
const flavorArg = argValue('--flavor', 'both');
if (!['mariadb', 'mysql', 'both'].includes(flavorArg)) throw new Error(`--flavor: ${flavorArg} is not mariadb, mysql or both`);
const flavors: Flavor[] = flavorArg === 'both' ? ['mariadb', 'mysql'] : [flavorArg as Flavor];
/** `90s`, `3m`, `1h` → seconds. */
function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3_600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}
const warmupS = duration(argValue('--warmup', quick ? '3m' : '10m'));
const pointCount = Number(argValue('--points', quick ? '20' : '100'));
/** Points made with masking rules set after the others (masked after their replay): their own figure. */
const maskedCount = Number(argValue('--masked-points', quick ? '3' : '5'));
/** The rules those points are masked with: every free-text column of the load's schema. */
const MASK_RULES = 'tables:\n  load.ledger:\n    note: { constant: masked }\n  load.events:\n    payload: { constant: masked }\n';
/** `--base-interval`, else the engine's default for the flavor (src/engine/base-point.ts). */
const baseIntervalArg = process.argv.includes('--base-interval') ? parseBaseInterval(argValue('--base-interval', '30s')) : null;
const snapshotEveryS = duration(argValue('--snapshot-every', '5m'));
const windowS = parseWindow(argValue('--pitr-window', '1h'));
const rate = Number(argValue('--rate', '300'));
const PLAIN_CLONES = 5;
const CONNECTIONS = 16;
const jsonIndex = process.argv.indexOf('--json');
const jsonFile = jsonIndex < 0 ? null : process.argv[jsonIndex + 1]?.startsWith('--') === false ? process.argv[jsonIndex + 1] : `bench/results-pitr${quick ? '-quick' : ''}.json`;
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const prefix = `/var/tmp/dolly-bench-pitr-${tag}`;
const password = randomBytes(12).toString('base64url');
const resources = new Resources();
/** Engine roots made in-process: torn down with teardown({ purge: true }) (the CLI's purge and a sweep if that fails). */
const engineRoots = new Map<string, EngineDeps>();

/** Percentile p (nearest rank) of a series. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
const p = (values: readonly number[], digits = 0): { p50: number; p95: number; max: number } => ({ p50: round(percentile(values, 50), digits), p95: round(percentile(values, 95), digits), max: round(Math.max(...values), digits) });

/** Least squares y = a + b·x. */
function fit(xs: readonly number[], ys: readonly number[]): { intercept: number; slope: number; r2: number } | null {
  const n = xs.length;
  if (n < 3) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i += 1) {
    sxy += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    sxx += ((xs[i] ?? 0) - mx) ** 2;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i += 1) {
    ssRes += ((ys[i] ?? 0) - intercept - slope * (xs[i] ?? 0)) ** 2;
    ssTot += ((ys[i] ?? 0) - my) ** 2;
  }
  return { intercept, slope, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

/** The source's GTID position as a transaction count. */
async function sourceTransactions(source: ConnectOptions, flavor: Flavor): Promise<number> {
  const client = await connectSql(source);
  try {
    const [row] = await client.query<{ g: unknown }>(flavor === 'mysql' ? 'SELECT @@GLOBAL.gtid_executed AS g' : 'SELECT @@GLOBAL.gtid_binlog_pos AS g');
    const count = countTransactions(flavor, String(row?.g ?? '').replace(/\s+/g, ''));
    if (count === null) throw new Error(`unreadable GTID position ${String(row?.g)}`);
    return count;
  } finally {
    await client.close();
  }
}

/** A time in µs as `2026-…T…:…:….ffffffZ`. */
function isoUs(us: number): string {
  return `${new Date(Math.floor(us / 1_000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;
}

interface PointFigure {
  at: string;
  /** Seconds between the point and the base's data time. */
  base_age_s: number;
  base_kind: 'base point' | 'snapshot';
  transactions: number;
  replay_ms: number;
  ready_ms: number;
  ledger_rows: number;
  /** From the call to the cut found (wait for the replica, binlog flush and copy, cut search); then to the clone's server starting (base copy, replay server, replay, prepare, seal, clone volume); then to ready. */
  phases_ms: { to_cut: number; cut_to_server_start: number; server_start_to_ready: number } | null;
}

/**
 * The engine's timers, as the sweeper runs them: a base point when one is due (never while a
 * snapshot is taken), a snapshot every `snapshotEveryS`, the window kept once a minute. One loop:
 * they never overlap (the sweeper skips a base point during a snapshot the same way).
 */
function startTimers(deps: EngineDeps, firstSnapshotAt: number, baseIntervalS: number): { stop: () => Promise<void>; figures: () => Record<string, unknown> } {
  let stopped = false;
  let lastBase = firstSnapshotAt;
  let lastSnapshot = firstSnapshotAt;
  let lastPrune = Date.now();
  const basePointMs: number[] = [];
  const basePauseMs: number[] = [];
  const snapshotMs: number[] = [];
  let pruned = 0;
  const errors: string[] = [];
  const loop = (async () => {
    while (!stopped && !abort.signal.aborted) {
      const now = Date.now();
      try {
        if (now - lastSnapshot >= snapshotEveryS * 1_000) {
          lastSnapshot = now;
          const t = performance.now();
          const s = await createSnapshot(deps);
          snapshotMs.push(performance.now() - t);
          lastBase = Date.now();
          log(`  snapshot ${s.id} (${round((performance.now() - t) / 1000, 1)} s)`);
        } else if (now - lastBase >= baseIntervalS * 1_000) {
          lastBase = now;
          const t = performance.now();
          const bp = await takeBasePoint(deps);
          basePointMs.push(performance.now() - t);
          basePauseMs.push(bp.pause_ms);
        }
        if (Date.now() - lastPrune >= 60_000) {
          lastPrune = Date.now();
          pruned += (await prunePitr(deps)).removed.length;
        }
      } catch (error) {
        errors.push(messageOf(error));
        log(`  timer: ${messageOf(error)}`);
      }
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
    figures: () => ({
      base_point_ms: p(basePointMs),
      base_point_pause_ms: p(basePauseMs),
      snapshot_create_s: snapshotMs.map((ms) => round(ms / 1000, 1)),
      base_points_pruned: pruned,
      errors,
    }),
  };
}

async function runFlavor(flavor: Flavor): Promise<Record<string, unknown>> {
  const baseIntervalS = baseIntervalArg ?? DEFAULT_BASE_INTERVAL_S[flavor];
  const image = flavor === 'mysql' ? 'dolly/mysql:9.7' : DEFAULT_IMAGE;
  const label = flavor === 'mysql' ? 'MySQL 9.7' : 'MariaDB 10.11';
  const sourceRoot = `${prefix}-${flavor}-source`;
  const root = `${prefix}-${flavor}-root`;
  log(`▶ ${label}: source, replica with a ${windowS} s window, base points every ${baseIntervalS} s, snapshots every ${snapshotEveryS} s, ${rate} tx/s`);
  const server = await startProductionServer({ docker: createDockerClient(), root: sourceRoot, image, flavor, rootPassword: password, name: `bench-pitr-${flavor}-${tag}`, extraArgs: ['--max-connections=200'] });
  resources.addServer(server, sourceRoot);
  const source: ConnectOptions = { host: '127.0.0.1', port: server.port, user: 'root', password, role: 'source' };
  await prepareLoadSchema(source);
  const deps = await createEngineDeps(root, silentLogger);
  engineRoots.set(root, deps);
  await initPool({ driver: 'btrfs', size: '6G', ports: '8240-8259', image }, deps);
  const init = await initReplica({ source: { host: '127.0.0.1', port: server.port, user: 'root', password } }, deps);
  log(`  replica: ${init.seconds} s; turning point-in-time clones on`);
  await setPitr(deps, windowS, { baseIntervalS });

  let load: WriteLoad | null = null;
  let timers: ReturnType<typeof startTimers> | null = null;
  try {
    const gtidStart = await sourceTransactions(source, flavor);
    const loadStarted = performance.now();
    load = await startWriteLoad(source, { connections: CONNECTIONS, rate, mix: 'mixed' });
    // The first base: a snapshot as the load starts (as `replica pitr` asks: points start from the next snapshot).
    await sleep(2_000);
    const first = await createSnapshot(deps);
    log(`  first snapshot ${first.id}; warming up for ${warmupS} s`);
    timers = startTimers(deps, Date.now(), baseIntervalS);
    const warmupEnds = loadStarted + warmupS * 1_000;
    while (performance.now() < warmupEnds) {
      if (abort.signal.aborted) throw new Error('interrupted');
      const left = warmupEnds - performance.now();
      if (left < 100) break;
      await sleep(Math.min(10_000, left));
      const committed = load.committed();
      log(`  load: ${committed} transactions, ${round(committed / ((performance.now() - loadStarted) / 1000))} tx/s`);
    }

    /** A uniformly random microsecond in [the oldest base + 1 s, now − 2 s]. */
    const randomPoint = async (): Promise<number> => {
      const oldest = (await pitrView(deps, deps.store.require()))?.oldest_point?.at;
      if (oldest === undefined) throw new Error('no base yet');
      const fromUs = Date.parse(oldest) * 1_000 + 1_000_000;
      const toUs = (Date.now() - 2_000) * 1_000;
      return Math.floor(fromUs + Math.random() * (toUs - fromUs));
    };
    const points: PointFigure[] = [];
    for (let i = 0; i < pointCount; i += 1) {
      if (abort.signal.aborted) throw new Error('interrupted');
      const us = await randomPoint();
      const at = isoUs(us);
      // The job's own steps, stamped: up to the cut found, then to the clone's server starting, then ready.
      const stamps: Array<{ ms: number; step: string }> = [];
      const t0 = performance.now();
      deps.progress = (step) => stamps.push({ ms: performance.now() - t0, step });
      let view: CloneAtView;
      try {
        view = await createCloneAt({ at, name: `pitr-${i}` }, deps);
      } finally {
        delete deps.progress;
      }
      const wallMs = Math.round(performance.now() - t0);
      const stampOf = (re: RegExp): number | null => stamps.find((x) => re.test(x.step))?.ms ?? null;
      const cutMs = stampOf(/transactions to replay/);
      const madeMs = stampOf(/starting its server/);
      const c = await connectSql({ host: view.host, port: view.port, user: view.user, password: view.password });
      let rows: number;
      try {
        const [row] = await c.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM load.ledger');
        rows = Number(row?.n ?? -1);
      } finally {
        await c.close();
      }
      const bases = pitrBases(deps.store.require(), listBasePoints(deps.store));
      const base = bases.find((b) => b.id === view.point.base);
      const figure: PointFigure = {
        at,
        base_age_s: base ? round((us / 1_000 - Date.parse(base.data_state_at)) / 1000, 1) : Number.NaN,
        base_kind: view.point.base.startsWith('bp-') ? 'base point' : 'snapshot',
        transactions: view.point.transactions,
        replay_ms: view.point.replay_ms,
        ready_ms: view.ready_ms ?? wallMs,
        ledger_rows: rows,
        phases_ms: cutMs === null || madeMs === null ? null : { to_cut: Math.round(cutMs), cut_to_server_start: Math.round(madeMs - cutMs), server_start_to_ready: Math.round(wallMs - madeMs) },
      };
      points.push(figure);
      log(`  point ${i + 1}/${pointCount} ${at}: ${figure.transactions} tx on ${figure.base_kind} ${view.point.base} (+${figure.base_age_s} s), replay ${figure.replay_ms} ms, ready ${figure.ready_ms} ms, ${rows} ledger rows`);
      if (!(rows > 0)) throw new Error(`clone ${view.name} answered ${rows} ledger rows`);
      await destroyClone(view.name, deps);
    }

    // Masked points: the same, with masking rules set (masked after the replay, in the same job).
    const masked: Array<{ ready_ms: number; mask_ms: number; replay_ms: number; transactions: number }> = [];
    if (maskedCount > 0) {
      await setMask(deps, MASK_RULES, 'bench');
      try {
        for (let i = 0; i < maskedCount; i += 1) {
          if (abort.signal.aborted) throw new Error('interrupted');
          const at = isoUs(await randomPoint());
          const t0 = performance.now();
          const view = await createCloneAt({ at, name: `masked-${i}` }, deps);
          const snapshot = deps.store.require().snapshots.find((x) => x.id === view.snapshot);
          const figure = { ready_ms: view.ready_ms ?? Math.round(performance.now() - t0), mask_ms: snapshot?.mask_ms ?? Number.NaN, replay_ms: view.point.replay_ms, transactions: view.point.transactions };
          masked.push(figure);
          log(`  masked point ${i + 1}/${maskedCount} ${at}: ${figure.transactions} tx, replay ${figure.replay_ms} ms, masking ${figure.mask_ms} ms (${snapshot?.mask_rows ?? '?'} rows), ready ${figure.ready_ms} ms`);
          await destroyClone(view.name, deps);
        }
      } finally {
        clearMask(deps, 'bench');
      }
    }

    // A plain clone of the newest snapshot, for comparison (load still on).
    const newest = deps.store
      .require()
      .snapshots.filter((s) => s.status === 'ready' && s.point === undefined && s.raw !== true)
      .sort((a, b) => Date.parse(a.data_state_at) - Date.parse(b.data_state_at))
      .at(-1);
    if (!newest) throw new Error('no snapshot for the plain clones');
    const plain: number[] = [];
    for (let i = 0; i < PLAIN_CLONES; i += 1) {
      const t0 = performance.now();
      const view = await createClone({ snapshot: newest.id, name: `plain-${i}` }, deps);
      plain.push(view.ready_ms ?? Math.round(performance.now() - t0));
      await destroyClone(view.name, deps);
    }
    log(`  plain clones of ${newest.id}: ${plain.join(', ')} ms`);

    await timers.stop();
    const timerFigures = timers.figures();
    timers = null;
    const figures = await load.stop();
    load = null;
    const loadS = (performance.now() - loadStarted) / 1000;
    const gtidEnd = await sourceTransactions(source, flavor);
    const hours = loadS / 3_600;
    const state = deps.store.require();
    const view = await pitrView(deps, state);
    const driver = deps.driver(state);
    const basePoints = listBasePoints(deps.store);
    let basePointBytes = 0;
    for (const bp of basePoints) basePointBytes += await driver.exclusiveBytes(bp.volume);
    const together = await basePointsTogether(deps, basePoints.map((bp) => bp.id));
    log(`  base points: ${basePoints.length}, exclusive ${basePointBytes} B each summed; removing them all frees ${together === null ? 'n/a' : `${round(together / MiB, 1)} MiB`}`);
    const snapshots = state.snapshots.filter((s) => s.point === undefined && s.status === 'ready');
    let snapshotBytes = 0;
    for (const s of snapshots) snapshotBytes += await driver.exclusiveBytes(s.volume).catch(() => 0);

    const ready = points.map((x) => x.ready_ms);
    const replay = points.map((x) => x.replay_ms);
    const txs = points.map((x) => x.transactions);
    const rates = points.filter((x) => x.transactions > 0).map((x) => x.transactions / (x.replay_ms / 1000));
    const line = fit(txs, replay);
    const fixed = points.map((x) => x.ready_ms - x.replay_ms);
    const phased = points.flatMap((x) => (x.phases_ms ? [x.phases_ms] : []));
    const phases = phased.length === 0 ? null : { to_cut: p(phased.map((x) => x.to_cut)), cut_to_server_start: p(phased.map((x) => x.cut_to_server_start)), server_start_to_ready: p(phased.map((x) => x.server_start_to_ready)) };
    const sourceRate = round((gtidEnd - gtidStart) / loadS, 1);
    const result = {
      flavor,
      image,
      load: { connections: CONNECTIONS, mix: 'mixed', asked_tx_per_s: rate, achieved_tx_per_s: round(figures.rate, 1), errors: figures.errors, seconds: round(loadS), transactions: figures.transactions },
      source_tx_per_s_gtid: sourceRate,
      points: pointCount,
      clone_at_ready_ms: p(ready),
      replay_ms: p(replay),
      fixed_ms: p(fixed),
      phases_ms: phases,
      transactions_replayed: p(txs),
      replay_tx_per_s_median: round(percentile(rates, 50)),
      replay_fit: line ? { fixed_ms: round(line.intercept), marginal_tx_per_s: line.slope > 0 ? round(1000 / line.slope) : null, r2: round(line.r2, 2) } : null,
      bases_used: { base_point: points.filter((x) => x.base_kind === 'base point').length, snapshot: points.filter((x) => x.base_kind === 'snapshot').length },
      base_age_s: p(points.map((x) => x.base_age_s), 1),
      plain_clone_ready_ms: { median: round(percentile(plain, 50)), runs: plain },
      masked_points: masked.length === 0 ? null : { count: masked.length, ready_ms: p(masked.map((x) => x.ready_ms)), mask_ms: p(masked.map((x) => x.mask_ms)), samples: masked },
      binlog: { bytes: view?.binlog_bytes ?? null, files: view?.binlog_files ?? null, bytes_per_hour: view ? round(view.binlog_bytes / hours) : null, bytes_per_transaction: view ? round(view.binlog_bytes / Math.max(1, gtidEnd - gtidStart)) : null },
      base_points: {
        count: basePoints.length,
        per_hour: round(basePoints.length / hours, 1),
        exclusive_bytes: basePointBytes,
        exclusive_bytes_per_hour: round(basePointBytes / hours),
        exclusive_bytes_each: round(basePointBytes / Math.max(1, basePoints.length)),
        freed_when_all_removed_bytes: together,
        freed_per_hour: together === null ? null : round(together / hours),
      },
      snapshots: { count: snapshots.length, exclusive_bytes: snapshotBytes },
      timers: timerFigures,
      samples: points,
    };
    log(
      `  ${label}: ready p50 ${result.clone_at_ready_ms.p50} ms p95 ${result.clone_at_ready_ms.p95} ms; replay p50 ${result.replay_ms.p50} ms; ${result.transactions_replayed.p50} tx p50; ` +
        `source ${sourceRate} tx/s; binlog ${round((result.binlog.bytes_per_hour ?? 0) / MiB)} MiB/h; plain clone ${result.plain_clone_ready_ms.median} ms`,
    );
    return result;
  } finally {
    await timers?.stop().catch(() => undefined);
    await load?.stop().catch(() => undefined);
    await removeRoot(root);
    await resources.stopServer(server).catch((error: unknown) => log(`cleanup: source: ${messageOf(error)}`));
  }
}

/**
 * What the base points hold together (extents no other volume references: btrfs's per-volume
 * "exclusive" misses what two base points share, and extents the replica still partly uses):
 * the pool's used bytes before and after removing them all, at the end of the run. Null if it
 * cannot be read.
 */
async function basePointsTogether(deps: EngineDeps, ids: readonly string[]): Promise<number | null> {
  try {
    const state = deps.store.require();
    const driver = deps.driver(state);
    const data = await driver.mount(PITR_VOLUME);
    if (data.kind !== 'path') return null;
    const mountpoint = dirname(dirname(data.path));
    const used = async (): Promise<number> => {
      await deps.shell.run('btrfs', ['subvolume', 'sync', mountpoint]);
      await deps.shell.run('btrfs', ['filesystem', 'sync', mountpoint]);
      const fs = await statfs(mountpoint);
      return (fs.blocks - fs.bfree) * fs.bsize;
    };
    const before = await used();
    for (const id of ids) await runSteps(deps, [{ do: 'remove-volume', id }, { do: 'forget-base-point', id }], 'finish');
    await sleep(1_000);
    return Math.max(0, before - (await used()));
  } catch (error) {
    log(`  base points together: ${messageOf(error)}`);
    return null;
  }
}

/** teardown --purge in-process; when that fails, the CLI's purge and a sweep of what is left (bench/cleanup.ts). */
async function removeRoot(root: string): Promise<void> {
  const deps = engineRoots.get(root);
  if (!deps) return;
  engineRoots.delete(root);
  try {
    if (deps.store.read() !== null) await teardown({ purge: true }, deps);
  } catch (error) {
    log(`cleanup: teardown of ${root}: ${messageOf(error)}; trying the CLI's purge`);
    resources.addRoot(root);
    await resources.purgeRoot(root);
  }
}

async function cleanupAll(): Promise<void> {
  for (const root of [...engineRoots.keys()]) await removeRoot(root).catch((error: unknown) => log(`cleanup: ${root}: ${messageOf(error)}`));
  await resources.cleanupAll();
}

interface FlavorResult {
  flavor: Flavor;
  clone_at_ready_ms: { p50: number; p95: number; max: number };
  replay_ms: { p50: number; p95: number };
  fixed_ms: { p50: number };
  transactions_replayed: { p50: number; p95: number };
  replay_tx_per_s_median: number;
  replay_fit: { fixed_ms: number; marginal_tx_per_s: number | null; r2: number } | null;
  load: { achieved_tx_per_s: number };
  source_tx_per_s_gtid: number;
  binlog: { bytes_per_hour: number | null; bytes_per_transaction: number | null };
  base_points: { count: number; per_hour: number; exclusive_bytes_per_hour: number; exclusive_bytes_each: number; freed_per_hour: number | null };
  plain_clone_ready_ms: { median: number };
  masked_points: { count: number; ready_ms: { p50: number; p95: number; max: number }; mask_ms: { p50: number; max: number } } | null;
  bases_used: { base_point: number; snapshot: number };
  points: number;
}

function render(results: readonly FlavorResult[]): string {
  if (results.length === 0) return 'no figures';
  const mib = (b: number | null): string => (b === null ? 'n/a' : `${round(b / MiB, 1)} MiB`);
  const col = (f: (r: FlavorResult) => string): string => results.map(f).join(' | ');
  return [
    `| figure | ${col((r) => (r.flavor === 'mysql' ? 'MySQL 9.7' : 'MariaDB 10.11'))} |`,
    `|---|${results.map(() => '---').join('|')}|`,
    `| source rate (asked ${rate}/s; load's own count / GTID count) | ${col((r) => `${r.load.achieved_tx_per_s} / ${r.source_tx_per_s_gtid} tx/s`)} |`,
    `| points (one at a time, under load) | ${col((r) => `${r.points} (${r.bases_used.base_point} from base points, ${r.bases_used.snapshot} from snapshots)`)} |`,
    `| clone --at ready p50 / p95 / max | ${col((r) => `${r.clone_at_ready_ms.p50} / ${r.clone_at_ready_ms.p95} / ${r.clone_at_ready_ms.max} ms`)} |`,
    `| replay_ms p50 / p95 (replay server start + replay + prepare) | ${col((r) => `${r.replay_ms.p50} / ${r.replay_ms.p95} ms`)} |`,
    `| rest of ready (wait for the replica, relay copy, cut search, clone start) p50 | ${col((r) => `${r.fixed_ms.p50} ms`)} |`,
    `| transactions replayed p50 / p95 | ${col((r) => `${r.transactions_replayed.p50} / ${r.transactions_replayed.p95}`)} |`,
    `| replay rate (transactions / replay s, median) | ${col((r) => `${r.replay_tx_per_s_median} tx/s`)} |`,
    `| fit replay_ms = fixed + tx / rate | ${col((r) => (r.replay_fit ? `${r.replay_fit.fixed_ms} ms + tx / ${r.replay_fit.marginal_tx_per_s ?? '∞'} tx/s (R² ${r.replay_fit.r2})` : 'n/a'))} |`,
    `| replica binlog per hour of writes | ${col((r) => `${mib(r.binlog.bytes_per_hour)} (${r.binlog.bytes_per_transaction ?? 'n/a'} B/tx)`)} |`,
    `| base points per hour; their exclusive bytes (driver.exclusiveBytes) per hour | ${col((r) => `${r.base_points.per_hour}; ${mib(r.base_points.exclusive_bytes_per_hour)}`)} |`,
    `| pool space freed by removing all base points at the end, per hour | ${col((r) => `${mib(r.base_points.freed_per_hour)} (${r.base_points.count} base points)`)} |`,
    `| with masking rules set: masked point ready p50 / max; the masking in it p50 | ${col((r) => (r.masked_points ? `${r.masked_points.ready_ms.p50} / ${r.masked_points.ready_ms.max} ms; ${r.masked_points.mask_ms.p50} ms (${r.masked_points.count} points)` : 'n/a'))} |`,
    `| plain clone of the newest snapshot, ready (median of ${PLAIN_CLONES}) | ${col((r) => `${r.plain_clone_ready_ms.median} ms`)} |`,
    `| clone --at p50 ÷ plain clone | ${col((r) => `${round(r.clone_at_ready_ms.p50 / r.plain_clone_ready_ms.median, 1)}×`)} |`,
  ].join('\n');
}

/** Ctrl-C or SIGTERM: the children stop, what the bench made is removed, then it exits. */
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
function onSignal(signal: NodeJS.Signals): void {
  log(`${signal}: stopping, then removing what the bench made`);
  abort.abort();
  for (const child of liveChildren()) child.kill('SIGINT');
  void (async () => {
    await cleanupAll();
    process.exit(130);
  })();
}

let failed: unknown = null;
const perFlavor: FlavorResult[] = [];
const results: Record<string, unknown> = {
  command: `node --import tsx bench/pitr.ts ${process.argv.slice(2).join(' ')}`.trim(),
  at: new Date().toISOString(),
  machine: await machineInfo('/var/tmp'),
  settings: { rate, connections: CONNECTIONS, warmup_s: warmupS, points: pointCount, base_interval_s: baseIntervalArg ?? DEFAULT_BASE_INTERVAL_S, snapshot_every_s: snapshotEveryS, window_s: windowS, plain_clones: PLAIN_CLONES },
  note: "snapshots every 5 min instead of the issue's 15: they only add bases; the base interval bounds what a point replays",
  flavors: {} as Record<string, unknown>,
};
try {
  for (const flavor of flavors) {
    const r = await runFlavor(flavor);
    (results.flavors as Record<string, unknown>)[flavor] = r;
    perFlavor.push(r as unknown as FlavorResult);
  }
} catch (error) {
  failed = error;
  results.error = messageOf(error);
} finally {
  await cleanupAll();
}
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${render(perFlavor)}\n`);
if (failed !== null) {
  log(`FAILED: ${failed instanceof Error ? (failed.stack ?? failed.message) : String(failed)}`);
  process.exit(1);
}
