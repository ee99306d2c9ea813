import Table from 'cli-table3';
import { ok, TARGETS } from './report.js';
import { bytes, millis, seconds, type Spread } from './util.js';

/** One engine's column: clone ready on a btrfs root provisioned by its physical method. */
export interface EngineReady {
  engine: string;
  data_bytes: number;
  /** How the replica was provisioned, and how long `replica init` took (s). */
  provisioned: { method: string; seconds: number } | null;
  /** Clone ready (ms, command start → the bench's SELECT 1). */
  clone_ready_ms: Spread | null;
  snapshot_pause_ms: number | null;
}

const orDash = <T>(value: T | null, text: (v: T) => string): string => (value === null ? '—' : text(value));

/** The clone-ready table per engine: the engines side by side, against the core targets. */
export function renderEngineReady(engines: readonly EngineReady[]): string {
  const table = new Table({ head: ['', ...engines.map((e) => `${e.engine}\n(${bytes(e.data_bytes)})`), 'target'], style: { head: [], border: [] } });
  const row = (name: string, cell: (e: EngineReady) => string, target = ''): void => {
    table.push([name, ...engines.map(cell), target]);
  };
  row('clone ready, median\n(command start → SELECT 1)', (e) => orDash(e.clone_ready_ms, (s) => `${seconds(s.median)}${ok(s.median <= TARGETS.clone_ready_ms)}`), `≤ ${seconds(TARGETS.clone_ready_ms)}`);
  row('  min – max (runs)', (e) => orDash(e.clone_ready_ms, (s) => `${seconds(s.min)} – ${seconds(s.max)} (${s.runs.length})`));
  row('snapshot: applier pause', (e) => orDash(e.snapshot_pause_ms, (p) => `${millis(p)}${ok(p <= TARGETS.pause_ms)}`), `≤ ${TARGETS.pause_ms} ms`);
  row('provisioned by (replica init)', (e) => orDash(e.provisioned, (p) => `${p.method}, ${seconds(p.seconds * 1000)}`));
  return table.toString();
}
