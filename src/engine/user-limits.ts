import { PermissionDeniedError, RateLimitedError } from '../errors.js';
import { formatDuration } from '../format.js';
import { isBranch } from './snapshot-access.js';
import type { State } from '../state/state.js';
import type { Principal } from '../model/principal.js';

/** Who may take snapshots of the replica through the engine (`serve --snapshots-by`). */
export type SnapshotsBy = 'admin' | 'all';

/**
 * What one non-admin token may have and do (`dolly serve` options; admins, and the host's CLI,
 * are exempt: they can destroy anything anyway). A count of 0 is no limit.
 */
export interface UserLimitsConfig {
  /** Clones a token may have at once (`--max-clones-per-user`). */
  maxClones: number;
  /** Branches (`clone snapshot`) a token may have; only admins destroy snapshots (`--max-branches-per-user`). */
  maxBranches: number;
  /** Snapshots of the replica a token took that still exist (`--max-snapshots-per-user`). */
  maxSnapshots: number;
  /** Who may take snapshots of the replica (`snapshot create`, `clone create --fresh`). */
  snapshotsBy: SnapshotsBy;
  /** A token takes at most one snapshot of the replica per this long (`--snapshot-interval`; 0: no limit). */
  snapshotIntervalMs: number;
}

/**
 * The defaults: each replica snapshot pauses the applier (the copy driver stops the replica) and
 * runs a prepare server, so only admins take them unless the engine says otherwise.
 */
export const DEFAULT_USER_LIMITS: UserLimitsConfig = { maxClones: 20, maxBranches: 10, maxSnapshots: 10, snapshotsBy: 'admin', snapshotIntervalMs: 60_000 };

/** The kinds a token's count limit applies to, with the option that sets each. */
type Kind = 'clone' | 'branch' | 'snapshot';
const OPTION: Record<Kind, string> = { clone: '--max-clones-per-user', branch: '--max-branches-per-user', snapshot: '--max-snapshots-per-user' };
const UNDO: Record<Kind, string> = {
  clone: 'destroy one (`dolly clone destroy NAME`)',
  branch: 'ask an admin to destroy one (`dolly snapshot destroy ID`)',
  snapshot: 'clone an existing snapshot, or ask an admin to destroy one (`dolly snapshot destroy ID`)',
};

/**
 * The engine's per-token limits, one instance for the engine's life: counts are the state's
 * (what a token has, made before or by another engine) plus what this engine is making for it
 * now, so requests at once cannot pass a limit together. `admit` checks and reserves in one
 * synchronous step; the returned release is called when the request is done, made or not.
 */
export class UserLimiter {
  private readonly making = new Map<string, number>();
  private readonly lastSnapshot = new Map<string, number>();

  constructor(
    readonly config: UserLimitsConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reserves one clone, branch or replica snapshot for this principal; throws (403, 429) when it may not have it. */
  admit(principal: Principal, kind: Kind, state: State): () => void {
    if (principal.admin) return () => undefined;
    if (kind === 'snapshot') this.checkSnapshotPolicy(principal);
    const limit = kind === 'clone' ? this.config.maxClones : kind === 'branch' ? this.config.maxBranches : this.config.maxSnapshots;
    const key = `${kind}:${principal.name}`;
    const making = this.making.get(key) ?? 0;
    if (limit > 0) {
      const have = held(state, principal.name, kind) + making;
      if (have >= limit) {
        throw new PermissionDeniedError(`token ${principal.name} has ${have} ${plural(kind, have)}, the most this engine allows per token (${OPTION[kind]} ${limit})`, {
          hint: `${UNDO[kind]}, or ask an admin to raise \`dolly serve ${OPTION[kind]}\``,
        });
      }
    }
    if (kind === 'snapshot') this.lastSnapshot.set(principal.name, this.now());
    this.making.set(key, making + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.making.get(key) ?? 1) - 1;
      if (left > 0) this.making.set(key, left);
      else this.making.delete(key);
    };
  }

  private checkSnapshotPolicy(principal: Principal): void {
    if (this.config.snapshotsBy === 'admin') {
      throw new PermissionDeniedError('taking a snapshot of the replica needs an admin token (dolly serve --snapshots-by admin)', {
        hint: 'clone the newest snapshot, ask an admin, or run the engine with `dolly serve --snapshots-by all`',
      });
    }
    const interval = this.config.snapshotIntervalMs;
    const last = this.lastSnapshot.get(principal.name);
    if (interval > 0 && last !== undefined && this.now() - last < interval) {
      const wait = Math.ceil((interval - (this.now() - last)) / 1000);
      throw new RateLimitedError(`token ${principal.name} took a snapshot ${Math.floor((this.now() - last) / 1000)} s ago: this engine allows one per ${formatDuration(interval)} per token (--snapshot-interval)`, {
        hint: `try again in ${wait} s, or clone the newest snapshot`,
      });
    }
  }
}

/** What a token has now, by the stored state: clones (not those being made), ready branches, the replica snapshots it took. */
function held(state: State, owner: string, kind: Kind): number {
  if (kind === 'clone') return state.clones.filter((c) => (c.owner ?? 'local') === owner && c.status !== 'creating').length;
  // A take with masking rules set is a pair (its base and the masked snapshot): it counts once.
  return state.snapshots.filter((s) => s.owner === owner && s.status === 'ready' && isBranch(s) === (kind === 'branch') && s.masked_from === undefined).length;
}

function plural(kind: Kind, n: number): string {
  const word = kind === 'branch' ? 'branche' : kind;
  return n === 1 ? kind : `${word}s`;
}
