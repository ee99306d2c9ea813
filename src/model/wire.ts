import { z } from 'zod';
import { snapshotSchema } from './snapshot.js';

/**
 * The wire model: the shapes dolly shows (the CLI's --json output and the HTTP API's bodies),
 * apart from the shapes it stores (src/state/state.ts; a snapshot is both: src/model/snapshot.ts).
 * Below the engine, the API, the server and the web page (it imports only zod and the model):
 * the route table (src/api/routes.ts) names these for every request and answer, the engine server
 * and the local API validate requests with them, and /openapi.json is generated from them.
 */

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, 'a name is 1-48 lower-case letters, digits, "-" or "_"');
/** A duration such as `90s`, `30m`, `8h`, `7d`, `1h30m`. */
const duration = z.string().regex(/^(\d+[smhdw])+$/, 'a duration is like 90s, 30m, 8h, 7d or 1h30m');

export const errorBodySchema = z.object({
  error: z.object({ category: z.string(), message: z.string(), hint: z.string().nullable() }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** How to reach a clone and log in. */
export const cloneViewSchema = z.object({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  user: z.string(),
  password: z.string(),
  snapshot: z.string(),
  /** `mysql://user:password@host:port/?ssl-mode=VERIFY_CA`: clones serve TLS with a certificate of the root's CA. */
  dsn: z.string(),
  /** What a client verifies the clone with: `ca` is the CA certificate (PEM) also served at `/v1/ca.pem`. */
  tls: z.object({ mode: z.literal('VERIFY_CA'), ca: z.string(), required: z.boolean().optional() }).optional(),
  created_at: z.string(),
  owner: z.string(),
  expires_at: z.string().nullable(),
  protected_until: z.string().nullable(),
  /** Set by create and reset: from the request to the first answered query. */
  ready_ms: z.number().optional(),
  /** `clone create --fresh`: the snapshot it took first, how long that took, and how far behind the source its data was. */
  fresh: z.object({ snapshot: z.string(), waited_ms: z.number(), lag_seconds: z.number().nullable() }).optional(),
  /** A point-in-time clone (`at`, `at_gtid`): the point it holds, the base it was replayed from, the transactions replayed. */
  point: z.object({ at: z.string(), gtid: z.string(), base: z.string(), transactions: z.number(), replay_ms: z.number() }).optional(),
});
export type CloneView = z.infer<typeof cloneViewSchema>;

export const cloneListItemSchema = cloneViewSchema.extend({
  /** `ready`, or what a command is doing to it. */
  status: z.enum(['creating', 'ready', 'resetting', 'saving', 'deleting']),
  state: z.enum(['running', 'stopped', 'missing']),
  exclusive_bytes: z.number().nullable(),
});
export type CloneListItem = z.infer<typeof cloneListItemSchema>;

export const cloneCreateSchema = z.strictObject({
  snapshot: z.string().min(1).optional().describe('snapshot id (default: the newest snapshot of the replica, never a branch)'),
  name: name.optional().describe('clone name (default: generated)'),
  admin: z.boolean().optional().describe("every privilege in the clone's own server (non-admin tokens: only with `serve --allow-admin-clones`)"),
  user: z.string().min(1).max(80).optional().describe("log in as this production account (NAME@'%') with a new password, keeping its grants (non-admin tokens: see `serve --clone-users`)"),
  ttl: duration.optional().describe('destroyed by the engine after this long (default: the engine\'s --default-ttl)'),
  fresh: z.boolean().optional().describe('take a snapshot now and clone it (data seconds old)'),
  unmasked: z.boolean().optional().describe('with masking rules set: clone an unmasked snapshot (admins only)'),
  at: z.string().min(1).max(40).optional().describe('point-in-time: the source as it was at this time (ISO-8601 with Z or an offset, or -90s, -2h)'),
  at_gtid: z.string().min(1).max(80).optional().describe('point-in-time: the source as it was right after this GTID'),
  wait: duration.optional().describe('with at/at_gtid: how long to wait for the replica to apply the point (default 30s, at most 10m)'),
});
export type CloneCreateRequest = z.infer<typeof cloneCreateSchema>;

export const cloneResetSchema = z.strictObject({
  snapshot: z.string().min(1).optional().describe('reset onto this snapshot instead of its own'),
  unmasked: z.boolean().optional().describe('with masking rules set: onto an unmasked snapshot (admins only)'),
  at: z.string().min(1).max(40).optional().describe('point-in-time: onto the source as it was at this time (ISO-8601 with Z or an offset, or -90s, -2h)'),
  at_gtid: z.string().min(1).max(80).optional().describe('point-in-time: onto the source as it was right after this GTID'),
  wait: duration.optional().describe('with at/at_gtid: how long to wait for the replica to apply the point (default 30s, at most 10m)'),
});
export type CloneResetRequest = z.infer<typeof cloneResetSchema>;

export const cloneSnapshotSchema = z.strictObject({ share: z.boolean().optional().describe('every user may see and clone the branch (default: only its owner and admins, until `snapshot share`)') });
export type CloneSnapshotRequest = z.infer<typeof cloneSnapshotSchema>;

export const cloneProtectSchema = z.strictObject({ for: duration.describe('not destroyed by its expiry for this long from now (0s: unprotect)') });
export type CloneProtectRequest = z.infer<typeof cloneProtectSchema>;

export const snapshotListItemSchema = snapshotSchema.extend({
  clones: z.array(z.string()),
  exclusive_bytes: z.number().nullable(),
  /** Past the schedule's retention: kept only while clones use it. */
  past_retention: z.boolean(),
});
export type SnapshotListItem = z.infer<typeof snapshotListItemSchema>;

export const poolSpaceSchema = z.object({ totalBytes: z.number(), freeBytes: z.number() });
export const snapshotListSchema = z.object({ snapshots: z.array(snapshotListItemSchema), pool: poolSpaceSchema });
export type SnapshotList = z.infer<typeof snapshotListSchema>;
export const snapshotViewSchema = snapshotSchema;

/** Point-in-time clones (`replica pitr`): the window, the oldest point available, the bases, the binlog's space. */
export const pitrViewSchema = z.object({
  window_s: z.number(),
  base_interval_s: z.number(),
  since: z.string(),
  /** The oldest point a clone can be made at (the oldest base whose binlog is kept); null: none yet (take a snapshot). */
  oldest_point: z.object({ at: z.string(), gtid: z.string() }).nullable(),
  /** Bases a point can be replayed from (snapshots and base points with their binlog kept). */
  bases: z.number(),
  base_points: z.number(),
  binlog_files: z.number(),
  binlog_bytes: z.number(),
});
export type PitrView = z.infer<typeof pitrViewSchema>;

export const replicaStatusViewSchema = z.object({
  server: z.enum(['running', 'stopped', 'missing']),
  source: z.string(),
  /** How dolly reaches the source: `preferred` (TLS when offered), `required`, `verify-ca`, `verify-identity`. */
  source_tls: z.string().optional(),
  databases: z.array(z.string()),
  io_running: z.boolean(),
  sql_running: z.boolean(),
  lag_seconds: z.number().nullable(),
  gtid: z.string(),
  last_error: z.string().nullable(),
  io_state: z.string(),
  /** What the IO thread has received (GTID position or set). */
  received_gtid: z.string().optional(),
  /** Transactions in the applied position: grows by one per transaction applied. */
  applied_transactions: z.number().nullable().optional(),
  /** Transactions received and not yet applied. */
  behind_transactions: z.number().nullable().optional(),
  /** Transactions applied per second, over about half a second. */
  apply_rate: z.number().nullable().optional(),
  /** Point-in-time clones, when on. */
  pitr: pitrViewSchema.optional(),
});
export type ReplicaStatusView = z.infer<typeof replicaStatusViewSchema>;

export const replicaHistorySchema = z.array(
  z.object({
    at: z.string(),
    io_running: z.boolean(),
    sql_running: z.boolean(),
    lag_seconds: z.number().nullable(),
    /** The applied position's transaction count at this reading. */
    applied_transactions: z.number().nullable().optional(),
    /** Transactions applied per second since the reading before. */
    apply_rate: z.number().nullable().optional(),
    behind_transactions: z.number().nullable().optional(),
  }),
);
export type ReplicaHistory = z.infer<typeof replicaHistorySchema>;

export const statusViewSchema = z.object({
  root: z.string(),
  driver: z.string(),
  pool: z.object({ total_bytes: z.number(), free_bytes: z.number(), reserve_bytes: z.number(), clone_quota_bytes: z.number() }),
  replica: z.string().nullable(),
  snapshots: z.number(),
  clones: z.number(),
  jobs: z.array(z.object({ kind: z.string(), target: z.string(), pid: z.number(), started_at: z.string() })),
  engine: z.object({ url: z.string(), pid: z.number(), started_at: z.string() }).nullable(),
  /** Point-in-time clones, when on. */
  pitr: pitrViewSchema.optional(),
});
export type StatusView = z.infer<typeof statusViewSchema>;

export const tokenCreateSchema = z.strictObject({ name: name.describe('who the token is for; the owner of the clones it makes'), admin: z.boolean().optional() });
export type TokenCreateRequest = z.infer<typeof tokenCreateSchema>;
export const tokenInfoSchema = z.object({ name: z.string(), admin: z.boolean(), created_at: z.string(), revoked_at: z.string().nullable() });
export const tokenCreatedSchema = z.object({ name: z.string(), admin: z.boolean(), token: z.string().describe('shown once; stored only hashed') });
export type TokenCreated = z.infer<typeof tokenCreatedSchema>;

export const scheduleViewSchema = z.object({ snapshot: z.string(), keep: z.number().int(), max_age_ms: z.number().int().optional() }).nullable();
export const scheduleSetSchema = z.strictObject({
  snapshot: z.string().min(1).describe('cron expression, UTC: five fields (or six, seconds first), e.g. */15 * * * *'),
  keep: z.number().int().min(1).max(1000).describe('scheduled snapshots kept (a snapshot with clones stays until its last clone goes)'),
  max_age: duration.optional().describe('scheduled snapshots older than this go too'),
});
export type ScheduleSetRequest = z.infer<typeof scheduleSetSchema>;

/** The masking rules in force (`dolly mask show`); null: masking is off. */
export const maskRulesViewSchema = z
  .object({
    version: z.number().int(),
    /** The rules file as it was set. */
    rules: z.string(),
    created_at: z.string(),
    by: z.string(),
  })
  .nullable();
export type MaskRulesView = z.infer<typeof maskRulesViewSchema>;
export const maskSetSchema = z.strictObject({ rules: z.string().min(1).max(262_144).describe('the rules file (YAML), at most 256 KiB') });
export type MaskSetRequest = z.infer<typeof maskSetSchema>;
/** `dolly mask check`: columns that look personal and have no rule (counts only, never values). */
export const maskCheckSchema = z.object({
  findings: z.array(
    z.object({
      table: z.string(),
      column: z.string(),
      kind: z.string(),
      reason: z.enum(['name', 'values']),
      matched: z.number().int(),
      sampled: z.number().int(),
    }),
  ),
  tables: z.number().int(),
  columns: z.number().int(),
});
export type MaskCheck = z.infer<typeof maskCheckSchema>;

export const whoamiSchema = z.object({ name: z.string(), admin: z.boolean() });

export const cloneListSchema = z.array(cloneListItemSchema);
export const tokenListSchema = z.array(tokenInfoSchema);
/** The body of a POST that takes none (it may also be left out). */
export const emptyBodySchema = z.strictObject({});
