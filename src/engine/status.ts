import type { StatusView } from '../model/wire.js';
import { runningEngine } from '../state/engine-claim.js';
import type { EngineDeps } from './context.js';
import { poolFullNote } from './pool-space.js';
import { pitrView } from './pitr-status.js';

/** `dolly status`: pool space and limits, replica, counts, jobs in progress and the engine serving the root. */
export async function getStatus(deps: EngineDeps): Promise<StatusView> {
  const state = deps.store.require();
  const space = await deps.driver(state).space();
  const engine = runningEngine(deps.store);
  const pitr = await pitrView(deps, state);
  return {
    root: deps.root,
    driver: state.pool.driver,
    pool: { total_bytes: space.totalBytes, free_bytes: space.freeBytes, reserve_bytes: state.settings.reserve_bytes ?? 0, clone_quota_bytes: state.settings.clone_quota_bytes ?? 0 },
    replica: state.replica ? [`${state.replica.source.host}:${state.replica.source.port}`, poolFullNote(state.replica, space)].filter((part) => part !== null).join(' — ') : null,
    snapshots: state.snapshots.length,
    clones: state.clones.length,
    jobs: state.jobs.map((j) => ({ kind: j.kind, target: j.target, pid: j.owner.pid, started_at: j.started_at })),
    engine: engine ? { url: engine.url, pid: engine.pid, started_at: engine.started_at } : null,
    ...(pitr ? { pitr } : {}),
  };
}
