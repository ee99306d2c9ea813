import { z } from 'zod';

/**
 * A snapshot as stored (src/state/state.ts keeps it in the store) and as shown (`snapshot list`,
 * the HTTP API): one shape for both, owned by the wire model so that the store, the engine, the
 * API and the web page agree on it. Statuses as in src/state/state.ts.
 */
export const snapshotStatusSchema = z.enum(['creating', 'ready', 'deleting']);

/** A prepared, read-only snapshot of the replica. Times are RFC 3339. */
export const snapshotSchema = z.object({
  id: z.string(),
  status: snapshotStatusSchema,
  volume: z.string(),
  /** The replica's GTID position when the snapshot was taken. */
  gtid: z.string(),
  /** Source time of the last event the replica had applied (what "fresh" means). */
  data_state_at: z.string(),
  created_at: z.string(),
  /** How far the replica was behind its source when its applier was paused (seconds: taken time less data_state_at); absent for branches and older snapshots. */
  lag_seconds: z.number().optional(),
  /** How long the replica's applier was paused, in milliseconds. */
  pause_ms: z.number(),
  prepare_ms: z.number(),
  flavor: z.enum(['mariadb', 'mysql']),
  version: z.string(),
  /** A branch (`dolly clone snapshot`): the clone whose state it saved, and that clone's snapshot. */
  branch_of: z.string().optional(),
  parent: z.string().optional(),
  /** Taken by the engine's schedule (only these are pruned by its retention). */
  scheduled: z.boolean().optional(),
  /** The source's accounts in it (`user@host`), locked with new random passwords: `clone create --user` picks one. */
  accounts: z.array(z.string()).optional(),
  /**
   * Those of `accounts` (`user@host`) that hold a global privilege beyond USAGE (directly or by a
   * role): `clone create --user` of one needs an admin token unless the engine allows it.
   */
  privileged_accounts: z.array(z.string()).optional(),
  /** Those of `accounts` that must connect over TLS (`REQUIRE SSL`): `clone create --user` says so. */
  tls_accounts: z.array(z.string()).optional(),
  /** Who made it: a branch's token (`local`: the host's CLI); a replica snapshot taken through the engine, its token (none by the host's CLI). */
  owner: z.string().optional(),
  /** A branch others may see and clone (`snapshot share`); a branch is private to its owner and admins until then. */
  shared: z.boolean().optional(),
  /**
   * Masked (`dolly mask set`): its personal data went through the rules of `mask_version` once, in
   * its own server, before anything could clone it. A branch of a masked snapshot is masked too.
   */
  masked: z.boolean().optional(),
  mask_version: z.number().int().optional(),
  /**
   * Taken while masking rules were set, and not masked (the base a masked snapshot is made from,
   * or one whose masking failed): admins only, whatever the rules are later.
   */
  admin_only: z.boolean().optional(),
  /** The unmasked snapshot it was masked from (admins only: the base for re-masking). */
  masked_from: z.string().optional(),
  /** How long masking took, and the data and index bytes and rows of the tables it masked. */
  mask_ms: z.number().optional(),
  mask_bytes: z.number().optional(),
  mask_rows: z.number().optional(),
  /**
   * Where the replica's own binlog stood when it was taken (point-in-time clones are on): replaying
   * from here gives any later point. Absent: it cannot be the base of a point.
   */
  binlog: z.object({ file: z.string(), pos: z.number().int() }).optional(),
  /** A base point (src/engine/base-point.ts): the replica's volume as it was in the pause, never prepared, never cloned. */
  raw: z.boolean().optional(),
  /**
   * A point snapshot (`clone create --at`): the base it was replayed from up to the source's time
   * `at` and GTID `gtid` (its own `gtid`), how many transactions that was and how long it took.
   * Never a default, never a base; it goes with its last clone.
   */
  point: z.object({ at: z.string(), base: z.string(), transactions: z.number().int(), replay_ms: z.number() }).optional(),
});
export type Snapshot = z.infer<typeof snapshotSchema>;
