import Table from 'cli-table3';
import type { ApiFigure } from './api.js';
import type { ConcurrencyFigure, IsolationFigure, TlsFigure } from './concurrency.js';
import type { CloneRun, IdleCost } from './dolly.js';
import type { DumpRestore } from './dump-restore.js';
import { bytes, millis, MiB, round, seconds, spread, type Spread } from './util.js';

export type DriverName = 'btrfs' | 'commit' | 'copy';

export interface SnapshotFigure {
  id: string;
  pause_ms: number;
  prepare_ms: number;
  command_ms: number;
  /** Rows the load emulator wrote on the source while the command ran. */
  load_rows: number;
}

/** Everything measured for one column of the table. */
export interface Column {
  label: string;
  driver: DriverName;
  /** Source data (InnoDB data + indexes of the bench database) when the snapshot was taken. */
  data_bytes: number;
  clone_runs: CloneRun[];
  snapshot: SnapshotFigure | null;
  idle: IdleCost | null;
  replica_init: { command_ms: number; copied_bytes: number } | null;
}

export interface Results {
  mode: 'full' | 'quick';
  /** How the data sizes are called in the table (`1 GB` and `4 GB`; `100 MB` and `400 MB` with --quick). */
  sizes: { small: string; big: string };
  command: string;
  started_at: string;
  finished_at: string;
  total_ms: number;
  machine: Record<string, string>;
  targets: typeof TARGETS;
  columns: { btrfs: Column; btrfs_big: Column; commit: Column; copy: Column };
  /** btrfs clones of the small snapshot, interleaved run by run with those of the big one. */
  btrfs_small_beside_big: CloneRun[];
  dump_restore: DumpRestore | null;
  phases: { name: string; ms: number }[];
  /** Other containers (not this bench's) running on the engine, and the load average. */
  concurrent: { before: string[]; after: string[]; loadavg_before: number[]; loadavg_after: number[] };
  /** btrfs: many creates at once (absent in runs before it was measured). */
  concurrency?: ConcurrencyFigure | null;
  /** btrfs: clone ready in an own network namespace vs the host's. */
  isolation?: IsolationFigure | null;
  tls?: TlsFigure | null;
  /** Through `dolly serve` (absent in runs before it existed). */
  api?: ApiFigure | null;
}

export const TARGETS = { api_ready_ms: 1000, clone_ready_ms: 1500, pause_ms: 200, idle_disk_bytes: 20 * MiB, idle_memory_bytes: 150 * MiB, big_vs_small: 1.2, concurrent_vs_one: 2 };

/** ' ✓' or ' ✗' after a figure, against its target. */
export const ok = (pass: boolean): string => (pass ? ' ✓' : ' ✗');

export function ratioText(r: number): string {
  if (!Number.isFinite(r)) return '—';
  if (r >= 0.995 && r <= 1.005) return '1.00×';
  return r > 1 ? `${r.toFixed(r >= 10 ? 0 : 1)}× slower` : `${(1 / r).toFixed(1)}× faster`;
}

const totals = (c: Column): Spread => spread(c.clone_runs.map((r) => r.total_ms));
const medianOf = (runs: CloneRun[], pick: (r: CloneRun) => number | null): number => spread(runs.map(pick).filter((v): v is number => v !== null)).median;

