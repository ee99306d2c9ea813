import type { Schedule, Snapshot } from '../state/state.js';
import type {
  CloneCreateRequest,
  CloneListItem,
  CloneProtectRequest,
  CloneResetRequest,
  CloneView,
  ReplicaStatusView,
  ScheduleSetRequest,
  SnapshotList,
  StatusView,
  TokenCreated,
  TokenCreateRequest,
} from './schemas.js';
import type { Principal, TokenInfo } from '../server/tokens.js';

/**
 * What a user can ask of dolly, for one principal. Two implementations with the same behaviour:
 * `localApi` runs the engine in this process (the host's CLI, and `dolly serve` behind its HTTP
 * API), `remoteApi` asks a running engine over HTTP (the CLI with DOLLY_URL). The conformance
 * suite in test/it/api.it.test.ts runs against both.
 *
 * Ownership: a non-admin principal sees, changes and destroys only the clones it made; another's
 * clone is "not found", exactly as if it did not exist.
 */
export interface DollyApi {
  whoami(): Promise<Principal>;
  status(): Promise<StatusView>;
  replicaStatus(): Promise<ReplicaStatusView>;
  /** Pauses the applier, snapshots, resumes, prepares. */
  snapshotCreate(signal?: AbortSignal): Promise<Snapshot>;
  snapshotList(): Promise<SnapshotList>;
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
  /** Saves a clone's current state as a prepared snapshot (a branch); its server stops for an instant. */
  cloneSnapshot(name: string, signal?: AbortSignal): Promise<Snapshot>;
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

/** Limits the engine puts on requests (the host's CLI has none). */
export interface LifecyclePolicy {
  /** A clone made without --ttl expires after this long; undefined: it does not expire. */
  defaultTtlMs?: number;
  /** The longest --ttl a request may ask for. */
  maxTtlMs?: number;
  /** The longest `clone protect --for`. */
  maxProtectMs?: number;
}
