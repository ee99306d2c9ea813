import type { State } from '../state/state.js';
import { removeRunDir, type EngineDeps } from './context.js';
import { cloneView, findClone, findSnapshot, type CloneView } from './clone-create.js';
import { shortId, validateName } from './names.js';
import { cloneConnectOptions, cloneServerName, cloneSpec, startAndWait } from './servers.js';

export interface CloneListItem extends CloneView {
  state: 'running' | 'stopped' | 'missing';
  exclusive_bytes: number | null;
}

/** `dolly clone list`: every clone with its server state and the disk it alone uses. */
export async function listClones(deps: EngineDeps): Promise<CloneListItem[]> {
  const state = await deps.store.require();
  const driver = deps.driver(state);
  const servers = new Map((await deps.runtime.list()).map((s) => [s.name, s.state]));
  const items: CloneListItem[] = [];
  for (const clone of state.clones) {
    const exclusive = await driver.exclusiveBytes(clone.volume).catch(() => null);
    items.push({ ...cloneView(state, clone), state: servers.get(cloneServerName(clone.name)) ?? 'missing', exclusive_bytes: exclusive });
  }
  return items;
}

/**
 * `dolly clone reset`: back to its snapshot (or another), same name, port and credentials. The new
 * volume is made first; if the new server fails, the old one is started again on the old volume.
 */
export async function resetClone(name: string, options: { snapshot?: string; signal?: AbortSignal }, deps: EngineDeps): Promise<CloneView> {
  validateName(name);
  const started = Date.now();
  return deps.store.transaction(async () => {
    const state = await deps.store.require();
    const clone = findClone(state, name);
    const snapshot = findSnapshot(state, options.snapshot ?? clone.snapshot);
    const driver = deps.driver(state);
    const oldVolume = clone.volume;
    const next = { ...clone, snapshot: snapshot.id, volume: `clone-${name}-${shortId()}` };
    const data = await driver.clone(snapshot.volume, next.volume);
    await deps.runtime.remove(cloneServerName(name));
    try {
      await startAndWait(deps, await cloneSpec(deps, state, next, data, snapshot.flavor), cloneConnectOptions(state, next), options.signal);
    } catch (error) {
      await deps.runtime.remove(cloneServerName(name)).catch(() => undefined);
      await driver.remove(next.volume).catch(() => undefined);
      const oldSnapshot = state.snapshots.find((s) => s.id === clone.snapshot) ?? snapshot;
      await startAndWait(deps, await cloneSpec(deps, state, clone, await driver.mount(oldVolume), oldSnapshot.flavor), cloneConnectOptions(state, clone)).catch(() => undefined);
      throw error;
    }
    Object.assign(clone, next);
    await deps.store.write(state);
    await driver.remove(oldVolume).catch((error: unknown) => deps.logger.warn('could not remove the old volume', { volume: oldVolume, error: String(error) }));
    return { ...cloneView(state, clone), ready_ms: Date.now() - started };
  });
}

/** `dolly clone destroy`: server, volume, run dir and state entry. */
export async function destroyClone(name: string, deps: EngineDeps): Promise<void> {
  validateName(name);
  await deps.store.transaction(async () => {
    const state = await deps.store.require();
    const clone = findClone(state, name);
    await removeCloneResources(deps, state, clone.name, clone.volume);
    state.clones = state.clones.filter((c) => c.name !== name);
    await deps.store.write(state);
  });
}

export async function removeCloneResources(deps: EngineDeps, state: State, name: string, volume: string): Promise<void> {
  await deps.runtime.remove(cloneServerName(name));
  const driver = deps.driver(state);
  if (await driver.exists(volume)) await driver.remove(volume);
  await removeRunDir(deps.root, cloneServerName(name));
}