/** The one table: every alternative side by side, with targets and ratios against btrfs. */
export function renderTable(results: Results): string {
  const { btrfs, btrfs_big: big, commit, copy } = results.columns;
  const cols = [btrfs, big, commit, copy];
  const dr = results.dump_restore;
  const base = totals(btrfs).median;
  const beside = spread(results.btrfs_small_beside_big.map((r) => r.total_ms)).median;
  const bigRatio = totals(big).median / base;
  const bigRatioBeside = totals(big).median / beside;
  const { small, big: bigSize } = results.sizes;
  const table = new Table({
    head: ['', ...cols.map((c) => `${c.label}\n(${bytes(c.data_bytes)})`), `dump + restore\n(${bytes(btrfs.data_bytes)})`, 'target'],
    style: { head: [], border: [] },
  });
  const row = (name: string, cells: string[], dump: string, target: string): void => {
    table.push([name, ...cells, dump, target]);
  };
  row(
    'clone ready, median\n(command start → SELECT 1)',
    cols.map((c) => `${seconds(totals(c).median)}${c.driver === 'btrfs' ? ok(totals(c).median <= TARGETS.clone_ready_ms) : ''}`),
    dr ? `${seconds(dr.total_ms)}\n(1 run)` : '—',
    `btrfs ≤ ${seconds(TARGETS.clone_ready_ms)}`,
  );
  row('  min – max (runs)', cols.map((c) => `${seconds(totals(c).min)} – ${seconds(totals(c).max)} (${c.clone_runs.length})`), '', '');
  row('  command exited, median', cols.map((c) => seconds(medianOf(c.clone_runs, (r) => r.command_ms))), dr ? `restore ${seconds(dr.dump_restore_ms)}` : '', '');
  row('  ready_ms (in-process), median', cols.map((c) => seconds(medianOf(c.clone_runs, (r) => r.ready_ms))), dr ? `empty server ${seconds(dr.server_start_ms)}` : '', '');
  row('  own SELECT 1 after exit, median', cols.map((c) => millis(medianOf(c.clone_runs, (r) => r.select_ms))), dr ? `query ${millis(dr.verify_ms)}` : '', '');
  row(
    `vs btrfs ${small} (median)`,
    [
      '1.00×',
      `${bigRatio.toFixed(2)}×; beside a\n${small} re-run: ${bigRatioBeside.toFixed(2)}×${ok(bigRatioBeside <= TARGETS.big_vs_small)}`,
      ratioText(totals(commit).median / base),
      ratioText(totals(copy).median / base),
    ],
    dr ? ratioText(dr.total_ms / base) : '—',
    `${bigSize} ≤ ${TARGETS.big_vs_small.toFixed(2)}× ${small}`,
  );
  row(
    'snapshot: applier pause\n(load emulator writing)',
    cols.map((c) => (c.snapshot ? `${millis(c.snapshot.pause_ms)}${ok(c.snapshot.pause_ms <= TARGETS.pause_ms)}` : '—')),
    '—',
    `≤ ${TARGETS.pause_ms} ms`,
  );
  row(`  vs btrfs ${small}`, cols.map((c) => (c.snapshot && btrfs.snapshot ? (c === btrfs ? '1.00×' : ratioText(c.snapshot.pause_ms / Math.max(1, btrfs.snapshot.pause_ms)).replace('slower', 'longer')) : '—')), '—', '');
  row('snapshot: prepare', cols.map((c) => (c.snapshot ? seconds(c.snapshot.prepare_ms) : '—')), '—', '');
  row('snapshot: whole command', cols.map((c) => (c.snapshot ? seconds(c.snapshot.command_ms) : '—')), '—', '');
  row(
    'idle clone: exclusive disk',
    cols.map((c) => (c.idle ? `${bytes(c.idle.exclusive_bytes)}${ok((c.idle.exclusive_bytes ?? Infinity) <= TARGETS.idle_disk_bytes)}` : '—')),
    dr ? `${bytes(btrfs.data_bytes)}+ (full copy)` : '—',
    `≤ ${bytes(TARGETS.idle_disk_bytes)}`,
  );
  row(
    'idle clone: memory\n(docker stats)',
    cols.map((c) => (c.idle ? `${bytes(c.idle.memory_bytes)}${ok((c.idle.memory_bytes ?? Infinity) <= TARGETS.idle_memory_bytes)}` : '—')),
    '—',
    `≤ ${bytes(TARGETS.idle_memory_bytes)}`,
  );
  row('replica init (copy of the source)', cols.map((c) => (c.replica_init ? seconds(c.replica_init.command_ms) : '—')), '—', '');
  return [table.toString(), renderConcurrency(results), renderApi(results)].filter((t) => t !== '').join('\n');
}

/** The second table: many creates at once, and what a clone's own network namespace costs. */
function renderConcurrency(results: Results): string {
  const c = results.concurrency;
  const iso = results.isolation;
  if (!c && !iso && !results.tls) return '';
  const table = new Table({ head: [`btrfs ${results.sizes.small}`, 'figure', 'target'], style: { head: [], border: [] } });
  if (c) {
    const ratio = c.parallel_ms / c.one_ms;
    table.push([`${c.clones} clone creates at once\n(first start → last SELECT 1)`, `${seconds(c.parallel_ms)} = ${ratio.toFixed(1)}× one${ok(ratio <= TARGETS.concurrent_vs_one)}; ${c.failures} failed`, `≤ ${TARGETS.concurrent_vs_one}× one`]);
    table.push(['  one alone; one after another', `${seconds(c.one_ms)}; ${seconds(c.serial_ms)} (${(c.serial_ms / c.parallel_ms).toFixed(1)}× the parallel time)`, '']);
    if (c.in_process_ms !== undefined) table.push([`  ${c.clones} at once in one process\n  (no Node start per create)`, `${seconds(c.in_process_ms)} = ${(c.in_process_ms / c.one_ms).toFixed(1)}× one`, '']);
    table.push(['  each parallel create: median, max', `${seconds(c.parallel_each_median_ms)}, ${seconds(c.parallel_each_max_ms)}`, '']);
  }
  if (iso && iso.isolated.length > 0 && iso.host.length > 0) {
    const a = spread(iso.isolated.map((r) => r.total_ms)).median;
    const b = spread(iso.host.map((r) => r.total_ms)).median;
    table.push(['clone ready: own network namespace\n(default) vs host network, medians', `${seconds(a)} vs ${seconds(b)}: isolation costs ${millis(a - b)}`, `≤ ${seconds(TARGETS.clone_ready_ms)}`]);
  }
  const tls = results.tls;
  if (tls && tls.on.length > 0 && tls.off.length > 0) {
    const a = spread(tls.on.map((r) => r.total_ms)).median;
    const b = spread(tls.off.map((r) => r.total_ms)).median;
    table.push(['clone ready: TLS (default: own\ncertificate) vs none, medians', `${seconds(a)} vs ${seconds(b)}: TLS costs ${millis(a - b)}`, `≤ ${seconds(TARGETS.clone_ready_ms)}`]);
  }
  return table.toString();
}

