import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from '../errors.js';
import type { EngineDeps } from '../engine/context.js';
import { durationArg, formatDuration } from '../format.js';
import { LOCAL_PRINCIPAL, type Principal } from '../model/principal.js';
import { createToken, listTokens, revokeToken } from '../engine/tokens.js';
import { maskingOn, maySeeSnapshot, type SnapshotGate } from '../engine/snapshot-access.js';
import type { Clone } from '../state/state.js';
import type { UserLimiter } from '../engine/user-limits.js';
import type { DollyApi, LifecyclePolicy } from './api.js';
import type { CloneCreateRequest, CloneResetRequest, CloneView } from '../model/wire.js';
import { checkAdminClone, checkClonePolicy } from './clone-policy.js';
import { checkedBody } from './route-schemas.js';
import { routes } from './routes.js';

export interface LocalApiOptions {
  /** Who asks (default: the host's CLI, an admin). */
  principal?: Principal;
  /** The engine's limits (default: none). */
  policy?: LifecyclePolicy;
  /** Called once a change is made (its events are in the root's event log by then, committed with it). */
  changed?: () => void;
  /** The engine's per-token limits (clones, branches, snapshots); none for the host's CLI. */
  limits?: UserLimiter;
}

/**
 * The API run in this process, for one principal: the host's CLI (`LOCAL_PRINCIPAL`, no limits)
 * and `dolly serve` (one per request, with the engine's lifecycle policy and events). Request
 * bodies are checked with the route table's schemas (src/api/routes.ts), as the engine server
 * checks them: what is refused over HTTP is refused here, with the same words.
 */
