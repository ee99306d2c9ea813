import { FailedPreconditionError } from '../errors.js';
import type { Snapshot } from '../state/state.js';
import { reportStep, type EngineDeps } from './context.js';
import { findClone, findSnapshot, keepReserve } from './clone-create.js';
import { withJob } from './jobs.js';
import { prepareServerName, prepareSnapshot, readSnapshotAccountTables } from './prepare.js';
import { reconcile } from './reconcile.js';
import { newSnapshot } from './snapshot-entry.js';
import { cloneConnectOptions, cloneServerName, waitUntilAnswering } from './servers.js';

/** How long a clone's server may take to shut down cleanly for a branch. */
const STOP_TIMEOUT_S = 120;

/**
 * `dolly clone snapshot NAME` (a branch): saves a clone's current state as a prepared snapshot
 * that its owner (the clone's owner, recorded as the branch's) and admins can clone or reset to;
 * others too once it is shared (`share`, or later `dolly snapshot share`). A branch is never the
 * default snapshot. The clone's server is stopped cleanly for the instant of the copy-on-write
 * snapshot (its clients see a short outage, measured as `pause_ms`), started again, and the new
 * snapshot is prepared like any other (accounts locked, replica state dropped), and against its
 * parent's accounts: every account the parent lacks, and every view, routine, trigger and event
 * whose definer the branch does not keep, is dropped (see `scrubAccounts`). The
 * snapshot records the clone (`branch_of`) and the clone's own snapshot (`parent`). Journaled:
 * after a crash the next command restarts the clone and removes the half-made snapshot.
 */
export async function snapshotClone(name: string, deps: EngineDeps, options: { signal?: AbortSignal; share?: boolean; event?: Record<string, unknown> } = {}): Promise<Snapshot> {
  await reconcile(deps);
  const now = deps.now();
  return withJob(
    deps,
    'clone-snapshot',
    (state) => {
      const replica = state.replica;
      if (!replica) throw new FailedPreconditionError('there is no replica', { hint: 'run `dolly replica init` first' });
      const clone = findClone(state, name);
      const parent = findSnapshot(state, clone.snapshot);
      // The branch is prepared against its parent's accounts: without that list, what the clone's
      // user planted could not be told from what the parent had.
      const parentAccounts = parent.accounts;
      if (parentAccounts === undefined) {
        throw new FailedPreconditionError(`snapshot ${parent.id}, clone ${clone.name}'s, does not list its accounts (taken by an older dolly): a branch of it cannot be checked for planted accounts`, {
          hint: `take a new snapshot (\`dolly snapshot create\`) and reset the clone to it: \`dolly clone reset ${clone.name} --snapshot ID\``,
        });
      }
      const snapshot = newSnapshot(state, now, {
        gtid: parent.gtid,
        flavor: parent.flavor,
        version: parent.version,
        branch_of: clone.name,
        parent: parent.id,
        owner: clone.owner ?? 'local',
        ...(options.share ? { shared: true } : {}),
        // A clone of a masked snapshot never held an original value: its branch is masked too.
        ...(parent.masked === true ? { masked: true, ...(parent.mask_version !== undefined ? { mask_version: parent.mask_version } : {}) } : {}),
        // A branch of an admins-only base holds its unmasked data: admins only too, shared or not.
        ...(parent.admin_only === true ? { admin_only: true } : {}),
      });
      const id = snapshot.id;
      const before = { ...clone };
      clone.status = 'saving';
      state.snapshots.push(snapshot);
      const prepare = prepareServerName(snapshot.volume);
      // Undone last first: the prepare server and the new volume go, the clone runs again, the entry goes.
      return {
        target: id,
        undo: [{ do: 'forget-snapshot', id }, { do: 'restore-clone', clone: before }, { do: 'remove-volume', id: snapshot.volume }, { do: 'remove-run-dir', server: prepare }, { do: 'remove-server', name: prepare }],
        reserved: { snapshot, clone: before, replica, parentAccounts, parent },
      };
    },
    async (job, { snapshot, clone, replica, parentAccounts, parent }) => {
      const state = deps.store.require();
      const parentTables = await readSnapshotAccountTables(deps.root, parent.volume, parent.id);
      const driver = deps.driver(state);
      const server = cloneServerName(clone.name);
      // A branch counts with the clones against the reserve (the clones' group, where the driver has one): its cap is set from the space now.
      await keepReserve(driver, state);
      const stopped = performance.now();
      await deps.runtime.stop(server, STOP_TIMEOUT_S);
      await deps.runtime.waitExit(server, (STOP_TIMEOUT_S + 10) * 1000);
      try {
        await driver.snapshot(clone.volume, snapshot.volume, { cloneGroup: true });
      } finally {
        await deps.runtime.startExisting(server);
        await waitUntilAnswering(deps, server, cloneConnectOptions(state, clone), options.signal);
      }
      const pauseMs = Math.round(performance.now() - stopped);
      options.signal?.throwIfAborted();
      reportStep(deps, `snapshot ${snapshot.id}: state of clone ${clone.name} saved (its server stopped ${pauseMs} ms); preparing it`);
      const data = await driver.mount(snapshot.volume);
      // What prepare found besides its time (the accounts) goes on the snapshot as it is.
      // Nothing planted in the clone survives: its parent's account tables come back, objects by
      // definers they lack go.
      const { ms: prepareMs, ...found } = await prepareSnapshot(deps, snapshot.volume, data, replica, state.settings.image, options.signal, { accounts: parentAccounts, tables: parentTables });
      await driver.seal(snapshot.volume);
      await deps.runtime.remove(prepareServerName(snapshot.volume));
      const done: Snapshot = { ...snapshot, status: 'ready', pause_ms: pauseMs, prepare_ms: prepareMs, ...found };
      // A private branch is told to its owner only; a shared one to everyone.
      const created = {
        type: 'snapshot.created',
        data: { id: done.id, branch_of: name, parent: done.parent, shared: done.shared === true, ...options.event },
        ...(done.shared || done.owner === undefined ? {} : { owner: done.owner }),
      } as const;
      await job.commit(
        (s) => {
          s.snapshots = s.snapshots.map((x) => (x.id === done.id ? done : x));
          s.clones = s.clones.map((c) => (c.name === clone.name ? { ...c, status: 'ready' } : c));
        },
        undefined,
        [created],
      );
      reportStep(deps, `snapshot ${done.id}: prepared (${prepareMs} ms) and ready`);
      deps.logger.info('branch snapshot created', { id: done.id, clone: clone.name, pause_ms: pauseMs, prepare_ms: prepareMs });
      return done;
    },
  );
}