/** The third table: through the engine's HTTP API (no process starts per request). */
function renderApi(results: Results): string {
  const a = results.api;
  if (!a) return '';
  const table = new Table({ head: ['dolly serve (HTTP API), btrfs', 'figure', 'target'], style: { head: [], border: [] } });
  for (const [label, runs] of Object.entries(a.ready)) {
    const s = spread(runs);
    const cli = label === results.sizes.small ? totals(results.columns.btrfs).median : label === results.sizes.big ? totals(results.columns.btrfs_big).median : Number.NaN;
    table.push([`clone ready ${label}, median\n(request → SELECT 1)`, `${seconds(s.median)}${ok(s.median <= TARGETS.api_ready_ms)} (${seconds(s.min)} – ${seconds(s.max)}, ${runs.length} runs)${Number.isFinite(cli) ? `\nCLI: ${seconds(cli)}` : ''}`, `≤ ${seconds(TARGETS.api_ready_ms)}`]);
  }
  if (a.concurrent.clones > 0) {
    table.push([`${a.concurrent.clones} creates at once by ${a.concurrent.users} users`, `all in ${seconds(a.concurrent.wall_ms)}; each: median ${seconds(a.concurrent.each.median)}, p95 ${seconds(a.concurrent.p95_ms)}; ${a.concurrent.failures} failed`, 'all succeed']);
  }
  if (a.fleet.clones > 0) {
    table.push([`${a.fleet.clones} idle clones`, `memory ${bytes(a.fleet.memory_each_bytes)} each (${bytes(a.fleet.memory_total_bytes)} in all); create of the ${a.fleet.clones}th ${seconds(a.fleet.last_ms)} vs the first ${seconds(a.fleet.first_ms)} (${(a.fleet.last_ms / Math.max(1, a.fleet.first_ms)).toFixed(2)}×)`, '']);
  }
  return table.toString();
}

/** Median of big[i] / small[i] over the interleaved pairs: the least noise-prone size ratio. */
export function pairedRatio(results: Results): number {
  const big = results.columns.btrfs_big.clone_runs;
  return spread(results.btrfs_small_beside_big.flatMap((small, i) => (big[i] ? [big[i].total_ms / small.total_ms] : []))).median;
}

/** Lines printed under the table: how long each phase took, and what else ran on the machine. */
export function renderNotes(results: Results): string {
  const lines = [
    `mode ${results.mode}; total ${seconds(results.total_ms)}; started ${results.started_at}`,
    `machine: ${Object.entries(results.machine).map(([k, v]) => `${k} ${v}`).join('; ')}`,
    `phases: ${results.phases.map((p) => `${p.name} ${seconds(p.ms)}`).join('; ')}`,
    `btrfs ${results.sizes.small} re-run beside ${results.sizes.big}: median ${seconds(spread(results.btrfs_small_beside_big.map((r) => r.total_ms)).median)} (${results.btrfs_small_beside_big.map((r) => round(r.total_ms)).join(', ')} ms); ` +
      `${results.sizes.big} runs ${results.columns.btrfs_big.clone_runs.map((r) => round(r.total_ms)).join(', ')} ms; median of the pairwise ratios ${pairedRatio(results).toFixed(2)}×`,
    `other containers on the engine: before ${results.concurrent.before.length} [${results.concurrent.before.join(', ')}], after ${results.concurrent.after.length}; ` +
      `load average before ${results.concurrent.loadavg_before.map((l) => l.toFixed(2)).join(' ')}, after ${results.concurrent.loadavg_after.map((l) => l.toFixed(2)).join(' ')}`,
  ];
  return lines.join('\n');
}
