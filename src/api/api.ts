import type { Schedule, Snapshot } from '../state/state.js';
import type {
  CloneCreateRequest,
  CloneListItem,
  CloneProtectRequest,
  CloneResetRequest,
  CloneSnapshotRequest,
  CloneView,
  MaskCheck,
  MaskRulesView,
  MaskSetRequest,
  ReplicaStatusView,
  ScheduleSetRequest,
  SnapshotList,
  StatusView,
  TokenCreated,
  TokenCreateRequest,
} from '../model/wire.js';
import type { Principal, TokenInfo } from '../model/principal.js';

/**
 * What a user can ask of dolly, for one principal. Two implementations with the same behaviour:
 * `localApi` runs the engine in this process (the host's CLI, and `dolly serve` behind its HTTP
 * API), `remoteApi` asks a running engine over HTTP (the CLI with DOLLY_URL). The conformance
 * suite in test/it/api.it.test.ts runs against both.
 *
 * Ownership: a non-admin principal sees, changes and destroys only the clones it made; another's
 * clone is "not found", exactly as if it did not exist. The same holds for another's private
 * branch (a snapshot of a clone not yet shared). A clone made without a snapshot id is made from
 * the newest snapshot of the replica, never from a branch.
 */
export interface DollyApi {
  whoami(): Promise<Principal>;
  status(): Promise<StatusView>;
  replicaStatus(): Promise<ReplicaStatusView>;
  /** Pauses the applier, snapshots, resumes, prepares. */
  snapshotCreate(signal?: AbortSignal): Promise<Snapshot>;
  /** Snapshots the principal may see: the replica's, shared branches, its own branches (admins: all). */
  snapshotList(): Promise<SnapshotList>;
  /** Makes a branch visible to and clonable by everyone (its owner or an admin; not a replica snapshot). */
  snapshotShare(id: string): Promise<Snapshot>;
  /** Admins only; refused while a clone needs it. */
  snapshotDestroy(id: string): Promise<void>;
  /** Returns once a real query answered in the clone. */
  cloneCreate(request: CloneCreateRequest, signal?: AbortSignal): Promise<CloneView>;
  cloneList(): Promise<CloneListItem[]>;
  cloneGet(name: string): Promise<CloneListItem>;
  cloneReset(name: string, request: CloneResetRequest, signal?: AbortSignal): Promise<CloneView>;
  cloneDestroy(name: string): Promise<void>;
  /** Keeps a clone from being destroyed by its expiry for a while (capped by the engine). */
  cloneProtect(name: string, request: CloneProtectRequest): Promise<CloneView>;
  /**
   * Saves a clone's current state as a prepared snapshot (a branch, owned by the clone's owner);
   * its server stops for an instant. Private to its owner and admins unless `share`.
   */
  cloneSnapshot(name: string, request?: CloneSnapshotRequest, signal?: AbortSignal): Promise<Snapshot>;
  /** The masking rules in force, or null (masking off). */
  maskGet(): Promise<MaskRulesView>;
  /** Admins only: checks the rules against the replica's schema, then stores them as the next version. */
  maskSet(request: MaskSetRequest): Promise<MaskRulesView>;
  /** Admins only: masking off from the next snapshot. */
  maskClear(): Promise<void>;
  /** Admins only: the replica's columns that look personal and have no rule. */
  maskCheck(): Promise<MaskCheck>;
  /** Admins only: masks a snapshot (a masked one: its base again) with the rules in force, into a new snapshot. */
  snapshotMask(id: string, signal?: AbortSignal): Promise<Snapshot>;
  /** The engine's snapshot schedule, or null. */
  scheduleGet(): Promise<Schedule | null>;
  /** Admins only. */
  scheduleSet(request: ScheduleSetRequest): Promise<Schedule | null>;
  /** Admins only. */
  scheduleClear(): Promise<void>;
  /** Admins only. */
  tokenCreate(request: TokenCreateRequest): Promise<TokenCreated>;
  tokenList(): Promise<TokenInfo[]>;
  tokenRevoke(name: string): Promise<void>;
}

/** What a non-admin token may ask of a clone (admins and the host's CLI: anything). */
export interface ClonePolicy {
  /** Non-admin tokens may ask for `admin` clones (`serve --allow-admin-clones`). */
  allowAdminClones?: boolean;
  /**
   * The production accounts non-admin tokens may ask for with `--user` (`serve --clone-users`);
   * undefined: any account without global privileges in the snapshot used.
   */
  cloneUsers?: readonly string[];
}

/** Limits the engine puts on requests (the host's CLI has none). */
export interface LifecyclePolicy extends ClonePolicy {
  /** A clone made without --ttl expires after this long; undefined: it does not expire. */
  defaultTtlMs?: number;
  /** The longest --ttl a request may ask for. */
  maxTtlMs?: number;
  /** The longest `clone protect --for`. */
  maxProtectMs?: number;
}
