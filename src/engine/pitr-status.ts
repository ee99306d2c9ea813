import type { PitrView } from '../model/wire.js';
import type { State } from '../state/state.js';
import { listBasePoints } from './base-point-store.js';
import { baseIntervalSeconds } from './base-point.js';
import type { EngineDeps } from './context.js';
import { PITR_VOLUME, binlogFiles, pitrBases } from './pitr-binlog.js';

/**
 * What point-in-time clones hold now (`replica status`, `status`, /metrics, the web page): the
 * window asked for, the oldest point a clone can be made at (the oldest base whose binlog is
 * kept), the bases, and the space the binlog takes. Reads the store and the binlog volume's file
 * sizes only (no server); null when point-in-time clones are off.
 */
export async function pitrView(deps: EngineDeps, state: State): Promise<PitrView | null> {
  const pitr = state.replica?.pitr;
  if (!pitr) return null;
  const points = listBasePoints(deps.store);
  const data = await deps.driver(state).mount(PITR_VOLUME).catch(() => null);
  const files = data?.kind === 'path' ? await binlogFiles(data.path, pitr.base) : [];
  const kept = new Set(files.map((f) => f.name));
  const bases = pitrBases(state, points).filter((b) => b.binlog !== undefined && kept.has(b.binlog.file));
  const oldest = bases[0];
  return {
    window_s: pitr.window_s,
    base_interval_s: baseIntervalSeconds(state),
    since: pitr.since,
    oldest_point: oldest ? { at: oldest.data_state_at, gtid: oldest.gtid } : null,
    bases: bases.length,
    base_points: points.length,
    binlog_files: files.length,
    binlog_bytes: files.reduce((sum, f) => sum + f.bytes, 0),
  };
}