export function localApi(deps: EngineDeps, options: LocalApiOptions = {}): DollyApi {
  const principal = options.principal ?? LOCAL_PRINCIPAL;
  const policy = options.policy ?? {};
  const changed = (): void => options.changed?.();
  /** What the events the engine records with a change say about who asked. */
  const by = { by: principal.name };
  /** The clone if this principal may see it; another's clone is not found, as if it did not exist. */
  const own = (name: string): Clone => {
    const clone = deps.store.require().clones.find((c) => c.name === name);
    if (!clone || !mayUse(principal, clone)) throw new NotFoundError(`no clone named ${JSON.stringify(name)}`, { hint: 'list yours with `dolly clone list`' });
    return clone;
  };
  const adminOnly = (what: string): void => {
    if (!principal.admin) throw new PermissionDeniedError(`${what} needs an admin token`, { hint: 'ask an admin of this dolly engine' });
  };
  /** What this principal may see and have of a snapshot, asked in the transaction that picks it. */
  const gate: SnapshotGate = {
    visible: (snapshot) => maySeeSnapshot(principal, snapshot, maskingOn(deps.store.require())),
    admit: (snapshot, clone) => checkClonePolicy(principal, policy, snapshot, clone),
  };
  /** Reserves what the engine's per-token limits count (nothing for the host's CLI). */
  const admit = (kind: 'clone' | 'branch' | 'snapshot'): (() => void) => options.limits?.admit(principal, kind, deps.store.require()) ?? (() => undefined);
  /** What a clone request gives the engine whichever way the clone is made: its name, privileges, masking, expiry and owner. */
  const cloneFields = (request: CloneCreateRequest, ttlMs: number | undefined): { name?: string; admin?: boolean; user?: string; unmasked?: boolean; expiresAt?: string; owner: string } => ({
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(request.admin ? { admin: true } : {}),
    ...(request.user !== undefined ? { user: request.user } : {}),
    ...(request.unmasked ? { unmasked: true } : {}),
    ...(ttlMs !== undefined && ttlMs > 0 ? { expiresAt: new Date(deps.now().getTime() + ttlMs).toISOString() } : {}),
    owner: principal.name,
  });
  /** The point a request names (`at` or `at_gtid`) and how long to wait for the replica to apply it. */
  const pointFields = (request: CloneCreateRequest | CloneResetRequest): { at?: string; atGtid?: string; waitMs?: number } => ({
    ...(request.at !== undefined ? { at: request.at } : {}),
    ...(request.at_gtid !== undefined ? { atGtid: request.at_gtid } : {}),
    ...(request.wait !== undefined ? { waitMs: durationArg(request.wait, '--wait') } : {}),
  });
  /** A point picks its own base (never a named snapshot, nor a fresh one: `other` names that), and `wait` needs a point. */
  const checkPoint = (request: CloneCreateRequest | CloneResetRequest, other: boolean, otherText: string): void => {
    if (request.snapshot !== undefined || other) throw new InvalidArgumentError(`--at${request.at_gtid !== undefined ? '-gtid' : ''} picks its own base: it cannot be combined with --snapshot${otherText}`, { hint: 'drop one of them' });
    if (request.at === undefined && request.at_gtid === undefined) throw new InvalidArgumentError('--wait applies only to --at or --at-gtid', { hint: 'add --at TIME, or drop --wait' });
  };
  /** A clone as asked, once the limits let it be made (`--fresh` takes its snapshot first). */
  const createOne = async (request: CloneCreateRequest, ttlMs: number | undefined, signal: AbortSignal | undefined): Promise<CloneView> => {
    if (request.at !== undefined || request.at_gtid !== undefined || request.wait !== undefined) return createAt(request, ttlMs, signal);
    let snapshot = request.snapshot;
    let fresh: CloneView['fresh'];
    if (request.fresh) {
      if (snapshot !== undefined) throw new InvalidArgumentError('--fresh takes a new snapshot: it cannot be combined with --snapshot', { hint: 'drop one of them' });
      const started = performance.now();
      const made = await api.snapshotCreate(signal);
      snapshot = made.id;
      fresh = { snapshot: made.id, waited_ms: Math.round(performance.now() - started), lag_seconds: made.lag_seconds ?? null };
    }
    const clone = await (await engine.create()).createClone(
      {
        ...(snapshot !== undefined ? { snapshot } : {}),
        ...cloneFields(request, ttlMs),
        gate,
        ...(signal ? { signal } : {}),
      },
      deps,
    );
    changed();
    return fresh ? { ...clone, fresh } : clone;
  };
  /** A point-in-time clone (`at`, `at_gtid`): never of a named snapshot, never fresh. */
  const createAt = async (request: CloneCreateRequest, ttlMs: number | undefined, signal: AbortSignal | undefined): Promise<CloneView> => {
    checkPoint(request, request.fresh === true, ' or --fresh');
    if (request.unmasked) adminOnly('an unmasked point-in-time clone');
    if (request.user !== undefined && !principal.admin) adminOnly('a point-in-time clone as a production account');
    const clone = await (await import('../engine/clone-at.js')).createCloneAt(
      {
        ...pointFields(request),
        ...cloneFields(request, ttlMs),
        ...(signal ? { signal } : {}),
        event: by,
      },
      deps,
    );
    changed();
    return clone;
  };
  /** A clone reset onto a point in time (`at`, `at_gtid`): never onto a named snapshot. */
  const resetAt = async (name: string, request: CloneResetRequest, signal: AbortSignal | undefined): Promise<CloneView> => {
    checkPoint(request, false, '');
    if (deps.store.require().clones.find((c) => c.name === name)?.production_account && !principal.admin) adminOnly('a point-in-time reset of a clone that logs in as a production account');
    const clone = await (await import('../engine/clone-at.js')).resetCloneAt(name, { ...pointFields(request), ...(request.unmasked ? { unmasked: true } : {}), ...(signal ? { signal } : {}), event: by }, deps);
    changed();
    return clone;
  };
  const engine = {
    create: () => import('../engine/clone-create.js'),
    manage: () => import('../engine/clone-manage.js'),
    snapshots: () => import('../engine/snapshot-manage.js'),
    mask: () => import('../engine/mask-manage.js'),
  };
  const api: DollyApi = {
    whoami: async () => ({ ...principal }),
    status: async () => (await import('../engine/status.js')).getStatus(deps),
    replicaStatus: async () => (await import('../engine/replica-status.js')).getReplicaStatus(deps, { applyRate: true }),
    snapshotCreate: async (signal) => {
      const release = admit('snapshot');
      try {
        // A token's snapshot records who took it (what --max-snapshots-per-user counts); the CLI's does not.
        const owner = principal === LOCAL_PRINCIPAL ? {} : { owner: principal.name };
        const snapshot = await (await import('../engine/snapshot-create.js')).createSnapshot(deps, { ...(signal ? { signal } : {}), ...owner, event: by });
        changed();
        return snapshot;
      } finally {
        release();
      }
    },
    snapshotList: async () => {
      const list = await (await engine.snapshots()).listSnapshots(deps, principal);
      if (principal.admin) return list;
      const mine = new Set(deps.store.require().clones.filter((c) => mayUse(principal, c)).map((c) => c.name));
      return { ...list, snapshots: list.snapshots.map((s) => ({ ...s, clones: s.clones.filter((c) => mine.has(c)) })) };
    },
    snapshotShare: async (id) => {
      const snapshot = (await engine.snapshots()).shareSnapshot(id, principal, deps, { event: by });
      changed();
      return snapshot;
    },
    snapshotDestroy: async (id) => {
      adminOnly('destroying a snapshot');
      await (await engine.snapshots()).destroySnapshot(id, deps, { event: by }).finally(changed);
    },
    cloneCreate: async (request, signal) => {
      request = checkedBody(routes.cloneCreate, request, cliField);
      const ttlMs = request.ttl === undefined ? policy.defaultTtlMs : checkedDuration(request.ttl, policy.maxTtlMs, '--ttl');
      // Refused before a --fresh snapshot is taken; the rest is checked against the snapshot chosen.
      if (request.admin) checkAdminClone(principal, policy);
      if (request.unmasked) adminOnly('cloning an unmasked snapshot');
      const release = admit('clone');
      try {
        return await createOne(request, ttlMs, signal);
      } finally {
        release();
      }
    },
    cloneList: async () => (await engine.manage()).listClones(deps, (c) => mayUse(principal, c)),
    cloneGet: async (name) => {
      own(name);
      const [found] = await (await engine.manage()).listClones(deps, (c) => c.name === name);
      if (!found) throw new NotFoundError(`no clone named ${JSON.stringify(name)}`, { hint: 'list yours with `dolly clone list`' });
      return found;
    },
    cloneReset: async (name, request, signal) => {
      request = checkedBody(routes.cloneReset, request, cliField);
      own(name);
      if (request.unmasked) adminOnly('resetting onto an unmasked snapshot');
      if (request.at !== undefined || request.at_gtid !== undefined || request.wait !== undefined) return resetAt(name, request, signal);
      const clone = await (await engine.manage()).resetClone(name, { ...(request.snapshot !== undefined ? { snapshot: request.snapshot } : {}), ...(request.unmasked ? { unmasked: true } : {}), gate, ...(signal ? { signal } : {}) }, deps);
      changed();
      return clone;
    },
    cloneDestroy: async (name) => {
      own(name);
      await (await engine.manage()).destroyClone(name, deps, { event: { reason: 'asked', ...by } }).finally(changed);
    },
    cloneSnapshot: async (name, request = {}, signal) => {
      request = checkedBody(routes.cloneSnapshot, request, cliField);
      own(name);
      const release = admit('branch');
      const snapshot = await (await import('../engine/clone-snapshot.js')).snapshotClone(name, deps, { ...(request.share ? { share: true } : {}), ...(signal ? { signal } : {}), event: by }).finally(release);
      changed();
      return snapshot;
    },
    snapshotMask: async (id, signal) => {
      adminOnly('masking a snapshot');
      const snapshot = await (await import('../engine/mask-snapshot.js')).maskSnapshot(deps, id, { ...(signal ? { signal } : {}), event: by });
      changed();
      return snapshot;
    },
    maskGet: async () => (await engine.mask()).maskView(deps),
    maskSet: async (request) => {
      request = checkedBody(routes.maskSet, request, cliField);
      adminOnly('setting the masking rules');
      return (await engine.mask()).setMask(deps, request.rules, principal.name);
    },
    maskClear: async () => {
      adminOnly('clearing the masking rules');
      (await engine.mask()).clearMask(deps, principal.name);
    },
    maskCheck: async () => {
      adminOnly('checking the replica for personal data');
      return (await engine.mask()).checkMask(deps);
    },
    scheduleGet: async () => deps.store.require().schedule ?? null,
    scheduleSet: async (request) => {
      request = checkedBody(routes.scheduleSet, request, cliField);
      adminOnly('setting the schedule');
      const maxAge = request.max_age === undefined ? undefined : checkedDuration(request.max_age, undefined, '--max-age');
      return (await import('../engine/retention.js')).setSchedule(deps, { snapshot: request.snapshot, keep: request.keep, ...(maxAge !== undefined ? { max_age_ms: maxAge } : {}) });
    },
    scheduleClear: async () => {
      adminOnly('clearing the schedule');
      (await import('../engine/retention.js')).setSchedule(deps, undefined);
    },
    cloneProtect: async (name, request) => {
      request = checkedBody(routes.cloneProtect, request, cliField);
      own(name);
      const ms = checkedDuration(request.for, policy.maxProtectMs, '--for');
      return (await engine.manage()).protectClone(name, ms === 0 ? undefined : new Date(deps.now().getTime() + ms).toISOString(), deps);
    },
    tokenCreate: async (request) => {
      request = checkedBody(routes.tokenCreate, request, tokenField);
      adminOnly('creating a token');
      const admin = request.admin === true;
      return { name: request.name, admin, token: createToken(deps.store, request.name, admin, deps.now()) };
    },
    tokenList: async () => {
      adminOnly('listing tokens');
      return listTokens(deps.store);
    },
    tokenRevoke: async (name) => {
      adminOnly('revoking a token');
      revokeToken(deps.store, name, deps.now());
    },
  };
  return api;
}

/** Admins see every clone; a user only the clones it made. */
export function mayUse(principal: Principal, clone: Clone): boolean {
  return principal.admin || (clone.owner ?? LOCAL_PRINCIPAL.name) === principal.name;
}

/** A request's field as the CLI names it, for the error of a request that does not fit its schema. */
function cliField(key: string): string {
  return key === 'name' ? 'clone name' : `--${key.replaceAll('_', '-')}`;
}
function tokenField(key: string): string {
  return key === 'name' ? 'token name' : `--${key.replaceAll('_', '-')}`;
}

function checkedDuration(text: string, max: number | undefined, flag: string): number {
  const ms = durationArg(text, flag);
  if (max !== undefined && ms > max) throw new InvalidArgumentError(`${flag} ${text} is longer than this engine allows (${formatDuration(max)})`, { hint: `ask for at most ${formatDuration(max)}` });
  return ms;
}
