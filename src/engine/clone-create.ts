import { AlreadyExistsError, NotFoundError } from '../errors.js';
import type { Clone, Snapshot, State } from '../state/state.js';
import { removeRunDir, type EngineDeps } from './context.js';
import { generateName, generatePassword, generateServerId, shortId, validateName } from './names.js';
import { pickPort } from './ports.js';
import { CLONE_USER, cloneConnectOptions, cloneServerName, cloneSpec, startAndWait } from './servers.js';

export interface CloneCreateOptions {
  snapshot?: string;
  name?: string;
  /** Give the clone's user every privilege (FILE, SUPER, plugins) inside its own server. */
  admin?: boolean;
  /** Aborting stops the wait and removes what was made. */
  signal?: AbortSignal;
}

/** What users get for a clone: where it is and how to log in. */
export interface CloneView {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  snapshot: string;
  dsn: string;
  created_at: string;
  ready_ms?: number;
}

/** The snapshot a clone is made from: the one named, or the newest. */
export function findSnapshot(state: State, id: string | undefined): Snapshot {
  if (id === undefined) {
    const newest = state.snapshots.at(-1);
    if (!newest) throw new NotFoundError('there is no snapshot yet', { hint: 'run `dolly snapshot create`' });
    return newest;
  }
  const found = state.snapshots.find((s) => s.id === id);
  if (!found) throw new NotFoundError(`no snapshot ${JSON.stringify(id)}`, { hint: 'list them with `dolly snapshot list`' });
  return found;
}

export function findClone(state: State, name: string): Clone {
  const clone = state.clones.find((c) => c.name === name);
  if (!clone) throw new NotFoundError(`no clone named ${JSON.stringify(name)}`, { hint: 'list them with `dolly clone list`' });
  return clone;
}

export function cloneView(state: State, clone: Clone): CloneView {
  const { host } = cloneConnectOptions(state, clone);
  const h = host ?? '127.0.0.1';
  return {
    name: clone.name,
    host: h,
    port: clone.port,
    user: clone.user,
    password: clone.password,
    snapshot: clone.snapshot,
    dsn: `mysql://${clone.user}:${encodeURIComponent(clone.password)}@${h}:${clone.port}/`,
    created_at: clone.created_at,
  };
}

/**
 * `dolly clone create`: a writable child of a snapshot and a server on it, on a free port, with
 * its own account. Returns once a real query answered. On failure nothing is left behind.
 */
export async function createClone(options: CloneCreateOptions, deps: EngineDeps): Promise<CloneView> {
  const started = Date.now();
  return deps.store.transaction(async () => {
    const state = await deps.store.require();
    const snapshot = findSnapshot(state, options.snapshot);
    const name = options.name === undefined ? uniqueName(state) : validateName(options.name);
    if (state.clones.some((c) => c.name === name)) {
      throw new AlreadyExistsError(`a clone named ${JSON.stringify(name)} exists`, { hint: 'choose another --name, or `dolly clone reset` it' });
    }
    const port = await pickPort(state.settings.port_min, state.settings.port_max, new Set(state.clones.map((c) => c.port)), state.settings.bind_address, deps.portFree);
    const clone: Clone = {
      name,
      snapshot: snapshot.id,
      volume: `clone-${name}-${shortId()}`,
      port,
      user: CLONE_USER,
      password: generatePassword(),
      server_id: generateServerId(),
      ...(options.admin ? { admin: true } : {}),
      created_at: deps.now().toISOString(),
    };
    const driver = deps.driver(state);
    const data = await driver.clone(snapshot.volume, clone.volume);
    try {
      const spec = await cloneSpec(deps, state, clone, data, snapshot.flavor);
      await startAndWait(deps, spec, cloneConnectOptions(state, clone), options.signal);
      state.clones.push(clone);
      await deps.store.write(state);
    } catch (error) {
      await deps.runtime.remove(cloneServerName(name)).catch(() => undefined);
      await driver.remove(clone.volume).catch(() => undefined);
      await removeRunDir(deps.root, cloneServerName(name)).catch(() => undefined);
      throw error;
    }
    return { ...cloneView(state, clone), ready_ms: Date.now() - started };
  });
}

function uniqueName(state: State): string {
  for (;;) {
    const name = generateName();
    if (!state.clones.some((c) => c.name === name)) return name;
  }
}
